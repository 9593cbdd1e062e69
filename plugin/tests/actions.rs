//! What the editor's buttons and model list do, and what it says when something is missing,
//! driven without a GUI: the test runs the plugin's worker thread as the plugin does (the
//! same queue, parameters, status and meter snapshot the editor reads) and makes the requests
//! the editor's buttons make (`reset_requested`, `export_requested`, a new `model_name`).
//! Every test has its own user folder (`GENRE_METER_HOME`), as a fresh machine would.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;
use genre_meter::engine::{Analyzer, TrackSummary, WindowPrediction, model};
use genre_meter_plugin::capture::{self, Capture};
use genre_meter_plugin::meter::{MeterSnapshot, MeterStatus, StatusText};
use genre_meter_plugin::params::{GenreMeterParams, Verdict};
use genre_meter_plugin::worker::{Carry, TIMELINE_MAX_WINDOWS, Worker};

/// The plugin's worker with the pieces the plugin gives it, and the host's end of the queue.
struct Rig {
    params: Arc<GenreMeterParams>,
    status: Arc<MeterStatus>,
    meter: triple_buffer::Output<MeterSnapshot>,
    capture: Capture,
    worker: Option<Worker>,
    /// The worker's state while no worker runs (between activations).
    carry: Option<Carry>,
    rate_hz: u32,
}

impl Rig {
    fn start(model_name: &str, rate_hz: u32) -> Self {
        let params = Arc::new(GenreMeterParams::default());
        *params.model_name.write().unwrap() = model_name.to_string();
        let status = Arc::new(MeterStatus::default());
        let (input, meter) = triple_buffer::TripleBuffer::new(&MeterSnapshot::default()).split();
        let (capture, _) = capture::queue(1.0, status.clone());
        let mut rig = Self {
            params,
            status,
            meter,
            capture,
            worker: None,
            carry: Some(Carry::new(input)),
            rate_hz,
        };
        rig.activate();
        rig
    }

    /// What the plugin's `activate` does: a new queue and a worker that carries the state on.
    fn activate(&mut self) {
        let (capture, queue) = capture::queue(self.rate_hz as f32, self.status.clone());
        let carry = self.carry.take().expect("no worker runs");
        self.worker = Some(Worker::start(carry, queue, self.rate_hz, self.params.clone(), self.status.clone()));
        self.capture = capture;
    }

