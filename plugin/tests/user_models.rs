//! Models that are not built in, in the plugin: a head the user trained on their own genre
//! folders, and YAMNet with its gtzan10 head once installed. Each test gets its own user
//! folder (`GENRE_METER_HOME`), as a fresh machine would.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use genre_meter::engine::{AnalysisSettings, model, yamnet};
use serde_json::json;

fn choose_model(instance: &mut clack_host::prelude::PluginInstance<TestHost>, name: &str) {
    let mut state = state_json(instance);
    state["fields"]["model"] = json!(serde_json::to_string(name).unwrap());
    load_state_json(instance, &state);
}

fn write_wav(path: &Path, rate_hz: u32, mono: &[f32]) {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate_hz, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    mono.iter().for_each(|&s| w.write_sample(s).unwrap());
    w.finalize().unwrap();
}

/// Trains `name`, a head on `backbone` for two genres of synthesised clips (drones and
/// chords), into the user folder, as `genre-meter train --data` does.
fn train_own_head(home: &Path, backbone: &str, name: &str) {
    let data = home.join("my-genres");
    for (genre, make) in [("drone", 0usize), ("chords", 1)] {
        std::fs::create_dir_all(data.join(genre)).unwrap();
        for v in 0..4 {
            let clip = if make == 0 { common::drone(22_050, 5.0, v) } else { music_clip(22_050, 5.0 + v as f64 * 0.5).0 };
            write_wav(&data.join(genre).join(format!("{genre}{v}.wav")), 22_050, &clip);
        }
    }
    let dataset = genre_meter::train::dataset::Dataset::from_folders(&data).unwrap();
    let backbone = model::resolve(backbone).unwrap();
    let out = model::user_models_dir().join(name);
    genre_meter::train::train_head(
        &dataset,
        &backbone,
        &out,
        &AnalysisSettings::default(),
        &Default::default(),
        Some(1),
        |_| {},
        |_, _| {},
    )
    .expect("training");
}

/// Writes an ensemble manifest `name` into the user folder: `members` as (model, weight,
/// hop_seconds), the mix sharpened by `temperature`, with `labels`.
fn write_ensemble(name: &str, members: &[(&str, f32, Option<f64>)], temperature: f32, labels: &[&str]) {
    let dir = model::user_models_dir().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!("name = \"{name}\"\noutput_activation = \"softmax\"\n\n[ensemble]\ntemperature = {temperature}\n");
    for (m, w, hop) in members {
        text += &format!("\n[[ensemble.members]]\nmodel = \"{m}\"\nweight = {w}\n");
        if let Some(h) = hop {
            text += &format!("hop_seconds = {h}\n");
        }
    }
    let quoted: Vec<String> = labels.iter().map(|l| format!("\"{l}\"")).collect();
    text += &format!("\n[labels]\nnames = [{}]\n", quoted.join(", "));
    std::fs::write(dir.join("manifest.toml"), text).unwrap();
}

/// The plugin's verdict for `name` on `left`/`right` at 48 kHz, against the engine's
/// whole-piece result for their downmix (as the CLI gives it for a file).
fn plugin_matches_engine(entry: &clack_host::prelude::PluginEntry, name: &str, labels: usize, left: &[f32], right: &[f32]) {
    let mut instance = new_instance(entry);
    choose_model(&mut instance, name);
    play(&mut instance, 48_000.0, 512, &[left.to_vec(), right.to_vec()]);
    let verdict = verdict(&mut instance);
    assert_eq!(verdict["model"], name);
    let plugin = f32s(&verdict["probabilities"]);
    assert_eq!(plugin.len(), labels, "{name}: {verdict}");

    let loaded = Arc::new(model::resolve(name).and_then(|e| e.load()).unwrap());
    let settings = plugin_default_settings_for(&loaded);
    let mut analyzer = genre_meter::engine::Analyzer::new(loaded, 48_000, settings);
    let mut windows = Vec::new();
    analyzer.push(&downmix(left, right), &mut windows).unwrap();
    let engine = analyzer.finish(&mut windows).unwrap().probabilities.unwrap();
    let worst = plugin.iter().zip(&engine).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("{name} in the plugin vs the engine: largest difference {worst:.2e}");
    assert!(worst <= 1e-5, "{name}: plugin differs from the engine by {worst}");
}

