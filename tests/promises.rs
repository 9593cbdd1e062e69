//! README promises about models and data lists that no other test checked: the manifest's
//! validation rules, duplicate model names, a head whose backbone is missing,
//! `--model path/manifest.toml` (or a folder), and `--list tracks.csv --split NAME`.
//! Each CLI run gets its own user folder (`GENRE_METER_HOME`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use genre_meter::engine::manifest::ManifestFile;

fn cli(home: &Path, args: &[&str]) -> Output {
    common::genre_meter_cli(home, args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn manifest_table(model: &str) -> toml::Table {
    let text = std::fs::read_to_string(common::repo_dir().join("models").join(model).join("manifest.toml")).unwrap();
    text.parse().unwrap()
}

/// Installs a copy of built-in `model` into `home`'s user model folder as `folder`, with its
/// manifest changed by `edit`.
fn install_copy(home: &Path, model: &str, folder: &str, edit: impl FnOnce(&mut toml::Table)) -> PathBuf {
    let src = common::repo_dir().join("models").join(model);
    let dest = home.join("models").join(folder);
    std::fs::create_dir_all(&dest).unwrap();
    let mut table = manifest_table(model);
    let onnx = table["onnx"].as_str().unwrap().to_string();
    std::fs::copy(src.join(&onnx), dest.join(&onnx)).unwrap();
    edit(&mut table);
    std::fs::write(dest.join("manifest.toml"), toml::to_string(&table).unwrap()).unwrap();
    dest
}

fn song(dir: &Path) -> PathBuf {
    let path = dir.join("song.wav");
    common::write_wav_f32(&path, 16_000, 1, &common::synth_music(16_000, 4.0));
    path
}

fn json_probabilities(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", stderr(o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(o)).expect("JSON");
    doc["files"][0]["probabilities"].clone()
}

#[test]
fn every_manifest_rule_names_the_field_and_what_to_do() {
    let origin = Path::new("my-model/manifest.toml");
    type Edit = Box<dyn Fn(&mut toml::Table)>;
    let frontend = |key: &'static str, value: toml::Value| -> Edit {
        Box::new(move |t: &mut toml::Table| {
            t.get_mut("frontend").unwrap().as_table_mut().unwrap().insert(key.into(), value.clone());
        })
    };
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("kind", frontend("kind", "mfcc".into()), "frontend.kind = \"mfcc\": only \"log-mel\" is supported"),
        ("rate", frontend("sample_rate_hz", 4000.into()), "frontend.sample_rate_hz = 4000: must be 8000..=384000"),
        ("window", frontend("win_length", 1024.into()), "frontend.win_length = 1024: must be between 1 and n_fft"),
        ("hop", frontend("hop_length", 0.into()), "must be positive"),
        ("band", frontend("f_max_hz", 9000.0.into()), "need 0 <= f_min_hz < f_max_hz <= sample_rate_hz / 2"),
        ("power", frontend("power", 3.0.into()), "frontend.power = 3: must be 1.0 or 2.0"),
        ("framing", frontend("framing", "tensorflow".into()), "framing = \"tensorflow\" cuts frames from the start: set center = false"),
        (
            "no frontend",
            Box::new(|t: &mut toml::Table| {
                t.remove("frontend");
            }),
            "no [frontend] table: a model needs one (or `backbone = \"...\"` for a head)",
        ),
        (
            "head with frontend",
            Box::new(|t: &mut toml::Table| {
                t.insert("backbone".into(), "msd-musicnn".into());
            }),
            "a head (backbone = 'msd-musicnn') takes its front-end from the backbone: remove [frontend]",
        ),
        (
            "no labels",
            Box::new(|t: &mut toml::Table| {
                t["labels"].as_table_mut().unwrap().insert("names".into(), toml::Value::Array(vec![]));
            }),
            "labels.names is empty: list the label of every model output",
        ),
        (
            "unknown genre",
            Box::new(|t: &mut toml::Table| {
                t["labels"].as_table_mut().unwrap().insert("genres".into(), vec!["rock", "polka"].into());
            }),
            "labels.genres names 'polka', which is not in labels.names",
        ),
        (
            "sha256",
            Box::new(|t: &mut toml::Table| {
                t.insert("sha256".into(), "abc".into());
            }),
            "sha256 = \"abc\" is not 64 hex digits; put the output of `sha256sum msd_musicnn.onnx` there",
        ),
        (
            "unknown field",
            Box::new(|t: &mut toml::Table| {
                t.insert("colour".into(), "blue".into());
            }),
            "unknown field `colour`",
        ),
        (
            "missing field",
            Box::new(|t: &mut toml::Table| {
                t.remove("onnx");
            }),
            "missing field `onnx`",
        ),
    ];
    // The manifest as shipped is valid.
    let shipped = manifest_table("msd-musicnn");
    ManifestFile::parse(&toml::to_string(&shipped).unwrap(), origin).expect("the shipped manifest is valid");
    for (what, edit, expected) in cases {
        let mut table = shipped.clone();
        edit(&mut table);
        let error = ManifestFile::parse(&toml::to_string(&table).unwrap(), origin).expect_err(what).to_string();
        assert!(error.starts_with("model manifest 'my-model/manifest.toml' is invalid: "), "{what}: {error}");
        assert!(error.contains(expected), "{what}: expected {expected:?} in {error:?}");
    }

    // And the CLI says so for a model folder, naming the file.
    let home = tempfile::tempdir().unwrap();
    let dir = install_copy(home.path(), "msd-musicnn", "broken", |t| {
        t["frontend"].as_table_mut().unwrap().insert("power".into(), 3.0.into());
    });
    let o = cli(home.path(), &["analyze", "--model", dir.to_str().unwrap(), song(home.path()).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("model manifest '{}' is invalid: frontend.power = 3", dir.join("manifest.toml").display())), "{}", stderr(&o));
}

