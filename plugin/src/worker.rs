//! The analysis worker: one long-lived thread per active plugin instance. It drains the
//! audio thread's queue, runs the engine (resample from the host rate, log-mel, model),
//! smooths the live meter, keeps the whole-piece verdict and the timeline, and publishes
//! to the editor without locks.
//!
//! Started in `activate`, stopped (and joined) in `deactivate` and when the instance is
//! destroyed. Stopping ends the stream: the queued audio is analysed and the engine's tail
//! windows are added, so a clip played from activate to deactivate gives the CLI's numbers.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use genre_meter::engine::{AnalysisSettings, Analyzer, LoadedModel, TrackPool, WindowPrediction};
use rtrb::Consumer;
use serde::Serialize;
use triple_buffer::Input;

use crate::meter::{HISTORY_SILENT, MAX_LABELS, MeterSnapshot, MeterStatus};
use crate::model_cache;
use crate::panic_guard;
use crate::params::{GenreMeterParams, Verdict};
use crate::transport::StreamMarks;

/// How often the worker wakes to drain the queue and read its requests.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Windows kept for the timeline export (4 hours at a 1 s hop); older ones are forgotten.
pub const TIMELINE_MAX_WINDOWS: usize = 14_400;
/// Windows quieter than this are silence, as in the CLI.
const SILENCE_THRESHOLD_DBFS: f32 = -60.0;

/// The hop between window starts for `model`: the *Analysis hop* parameter, but never more
/// than one window, so that no audio goes unanalysed. musicnn's window is 2.99 s (the
/// default 3 s hop gives windows one after another), YAMNet's 0.96 s.
pub fn window_hop(requested_seconds: f64, model: &LoadedModel) -> f64 {
    requested_seconds.min(model.manifest().frontend.patch_seconds())
}

/// Test hook, unset in normal use: `GENRE_METER_TEST_WORKER_DELAY_MS` (read once when a
/// worker starts) makes the worker sleep that long after each drain, so that it falls behind
/// and reads the queue in large chunks across its wrap-around (`plugin/tests/host_parity.rs`).
fn test_drain_delay() -> Duration {
    let ms = std::env::var("GENRE_METER_TEST_WORKER_DELAY_MS").ok().and_then(|v| v.parse().ok());
    Duration::from_millis(ms.unwrap_or(0))
}

/// Analysis state that outlives one activation: handed to the thread when it starts and
/// handed back when it stops.
pub struct Carry {
    meter: Input<MeterSnapshot>,
    snapshot: Box<MeterSnapshot>,
    model: Option<Arc<LoadedModel>>,
    timeline: Vec<TimelineWindow>,
}

impl Carry {
    pub fn new(meter: Input<MeterSnapshot>) -> Self {
        Self { meter, snapshot: Box::default(), model: None, timeline: Vec::new() }
    }

    /// The timeline kept (oldest first), as *Export timeline* writes it.
    pub fn timeline(&self) -> &[TimelineWindow] {
        &self.timeline
    }
}

/// One analysed window of the timeline (times from the last reset, seconds).
#[derive(Debug, Clone, Serialize)]
pub struct TimelineWindow {
    pub start_seconds: f64,
    pub end_seconds: f64,
    pub level_dbfs: f32,
    /// `None` for silence.
    pub probabilities: Option<Vec<f32>>,
}

/// A running worker thread.
pub struct Worker {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Carry>,
}

impl Worker {
    pub fn start(
        carry: Carry,
        queue: Consumer<f32>,
        sample_rate_hz: u32,
        params: Arc<GenreMeterParams>,
        status: Arc<MeterStatus>,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        status.sample_rate_hz.store(sample_rate_hz, Ordering::Relaxed);
        let thread = std::thread::Builder::new()
            .name("genre-meter-worker".into())
            .spawn(move || {
                let mut run = Run::new(carry, sample_rate_hz, params, status);
                run.serve(queue, &stop_flag);
                run.carry
            })
            .expect("the OS can start a thread");
        Self { stop, thread }
    }

