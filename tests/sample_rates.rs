//! The same music at different sample rates gives the same whole-piece result.

mod common;

use genre_meter::engine::{AnalysisSettings, analyze_file};

#[test]
fn same_audio_at_22k_44k_48k_96k_agrees_within_0_02() {
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
    let (_, reference) = &results[0];
    for (rate, p) in &results[1..] {
        let diff = common::max_abs_diff(p, reference);
        eprintln!("{rate} Hz vs 16 kHz: max abs diff {diff:.4}");
        assert!(diff <= 0.02, "{rate} Hz differs by {diff}");
    }
    for w in results.windows(2) {
        assert!(common::max_abs_diff(&w[0].1, &w[1].1) <= 0.02);
    }
}