#[test]
fn duplicate_model_names_are_reported_and_the_first_one_kept() {
    let home = tempfile::tempdir().unwrap();
    let first = install_copy(home.path(), "msd-musicnn", "a-twin", |t| {
        t.insert("name".into(), "twin".into());
    });
    let second = install_copy(home.path(), "msd-musicnn", "b-twin", |t| {
        t.insert("name".into(), "twin".into());
    });
    let clash = install_copy(home.path(), "msd-musicnn", "my-gtzan10", |t| {
        t.insert("name".into(), "gtzan10".into());
    });
    let o = cli(home.path(), &["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let taken = |dir: &Path, name: &str| {
        format!("unavailable: model manifest '{}' is invalid: name '{name}' is already taken by another model; rename it", dir.join("manifest.toml").display())
    };
    assert!(text.contains(&taken(&second, "twin")), "{text}");
    assert!(text.contains(&taken(&clash, "gtzan10")), "a user model cannot take a built-in name: {text}");
    assert_eq!(text.matches("\ntwin — ").count(), 1, "{text}");
    assert!(text.contains(&format!("[{}]", first.display())), "the first folder (sorted) keeps the name: {text}");
    assert!(text.contains("gtzan10 (default) — gtzan10 (10 genres"), "the built-in gtzan10 stays: {text}");
}

#[test]
fn a_head_whose_backbone_is_missing_is_listed_and_refused_with_the_fix() {
    let home = tempfile::tempdir().unwrap();
    install_copy(home.path(), "gtzan10", "orphan", |t| {
        t.insert("name".into(), "orphan".into());
        t.insert("backbone".into(), "my-backbone".into());
    });
    let expected = format!(
        "model 'orphan' cannot be used: it is a head on backbone 'my-backbone'. 'my-backbone' is not installed: put its model folder into {}",
        home.path().join("models").display()
    );
    let o = cli(home.path(), &["models"]);
    assert!(stdout(&o).contains(&format!("unavailable: {expected}")), "{}", stdout(&o));
    let o = cli(home.path(), &["analyze", "--model", "orphan", song(home.path()).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&expected), "{}", stderr(&o));
}

#[test]
fn a_model_given_by_its_manifest_path_or_folder_is_the_named_model() {
    let home = tempfile::tempdir().unwrap();
    let song = song(home.path());
    let song = song.to_str().unwrap();
    let models = common::repo_dir().join("models");
    for (name, is_head) in [("msd-musicnn", false), ("gtzan10", true)] {
        let by_name = json_probabilities(&cli(home.path(), &["analyze", "--format", "json", "--model", name, song]));
        let manifest = models.join(name).join("manifest.toml");
        let by_manifest = json_probabilities(&cli(home.path(), &["analyze", "--format", "json", "--model", manifest.to_str().unwrap(), song]));
        assert_eq!(by_manifest, by_name, "{name}: --model {} (a head: {is_head})", manifest.display());
        let folder = models.join(name);
        let by_folder = json_probabilities(&cli(home.path(), &["analyze", "--format", "json", "--model", folder.to_str().unwrap(), song]));
        assert_eq!(by_folder, by_name, "{name}: --model {}", folder.display());
    }
}

#[test]
fn list_and_split_take_the_rows_of_one_split_relative_to_the_csv() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(data.join("audio/blues")).unwrap();
    std::fs::create_dir_all(data.join("audio/rock, live")).unwrap();
    let clips = [("audio/blues/a.wav", 0.0), ("audio/blues/b.wav", 1.0), ("audio/rock, live/c.wav", 2.0), ("audio/rock, live/d.wav", 3.0)];
    for (path, offset) in clips {
        let music = common::synth_music(16_000, 4.0 + offset);
        common::write_wav_f32(&data.join(path), 16_000, 1, &music[(offset * 16_000.0) as usize..]);
    }
    std::fs::write(
        data.join("tracks.csv"),
        "path,genre,split\naudio/blues/a.wav,blues,train\naudio/blues/b.wav,blues,valid\n\"audio/rock, live/c.wav\",rock,valid\n\"audio/rock, live/d.wav\",rock,train\n",
    )
    .unwrap();
    let csv = data.join("tracks.csv");
    let dataset = genre_meter::train::dataset::Dataset::from_csv(&csv, Some("valid")).unwrap();
    let paths: Vec<PathBuf> = dataset.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(paths, vec![data.join("audio/blues/b.wav"), data.join("audio/rock, live/c.wav")], "rows of split valid, paths relative to the CSV");
    assert_eq!(dataset.genres, vec!["blues", "rock"]);
    assert_eq!(genre_meter::train::dataset::Dataset::from_csv(&csv, None).unwrap().files.len(), 4, "no --split: every row");

    // The CLI: `eval --list --split` scores exactly those rows.
    let o = cli(home.path(), &["eval", "--model", "gtzan10", "--list", csv.to_str().unwrap(), "--split", "valid", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["track"]["examples"], 2, "{report}");
    assert_eq!(report["failed"].as_array().unwrap().len(), 0);
    // A split with no rows, and --split without a split column, are errors that say so.
    let o = cli(home.path(), &["eval", "--model", "gtzan10", "--list", csv.to_str().unwrap(), "--split", "test"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains(&format!("'{}' has no rows with split = test; check the file and --split", csv.display())), "{}", stderr(&o));
    let no_split = data.join("nosplit.csv");
    std::fs::write(&no_split, "path,genre\naudio/blues/a.wav,blues\n").unwrap();
    let o = cli(home.path(), &["eval", "--list", no_split.to_str().unwrap(), "--split", "valid"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--split was given but the header has no `split` column"), "{}", stderr(&o));
    let o = cli(home.path(), &["eval", "--data", data.join("audio").to_str().unwrap(), "--split", "valid"]);
    assert_eq!(o.status.code(), Some(2), "--split needs --list: {}", stderr(&o));
}