#[test]
fn a_head_trained_on_own_genre_folders_runs_in_the_plugin() {
    let home = fresh_home("own-head", None);
    train_own_head(&home, "msd-musicnn", "my-genres");

    let entry = load_entry();
    let mut instance = new_instance(&entry);
    choose_model(&mut instance, "my-genres");
    // One of the drones it learnt from, now at the host's 44.1 kHz in stereo.
    let clip = common::drone(44_100, 6.0, 2);
    let out_audio = play(&mut instance, 44_100.0, 512, &[clip.clone(), clip.clone()]);
    assert_bit_exact(&[clip.clone(), clip.clone()], &out_audio, "own model");
    let verdict = verdict(&mut instance);
    assert_eq!(verdict["model"], "my-genres", "{verdict}");
    let labels: Vec<&str> = verdict["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let p = f32s(&verdict["probabilities"]);
    assert_eq!(p.len(), 2, "{verdict}");
    let drone_at = labels.iter().position(|&l| l == "drone").expect("drone is a label");
    assert!(p[drone_at] > 0.5, "a drone it was trained on is called drone: {verdict}");
    // The same numbers as the engine (the CLI) gives with the new model.
    let loaded = Arc::new(model::resolve("my-genres").and_then(|e| e.load()).unwrap());
    let settings = plugin_default_settings_for(&loaded);
    let mut analyzer = genre_meter::engine::Analyzer::new(loaded, 44_100, settings);
    let mut windows = Vec::new();
    analyzer.push(&clip, &mut windows).unwrap();
    let engine = analyzer.finish(&mut windows).unwrap().probabilities.unwrap();
    let worst = p.iter().zip(&engine).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    eprintln!("own head in the plugin vs the engine: largest difference {worst:.2e}");
    assert!(worst <= 1e-5, "plugin differs from the engine by {worst}");

    // An ensemble of the head with itself at a finer hop, sharpened: the plugin's verdict
    // is still the engine's (each member's pool carried across the plugin's streams).
    write_ensemble("my-ensemble", &[("my-genres", 0.6, None), ("my-genres", 0.4, Some(0.5))], 0.8, &labels);
    let (left, right) = music_clip(48_000, 7.0);
    plugin_matches_engine(&entry, "my-ensemble", 2, &left, &right);
    std::fs::remove_dir_all(&home).ok();
}

fn shared_yamnet() -> Option<PathBuf> {
    let dir = shared_dir()?.join("models/yamnet");
    dir.join(yamnet::ONNX_FILE).is_file().then_some(dir)
}

#[test]
fn yamnet_and_a_head_on_it_run_in_the_plugin_once_installed_and_match_the_engine() {
    let Some(source) = shared_yamnet() else {
        skip_test!(ci_provides: true, "../shared/models/yamnet is absent; YAMNet cannot be committed, so this test needs it");
    };
    let home = fresh_home("yamnet", None);
    let entry = load_entry();
    let (left, right) = music_clip(48_000, 6.0);

    // Before installing: the plugin passes audio and says what is missing.
    let mut instance = new_instance(&entry);
    choose_model(&mut instance, "yamnet");
    let out = play(&mut instance, 48_000.0, 512, &[left.clone(), right.clone()]);
    assert_bit_exact(&[left.clone(), right.clone()], &out, "YAMNet missing");
    assert_eq!(verdict(&mut instance)["windows"], 0);

    yamnet::install(&source, &model::user_models_dir()).expect("install YAMNet");
    train_own_head(&home, "yamnet", "my-yamnet-genres");
    // And a musicnn + YAMNet ensemble of two heads, as the built-in gtzan10-ensemble is.
    train_own_head(&home, "msd-musicnn", "my-genres");
    let own_labels = model::resolve("my-genres").unwrap().manifest.labels.names;
    let own_labels: Vec<&str> = own_labels.iter().map(String::as_str).collect();
    write_ensemble("my-mixed", &[("my-genres", 0.625, None), ("my-yamnet-genres", 0.375, Some(0.96))], 0.88, &own_labels);
    for (name, labels) in [("yamnet", yamnet::CLASSES), ("my-yamnet-genres", 2), ("my-mixed", 2)] {
        plugin_matches_engine(&entry, name, labels, &left, &right);
    }
    std::fs::remove_dir_all(&home).ok();
}