    /// Ends the stream (the queued audio is still analysed) and waits for the thread.
    pub fn stop(self) -> Carry {
        self.stop.store(true, Ordering::Release);
        self.thread.thread().unpark();
        self.thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// The thread's state while it runs.
struct Run {
    carry: Carry,
    params: Arc<GenreMeterParams>,
    status: Arc<MeterStatus>,
    sample_rate_hz: u32,
    analyzer: Option<Analyzer>,
    /// Model the worker tried last (loaded or failed), so a failure is not retried each poll.
    model_name: Option<String>,
    hop_seconds: f64,
    windows: Vec<WindowPrediction>,
    /// The streams since the last reset, pooled as the model's manifest says (the engine's
    /// [`TrackPool`], so the verdict is the CLI's whole-file result); the current stream's
    /// windows are in the analyser's pool until the stream ends.
    verdict_pool: Option<TrackPool>,
    verdict: Verdict,
    /// Seconds analysed before the current stream started (timeline times go on across
    /// activations).
    stream_offset_seconds: f64,
    stream_frames: u64,
    classified_by_analyzer: u64,
    busy: Duration,
    busy_since: Instant,
    /// Frames read from the queue since activation, and the stream starts acted on.
    consumed_frames: u64,
    marks: StreamMarks,
}

impl Run {
    fn new(carry: Carry, sample_rate_hz: u32, params: Arc<GenreMeterParams>, status: Arc<MeterStatus>) -> Self {
        let hop_seconds = params.hop_seconds.value() as f64;
        Self {
            carry,
            params,
            status,
            sample_rate_hz,
            analyzer: None,
            model_name: None,
            hop_seconds,
            windows: Vec::with_capacity(64),
            verdict_pool: None,
            verdict: Verdict::default(),
            stream_offset_seconds: 0.0,
            stream_frames: 0,
            classified_by_analyzer: 0,
            busy: Duration::ZERO,
            busy_since: Instant::now(),
            consumed_frames: 0,
            marks: StreamMarks::default(),
        }
    }

    fn serve(&mut self, mut queue: Consumer<f32>, stop: &AtomicBool) {
        let drain_delay = test_drain_delay();
        let (catalogue, problems) = model_cache::choices();
        self.with_text(|t| {
            t.catalogue = catalogue;
            t.notice = problems.join("\n");
        });
        loop {
            let stopping = stop.load(Ordering::Acquire);
            let started = Instant::now();
            if let Err(panic) = panic_guard::contain(|| self.step(&mut queue, stopping)) {
                self.contain_panic(panic);
            }
            if !drain_delay.is_zero() {
                std::thread::sleep(drain_delay);
            }
            if stopping {
                self.status.sample_rate_hz.store(0, Ordering::Relaxed);
                return;
            }
            self.account_busy(started.elapsed());
            std::thread::park_timeout(POLL_INTERVAL);
        }
    }

    /// One poll: parameters, requests, the queue; at the end the stream's last windows.
    fn step(&mut self, queue: &mut Consumer<f32>, stopping: bool) {
        self.follow_params();
        if self.status.reset_requested.swap(false, Ordering::AcqRel) {
            self.reset();
        }
        self.drain(queue);
        if self.status.export_requested.swap(false, Ordering::AcqRel) {
            self.export();
        }
        if stopping {
            self.end_stream();
        }
    }

    /// After a panic in the analysis: the meter is off with the reason, the queue is still
    /// drained (and dropped) so the audio thread never fills it, and *Reset* tries again.
    fn contain_panic(&mut self, panic: String) {
        self.stream_frames = 0;
        self.fail(format!("the analysis crashed ({panic}); press Reset to try again"));
    }

    /// Loads another model or rebuilds the analyser when the parameters ask for it.
    fn follow_params(&mut self) {
        let wanted = self.params.model_name.read().unwrap_or_else(PoisonError::into_inner).clone();
        if self.model_name.as_deref() != Some(wanted.as_str()) {
            self.end_stream();
            self.switch_model(wanted);
        }
        let hop_seconds = self.params.hop_seconds.value() as f64;
        if (hop_seconds - self.hop_seconds).abs() > 1e-6 {
            self.end_stream();
            self.hop_seconds = hop_seconds;
            self.analyzer = self.carry.model.clone().map(|m| self.new_analyzer(m));
        }
    }

    /// The hop in use: the parameter, capped at the current model's window.
    fn effective_hop(&self) -> f64 {
        match &self.carry.model {
            Some(model) => window_hop(self.hop_seconds, model),
            None => self.hop_seconds,
        }
    }

    fn new_analyzer(&mut self, model: Arc<LoadedModel>) -> Analyzer {
        self.classified_by_analyzer = 0;
        let settings = AnalysisSettings {
            hop_seconds: window_hop(self.hop_seconds, &model),
            silence_threshold_dbfs: SILENCE_THRESHOLD_DBFS,
            batch_windows: 1,
            ..AnalysisSettings::default()
        };
        Analyzer::new(model, self.sample_rate_hz, settings)
    }

    fn switch_model(&mut self, name: String) {
        self.model_name = Some(name.clone());
        self.analyzer = None;
        self.status.model_ready.store(false, Ordering::Release);
        // Held until the new model is in, so that asking for the same model again (by a
        // path, say) finds it in the cache instead of loading it anew.
        let previous = self.carry.model.take();
        let loaded = match previous.clone().filter(|m| m.manifest().name == name) {
            Some(model) => Ok(model),
            None => model_cache::shared_model(&name),
        };
        drop(previous);
        let model = match loaded {
            Ok(model) => model,
            Err(e) => {
                let error = format!("Model '{name}' is not available, the meter is off (audio passes through): {e}");
                self.with_text(|t| {
                    t.model_name = name.clone();
                    t.model_title = name.clone();
                    t.error = error;
                });
                return;
            }
        };
        let manifest = model.manifest();
        let labels = model.labels().to_vec();
        let genres = manifest.genre_indices();
        let genre_indices = if !genres.is_empty() && genres.len() < labels.len() {
            genres
        } else {
            (0..labels.len()).collect()
        };
        let title = manifest.title().to_string();
        self.with_text(|t| {
            t.model_name = name.clone();
            t.model_title = title;
            t.labels = labels.clone();
            t.genre_indices = genre_indices;
            t.error.clear();
        });
        // Carry on the persisted verdict when it belongs to this model (a reopened project,
        // or the previous activation); otherwise start afresh.
        let persisted = self.params.verdict.read().unwrap_or_else(PoisonError::into_inner).clone();
        self.verdict = if persisted.model == name && persisted.labels == labels {
            persisted
        } else {
            Verdict { model: name, labels: labels.clone(), ..Verdict::default() }
        };
        let mut pool = TrackPool::new(&model);
        let saved = if pool.state_is_probabilities() { &self.verdict.probabilities } else { &self.verdict.pooled_features };
        pool.restore_state(saved, self.verdict.windows);
        self.verdict_pool = Some(pool);
        if self.verdict.windows == 0 && self.verdict.silent_windows == 0 {
            self.carry.timeline.clear();
            let snap = &mut self.carry.snapshot;
            snap.history_len = 0;
        }
        self.stream_offset_seconds = self.verdict.analysed_seconds;
        let snap = &mut self.carry.snapshot;
        snap.label_count = labels.len().min(MAX_LABELS);
        snap.smoothed.fill(0.0);
        snap.silent = true;
        self.analyzer = Some(self.new_analyzer(model.clone()));
        self.carry.model = Some(model);
        self.status.model_ready.store(true, Ordering::Release);
        self.publish();
    }

    /// Forgets the verdict, the timeline and the history (the editor's reset button). A
    /// model that failed is tried again (the user may have fixed what the editor said).
    fn reset(&mut self) {
        if self.analyzer.is_none() {
            self.model_name = None;
        }
        if let Some(analyzer) = &mut self.analyzer {
            analyzer.reset();
        }
        self.stream_frames = 0;
        self.stream_offset_seconds = 0.0;
        if let Some(pool) = &mut self.verdict_pool {
            pool.reset();
        }
        self.verdict = Verdict { model: self.verdict.model.clone(), labels: self.verdict.labels.clone(), ..Verdict::default() };
        self.status.dropped_samples.store(0, Ordering::Relaxed);
        self.carry.timeline.clear();
        let snap = &mut self.carry.snapshot;
        snap.smoothed.fill(0.0);
        snap.silent = true;
        snap.history_len = 0;
        self.store_verdict();
        self.publish();
    }

    /// Analyses everything in the queue, ending the stream where the audio thread marked a
    /// new one (after a bypass or a transport stop) and when the gate is closed.
    fn drain(&mut self, queue: &mut Consumer<f32>) {
        // Before the queue's fill level: when closed, every frame before the close is visible.
        let gate_open = self.status.gate.analysing();
        let available = queue.slots();
        match self.marks.next(&self.status.gate, self.consumed_frames, available as u64) {
            Some(start) => {
                let before = (start.at_frame - self.consumed_frames) as usize;
                self.analyse_queued(queue, before);
                self.end_stream();
                if start.reset_verdict {
                    self.reset();
                }
                self.analyse_queued(queue, available - before);
            }
            None => {
                self.analyse_queued(queue, available);
                if !gate_open {
                    self.end_stream();
                }
            }
        }
    }

    /// Analyses the next `available` frames of the queue.
    fn analyse_queued(&mut self, queue: &mut Consumer<f32>, available: usize) {
        if available == 0 {
            return;
        }
        let Ok(chunk) = queue.read_chunk(available) else { return };
        let (first, second) = chunk.as_slices();
        self.stream_frames += available as u64;
        let mut result = Ok(());
        if let Some(analyzer) = &mut self.analyzer {
            panic_guard::test_fault(self.stream_frames, self.sample_rate_hz);
            self.windows.clear();
            result = analyzer.push(first, &mut self.windows).and_then(|()| analyzer.push(second, &mut self.windows));
        }
        chunk.commit_all();
        self.consumed_frames += available as u64;
        self.take_windows();
        if let Err(e) = result {
            self.fail(e.to_string());
        }
    }

    /// Ends the current stream: the engine's last windows are added (as the CLI does at
    /// the end of a file) and the next audio starts a new stream.
    fn end_stream(&mut self) {
        let Some(analyzer) = &mut self.analyzer else { return };
        if self.stream_frames == 0 {
            return;
        }
        self.windows.clear();
        let result = analyzer.finish(&mut self.windows);
        if let Some(pool) = &mut self.verdict_pool {
            pool.absorb(&analyzer.pool());
        }
        analyzer.reset();
        let gave_windows = !self.windows.is_empty();
        self.take_windows();
        self.stream_offset_seconds += self.stream_frames as f64 / self.sample_rate_hz as f64;
        self.stream_frames = 0;
        // The whole stream is analysed now, also the audio after its last whole window
        // (which, as in the CLI, gives no window of its own): `take_windows` counted it, and
        // the saved verdict must say so even when the end gave no window to store it with.
        if !gave_windows {
            self.store_verdict();
            self.publish();
        }
        if let Err(e) = result {
            self.fail(e.to_string());
        }
    }

    fn fail(&mut self, error: String) {
        // The verdict keeps what the failed stream had pooled.
        if let (Some(analyzer), Some(pool)) = (self.analyzer.take(), &mut self.verdict_pool) {
            pool.absorb(&analyzer.pool());
        }
        self.status.model_ready.store(false, Ordering::Release);
        self.with_text(|t| t.error = format!("The model failed, the meter is off (audio passes through): {error}"));
    }

    /// Folds the windows the engine returned into the meter, the verdict and the timeline.
    fn take_windows(&mut self) {
        if self.windows.is_empty() {
            self.verdict.analysed_seconds =
                self.stream_offset_seconds + self.stream_frames as f64 / self.sample_rate_hz as f64;
            return;
        }
        let response = self.params.response_seconds.value() as f64;
        let hop = self.effective_hop();
        let alpha = if response <= 0.0 { 1.0 } else { 1.0 - (-hop / response).exp() } as f32;
        let show_all = self.params.show_all_labels.value();
        let genre_indices = self.carry_genre_indices(show_all);
        let windows = std::mem::take(&mut self.windows);
        for w in &windows {
            let snap = &mut self.carry.snapshot;
            let n = snap.label_count;
            match &w.probabilities {
                Some(p) => {
                    for (i, &v) in p.iter().enumerate() {
                        let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
                        if i < n {
                            snap.smoothed[i] += alpha * (v - snap.smoothed[i]);
                        }
                    }
                    snap.silent = false;
                    let top = genre_indices
                        .iter()
                        .copied()
                        .filter(|&i| i < n)
                        .max_by(|&a, &b| p[a].total_cmp(&p[b]));
                    match top {
                        Some(i) => snap.push_history(i as u16, p[i]),
                        None => snap.push_history(HISTORY_SILENT, 0.0),
                    }
                    self.verdict.windows += 1;
                    self.classified_by_analyzer += 1;
                }
                None => {
                    snap.smoothed[..n].iter_mut().for_each(|s| *s *= 1.0 - alpha);
                    snap.silent = true;
                    snap.push_history(HISTORY_SILENT, 0.0);
                    self.verdict.silent_windows += 1;
                }
            }
            if self.carry.timeline.len() == TIMELINE_MAX_WINDOWS {
                self.carry.timeline.remove(0);
            }
            self.carry.timeline.push(TimelineWindow {
                start_seconds: self.stream_offset_seconds + w.start_seconds,
                end_seconds: self.stream_offset_seconds + w.end_seconds,
                level_dbfs: w.level_dbfs,
                probabilities: w.probabilities.clone(),
            });
        }
        self.windows = windows;
        self.verdict.analysed_seconds =
            self.stream_offset_seconds + self.stream_frames as f64 / self.sample_rate_hz as f64;
        self.store_verdict();
        self.publish();
    }

    fn carry_genre_indices(&self, show_all: bool) -> Vec<usize> {
        let text = self.status.text.lock().unwrap_or_else(PoisonError::into_inner);
        if show_all { (0..text.labels.len()).collect() } else { text.genre_indices.clone() }
    }

    /// Writes the verdict into the persisted field (read by the host's state save).
    fn store_verdict(&mut self) {
        let pooled = match (&self.verdict_pool, &self.carry.model) {
            (Some(pool), Some(model)) => {
                let mut pool = pool.clone();
                if let Some(analyzer) = &self.analyzer {
                    pool.absorb(&analyzer.pool());
                }
                pool.probabilities(model).map(|p| {
                    let features = if pool.state_is_probabilities() { Vec::new() } else { pool.state() };
                    (p.unwrap_or_default(), features)
                })
            }
            _ => Ok((Vec::new(), Vec::new())),
        };
        match pooled {
            Ok((probabilities, features)) => {
                self.verdict.probabilities = probabilities;
                self.verdict.pooled_features = features;
            }
            Err(e) => self.with_text(|t| t.error = format!("The whole-piece verdict failed: {e}")),
        }
        self.verdict.dropped_samples = self.status.dropped_samples.load(Ordering::Relaxed);
        *self.params.verdict.write().unwrap_or_else(PoisonError::into_inner) = self.verdict.clone();
    }

    fn publish(&mut self) {
        let hop = self.effective_hop() as f32;
        let snap = &mut self.carry.snapshot;
        snap.sequence += 1;
        snap.hop_seconds = hop;
        snap.verdict_windows = self.verdict.windows;
        snap.verdict_silent_windows = self.verdict.silent_windows;
        snap.analysed_seconds = self.verdict.analysed_seconds;
        let n = snap.label_count;
        snap.verdict[..n].fill(0.0);
        for (dst, &src) in snap.verdict[..n].iter_mut().zip(&self.verdict.probabilities) {
            *dst = src;
        }
        self.carry.meter.write((**snap).clone());
        if let Some(analyzer) = &self.analyzer {
            let calls = self.classified_by_analyzer.max(1) as f64;
            self.status.inference_ms.store((analyzer.inference_seconds() * 1000.0 / calls) as f32, Ordering::Relaxed);
        }
    }

    fn account_busy(&mut self, busy: Duration) {
        self.busy += busy;
        let wall = self.busy_since.elapsed();
        if wall >= Duration::from_secs(2) {
            let share = self.busy.as_secs_f64() / wall.as_secs_f64();
            self.status.worker_cpu_share.store(share as f32, Ordering::Relaxed);
            self.busy = Duration::ZERO;
            self.busy_since = Instant::now();
        }
    }

    fn with_text(&self, f: impl FnOnce(&mut crate::meter::StatusText)) {
        f(&mut self.status.text.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn export(&mut self) {
        let result = export_timeline(&self.verdict, &self.carry.timeline, self.sample_rate_hz);
        self.with_text(|t| match result {
            Ok((csv, json)) => t.notice = format!("Timeline exported to {} and {}", csv.display(), json.display()),
            Err(e) => t.error = format!("Export failed: {e}"),
        });
    }
}

/// Folder the editor's export button writes to: `<data dir>/exports`, i.e.
/// `~/.local/share/genre-meter/exports` unless `GENRE_METER_HOME` or `XDG_DATA_HOME` say otherwise.
pub fn export_dir() -> PathBuf {
    genre_meter::engine::runtime::data_dir().join("exports")
}

/// Writes the timeline as CSV (one row per window, one column per label; silent windows
/// have empty probability cells) and as JSON (with the verdict). Returns both paths.
pub fn export_timeline(
    verdict: &Verdict,
    timeline: &[TimelineWindow],
    sample_rate_hz: u32,
) -> std::io::Result<(PathBuf, PathBuf)> {
    use std::fmt::Write as _;
    let dir = export_dir();
    std::fs::create_dir_all(&dir)?;
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let base = format!("timeline-{}-{stamp}", verdict.model);
    let mut csv = String::from("start_seconds,end_seconds,level_dbfs,silent");
    for label in &verdict.labels {
        let _ = write!(csv, ",{}", label.replace([',', '"', '\n'], " "));
    }
    csv.push('\n');
    for w in timeline {
        let _ = write!(csv, "{:.3},{:.3},{:.1},{}", w.start_seconds, w.end_seconds, w.level_dbfs, w.probabilities.is_none());
        match &w.probabilities {
            Some(p) => p.iter().for_each(|v| {
                let _ = write!(csv, ",{v:.5}");
            }),
            None => verdict.labels.iter().for_each(|_| csv.push(',')),
        }
        csv.push('\n');
    }
    #[derive(Serialize)]
    struct Export<'a> {
        model: &'a str,
        sample_rate_hz: u32,
        labels: &'a [String],
        verdict: &'a Verdict,
        windows: &'a [TimelineWindow],
    }
    let json = serde_json::to_string_pretty(&Export {
        model: &verdict.model,
        sample_rate_hz,
        labels: &verdict.labels,
        verdict,
        windows: timeline,
    })
    .map_err(std::io::Error::other)?;
    let csv_path = dir.join(format!("{base}.csv"));
    let json_path = dir.join(format!("{base}.json"));
    std::fs::write(&csv_path, csv)?;
    std::fs::write(&json_path, json)?;
    Ok((csv_path, json_path))
}
