//! The same music at different sample rates gives the same whole-piece result.

mod common;

use genre_meter::engine::{AnalysisSettings, analyze_file};

#[test]
fn same_audio_at_22k_44k_48k_96k_agrees_within_0_01_and_with_16k_within_0_05() {
    let model = common::default_model();
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for rate in [16_000u32, 22_050, 44_100, 48_000, 96_000] {
        let path = dir.path().join(format!("music_{rate}.wav"));
        common::write_wav_f32(&path, rate, 1, &common::synth_music(rate, 12.0));
        let a = analyze_file(&path, &model, &AnalysisSettings::default()).expect("analysis");
        assert_eq!(a.sample_rate_hz, rate);
        assert!((a.summary.duration_seconds - 12.0).abs() < 1e-3);
        results.push((rate, a.summary.probabilities.expect("music is not silent")));
    }
    // Input at 16 kHz goes to the model untouched, as in musicnn's pipeline; every other
    // rate goes through resampy's `kaiser_best` filter, which takes ~0.5-3 dB off the top of
    // this clip's band (hi-hat partials to 6.8 kHz; -3.3 dB at 7.25 kHz). That moves the
    // default model by ~0.033 here, as it moves musicnn's own pipeline (tests/resample_parity.rs
    // checks the engine against it), so the 16 kHz original is held to 0.05 and the
    // resampled rates, which all lose the same band, to each other within 0.01 (measured 0.002).
    let (_, reference) = &results[0];
    for (rate, p) in &results[1..] {
        let diff = common::max_abs_diff(p, reference);
        eprintln!("{rate} Hz vs 16 kHz: max abs diff {diff:.4}");
        assert!(diff <= 0.05, "{rate} Hz differs by {diff}");
    }
    for w in results[1..].windows(2) {
        let diff = common::max_abs_diff(&w[0].1, &w[1].1);
        eprintln!("{} Hz vs {} Hz: max abs diff {diff:.4}", w[0].0, w[1].0);
        assert!(diff <= 0.01, "{} Hz vs {} Hz: {diff}", w[0].0, w[1].0);
    }
}
