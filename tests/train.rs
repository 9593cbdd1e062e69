//! Training a head on your own genres, end to end through the CLI, and the written ONNX head.

mod common;

use std::path::Path;
use std::process::Output;

use genre_meter::engine::ModelEntry;
use genre_meter::engine::manifest::{InputSpec, Labels, ManifestFile, OutputActivation, OutputSpec};
use genre_meter::train::onnx::{HEAD_INPUT, HEAD_OUTPUT, head_to_onnx};
use genre_meter::train::softmax::SoftmaxHead;
use sha2::{Digest, Sha256};

fn genre_meter(home: &Path, args: &[&str]) -> Output {
    common::genre_meter_cli(home, args)
}

/// Three easily told apart "genres": low drones, bright noise bursts, and the chord music.
fn clip(genre: &str, variant: usize, rate: u32) -> Vec<f32> {
    let n = rate as usize * 4;
    let tau = std::f32::consts::TAU;
    let mut seed = 99 + variant as u32;
    match genre {
        "drone" => (0..n)
            .map(|i| {
                let t = i as f32 / rate as f32;
                let f = 55.0 * (1.0 + 0.1 * variant as f32);
                0.3 * (tau * f * t).sin() + 0.2 * (tau * 1.5 * f * t).sin()
            })
            .collect(),
        "clicks" => (0..n)
            .map(|i| {
                seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                let t = i as f32 / rate as f32;
                let period = 0.125 + 0.02 * variant as f32;
                noise * (-80.0 * (t % period)).exp()
            })
            .collect(),
        _ => common::synth_music(rate, 4.0 + 0.5 * variant as f64),
    }
}

fn make_genres(dir: &Path) {
    for genre in ["chords", "clicks", "drone"] {
        std::fs::create_dir_all(dir.join(genre)).unwrap();
        for v in 0..4 {
            common::write_wav_f32(&dir.join(genre).join(format!("{genre}{v}.wav")), 22_050, 1, &clip(genre, v, 22_050));
        }
    }
}

#[test]
fn train_on_own_folders_then_analyse_and_evaluate_with_the_new_model() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    make_genres(data.path());
    let d = data.path().to_str().unwrap();

    let o = genre_meter(home.path(), &["train", "--data", d, "--out", "my-genres"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("12 files (0 from the embedding cache)"), "{out}");
    let model_dir = home.path().join("models/my-genres");
    let manifest = std::fs::read_to_string(model_dir.join("manifest.toml")).unwrap();
    assert!(manifest.contains("backbone = \"msd-musicnn\""), "{manifest}");

    // Retraining reuses the cached embeddings.
    let o = genre_meter(home.path(), &["train", "--data", d, "--out", "my-genres", "--force", "--l2", "0.01"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("12 files (12 from the embedding cache)"));

    // Listed and usable like any other model.
    let o = genre_meter(home.path(), &["models"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("my-genres"));
    let song = data.path().join("new_drone.wav");
    common::write_wav_f32(&song, 44_100, 2, &common::interleave(&clip("drone", 7, 44_100), 2));
    let o = genre_meter(home.path(), &["analyze", "--model", "my-genres", "--format", "json", song.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = &doc["files"][0]["top"][0];
    assert_eq!(top["label"], "drone", "{doc}");
    let p = doc["files"][0]["probabilities"].as_object().unwrap();
    let sum: f64 = p.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "softmax head probabilities sum to {sum}");

    let svg = home.path().join("confusion.svg");
    let o = genre_meter(home.path(), &["eval", "--model", "my-genres", "--data", d, "--format", "json", "--confusion", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report["track"]["accuracy"].as_f64().unwrap() >= 0.9, "{report}");
    assert_eq!(report["track"]["examples"], 12);
    assert!(std::fs::read_to_string(svg).unwrap().starts_with("<svg"));
}

#[test]
fn one_genre_or_an_empty_genre_folder_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(data.path().join("only")).unwrap();
    common::write_wav_f32(&data.path().join("only/a.wav"), 16_000, 1, &clip("drone", 0, 16_000));
    let o = genre_meter(home.path(), &["train", "--data", data.path().to_str().unwrap(), "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least two"), "{}", String::from_utf8_lossy(&o.stderr));

    std::fs::create_dir_all(data.path().join("empty")).unwrap();
    let o = genre_meter(home.path(), &["train", "--data", data.path().to_str().unwrap(), "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("empty") && err.contains("no audio files"), "{err}");
}

#[test]
fn an_unreadable_file_is_skipped_and_reported() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    make_genres(data.path());
    std::fs::write(data.path().join("drone/broken.wav"), b"RIFF....not really").unwrap();
    let o = genre_meter(home.path(), &["train", "--data", data.path().to_str().unwrap(), "--out", "x"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("skipped: ") && String::from_utf8_lossy(&o.stderr).contains("broken.wav"));
}

#[test]
fn written_onnx_head_computes_what_the_rust_head_computes() {
    let (dim, k) = (200, 4);
    let weights: Vec<f32> = (0..dim * k).map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.2).collect();
    let head = SoftmaxHead { weights, bias: vec![0.1, -0.2, 0.3, 0.0], dim, classes: k, best_epoch: 1, held_out_loss: 0.0 };
    let dir = tempfile::tempdir().unwrap();
    let bytes = head_to_onnx(&head, "test head");
    std::fs::write(dir.path().join("head.onnx"), &bytes).unwrap();
    let manifest = ManifestFile {
        name: "test-head".into(),
        display_name: None,
        description: None,
        onnx: "head.onnx".into(),
        sha256: Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
        licence: None,
        source: None,
        backbone: Some("msd-musicnn".into()),
        output_activation: OutputActivation::Softmax,
        input: InputSpec { name: HEAD_INPUT.into() },
        outputs: OutputSpec { probabilities: HEAD_OUTPUT.into(), embedding: None, embedding_dim: None },
        frontend: None,
        labels: Labels { names: vec!["a".into(), "b".into(), "c".into(), "d".into()], genres: vec![] },
        training: None,
    };
    std::fs::write(dir.path().join("manifest.toml"), toml::to_string(&manifest).unwrap()).unwrap();
    let model = ModelEntry::from_folder(dir.path()).unwrap().load().unwrap();
    let x: Vec<f32> = (0..2 * dim).map(|i| (i as f32 * 0.37).sin().abs()).collect();
    let onnx = model.classify_embeddings(&x, 2).unwrap().unwrap();
    for row in 0..2 {
        let rust = head.probabilities(&x[row * dim..(row + 1) * dim]);
        let diff = common::max_abs_diff(&rust, &onnx[row * k..(row + 1) * k]);
        assert!(diff < 1e-5, "row {row}: {diff}");
    }
}
