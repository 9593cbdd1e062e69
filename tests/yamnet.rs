//! YAMNet as a user-installed backbone: the Rust front-end against the graph's own log-mel,
//! scores and embedding on the shared test vectors, and installing it through the CLI.
//! Needs `../shared/models/yamnet` (YAMNet's weights cannot be committed); skips without it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use genre_meter::engine::logmel::LogMel;
use genre_meter::engine::{ModelEntry, yamnet};
use ndarray::{Array2, Array3};
use ndarray_npy::NpzReader;

fn shared_yamnet() -> Option<PathBuf> {
    let dir = common::shared_dir()?.join("models/yamnet");
    dir.join(yamnet::ONNX_FILE).is_file().then_some(dir)
}

macro_rules! require_yamnet {
    () => {
        match shared_yamnet() {
            Some(d) => d,
            None => skip_test!(
                ci_provides: true,
                "../shared/models/yamnet is absent; YAMNet cannot be committed, so this test needs it"
            ),
        }
    };
}

struct TestVectors {
    waveform: Array2<f32>,
    log_mel: Array3<f32>,
    scores: Array2<f32>,
    embedding: Array2<f32>,
}

fn test_vectors(dir: &Path) -> TestVectors {
    let file = std::fs::File::open(dir.join("yamnet_testvectors.npz")).expect("test vectors");
    let mut npz = NpzReader::new(file).expect("npz");
    TestVectors {
        waveform: npz.by_name("waveform").expect("waveform"),
        log_mel: npz.by_name("log_mel").expect("log_mel"),
        scores: npz.by_name("scores").expect("scores"),
        embedding: npz.by_name("embedding").expect("embedding"),
    }
}

/// Installs the shared YAMNet into a fresh folder and loads it.
fn installed(dir: &Path) -> (tempfile::TempDir, genre_meter::engine::LoadedModel) {
    let models = tempfile::tempdir().unwrap();
    let folder = yamnet::install(dir, models.path()).expect("install the shared YAMNet");
    let model = ModelEntry::from_folder(&folder).and_then(|e| e.load()).expect("load the installed YAMNet");
    (models, model)
}

#[test]
fn frontend_matches_the_log_mel_inside_the_yamnet_graph() {
    let dir = require_yamnet!();
    let tv = test_vectors(&dir);
    let fe = yamnet::frontend();
    let (mut worst, mut sum, mut count) = (0.0f32, 0.0f64, 0usize);
    for (i, wave) in tv.waveform.outer_iter().enumerate() {
        let ours = LogMel::compute(&fe, wave.as_slice().unwrap());
        let expected = tv.log_mel.index_axis(ndarray::Axis(0), i);
        assert_eq!(ours.len(), expected.len(), "vector {i}: 0.975 s gives one patch of 96 x 64");
        worst = worst.max(common::max_abs_diff(&ours, expected.as_slice().unwrap()));
        sum += ours.iter().zip(expected.iter()).map(|(a, b)| (a - b).abs() as f64).sum::<f64>();
        count += ours.len();
    }
    let mean = sum / count as f64;
    eprintln!("YAMNet log-mel vs the graph's front-end: max abs diff {worst:.2e}, mean {mean:.2e}");
    // ln(mel + 0.001) magnifies float32 rounding in near-empty bands (close to ln 0.001 =
    // -6.9): a float64 NumPy front-end differs from the graph by up to 1.3e-3 there
    // (benches/python/yamnet_frontend_reference.py).
    assert!(worst < 1e-2, "max abs diff {worst}");
    assert!(mean < 1e-4, "mean abs diff {mean}");
}

#[test]
fn scores_and_embedding_on_our_front_end_match_the_full_graph() {
    let dir = require_yamnet!();
    let tv = test_vectors(&dir);
    let (_models, model) = installed(&dir);
    assert_eq!(model.labels().len(), yamnet::CLASSES);
    let fe = yamnet::frontend();
    let n = tv.waveform.nrows();
    let patches: Vec<f32> = tv.waveform.outer_iter().flat_map(|w| LogMel::compute(&fe, w.as_slice().unwrap())).collect();
    let out = model.infer(&patches, n).expect("inference");
    let scores = common::max_abs_diff(&out.probabilities, tv.scores.as_slice().unwrap());
    let embedding = common::max_abs_diff(&out.embeddings, tv.embedding.as_slice().unwrap());
    eprintln!("YAMNet on the Rust front-end vs the full graph: scores {scores:.2e}, embedding {embedding:.2e}");
    assert!(scores < 1e-3, "scores differ by {scores}");
    assert!(embedding < 1e-2, "embedding differs by {embedding}");
}

#[test]
fn the_installed_manifest_marks_audioset_music_genres() {
    let dir = require_yamnet!();
    let (_models, model) = installed(&dir);
    let genres = &model.manifest().labels.genres;
    assert_eq!(genres.len(), yamnet::MUSIC_GENRE_IDS.len(), "every genre id is in the class map");
    for g in ["Pop music", "Hip hop music", "Heavy metal", "Reggae", "Jazz", "Disco", "Classical music", "Blues"] {
        assert!(genres.iter().any(|x| x == g), "{g} missing from {genres:?}");
    }
    for not_genre in ["Speech", "Guitar", "Beatboxing", "Happy music", "Background music"] {
        assert!(!genres.iter().any(|x| x == not_genre), "{not_genre} is not a genre");
    }
}

