//! A small CLAP host (clack-host) that loads the built plugin like a DAW does, plus the
//! synthetic music clip the tests play.
#![allow(dead_code)]

use std::path::PathBuf;

use clack_extensions::state::PluginState;
use clack_host::events::io::{EventBuffer, OutputEvents};
use clack_host::prelude::*;

pub const PLUGIN_ID: &str = "invalid.example.genre-meter";

/// Skips that show (`skip_test!`): the root crate's helper, shared by path. Read its
/// documentation before adding a skip.
#[path = "../../../tests/common/skip.rs"]
pub mod skip;

/// Helpers shared with the engine's tests (`shared_dir`, `require_shared!`, `drone`,
/// `heap_in_use`), by path as well.
#[path = "../../../tests/common/support.rs"]
pub mod support;
#[allow(unused_imports)] // each test binary uses its own subset
pub use support::{drone, heap_in_use, shared_dir};


pub struct TestHost;
pub struct TestShared;

impl<'a> SharedHandler<'a> for TestShared {
    fn request_restart(&self) {}
    fn request_process(&self) {}
    fn request_callback(&self) {}
}

impl HostHandlers for TestHost {
    type Shared<'a> = TestShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder.register::<clack_extensions::gui::HostGui>();
    }
}

/// The host side of the gui extension, as every DAW offers it: resize requests are granted
/// (the test's parent window is larger than any editor size it asks for).
impl clack_extensions::gui::HostGuiImpl for TestShared {
    fn resize_hints_changed(&self) {}
    fn request_resize(&self, _size: clack_extensions::gui::GuiSize) -> Result<(), HostError> {
        Ok(())
    }
    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }
    fn closed(&self, _was_destroyed: bool) {}
}

/// The cdylib cargo built next to this test executable (`target/<profile>/deps`).
pub fn plugin_path() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("test executable has a folder");
    let candidates = [deps.join("libgenre_meter_plugin.so"), deps.join("../libgenre_meter_plugin.so")];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| panic!("plugin library not found; looked at {candidates:?}"))
}

pub fn load_entry() -> PluginEntry {
    // SAFETY: the library is the plugin this workspace builds; loading runs its CLAP entry.
    unsafe { PluginEntry::load(plugin_path()) }.expect("the plugin's CLAP entry loads")
}

pub fn new_instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let host = HostInfo::new("genre-meter tests", "Genre Meter developers", "https://example.invalid", "0.1")
        .expect("host info");
    let id = std::ffi::CString::new(PLUGIN_ID).unwrap();
    PluginInstance::<TestHost>::new(|_| TestShared, |_| (), entry, &id, &host).expect("instance")
}

/// Chooses the plugin's audio-port configuration with `channels` main channels (the
/// plugin offers stereo and mono), as a host does before activating.
pub fn select_layout(instance: &mut PluginInstance<TestHost>, channels: usize) {
    use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
    let handle = instance.plugin_handle();
    let configs = handle.get_extension::<PluginAudioPortsConfig>().expect("audio-ports-config extension");
    let mut buffer = AudioPortsConfigBuffer::new();
    let id = (0..configs.count(&handle))
        .filter_map(|i| configs.get(&handle, i, &mut buffer).map(|c| (c.id, c.main_input.map(|m| m.channel_count))))
        .find(|(_, n)| *n == Some(channels as u32))
        .map(|(id, _)| id)
        .unwrap_or_else(|| panic!("no {channels}-channel configuration"));
    configs.select(&handle, id).expect("configuration selected");
}

/// Plays `channels` (one Vec per channel) through the plugin in blocks of `block` frames,
/// from activate to deactivate, and returns the output channels.
pub fn play(instance: &mut PluginInstance<TestHost>, rate_hz: f64, block: usize, channels: &[Vec<f32>]) -> Vec<Vec<f32>> {
    play_with_events(instance, rate_hz, block, channels, |_, _, _| {})
}

/// [`play`], with `events(block_index, frames, buffer)` filling each block's input events
/// (parameter automation, say).
pub fn play_with_events(
    instance: &mut PluginInstance<TestHost>,
    rate_hz: f64,
    block: usize,
    channels: &[Vec<f32>],
    mut events: impl FnMut(usize, usize, &mut EventBuffer),
) -> Vec<Vec<f32>> {
    play_with_host(instance, rate_hz, block, channels, |_, block_index, frames, buffer| events(block_index, frames, buffer))
}

