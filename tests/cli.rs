//! The `genre-meter` command line as a user meets it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// Runs the CLI with an empty user folder of its own, so that no result is cached in (or read
/// from) the real one.
fn genre_meter(args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temporary user folder");
    Command::new(env!("CARGO_BIN_EXE_genre-meter"))
        .args(args)
        .env("GENRE_METER_HOME", home.path())
        .env("GENRE_METER_ORT_LIB", genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed"))
        .output()
        .expect("run genre-meter")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn music_folder(dir: &Path) {
    std::fs::create_dir_all(dir.join("album/disc2")).unwrap();
    common::write_wav_i16(&dir.join("album/one.wav"), 44_100, 2, &common::interleave(&common::synth_music(44_100, 5.0), 2));
    common::write_wav_f32(&dir.join("album/disc2/two.wav"), 22_050, 1, &common::synth_music(22_050, 4.0));
    std::fs::write(dir.join("album/broken.mp3"), b"ID3 but nothing after it").unwrap();
    std::fs::write(dir.join("album/cover.txt"), b"not audio, not picked up").unwrap();
}

#[test]
fn a_corrupt_file_is_reported_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    music_folder(dir.path());
    let o = genre_meter(&["analyze", "--format", "json", "--jobs", "2", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "a failed file makes the exit code 1\n{}", stderr(&o));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("valid JSON");
    let files = doc["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "two wavs and the broken mp3; the txt is skipped");
    let broken = files.iter().find(|f| f["path"].as_str().unwrap().ends_with("broken.mp3")).unwrap();
    assert_eq!(broken["ok"], false);
    assert!(broken["error"].as_str().unwrap().contains("broken.mp3"));
    let good: Vec<_> = files.iter().filter(|f| f["ok"] == true).collect();
    assert_eq!(good.len(), 2);
    for f in good {
        assert_eq!(f["top"].as_array().unwrap().len(), 5);
        assert_eq!(f["probabilities"].as_object().unwrap().len(), 10, "the default model's 10 genres");
    }
    assert!(stderr(&o).contains("failed: ") && stderr(&o).contains("broken.mp3"));
    assert!(stderr(&o).contains("analysed 2 of 3 files"), "{}", stderr(&o));
}

#[test]
fn all_good_files_exit_zero_and_table_marks_genres() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.wav");
    common::write_wav_f32(&path, 48_000, 2, &common::interleave(&common::synth_music(48_000, 6.0), 2));
    let o = genre_meter(&["analyze", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("song.wav"));
    assert!(text.contains("top genre: "), "{text}");
    assert!(!text.contains("[genre]"), "every label of the default model is a genre: no marks needed");
    // The MSD tags stay available, with the genre tags marked; --top 50 lists every tag.
    let o = genre_meter(&["analyze", "--model", "msd-musicnn", "--top", "50", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert_eq!(text.matches("[genre]").count(), 30, "{text}");
    assert!(text.contains("top genre: "), "{text}");
}

#[test]
fn csv_timeline_has_one_row_per_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("song.wav");
    common::write_wav_f32(&path, 16_000, 1, &common::synth_music(16_000, 10.0));
    let o = genre_meter(&["analyze", "--format", "csv", "--timeline", "--hop", "1", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("path,status,start_seconds,end_seconds,level_dbfs,silent,"));
    assert_eq!(header.split(',').count(), 6 + 10);
    assert!(header.ends_with(",blues,classical,country,disco,hiphop,jazz,metal,pop,reggae,rock"), "{header}");
    let rows: Vec<&str> = lines.collect();
    // 10 s, 3 s windows every 1 s: windows starting at 0..=7 s.
    assert!((7..=8).contains(&rows.len()), "{} rows", rows.len());
    assert!(rows.iter().all(|r| r.split(',').count() == 16));
}

#[test]
fn unknown_model_names_the_available_ones() {
    let o = genre_meter(&["analyze", "--model", "no-such-model", "x.wav"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-model") && stderr(&o).contains("msd-musicnn"), "{}", stderr(&o));
}

#[test]
fn a_damaged_model_file_is_refused_with_its_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::repo_dir().join("models/msd-musicnn");
    for f in ["manifest.toml", "msd_musicnn.onnx"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let onnx = dir.path().join("msd_musicnn.onnx");
    let mut bytes = std::fs::read(&onnx).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&onnx, bytes).unwrap();
    let song = dir.path().join("song.wav");
    common::write_wav_f32(&song, 16_000, 1, &common::synth_music(16_000, 4.0));
    let o = genre_meter(&["analyze", "--model", dir.path().to_str().unwrap(), song.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sha256") && stderr(&o).contains("msd_musicnn.onnx"), "{}", stderr(&o));
}

#[test]
fn missing_or_wrong_onnx_runtime_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let song = dir.path().join("song.wav");
    common::write_wav_f32(&song, 16_000, 1, &common::synth_music(16_000, 4.0));
    let o = Command::new(env!("CARGO_BIN_EXE_genre-meter"))
        .args(["analyze", "--no-cache", song.to_str().unwrap()])
        .env("GENRE_METER_ORT_LIB", dir.path().join("nothing-here.so"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("nothing-here.so") && err.contains("cargo xtask fetch-ort"), "{err}");

    // A file that is not ONNX Runtime at all.
    let fake = dir.path().join("libonnxruntime.so.1.31.1");
    std::fs::write(&fake, b"not a library").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_genre-meter"))
        .args(["analyze", "--no-cache", song.to_str().unwrap()])
        .env("GENRE_METER_ORT_LIB", &fake)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("could not be used") && err.contains("1.31.1"), "{err}");
}

#[test]
fn models_lists_the_built_in_model_with_genres_marked() {
    let o = genre_meter(&["models"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("gtzan10 (default)"), "{text}");
    assert!(text.contains("msd-musicnn —"), "{text}");
    assert!(text.contains("rock*"), "{text}");
}

#[test]
fn genres_only_lists_only_genre_labels() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.wav");
    common::write_wav_f32(&clip, 22_050, 1, &common::synth_music(22_050, 5.0));
    let top = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["analyze", "--model", "msd-musicnn", "--format", "json", "--top", "12"];
        args.extend_from_slice(extra);
        args.push(clip.to_str().unwrap());
        let o = genre_meter(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let doc: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        doc["files"][0]["top"].as_array().unwrap().clone()
    };
    // musicnn's 50 tags mix genres with moods and eras; the 12 strongest hold some of both.
    let all = top(&[]);
    assert!(all.iter().any(|t| t["genre"] == false), "{all:?}");
    let genres = top(&["--genres-only"]);
    assert_eq!(genres.len(), 12);
    assert!(genres.iter().all(|t| t["genre"] == true), "{genres:?}");
    let p = |list: &[serde_json::Value], i: usize| list[i]["probability"].as_f64().unwrap();
    assert!((1..genres.len()).all(|i| p(&genres, i - 1) >= p(&genres, i)), "strongest first");
}
