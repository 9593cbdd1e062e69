//! Bad and unusual input: a clear error naming the file, or a sound result; never a panic
//! and never a NaN.

mod common;

use std::path::Path;

use genre_meter::engine::{AnalysisError, AnalysisSettings, DecodeError, FileAnalysis, analyze_file};

fn analyse(path: &Path) -> Result<FileAnalysis, AnalysisError> {
    analyze_file(path, &common::default_model(), &AnalysisSettings::default())
}

fn assert_sound(a: &FileAnalysis) {
    let p = a.summary.probabilities.as_ref().expect("has a result");
    assert!(p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)), "probabilities {p:?}");
    for w in &a.windows {
        if let Some(p) = &w.probabilities {
            assert!(p.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn empty_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.wav");
    std::fs::write(&path, b"").unwrap();
    let err = analyse(&path).unwrap_err();
    assert!(matches!(err, AnalysisError::Decode(DecodeError::Empty { .. })), "{err}");
    assert!(err.to_string().contains("empty.wav"), "{err}");
}

#[test]
fn text_file_named_mp3_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.mp3");
    std::fs::write(&path, "these are my notes, not music\n".repeat(100)).unwrap();
    let err = analyse(&path).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("notes.mp3"), "{msg}");
    assert!(matches!(err, AnalysisError::Decode(_)), "{msg}");
}

#[test]
fn truncated_file_analyses_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.wav");
    common::write_wav_i16(&path, 44_100, 2, &common::interleave(&common::synth_music(44_100, 8.0), 2));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2 + 3]).unwrap();
    let a = analyse(&path).expect("the first half is still music");
    assert!((a.summary.duration_seconds - 4.0).abs() < 0.05, "decoded {} s", a.summary.duration_seconds);
    assert_sound(&a);
}

#[test]
fn truncated_header_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stub.wav");
    common::write_wav_i16(&path, 44_100, 1, &common::synth_music(44_100, 1.0));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..20]).unwrap();
    let err = analyse(&path).unwrap_err();
    assert!(err.to_string().contains("stub.wav"), "{err}");
}

#[test]
fn clip_shorter_than_a_patch_is_repeat_padded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("short.wav");
    common::write_wav_f32(&path, 16_000, 1, &common::synth_music(16_000, 1.0));
    let a = analyse(&path).expect("short clips are analysed");
    assert!(a.summary.repeat_padded);
    assert_eq!(a.summary.windows, 1);
    assert!(a.warnings.iter().any(|w| w.contains("repeat-padded")));
    assert_sound(&a);
}

#[test]
fn nan_and_infinite_samples_are_replaced_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("poison.wav");
    let mut x = common::synth_music(48_000, 6.0);
    for i in (0..x.len()).step_by(997) {
        x[i] = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][i % 3];
    }
    let bad = x.iter().filter(|v| !v.is_finite()).count() as u64;
    common::write_wav_f32(&path, 48_000, 1, &x);
    let a = analyse(&path).expect("poisoned samples do not stop the analysis");
    assert_eq!(a.summary.non_finite_samples, bad);
    assert!(a.warnings.iter().any(|w| w.contains("NaN")));
    assert_sound(&a);
}

#[test]
fn eight_channels_downmix_like_mono() {
    let dir = tempfile::tempdir().unwrap();
    let mono = common::synth_music(48_000, 6.0);
    let p8 = dir.path().join("eight.wav");
    let p1 = dir.path().join("mono.wav");
    common::write_wav_f32(&p8, 48_000, 8, &common::interleave(&mono, 8));
    common::write_wav_f32(&p1, 48_000, 1, &mono);
    let a8 = analyse(&p8).unwrap();
    let a1 = analyse(&p1).unwrap();
    assert_eq!(a8.channels, 8);
    assert_sound(&a8);
    let diff = common::max_abs_diff(a8.summary.probabilities.as_ref().unwrap(), a1.summary.probabilities.as_ref().unwrap());
    assert!(diff < 1e-4, "8-channel downmix differs from mono by {diff}");
}

#[test]
fn rates_8k_192k_and_384k_work_and_500k_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reference = {
        let p = dir.path().join("ref.wav");
        common::write_wav_f32(&p, 16_000, 1, &common::synth_music(16_000, 5.0));
        analyse(&p).unwrap().summary.probabilities.unwrap()
    };
    for rate in [8_000u32, 192_000, 384_000] {
        let p = dir.path().join(format!("r{rate}.wav"));
        common::write_wav_f32(&p, rate, 1, &common::synth_music(rate, 5.0));
        let a = analyse(&p).unwrap_or_else(|e| panic!("{rate} Hz: {e}"));
        assert_eq!(a.sample_rate_hz, rate);
        assert_sound(&a);
        if rate > 16_000 {
            let diff = common::max_abs_diff(a.summary.probabilities.as_ref().unwrap(), &reference);
            assert!(diff <= 0.02, "{rate} Hz differs from 16 kHz by {diff}");
        }
    }
    let p = dir.path().join("too_fast.wav");
    common::write_wav_f32(&p, 500_000, 1, &vec![0.0; 1000]);
    let err = analyse(&p).unwrap_err();
    assert!(err.to_string().contains("500000") && err.to_string().contains("too_fast.wav"), "{err}");
}

#[test]
fn pure_silence_is_reported_as_silence_not_a_genre() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silence.wav");
    common::write_wav_i16(&path, 44_100, 2, &vec![0.0; 44_100 * 2 * 6]);
    let a = analyse(&path).expect("silence is valid audio");
    assert!(a.summary.probabilities.is_none());
    assert!(a.summary.windows > 0);
    assert_eq!(a.summary.silent_windows, a.summary.windows);
    assert!(a.windows.iter().all(|w| w.is_silent()));
}

#[test]
fn music_after_silence_is_classified_only_where_loud() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.wav");
    let mut x = vec![0.0f32; 16_000 * 6];
    x.extend(common::synth_music(16_000, 6.0));
    common::write_wav_f32(&path, 16_000, 1, &x);
    let a = analyse(&path).unwrap();
    assert!(a.summary.silent_windows > 0 && a.summary.silent_windows < a.summary.windows);
    for w in &a.windows {
        if w.end_seconds <= 6.0 {
            assert!(w.is_silent(), "window at {} s should be silent", w.start_seconds);
        }
        if w.start_seconds >= 6.0 {
            assert!(!w.is_silent(), "window at {} s is music", w.start_seconds);
        }
    }
    assert_sound(&a);
}