/// [`play_with_events`], whose callback also gets the instance (main-thread calls such as a
/// state save while the processor runs, as a host makes them).
pub fn play_with_host(
    instance: &mut PluginInstance<TestHost>,
    rate_hz: f64,
    block: usize,
    channels: &[Vec<f32>],
    mut events: impl FnMut(&mut PluginInstance<TestHost>, usize, usize, &mut EventBuffer),
) -> Vec<Vec<f32>> {
    let mut event_buffer = EventBuffer::with_capacity(64);
    select_layout(instance, channels.len());
    let config = PluginAudioConfiguration { sample_rate: rate_hz, min_frames_count: 1, max_frames_count: block as u32 };
    let processor = instance.activate(|_, _| (), config).expect("activate");
    let mut processor = processor.start_processing().expect("start processing");
    let n_ch = channels.len();
    let frames = channels[0].len();
    let mut input: Vec<Vec<f32>> = vec![vec![0.0; block]; n_ch];
    let mut output: Vec<Vec<f32>> = vec![vec![0.0; block]; n_ch];
    let mut result: Vec<Vec<f32>> = vec![Vec::with_capacity(frames); n_ch];
    let mut in_ports = AudioPorts::with_capacity(n_ch, 1);
    let mut out_ports = AudioPorts::with_capacity(n_ch, 1);
    let mut start = 0;
    while start < frames {
        let len = block.min(frames - start);
        event_buffer.clear();
        events(instance, start / block, len, &mut event_buffer);
        for c in 0..n_ch {
            input[c][..len].copy_from_slice(&channels[c][start..start + len]);
        }
        let in_buffers = in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(input.iter_mut().map(|b| InputChannel::variable(&mut b[..len]))),
        }]);
        let mut out_buffers = out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(output.iter_mut().map(|b| &mut b[..len])),
        }]);
        processor
            .process(&in_buffers, &mut out_buffers, &event_buffer.as_input(), &mut OutputEvents::void(), None, None)
            .expect("process");
        for c in 0..n_ch {
            result[c].extend_from_slice(&output[c][..len]);
        }
        start += len;
    }
    let processor = processor.stop_processing();
    instance.deactivate(processor);
    result
}

/// [`play`] for a stream longer than the plugin's 8 s queue, without a sample dropped: the
/// host plays `burst_seconds` at full speed, then waits until the verdict says the worker has
/// analysed all but `slack_seconds` of it (one window's worth: audio after the last whole
/// window is not yet counted), so that at most `burst_seconds + slack_seconds` are ever queued.
pub fn play_paced(
    instance: &mut PluginInstance<TestHost>,
    rate_hz: f64,
    block: usize,
    channels: &[Vec<f32>],
    burst_seconds: f64,
    slack_seconds: f64,
) -> Vec<Vec<f32>> {
    let burst_blocks = ((burst_seconds * rate_hz) / block as f64).floor() as usize;
    assert!(burst_blocks > 0, "a burst holds at least one block");
    play_with_host(instance, rate_hz, block, channels, |instance, block_index, _, _| {
        if block_index == 0 || block_index % burst_blocks != 0 {
            return;
        }
        let pushed_seconds = (block_index * block) as f64 / rate_hz;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let verdict = verdict(instance);
            let analysed = verdict["analysed_seconds"].as_f64().unwrap_or(0.0);
            if analysed >= pushed_seconds - slack_seconds {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker analysed {analysed} s of {pushed_seconds} s in 60 s: {verdict}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    })
}

/// The plugin's state as the host saves it (nice-plug writes JSON).
pub fn save_state(instance: &mut PluginInstance<TestHost>) -> Vec<u8> {
    let handle = instance.plugin_handle();
    let state = handle.get_extension::<PluginState>().expect("the plugin has the state extension");
    let mut bytes = Vec::new();
    state.save(&handle, &mut bytes).expect("state saves");
    bytes
}

pub fn load_state(instance: &mut PluginInstance<TestHost>, bytes: &[u8]) {
    let handle = instance.plugin_handle();
    let state = handle.get_extension::<PluginState>().expect("the plugin has the state extension");
    state.load(&handle, &mut &bytes[..]).expect("state loads");
}

/// nice-plug's CLAP state: a little-endian u64 length, then the JSON.
pub fn state_json(instance: &mut PluginInstance<TestHost>) -> serde_json::Value {
    let bytes = save_state(instance);
    let (length, json) = bytes.split_at(8);
    assert_eq!(u64::from_le_bytes(length.try_into().unwrap()) as usize, json.len(), "state length prefix");
    serde_json::from_slice(json).expect("state is JSON")
}

/// Loads `state` (JSON) as a host would load a saved project.
pub fn load_state_json(instance: &mut PluginInstance<TestHost>, state: &serde_json::Value) {
    let json = serde_json::to_vec(state).unwrap();
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&json);
    load_state(instance, &bytes);
}

/// The whole-piece verdict from the saved state (`#[persist = "verdict"]`).
pub fn verdict(instance: &mut PluginInstance<TestHost>) -> serde_json::Value {
    let state = state_json(instance);
    let field = state["fields"]["verdict"].as_str().expect("verdict field is a JSON string");
    serde_json::from_str(field).expect("verdict parses")
}

pub fn f32s(value: &serde_json::Value) -> Vec<f32> {
    value.as_array().expect("array").iter().map(|v| v.as_f64().expect("number") as f32).collect()
}