#[test]
fn a_wrong_onnx_is_refused_and_nothing_is_left_installed() {
    let dir = require_yamnet!();
    let fake = tempfile::tempdir().unwrap();
    // musicnn's graph under YAMNet's file name, beside a valid class map.
    std::fs::copy(common::repo_dir().join("models/msd-musicnn/msd_musicnn.onnx"), fake.path().join(yamnet::ONNX_FILE))
        .unwrap();
    std::fs::copy(dir.join(yamnet::CLASS_MAP_FILE), fake.path().join(yamnet::CLASS_MAP_FILE)).unwrap();
    let models = tempfile::tempdir().unwrap();
    let err = yamnet::install(fake.path(), models.path()).expect_err("musicnn is not YAMNet").to_string();
    assert!(err.contains("patches") && err.contains(yamnet::ONNX_FILE), "{err}");
    assert_eq!(std::fs::read_dir(models.path()).unwrap().count(), 0, "nothing left behind");
}

fn genre_meter(home: &Path, args: &[&str]) -> Output {
    common::genre_meter_cli(home, args)
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn cli_says_how_to_install_yamnet_then_analyses_and_trains_heads_with_it() {
    let dir = require_yamnet!();
    let home = tempfile::tempdir().unwrap();
    let clip = home.path().join("clip.wav");
    common::write_wav_f32(&clip, 44_100, 2, &common::interleave(&common::synth_music(44_100, 6.0), 2));
    let clip = clip.to_str().unwrap();
    // Two "genres" of the user's own: chords and low drones.
    let data = home.path().join("my-genres");
    for (genre, variant) in [("chords", 0usize), ("chords", 1), ("chords", 2), ("drone", 0), ("drone", 1), ("drone", 2)] {
        std::fs::create_dir_all(data.join(genre)).unwrap();
        let audio = if genre == "chords" {
            common::synth_music(22_050, 4.0 + variant as f64)
        } else {
            let f = 55.0 * (1.0 + 0.1 * variant as f32);
            (0..22_050 * 4).map(|i| 0.4 * (std::f32::consts::TAU * f * i as f32 / 22_050.0).sin()).collect()
        };
        common::write_wav_f32(&data.join(genre).join(format!("{variant}.wav")), 22_050, 1, &audio);
    }
    let data = data.to_str().unwrap();

    let before = [
        genre_meter(home.path(), &["analyze", "--model", "yamnet", clip]),
        genre_meter(home.path(), &["train", "--data", data, "--backbone", "yamnet", "--out", "mine"]),
    ];
    for o in &before {
        assert!(!o.status.success());
        assert!(text(o).contains("install-yamnet"), "without YAMNet: {}", text(o));
    }

    let install = genre_meter(home.path(), &["install-yamnet", dir.to_str().unwrap()]);
    assert!(install.status.success(), "{}", text(&install));

    let listed = text(&genre_meter(home.path(), &["models"]));
    assert!(listed.contains("yamnet") && !listed.contains("unavailable"), "{listed}");

    let json = |model: &str| -> serde_json::Value {
        let o = genre_meter(home.path(), &["analyze", "--model", model, "--format", "json", clip]);
        assert!(o.status.success(), "{model}: {}", text(&o));
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let audioset = json("yamnet");
    let probs = audioset["files"][0]["probabilities"].as_object().expect("probabilities").clone();
    assert_eq!(probs.len(), yamnet::CLASSES);
    assert!(probs.values().all(|p| p.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p))));
    // The synthetic chords are music to YAMNet.
    assert!(probs["Music"].as_f64().unwrap() > 0.3, "Music = {}", probs["Music"]);

    // The "AudioSet genres" view: only music-genre classes in the top list.
    let o = genre_meter(home.path(), &["analyze", "--model", "yamnet", "--genres-only", "--top", "5", "--format", "json", clip]);
    let view: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let top = view["files"][0]["top"].as_array().expect("top list");
    assert_eq!(top.len(), 5);
    assert!(top.iter().all(|t| t["genre"] == true), "{top:?}");

    // A head of the user's own on YAMNet's embedding, trained and used like any model.
    let train = genre_meter(home.path(), &["train", "--data", data, "--backbone", "yamnet", "--out", "mine"]);
    assert!(train.status.success(), "{}", text(&train));
    let manifest = std::fs::read_to_string(home.path().join("models/mine/manifest.toml")).unwrap();
    assert!(manifest.contains("backbone = \"yamnet\""), "{manifest}");
    let head = json("mine");
    let probs = head["files"][0]["probabilities"].as_object().expect("probabilities").clone();
    assert_eq!(probs.len(), 2);
    let sum: f64 = probs.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-3, "softmax head sums to {sum}");
    assert!(probs["chords"].as_f64().unwrap() > 0.5, "the chord clip is chords: {probs:?}");
}
