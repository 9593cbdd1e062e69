//! "Files stream through the engine: a one-hour file needs no more memory than a short one"
//! (README). The figure for whole files is a bench (`cargo bench --bench pipeline -- memory`:
//! peak RSS of a 1-minute and a 60-minute file); this test checks the property on the
//! streaming `Analyzer` itself: after 1 minute of audio and after 10 minutes of the same
//! stream, the memory in use is the same (up to the allocator's caches). It uses the test model `tiny` (a 4 x 8 patch, so
//! that a window costs next to nothing) at musicnn's frame rate, fed at 8 kHz (so the
//! resampler runs), in chunks as a decoder gives them, keeping no window.

mod common;

use std::sync::Arc;

use genre_meter::engine::{AnalysisSettings, Analyzer, ModelEntry, WindowPrediction};

/// The tiny model at musicnn's frame rate: 16 kHz, a frame every 256 samples (16 ms; a
/// 64-point FFT keeps the debug build quick), 4 frames a window (64 ms). Written next to the
/// fixture's ONNX in a temporary folder.
fn coarse_tiny() -> (tempfile::TempDir, Arc<genre_meter::engine::LoadedModel>) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = common::fixture("tiny");
    std::fs::copy(fixture.join("tiny.onnx"), dir.path().join("tiny.onnx")).unwrap();
    let manifest = std::fs::read_to_string(fixture.join("manifest.toml"))
        .unwrap()
        .replace("sample_rate_hz = 8000", "sample_rate_hz = 16000")
        .replace("hop_length = 8", "hop_length = 256")
        .replace("f_max_hz = 4000.0", "f_max_hz = 8000.0");
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    let model = ModelEntry::from_folder(dir.path()).and_then(|e| e.load()).expect("coarse tiny model loads");
    assert!((model.manifest().frontend.patch_seconds() - 0.064).abs() < 1e-9);
    (dir, Arc::new(model))
}

#[test]
fn streaming_memory_does_not_grow_with_the_length_of_the_audio() {
    let (_dir, model) = coarse_tiny();
    let rate_hz = 8_000u32;
    // A window every 0.256 s (16 frames): 2 100 windows between the two measurements.
    let settings = AnalysisSettings { hop_seconds: 0.25, ..AnalysisSettings::default() };
    let mut analyzer = Analyzer::new(model, rate_hz, settings);
    let mut windows: Vec<WindowPrediction> = Vec::new();
    // One second of a gliding tone with a little noise, played over and over in chunks of
    // 8 192 samples (as a decoder hands them out), so that chunk borders move.
    let mut seed = 1u32;
    let second: Vec<f32> = (0..rate_hz)
        .map(|i| {
            let t = i as f64 / rate_hz as f64;
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (0.3 * (std::f64::consts::TAU * (220.0 + 400.0 * t) * t).sin()) as f32 + (seed >> 9) as f32 / (1u32 << 23) as f32 * 0.02 - 0.01
        })
        .collect();
    let mut chunk = vec![0.0f32; 8192];
    let mut position = 0usize;
    let mut play_minutes = |minutes: usize, analyzer: &mut Analyzer| {
        for _ in 0..minutes * 60 * rate_hz as usize / chunk.len() {
            for s in chunk.iter_mut() {
                *s = second[position];
                position = (position + 1) % second.len();
            }
            analyzer.push(&chunk, &mut windows).unwrap();
            assert!(windows.iter().all(|w| !w.is_silent()));
            windows.clear();
        }
    };
    play_minutes(1, &mut analyzer);
    let after_1_min = common::heap_in_use();
    play_minutes(9, &mut analyzer);
    let after_10_min = common::heap_in_use();
    let summary = analyzer.finish(&mut windows).unwrap();
    let growth = after_10_min - after_1_min;
    eprintln!(
        "heap in use after 1 min {:.1} kB, after 10 min {:.1} kB: growth {growth} bytes over {} windows",
        after_1_min as f64 / 1e3,
        after_10_min as f64 / 1e3,
        summary.windows
    );
    assert!(summary.windows >= 2300 && summary.silent_windows == 0, "{summary:?}");
    // glibc counts chunks parked in its per-thread caches as in use: steps of ~25 kB that do
    // not grow with the audio (measured: 25 kB in two steps from minute 2 to minute 20, the
    // same with silent audio, where no window is classified). What a leak would add: the
    // log-mel frames (2 kB a second here: 1.1 MB over 9 minutes), or 48 bytes a window (100 kB).
    assert!(growth < 96 * 1024, "memory grew by {growth} bytes between 1 and 10 minutes of audio");
}
