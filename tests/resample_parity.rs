//! Audio at 22.05, 44.1 and 48 kHz (and a 3-channel file) gives musicnn's own pipeline's
//! numbers: the downmix is librosa's channel mean, the resampler is resampy's `kaiser_best`
//! as `librosa.load(sr=16000)` runs it, and the tags follow. References made by
//! `models/msd-musicnn/make_resample_fixtures.py` in the pinned environment.

mod common;

use genre_meter::engine::decode::decode_to_mono;
use genre_meter::engine::manifest::ResamplerKind;
use genre_meter::engine::resample::StreamResampler;
use genre_meter::engine::{AnalysisSettings, analyze_file};

const LABELS: usize = 50;
/// Largest sample difference allowed against resampy (float32 sums of ~280 products in a
/// different order; resampy rounds to float32 after every product).
const SAMPLE_TOL: f32 = 2e-6;
const TRACK_TAG_TOL: f32 = 0.01;
const WINDOW_TAG_TOL: f32 = 0.02;

fn meta() -> serde_json::Value {
    let text = std::fs::read_to_string(common::fixture("resample_fixtures.json")).expect("fixture json");
    serde_json::from_str(&text).expect("valid json")
}

fn resample_streaming(kind: ResamplerKind, samples: &[f32], rate: u32) -> Vec<f32> {
    let mut r = StreamResampler::new(kind, rate, 16_000);
    let mut out = Vec::new();
    // Odd, changing chunk sizes, as a decoder or a host hands them over.
    let mut rest = samples;
    let mut size = 1usize;
    while !rest.is_empty() {
        let take = size.min(rest.len());
        r.push(&rest[..take], &mut out);
        rest = &rest[take..];
        size = size * 7 % 5003 + 1;
    }
    r.finish(&mut out);
    out
}

/// (max difference over the first 2 s, over the last 0.5 s) against librosa.load(sr=16000).
fn signal_diffs(name: &str, kind: ResamplerKind) -> (f32, f32) {
    let m = &meta()["files"][format!("{name}.flac")];
    let (samples, rate) = decode_to_mono(&common::fixture(&format!("{name}.flac"))).expect("fixture decodes");
    assert_eq!(rate as u64, m["sample_rate_hz"].as_u64().unwrap());
    assert_eq!(samples.len() as u64, m["frames"].as_u64().unwrap());
    let ours = resample_streaming(kind, &samples, rate);
    let head = common::read_f32(&common::fixture(&format!("{name}.head16k.f32")));
    let tail = common::read_f32(&common::fixture(&format!("{name}.tail16k.f32")));
    assert_eq!(ours.len() as u64, m["resampled_len_16k"].as_u64().unwrap(), "{name}: length differs from librosa's");
    let d_head = common::max_abs_diff(&ours[..head.len()], &head);
    let d_tail = common::max_abs_diff(&ours[ours.len() - tail.len()..], &tail);
    (d_head, d_tail)
}

fn assert_signal_matches(name: &str) {
    let (head, tail) = signal_diffs(name, ResamplerKind::KaiserBest);
    eprintln!("{name}: kaiser-best vs resampy: max abs diff {head:.2e} (first 2 s), {tail:.2e} (last 0.5 s)");
    assert!(head <= SAMPLE_TOL && tail <= SAMPLE_TOL, "{name}: {head:e} / {tail:e} > {SAMPLE_TOL:e}");
}

/// Analyses the file at musicnn's settings (non-overlapping 3 s windows) and compares every
/// window and the whole-track mean with musicnn's taggram.
fn assert_tags_match(name: &str) {
    let model = common::musicnn_model();
    assert_eq!(model.manifest().frontend.resampler, ResamplerKind::KaiserBest, "musicnn declares resampy's filter");
    let settings =
        AnalysisSettings { hop_seconds: model.manifest().frontend.patch_seconds(), ..AnalysisSettings::default() };
    let a = analyze_file(&common::fixture(&format!("{name}.flac")), &model, &settings).expect("analysis");
    let expected = common::read_f32(&common::fixture(&format!("{name}.tags.f32")));
    let patches = expected.len() / LABELS;
    assert!(patches >= 3, "{name}: {patches} patches");
    assert_eq!(a.windows.len(), patches, "{name}: musicnn's patches and our windows");
    let mut worst_window = 0.0f32;
    for (i, w) in a.windows.iter().enumerate() {
        let p = w.probabilities.as_ref().expect("music is not silent");
        worst_window = worst_window.max(common::max_abs_diff(p, &expected[i * LABELS..(i + 1) * LABELS]));
    }
    let mean: Vec<f32> =
        (0..LABELS).map(|j| (0..patches).map(|i| expected[i * LABELS + j]).sum::<f32>() / patches as f32).collect();
    let track = common::max_abs_diff(a.summary.probabilities.as_ref().unwrap(), &mean);
    eprintln!("{name}: tags vs musicnn's pipeline: whole track {track:.2e}, worst window {worst_window:.2e} ({patches} windows)");
    assert!(track <= TRACK_TAG_TOL, "{name}: whole-track tags differ by {track}");
    assert!(worst_window <= WINDOW_TAG_TOL, "{name}: a window differs by {worst_window}");
}

#[test]
fn kaiser_best_gives_resampys_samples_at_22k_44k_48k() {
    for name in ["resample_22k", "resample_44k", "resample_48k"] {
        assert_signal_matches(name);
    }
}

#[test]
fn the_fft_resampler_would_fail_the_signal_check() {
    // The check above can fail: rubato keeps the 7-8 kHz band resampy removes.
    let (head, _) = signal_diffs("resample_44k", ResamplerKind::Fft);
    eprintln!("resample_44k: fft vs resampy: max abs diff {head:.2e}");
    assert!(head > 100.0 * SAMPLE_TOL, "{head}");
}

#[test]
fn tags_match_musicnn_at_22k() {
    assert_tags_match("resample_22k");
}

#[test]
fn tags_match_musicnn_at_44k() {
    assert_tags_match("resample_44k");
}

#[test]
fn tags_match_musicnn_at_48k() {
    assert_tags_match("resample_48k");
}

#[test]
fn downmix_of_different_channels_is_librosas_channel_mean() {
    let (mono, rate) = decode_to_mono(&common::fixture("downmix_3ch_22k.flac")).expect("fixture decodes");
    assert_eq!(rate, 22_050);
    let reference = common::read_f32(&common::fixture("downmix_3ch_22k.mono.f32"));
    let diff = common::max_abs_diff(&mono[..reference.len()], &reference);
    eprintln!("downmix_3ch_22k: mono vs librosa.to_mono: max abs diff {diff:.2e}");
    assert!(diff <= 1e-7, "downmix differs from librosa's by {diff}");
    // The channels differ, so taking one channel (or a sum) would not pass.
    let peak = reference.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(peak > 0.1, "reference mono is nearly silent");
    assert_signal_matches("downmix_3ch_22k");
    assert_tags_match("downmix_3ch_22k");
}