    /// What `deactivate` does: the stream ends (the queued audio is analysed), the worker stops.
    fn stop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.carry = Some(worker.stop());
        }
    }

    fn verdict(&self) -> Verdict {
        self.params.verdict.read().unwrap().clone()
    }

    fn text(&self) -> StatusText {
        self.status.text.lock().unwrap().clone()
    }

    fn snapshot(&mut self) -> MeterSnapshot {
        self.meter.read().clone()
    }

    /// Waits (up to 60 s, for a loaded machine) until `done` holds.
    fn wait_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done(self) {
            assert!(Instant::now() < deadline, "waited 60 s for {what}; verdict {:?}, status {:?}", self.verdict(), self.text());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Gives the worker time for several polls (100 ms apart), so that it has drained what
    /// was queued before the test asks for something else.
    fn let_worker_drain(&self) {
        std::thread::sleep(Duration::from_millis(1000));
    }

    /// Plays mono audio as a host does, in blocks of 512, pausing whenever 3.5 s were pushed
    /// until the worker has analysed all but `slack_seconds` (one window: the verdict counts
    /// audio when a window completes) of this call's audio, so nothing drops: at most
    /// 2 × 3.5 s and what the verdict had not counted at the start are ever queued.
    fn play(&mut self, mono: &[f32], slack_seconds: f64) {
        let burst = (3.5 * self.rate_hz as f64) as usize;
        // The verdict's seconds go on from here: 0 after a reset, and after a model switch
        // (the persisted verdict is still the old model's until the new one's first window).
        let verdict = self.verdict();
        let base = if verdict.model == self.text().model_name { verdict.analysed_seconds } else { 0.0 };
        let mut pushed = 0usize;
        for block in mono.chunks(512) {
            self.capture.push(&[block]);
            pushed += block.len();
            if pushed % burst < block.len() {
                let target = base + pushed as f64 / self.rate_hz as f64 - slack_seconds;
                self.wait_until("the worker to catch up", |r| r.verdict().analysed_seconds >= target);
            }
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The engine's (the CLI's) analysis of `mono` at the plugin's defaults for `model_name`.
fn engine(model_name: &str, rate_hz: u32, mono: &[f32]) -> (TrackSummary, Vec<WindowPrediction>) {
    let loaded = Arc::new(model::resolve(model_name).and_then(|e| e.load()).expect("model loads"));
    let settings = plugin_default_settings_for(&loaded);
    let mut analyzer = Analyzer::new(loaded, rate_hz, settings);
    let mut windows = Vec::new();
    analyzer.push(mono, &mut windows).unwrap();
    let summary = analyzer.finish(&mut windows).unwrap();
    (summary, windows)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "label counts");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn mono_music(rate_hz: u32, seconds: f64) -> Vec<f32> {
    music_clip(rate_hz, seconds).0
}

/// The files of the export folder, sorted.
fn exported_files(home: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(home.join("exports"))
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

/// Presses *Export timeline* and returns the CSV and JSON it wrote (and checks where and under
/// which names: `<data dir>/exports/timeline-<model>-<unix time>.{csv,json}`).
fn export(rig: &mut Rig, home: &Path, model_name: &str) -> (String, serde_json::Value) {
    // The worker takes the request; after a stop it is the next activation's.
    if rig.worker.is_none() {
        rig.activate();
    }
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    rig.status.export_requested.store(true, Ordering::Release);
    rig.wait_until("the export", |r| r.text().notice.starts_with("Timeline exported") || !r.text().error.is_empty());
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let text = rig.text();
    assert!(text.error.is_empty(), "export failed: {}", text.error);
    let files = exported_files(home);
    assert_eq!(files.len(), 2, "one CSV and one JSON: {files:?}");
    let stem = files[0].file_stem().unwrap().to_str().unwrap().to_string();
    assert_eq!(files[0], home.join("exports").join(format!("{stem}.csv")));
    assert_eq!(files[1], home.join("exports").join(format!("{stem}.json")));
    let stamp: u64 = stem
        .strip_prefix(&format!("timeline-{model_name}-"))
        .unwrap_or_else(|| panic!("{stem}: named timeline-{model_name}-<unix time>"))
        .parse()
        .expect("a unix time");
    assert!((before..=after).contains(&stamp), "{stamp} is the time of the export ({before}..={after})");
    for f in &files {
        assert!(text.notice.contains(&f.display().to_string()), "the status line names {}: {}", f.display(), text.notice);
    }
    let csv = std::fs::read_to_string(&files[0]).unwrap();
    let json = serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).expect("the JSON export parses");
    for f in files {
        std::fs::remove_file(f).unwrap();
    }
    (csv, json)
}

/// *Export timeline*: a CSV row and a JSON entry per window (silent ones with empty cells),
/// the engine's numbers for each window, the verdict in the JSON.
#[test]
fn export_timeline_writes_csv_and_json_with_every_window() {
    let home = fresh_home("actions-export", None);
    let rate_hz = 48_000;
    // 3.5 s of silence, then music: silent and classified windows.
    let mut mono = vec![0.0f32; (3.5 * rate_hz as f64) as usize];
    mono.extend(mono_music(rate_hz, 7.0));
    let mut rig = Rig::start("gtzan10", rate_hz);
    rig.play(&mono, 3.5);
    rig.stop();
    let verdict = rig.verdict();
    let (csv, json) = export(&mut rig, &home, "gtzan10");
    let (summary, windows) = engine("gtzan10", rate_hz, &mono);
    assert!(summary.silent_windows >= 1 && summary.windows > summary.silent_windows, "{summary:?}");

    let mut lines = csv.lines();
    let labels = model::resolve("gtzan10").unwrap().manifest.labels.names;
    assert_eq!(lines.next().unwrap(), format!("start_seconds,end_seconds,level_dbfs,silent,{}", labels.join(",")));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), windows.len(), "one row per window");
    for (row, w) in rows.iter().zip(&windows) {
        assert_eq!(row.len(), 4 + labels.len(), "{row:?}");
        let start: f64 = row[0].parse().unwrap();
        assert!((start - w.start_seconds).abs() < 1e-3, "start {start} vs {}", w.start_seconds);
        assert_eq!(row[3], w.is_silent().to_string());
        match &w.probabilities {
            None => assert!(row[4..].iter().all(|c| c.is_empty()), "a silent window has empty cells: {row:?}"),
            Some(p) => {
                let cells: Vec<f32> = row[4..].iter().map(|c| c.parse().unwrap()).collect();
                // 5 decimals in the CSV.
                assert!(max_diff(&cells, p) <= 1e-5 + 5e-6, "window at {start} s: {cells:?} vs {p:?}");
            }
        }
    }
    assert_eq!(json["model"], "gtzan10");
    assert_eq!(json["sample_rate_hz"], rate_hz);
    assert_eq!(json["labels"].as_array().unwrap().len(), labels.len());
    assert_eq!(json["windows"].as_array().unwrap().len(), windows.len());
    assert_eq!(json["verdict"]["windows"], verdict.windows);
    assert_eq!(f32s(&json["verdict"]["probabilities"]), verdict.probabilities);
    let silent_in_json = json["windows"].as_array().unwrap().iter().filter(|w| w["probabilities"].is_null()).count();
    assert_eq!(silent_in_json, summary.silent_windows);
    std::fs::remove_dir_all(&home).ok();
}

