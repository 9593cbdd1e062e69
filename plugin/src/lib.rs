//! Genre Meter as a plugin: drop it on a track or the master bus and watch the genre
//! probabilities roll by. Audio passes through untouched.
//!
//! Threads and what they share (see `meter.rs` for the details):
//! - audio thread: [`capture`] downmixes each block into a lock-free queue, nothing else;
//! - worker thread ([`worker`], one per active instance): drains the queue, runs the engine,
//!   publishes a [`meter::MeterSnapshot`] through a triple buffer;
//! - GUI thread ([`editor`]): reads the snapshot and sets parameters and requests.

use std::sync::{Arc, Mutex};

use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState};
use triple_buffer::{Output, TripleBuffer};

pub mod capture;
pub mod editor;
pub mod meter;
pub mod model_cache;
pub mod panic_guard;
pub mod params;
pub mod standalone;
pub mod transport;
pub mod worker;

use capture::Capture;
use meter::{MeterSnapshot, MeterStatus};
use params::GenreMeterParams;
use worker::{Carry, Worker};

pub struct GenreMeter {
    params: Arc<GenreMeterParams>,
    status: Arc<MeterStatus>,
    /// Audio-thread end of the queue; present while active.
    capture: Option<Capture>,
    worker: Option<Worker>,
    /// The worker's state between activations.
    carry: Option<Carry>,
    /// The editor's end of the meter snapshot (only the GUI thread locks it).
    meter: Arc<Mutex<Output<MeterSnapshot>>>,
    editor_state: Arc<EguiEditorState>,
    /// Host rate of the latest activation (for the export on exit).
    sample_rate_hz: u32,
}

impl Default for GenreMeter {
    fn default() -> Self {
        let (input, output) = TripleBuffer::new(&MeterSnapshot::default()).split();
        Self {
            params: Arc::new(GenreMeterParams::default()),
            status: Arc::new(MeterStatus::default()),
            capture: None,
            worker: None,
            carry: Some(Carry::new(input)),
            meter: Arc::new(Mutex::new(output)),
            editor_state: editor::default_state(),
            sample_rate_hz: 0,
        }
    }
}

impl GenreMeter {
    fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            let carry = worker.stop();
            if standalone::options().is_some_and(|o| o.export_timeline_on_exit) {
                export_on_exit(&self.params, &carry, self.sample_rate_hz);
            }
            self.carry = Some(carry);
        }
    }
}

impl Plugin for GenreMeter {
    const NAME: &'static str = "Genre Meter";
    const VENDOR: &'static str = "Genre Meter developers";
    const URL: &'static str = "https://example.invalid/genre-meter";
    const EMAIL: &'static str = "genre-meter@example.invalid";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = EguiEditor<editor::MeterEditor>;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.status.clone(), self.meter.clone(), self.editor_state.clone())
    }

    fn activate(
        &mut self,
        _audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        // Hosts may activate again without deactivating (e.g. after restoring state).
        self.stop_worker();
        let (capture, queue) = capture::queue(buffer_config.sample_rate, self.status.clone());
        let carry = self.carry.take().expect("the carry is home while no worker runs");
        let rate_hz = buffer_config.sample_rate.round() as u32;
        self.sample_rate_hz = rate_hz;
        self.worker = Some(Worker::start(carry, queue, rate_hz, self.params.clone(), self.status.clone()));
        self.capture = Some(capture);
        true
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        if let Some(capture) = &mut self.capture {
            let settings = transport::GateSettings {
                bypassed: self.params.bypass.value(),
                only_while_playing: self.params.only_while_playing.value(),
                reset_at_song_start: self.params.reset_at_song_start.value(),
            };
            capture.block(buffer.as_slice_immutable(), settings, context.transport());
        }
        ProcessStatus::Normal
    }

    fn deactivate(&mut self) {
        self.capture = None;
        self.stop_worker();
    }
}

/// The standalone app's `--export-timeline-on-exit`: the stream has ended (its last windows
/// are in), so the timeline is the whole session's.
fn export_on_exit(params: &GenreMeterParams, carry: &Carry, rate_hz: u32) {
    let verdict = params.verdict.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    match worker::export_timeline(&verdict, carry.timeline(), rate_hz) {
        Ok((csv, json)) => eprintln!("Timeline exported to {} and {}", csv.display(), json.display()),
        Err(e) => eprintln!("error: exporting the timeline to {} failed: {e}", worker::export_dir().display()),
    }
}

impl Drop for GenreMeter {
    fn drop(&mut self) {
        self.stop_worker();
    }
}

impl ClapPlugin for GenreMeter {
    const CLAP_ID: &'static str = "invalid.example.genre-meter";
    const CLAP_DESCRIPTION: Option<&'static str> = Some("A rolling music-genre meter");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] =
        &[ClapFeature::AudioEffect, ClapFeature::Analyzer, ClapFeature::Stereo, ClapFeature::Mono];
}

impl Vst3Plugin for GenreMeter {
    const VST3_CLASS_ID: [u8; 16] = *b"GenreMeterAnalyz";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[Vst3SubCategory::Fx, Vst3SubCategory::Analyzer];
}

nice_export_clap!(GenreMeter);
nice_export_vst3!(GenreMeter);
