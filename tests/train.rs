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
        pooling: Default::default(),
        input: InputSpec { name: HEAD_INPUT.into() },
        outputs: OutputSpec { probabilities: HEAD_OUTPUT.into(), embedding: None, embedding_dim: None },
        frontend: None,
        labels: Labels { names: vec!["a".into(), "b".into(), "c".into(), "d".into()], genres: vec![] },
        training: None,
        ensemble: None,
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

/// Writes a CSV list of the synthetic genres with two splits (for `--calibrate`).
fn make_list(dir: &Path) -> std::path::PathBuf {
    make_genres(dir);
    let mut csv = String::from("path,genre,split\n");
    for genre in ["chords", "clicks", "drone"] {
        for v in 0..4 {
            csv += &format!("{genre}/{genre}{v}.wav,{genre},{}\n", if v % 2 == 0 { "a" } else { "b" });
        }
    }
    let list = dir.join("list.csv");
    std::fs::write(&list, csv).unwrap();
    list
}

#[test]
fn a_track_level_head_is_the_head_on_the_mean_embedding_in_analyze_and_eval() {
    use genre_meter::engine::{AnalysisSettings, analyze_file};
    use std::sync::Arc;
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    make_genres(data.path());
    let d = data.path().to_str().unwrap();
    let out = home.path().join("pooled");
    let args = ["train", "--data", d, "--out", out.to_str().unwrap(), "--pooling", "mean-embedding", "--l2", "0.1", "--hop", "3"];
    let o = genre_meter(home.path(), &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    assert!(manifest.contains("pooling = \"mean-embedding\""), "{manifest}");

    // Deterministic: the same command gives the same bytes.
    let again = home.path().join("pooled-again");
    let o = genre_meter(home.path(), &["train", "--data", d, "--out", again.to_str().unwrap(), "--pooling", "mean-embedding", "--l2", "0.1", "--hop", "3"]);
    assert!(o.status.success());
    assert!(std::fs::read(out.join("head.onnx")).unwrap() == std::fs::read(again.join("head.onnx")).unwrap(), "two runs, two heads");

    // The engine's whole-file result is the head on the mean of the window embeddings, and
    // each window's probabilities are the head on that window.
    let song = data.path().join("new_drone.wav");
    common::write_wav_f32(&song, 44_100, 1, &clip("drone", 7, 44_100));
    let model = Arc::new(genre_meter::engine::ModelEntry::from_folder(&out).unwrap().load().unwrap());
    let settings = AnalysisSettings { hop_seconds: 0.5, keep_embeddings: true, ..AnalysisSettings::default() };
    let a = analyze_file(&song, &model, &settings).unwrap();
    let embeddings: Vec<&Vec<f32>> = a.windows.iter().filter_map(|w| w.embedding.as_ref()).collect();
    assert!(embeddings.len() >= 3, "several windows");
    let dim = embeddings[0].len();
    let mut mean = vec![0.0f64; dim];
    embeddings.iter().for_each(|e| mean.iter_mut().zip(e.iter()).for_each(|(m, &v)| *m += v as f64 / embeddings.len() as f64));
    let mean: Vec<f32> = mean.into_iter().map(|m| m as f32).collect();
    let expected = model.classify_embeddings(&mean, 1).unwrap().unwrap();
    let got = a.summary.probabilities.clone().unwrap();
    assert!(common::max_abs_diff(&expected, &got) < 1e-5, "{expected:?} vs {got:?}");
    let mean_of_windows: Vec<f32> = (0..expected.len())
        .map(|i| a.windows.iter().filter_map(|w| w.probabilities.as_ref()).map(|p| p[i]).sum::<f32>() / embeddings.len() as f32)
        .collect();
    assert!(common::max_abs_diff(&mean_of_windows, &got) > 1e-4, "pooling embeddings is not averaging probabilities");
    for w in a.windows.iter().filter(|w| w.embedding.is_some()) {
        let p = model.classify_embeddings(w.embedding.as_ref().unwrap(), 1).unwrap().unwrap();
        assert!(common::max_abs_diff(&p, w.probabilities.as_ref().unwrap()) < 1e-6);
    }

    // The CLI says the same, and eval pools the same way.
    let o = genre_meter(home.path(), &["analyze", "--model", out.to_str().unwrap(), "--hop", "0.5", "--format", "json", song.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let p = doc["files"][0]["probabilities"].as_object().unwrap();
    for (i, label) in model.labels().iter().enumerate() {
        assert!((p[label].as_f64().unwrap() as f32 - got[i]).abs() < 1e-4, "{label}: {doc}");
    }
    let o = genre_meter(home.path(), &["eval", "--model", out.to_str().unwrap(), "--data", d, "--hop", "3", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["pooling"], "mean-embedding");
    assert!(report["track"]["accuracy"].as_f64().unwrap() >= 0.9, "{report}");
}

#[test]
fn calibrate_fits_a_temperature_out_of_fold_and_folds_it_into_the_head() {
    let home = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let list = make_list(data.path());
    let l = list.to_str().unwrap();
    let out = home.path().join("cal");
    let svg = home.path().join("reliability.svg");
    let o = genre_meter(home.path(), &["train", "--list", l, "--split", "a,b", "--out", out.to_str().unwrap(), "--pooling", "mean-embedding", "--hop", "3", "--l2", "1", "--calibrate"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("out-of-fold predictions over the splits a, b"), "{stdout}");
    let manifest = std::fs::read_to_string(out.join("manifest.toml")).unwrap();
    let t: f64 = manifest.lines().find_map(|l| l.strip_prefix("temperature = ")).expect("temperature in the manifest").parse().unwrap();
    assert!(t > 0.0 && t != 1.0, "{manifest}");
    assert!(manifest.contains("out_of_fold_ece_before") && manifest.contains("splits = [\n    \"a\",\n    \"b\",\n]"), "{manifest}");

    // The temperature is in the ONNX head: the same head trained without it, divided by T,
    // gives the same logits (checked through the probabilities' log-ratios).
    let plain = home.path().join("plain");
    let o = genre_meter(home.path(), &["train", "--list", l, "--split", "a,b", "--out", plain.to_str().unwrap(), "--pooling", "mean-embedding", "--hop", "3", "--l2", "1"]);
    assert!(o.status.success());
    let load = |dir: &Path| ModelEntry::from_folder(dir).unwrap().load().unwrap();
    let (cal, raw) = (load(&out), load(&plain));
    // Strong L2 and a zero input keep the logits moderate, so no probability underflows.
    let x = vec![0.0f32; 200];
    let (pc, pr) = (cal.classify_embeddings(&x, 1).unwrap().unwrap(), raw.classify_embeddings(&x, 1).unwrap().unwrap());
    let mut order: Vec<usize> = (0..pr.len()).collect();
    order.sort_by(|&a, &b| pr[b].total_cmp(&pr[a]));
    let ratio = |p: &[f32]| (p[order[0]] as f64 / p[order[1]] as f64).ln();
    assert!((ratio(&pc) - ratio(&pr) / t).abs() < 1e-3 * ratio(&pr).abs().max(1.0), "{pc:?} {pr:?} T {t}");

    // eval draws the reliability diagram; one split cannot be calibrated.
    let o = genre_meter(home.path(), &["eval", "--model", out.to_str().unwrap(), "--list", l, "--hop", "3", "--calibration", svg.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("expected calibration error"));
    assert!(std::fs::read_to_string(&svg).unwrap().contains("ECE"));
    let o = genre_meter(home.path(), &["train", "--list", l, "--split", "a", "--out", "x", "--pooling", "mean-embedding", "--calibrate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at least two splits"), "{}", String::from_utf8_lossy(&o.stderr));
}