/// Deterministic noise in [-1, 1).
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// A few seconds of synthetic music rendered at `rate_hz`: kick, snare and hi-hat at
/// 120 BPM, a bass line and a chord pad, panned a little apart. Returns (left, right).
pub fn music_clip(rate_hz: u32, seconds: f64) -> (Vec<f32>, Vec<f32>) {
    use std::f64::consts::TAU;
    let n = (rate_hz as f64 * seconds) as usize;
    let beat = 0.5;
    let bass_notes = [55.0, 55.0, 73.42, 65.41];
    let chords = [[220.0, 277.18, 329.63], [196.0, 246.94, 293.66], [174.61, 220.0, 261.63], [196.0, 246.94, 293.66]];
    let mut noise = Noise::new(7);
    let (mut left, mut right) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let t = i as f64 / rate_hz as f64;
        let in_beat = t % beat;
        let beat_no = (t / beat) as usize;
        let bar = (t / (4.0 * beat)) as usize % 4;
        let kick = (TAU * (50.0 + 90.0 * (-in_beat * 30.0).exp()) * in_beat).sin() * (-in_beat * 9.0).exp();
        let white = noise.next() as f64;
        let snare = if beat_no % 2 == 1 { white * (-in_beat * 18.0).exp() * 0.5 } else { 0.0 };
        let in_eighth = t % (beat / 2.0);
        let hat = white * (-in_eighth * 60.0).exp() * 0.15;
        let f_bass = bass_notes[bar];
        let bass = ((TAU * f_bass * t).sin() + 0.4 * (TAU * 2.0 * f_bass * t).sin()) * 0.35;
        let pad: f64 = chords[bar].iter().map(|&f| (TAU * f * t).sin() + 0.3 * (TAU * 2.0 * f * t).sin()).sum::<f64>() * 0.08;
        let mid = 0.6 * kick + snare + bass;
        left.push((mid + 0.8 * pad + hat) as f32 * 0.7);
        right.push((mid + 1.2 * pad + 0.6 * hat) as f32 * 0.7);
    }
    (left, right)
}

/// The engine's settings at the plugin's defaults for `model`: windows one after another
/// (`genre-meter analyze --hop patch`), the default 3 s hop capped at the model's window.
pub fn plugin_default_settings_for(model: &genre_meter::engine::LoadedModel) -> genre_meter::engine::AnalysisSettings {
    let hop = genre_meter_plugin::worker::window_hop(genre_meter_plugin::params::DEFAULT_HOP_SECONDS as f64, model);
    genre_meter::engine::AnalysisSettings { hop_seconds: hop, ..Default::default() }
}

/// The engine's whole-piece probabilities for mono samples at `rate_hz`, as the CLI
/// computes them for a file with `--hop` set to the plugin's default hop.
pub fn engine_probabilities(mono: &[f32], rate_hz: u32) -> Vec<f32> {
    use genre_meter::engine::Analyzer;
    let model = std::sync::Arc::new(genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL)
        .and_then(|e| e.load())
        .expect("default model loads"));
    let settings = plugin_default_settings_for(&model);
    let mut analyzer = Analyzer::new(model, rate_hz, settings);
    let mut windows = Vec::new();
    for chunk in mono.chunks(8192) {
        analyzer.push(chunk, &mut windows).expect("engine push");
    }
    analyzer.finish(&mut windows).expect("engine finish").probabilities.expect("music is not silent")
}

/// The mono mix the CLI's decoder makes of stereo frames.
pub fn downmix(left: &[f32], right: &[f32]) -> Vec<f32> {
    left.iter().zip(right).map(|(l, r)| (0.0 + l + r) * 0.5).collect()
}

pub fn assert_bit_exact(input: &[Vec<f32>], output: &[Vec<f32>], what: &str) {
    assert_eq!(input.len(), output.len(), "{what}: channel count");
    for (c, (i, o)) in input.iter().zip(output).enumerate() {
        assert_eq!(i.len(), o.len(), "{what}: channel {c} length");
        if let Some(k) = i.iter().zip(o).position(|(a, b)| a.to_bits() != b.to_bits()) {
            panic!("{what}: channel {c} sample {k} changed: {} -> {}", i[k], o[k]);
        }
    }
}

/// Threads of this process.
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task").count()
}

/// Resident memory of this process, bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("statm resident");
    pages * 4096
}

/// A fresh user folder for this test process (nextest runs one process per test), named after
/// `tag`; the ONNX Runtime library stays the installed one unless `ort_lib` names another.
pub fn fresh_home(tag: &str, ort_lib: Option<&std::path::Path>) -> PathBuf {
    let lib = match ort_lib {
        Some(lib) => lib.to_path_buf(),
        None => genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed (cargo xtask fetch-ort)"),
    };
    let home = std::env::temp_dir().join(format!("genre-meter-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    // SAFETY: nextest runs every test in its own process, and no other thread runs yet.
    unsafe {
        std::env::set_var("GENRE_METER_ORT_LIB", lib);
        std::env::set_var("GENRE_METER_HOME", &home);
    }
    home
}
