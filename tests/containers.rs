//! The README's other containers: CAF (ALAC), Matroska (FLAC) and WebM (Vorbis) decode to the
//! same two seconds as the float WAV and give the same genre picture. Fixtures:
//! `tests/fixtures/formats/make_formats.sh`.

mod common;

use genre_meter::engine::decode::decode_to_mono;
use genre_meter::engine::{AnalysisSettings, analyze_file};

/// (file, lossless)
const CLIPS: &[(&str, bool)] = &[("clip.caf", true), ("clip.mkv", true), ("clip.webm", false)];

#[test]
fn caf_mkv_and_webm_decode_and_analyse_like_the_float_wav() {
    let (reference, rate) = decode_to_mono(&common::fixture("formats/clip_f32.wav")).unwrap();
    let model = common::musicnn_model();
    let settings = AnalysisSettings::default();
    let ref_p = analyze_file(&common::fixture("formats/clip_f32.wav"), &model, &settings).unwrap().summary.probabilities.unwrap();
    for &(name, lossless) in CLIPS {
        let path = common::fixture(&format!("formats/{name}"));
        let (x, x_rate) = decode_to_mono(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(x_rate, rate, "{name}");
        if lossless {
            // 16-bit ALAC / FLAC of the same samples.
            assert_eq!(x.len(), reference.len(), "{name}: every frame");
            let diff = common::max_abs_diff(&x, &reference);
            assert!(diff < 1e-4, "{name}: sample-exact up to 16 bits, differs by {diff}");
        } else {
            let seconds = x.len() as f64 / x_rate as f64;
            assert!((seconds - 2.0).abs() < 0.1, "{name}: {seconds} s");
            let rms = |v: &[f32]| (v.iter().map(|s| s * s).sum::<f32>() / v.len() as f32).sqrt();
            assert!((rms(&x) / rms(&reference) - 1.0).abs() < 0.1, "{name}: level");
        }
        let a = analyze_file(&path, &model, &settings).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.channels, 2, "{name}: stereo");
        let diff = common::max_abs_diff(a.summary.probabilities.as_ref().unwrap(), &ref_p);
        eprintln!("{name}: max abs diff {diff:.4} from the float WAV");
        let tolerance = if lossless { 0.005 } else { 0.1 };
        assert!(diff < tolerance, "{name} differs by {diff}");
    }
}
