//! The ONNX model in Rust gives musicnn's own Python pipeline's tags on the fixture.

mod common;

use genre_meter::engine::decode::decode_to_mono;
use genre_meter::engine::logmel::LogMel;
use genre_meter::engine::{AnalysisSettings, analyze_file};

fn musicnn_tags() -> (Vec<f32>, usize) {
    let tags = common::read_f32(&common::fixture("synth_16k.tags.f32"));
    let patches = tags.len() / 50;
    (tags, patches)
}

#[test]
fn tags_match_musicnn_python_pipeline_within_1e_3() {
    let model = common::musicnn_model();
    assert_eq!(model.manifest().name, "msd-musicnn");
    let (samples, _) = decode_to_mono(&common::fixture("synth_16k.wav")).expect("fixture decodes");
    let fe = &model.manifest().frontend;
    let logmel = LogMel::compute(fe, &samples);
    let (expected, patches) = musicnn_tags();
    assert!(patches >= 2, "fixture has {patches} patches");
    let patch_len = model.patch_len();
    let ours = model.infer(&logmel[..patches * patch_len], patches).expect("inference");
    let diff = common::max_abs_diff(&ours.probabilities, &expected);
    eprintln!("tag max abs diff vs musicnn's pipeline: {diff:.2e} over {patches} patches");
    assert!(diff <= 1e-3, "max abs diff {diff} > 1e-3");
    assert_eq!(ours.embeddings.len(), patches * 200);
}

#[test]
fn file_analysis_at_musicnn_settings_gives_its_tags() {
    let model = common::musicnn_model();
    let settings =
        AnalysisSettings { hop_seconds: model.manifest().frontend.patch_seconds(), ..AnalysisSettings::default() };
    let a = analyze_file(&common::fixture("synth_16k.wav"), &model, &settings).expect("analysis");
    let (expected, patches) = musicnn_tags();
    assert_eq!(a.windows.len(), patches, "non-overlapping windows like musicnn's");
    for (i, w) in a.windows.iter().enumerate() {
        let p = w.probabilities.as_ref().expect("music is not silent");
        let diff = common::max_abs_diff(p, &expected[i * 50..(i + 1) * 50]);
        assert!(diff <= 1e-3, "window {i}: diff {diff}");
        assert!((w.start_seconds - i as f64 * 187.0 * 256.0 / 16000.0).abs() < 1e-9);
    }
    // The whole-piece result is the mean of the windows.
    let mean: Vec<f32> = (0..50).map(|j| (0..patches).map(|i| expected[i * 50 + j]).sum::<f32>() / patches as f32).collect();
    let diff = common::max_abs_diff(a.summary.probabilities.as_ref().unwrap(), &mean);
    assert!(diff <= 1e-3, "summary diff {diff}");
}

#[test]
fn default_model_is_the_gtzan10_genre_head_on_musicnn() {
    let model = common::default_model();
    let m = model.manifest();
    assert_eq!(m.name, "gtzan10");
    assert_eq!(m.backbone.as_deref(), Some("msd-musicnn"));
    assert_eq!(m.labels.names.len(), 10);
    assert_eq!(m.frontend, common::musicnn_model().manifest().frontend, "a head uses its backbone's front-end");
    let a = analyze_file(&common::fixture("synth_16k.wav"), &model, &AnalysisSettings::default()).expect("analysis");
    for w in &a.windows {
        let p = w.probabilities.as_ref().unwrap();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "softmax over the genres");
    }
}