/// *Reset* forgets the verdict, the history and the timeline; what is played afterwards is a
/// new piece (the engine's numbers for it alone, times from zero).
#[test]
fn reset_forgets_verdict_history_and_timeline() {
    let home = fresh_home("actions-reset", None);
    let rate_hz = 48_000;
    let mut rig = Rig::start("gtzan10", rate_hz);
    let first = mono_music(rate_hz, 6.5);
    rig.play(&first, 3.5);
    rig.wait_until("two windows", |r| r.verdict().windows >= 2);
    rig.let_worker_drain();
    assert!(rig.snapshot().history_len >= 2);

    rig.status.reset_requested.store(true, Ordering::Release);
    rig.wait_until("the reset", |r| r.verdict().windows == 0);
    let verdict = rig.verdict();
    assert_eq!((verdict.windows, verdict.silent_windows, verdict.analysed_seconds), (0, 0, 0.0), "{verdict:?}");
    assert!(verdict.probabilities.is_empty());
    // The editor's picture: the history strip and the whole-piece figures are empty.
    let deadline = Instant::now() + Duration::from_secs(10);
    let snapshot = loop {
        let s = rig.snapshot();
        if s.history_len == 0 || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!((snapshot.history_len, snapshot.verdict_windows, snapshot.analysed_seconds), (0, 0, 0.0));

    // A new piece: other music (the clip's second half), analysed from zero.
    let second = music_clip(rate_hz, 13.0).0.split_off(rate_hz as usize * 6);
    rig.play(&second, 3.5);
    rig.stop();
    let verdict = rig.verdict();
    let (summary, windows) = engine("gtzan10", rate_hz, &second);
    assert_eq!(verdict.windows as usize, summary.windows - summary.silent_windows);
    assert!((verdict.analysed_seconds - summary.duration_seconds).abs() < 1e-3, "{verdict:?}");
    let worst = max_diff(&verdict.probabilities, summary.probabilities.as_ref().unwrap());
    assert!(worst <= 1e-5, "after a reset the verdict is the engine's for the new audio alone: {worst}");
    let (_, json) = export(&mut rig, &home, "gtzan10");
    let exported = json["windows"].as_array().unwrap();
    assert_eq!(exported.len(), windows.len(), "the timeline holds only windows after the reset");
    assert!(exported[0]["start_seconds"].as_f64().unwrap() < 1e-9, "times start again from zero");
    std::fs::remove_dir_all(&home).ok();
}

/// *Copy tags*: the strongest whole-piece genre labels of at least 10 %, strongest first, at
/// most five, comma-separated; every label with *All labels* on.
#[test]
fn copy_tags_gives_the_strongest_whole_piece_genres() {
    let home = fresh_home("actions-tags", None);
    let rate_hz = 44_100;
    // msd-musicnn: 30 genre tags among 50, so the genre filter shows.
    let mut rig = Rig::start("msd-musicnn", rate_hz);
    rig.play(&mono_music(rate_hz, 7.0), 3.5);
    rig.stop();
    let verdict = rig.verdict();
    let snapshot = rig.snapshot();
    let text = rig.text();
    let manifest = model::resolve("msd-musicnn").unwrap().manifest;
    let expected = |indices: &[usize]| {
        let mut ranked: Vec<usize> = indices.iter().copied().filter(|&i| verdict.probabilities[i] >= 0.1).collect();
        ranked.sort_by(|&a, &b| verdict.probabilities[b].total_cmp(&verdict.probabilities[a]));
        ranked.iter().take(5).map(|&i| manifest.labels.names[i].clone()).collect::<Vec<_>>().join(", ")
    };
    let genres = manifest.genre_indices();
    assert_eq!(text.genre_indices, genres, "the editor shows the genre tags");
    let tags = genre_meter_plugin::editor::verdict_tags(&snapshot, &text, &text.genre_indices);
    eprintln!("Copy tags: {tags:?}; whole piece: {:?}", verdict.probabilities);
    assert!(!tags.is_empty(), "music gives at least one genre of 10 % or more: {verdict:?}");
    assert_eq!(tags, expected(&genres));
    for tag in tags.split(", ") {
        assert!(manifest.labels.genres.iter().any(|g| g == tag), "{tag} is a genre");
    }
    let all: Vec<usize> = (0..manifest.labels.names.len()).collect();
    let all_tags = genre_meter_plugin::editor::verdict_tags(&snapshot, &text, &all);
    assert_eq!(all_tags, expected(&all));
    std::fs::remove_dir_all(&home).ok();
}

/// Choosing another model in the editor while audio plays: the old model's stream ends, the
/// new model analyses what comes after, and its verdict is its own (the engine's numbers for
/// the audio after the switch; nothing of the old model mixed in).
#[test]
fn switching_the_model_while_playing_starts_the_new_model_on_what_follows() {
    let home = fresh_home("actions-switch", None);
    let rate_hz = 48_000;
    let mut rig = Rig::start("gtzan10", rate_hz);
    rig.play(&mono_music(rate_hz, 6.5), 3.5);
    rig.wait_until("gtzan10's windows", |r| r.verdict().windows >= 2);
    rig.let_worker_drain();
    assert_eq!(rig.verdict().labels.len(), 10);

    *rig.params.model_name.write().unwrap() = "msd-musicnn".to_string();
    rig.wait_until("msd-musicnn to load", |r| {
        r.text().model_name == "msd-musicnn" && r.status.model_ready.load(Ordering::Acquire)
    });
    assert_eq!(rig.text().labels.len(), 50, "the editor gets the new model's labels");
    let after = music_clip(rate_hz, 14.0).0.split_off(rate_hz as usize * 7);
    rig.play(&after, 3.5);
    rig.stop();
    let verdict = rig.verdict();
    assert_eq!(verdict.model, "msd-musicnn");
    assert_eq!(verdict.labels.len(), 50);
    let (summary, _) = engine("msd-musicnn", rate_hz, &after);
    assert_eq!(verdict.windows as usize, summary.windows - summary.silent_windows, "{verdict:?}");
    let worst = max_diff(&verdict.probabilities, summary.probabilities.as_ref().unwrap());
    assert!(worst <= 1e-5, "the new model's verdict is the engine's on the audio after the switch: {worst}");
    assert_eq!(rig.status.dropped_samples.load(Ordering::Relaxed), 0);
    std::fs::remove_dir_all(&home).ok();
}

/// The timeline keeps the last 14 400 windows. The test model `tiny` (tests/fixtures/tiny)
/// has 4 ms windows, so 16 000 windows are 64 s of audio.
#[test]
fn the_timeline_keeps_the_last_14_400_windows() {
    let home = fresh_home("actions-cap", None);
    let dest = home.join("models/tiny");
    std::fs::create_dir_all(&dest).unwrap();
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tiny");
    for f in ["manifest.toml", "tiny.onnx"] {
        std::fs::copy(fixture.join(f), dest.join(f)).unwrap();
    }
    let rate_hz = 8_000;
    let seconds = 64.0;
    let mut noise = Noise::new(5);
    let mono: Vec<f32> = (0..(seconds * rate_hz as f64) as usize).map(|_| 0.3 * noise.next()).collect();
    let mut rig = Rig::start("tiny", rate_hz);
    rig.play(&mono, 0.5);
    rig.stop();
    let verdict = rig.verdict();
    let (summary, windows) = engine("tiny", rate_hz, &mono);
    assert!(windows.len() > TIMELINE_MAX_WINDOWS + 1000, "{} windows", windows.len());
    assert_eq!(verdict.windows as usize + verdict.silent_windows as usize, summary.windows, "the verdict counts every window");
    let (csv, json) = export(&mut rig, &home, "tiny");
    assert_eq!(csv.lines().count(), 1 + TIMELINE_MAX_WINDOWS, "header and 14 400 rows");
    let exported = json["windows"].as_array().unwrap();
    assert_eq!(exported.len(), TIMELINE_MAX_WINDOWS);
    let first_kept = &windows[windows.len() - TIMELINE_MAX_WINDOWS];
    let start = exported[0]["start_seconds"].as_f64().unwrap();
    assert!((start - first_kept.start_seconds).abs() < 1e-6, "the oldest windows went: first kept starts at {start} s, not {}", first_kept.start_seconds);
    let last = exported.last().unwrap()["end_seconds"].as_f64().unwrap();
    assert!((last - windows.last().unwrap().end_seconds).abs() < 1e-6, "the newest window is kept");
    std::fs::remove_dir_all(&home).ok();
}

/// Waits for the worker's first word on the model and returns the error the editor shows.
fn editor_error(model_name: &str) -> (Rig, String) {
    let rig = Rig::start(model_name, 48_000);
    rig.wait_until("the model's status", |r| !r.text().error.is_empty() || r.status.model_ready.load(Ordering::Acquire));
    let error = rig.text().error;
    assert!(!rig.status.model_ready.load(Ordering::Acquire), "the meter is off");
    eprintln!("editor says: {error}");
    (rig, error)
}

/// Plays a little music into a rig whose model failed: nothing is classified, nothing dropped
/// (the audio itself never passes through the worker; `state.rs` checks it passes).
fn plays_without_a_meter(mut rig: Rig) {
    rig.capture.push(&[&mono_music(48_000, 2.0)[..]]);
    std::thread::sleep(Duration::from_millis(300));
    rig.stop();
    assert_eq!(rig.verdict().windows, 0);
    assert_eq!(rig.status.dropped_samples.load(Ordering::Relaxed), 0);
}

#[test]
fn editor_says_how_to_fix_an_unknown_model() {
    let home = fresh_home("actions-unknown-model", None);
    let (rig, error) = editor_error("no-such-model");
    assert!(error.contains("Model 'no-such-model' is not available, the meter is off (audio passes through)"), "{error}");
    assert!(error.contains("Available: ") && error.contains("gtzan10") && error.contains("msd-musicnn"), "{error}");
    assert!(error.contains("Give a built-in or installed name"), "the fix: {error}");
    plays_without_a_meter(rig);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn editor_says_how_to_fix_a_head_whose_backbone_is_missing() {
    let home = fresh_home("actions-no-backbone", None);
    let dest = home.join("models/my-yamnet-head");
    std::fs::create_dir_all(&dest).unwrap();
    let manifest = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/gtzan10/manifest.toml"))
        .unwrap()
        .replace("name = \"gtzan10\"", "name = \"my-yamnet-head\"")
        .replace("backbone = \"msd-musicnn\"", "backbone = \"yamnet\"");
    std::fs::write(dest.join("manifest.toml"), manifest).unwrap();
    std::fs::copy(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/gtzan10/head.onnx"), dest.join("head.onnx")).unwrap();
    let (rig, error) = editor_error("my-yamnet-head");
    assert!(error.contains("model 'my-yamnet-head' cannot be used: it is a head on backbone 'yamnet'"), "{error}");
    assert!(error.contains("install-yamnet"), "the fix names the install command: {error}");
    plays_without_a_meter(rig);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn editor_says_how_to_fix_a_missing_onnx_runtime() {
    let missing = std::env::temp_dir().join("genre-meter-no-such-dir/libonnxruntime.so.1.31.1");
    let home = fresh_home("actions-no-ort", Some(&missing));
    let (rig, error) = editor_error("gtzan10");
    assert!(error.contains("Model 'gtzan10' is not available, the meter is off (audio passes through)"), "{error}");
    assert!(error.contains("the ONNX Runtime library libonnxruntime.so.1.31.1 was not found"), "{error}");
    assert!(error.contains(&missing.display().to_string()), "names where it looked: {error}");
    assert!(error.contains("cargo xtask fetch-ort") && error.contains("GENRE_METER_ORT_LIB"), "the fix: {error}");
    plays_without_a_meter(rig);
    std::fs::remove_dir_all(&home).ok();
}

#[test]
fn editor_says_how_to_fix_a_library_that_is_not_onnx_runtime_1_31() {
    // A real shared library, but not ONNX Runtime: what a wrong download looks like.
    let wrong = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("glibc's libm");
    let home = fresh_home("actions-wrong-ort", Some(&wrong));
    let (rig, error) = editor_error("gtzan10");
    assert!(error.contains(&format!("the ONNX Runtime library at '{}' could not be used", wrong.display())), "{error}");
    assert!(error.contains("Fix: install version 1.31.1"), "the fix: {error}");
    plays_without_a_meter(rig);
    std::fs::remove_dir_all(&home).ok();
}
