//! `genre-meter check`: playlists (M3U, M3U8, PLS, XSPF) with relative paths, a missing
//! entry, a URL, a non-audio file, dead air in the middle of a track and a track whose
//! genre changes half way; table, JSON, CSV; exit codes. The genres come from a head
//! trained here on two synthesised genres (drones and chords), so the verdicts are known.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use genre_meter::engine::{AnalysisSettings, model};
use genre_meter::playlist::{EntryTarget, parse_m3u, parse_pls, parse_xspf};

/// A fresh user folder with the two-genre head `two-genres` trained into it.
fn home_with_head() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let lib = genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed (cargo xtask fetch-ort)");
    // SAFETY: nextest runs every test in its own process, and nothing else runs yet.
    unsafe {
        std::env::set_var("GENRE_METER_ORT_LIB", lib);
        std::env::set_var("GENRE_METER_HOME", home.path());
    }
    let data = home.path().join("training");
    for genre in ["drone", "chords"] {
        std::fs::create_dir_all(data.join(genre)).unwrap();
        for v in 0..4 {
            let clip = if genre == "drone" { common::drone(22_050, 5.0, v) } else { common::synth_music(22_050, 5.0 + v as f64 * 0.5) };
            common::write_wav_f32(&data.join(genre).join(format!("{genre}{v}.wav")), 22_050, 1, &clip);
        }
    }
    let dataset = genre_meter::train::dataset::Dataset::from_folders(&data).unwrap();
    let backbone = model::resolve("msd-musicnn").unwrap();
    genre_meter::train::train_head(
        &dataset,
        &backbone,
        &model::user_models_dir().join("two-genres"),
        &AnalysisSettings::default(),
        &Default::default(),
        Some(2),
        |_| {},
        |_, _| {},
    )
    .expect("training the test head");
    home
}

/// music/: chords.wav (passes), drone.wav (off-format), gap.wav (10 s of silence in the
/// middle), change.wav (drone, then chords), notes.txt (not audio).
fn music(dir: &Path) -> PathBuf {
    let m = dir.join("music");
    std::fs::create_dir_all(&m).unwrap();
    let rate = 22_050;
    common::write_wav_f32(&m.join("chords.wav"), rate, 1, &common::synth_music(rate, 12.0));
    common::write_wav_f32(&m.join("drone.wav"), rate, 1, &common::drone(rate, 12.0, 1));
    let mut gap = common::synth_music(rate, 10.0);
    gap.extend(std::iter::repeat_n(0.0, rate as usize * 10));
    gap.extend(common::synth_music(rate, 10.0));
    common::write_wav_f32(&m.join("gap.wav"), rate, 1, &gap);
    let mut change = common::drone(rate, 15.0, 2);
    change.extend(common::synth_music(rate, 15.0));
    common::write_wav_f32(&m.join("change.wav"), rate, 1, &change);
    std::fs::write(m.join("notes.txt"), "not audio at all").unwrap();
    m
}

fn check(home: &Path, args: &[&str]) -> Output {
    let mut all = vec!["check", "--model", "two-genres", "--expect", "chords", "--max-silence", "5", "--min-segment", "8"];
    all.extend_from_slice(args);
    common::genre_meter_cli(home, &all)
}

fn text(o: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn playlist_formats_resolve_relative_paths_windows_separators_and_urls() {
    let base = Path::new("/radio/lists");
    let m3u = "#EXTM3U\n#EXTINF:215,Artist - Song\n../music/a.mp3\n..\\music\\b.flac\n\nhttp://stream.example/live\n/abs/c.wav\nfile:///abs/d%20e.wav\n";
    let e = parse_m3u(m3u, base);
    assert_eq!(e.len(), 5);
    assert_eq!(e[0].target, EntryTarget::File(base.join("../music/a.mp3")));
    assert_eq!(e[0].title.as_deref(), Some("Artist - Song"));
    assert_eq!(e[0].listed_seconds, Some(215.0));
    assert_eq!(e[1].target, EntryTarget::File(base.join("../music/b.flac")));
    assert_eq!(e[2].target, EntryTarget::Url("http://stream.example/live".into()));
    assert_eq!(e[3].target, EntryTarget::File("/abs/c.wav".into()));
    assert_eq!(e[4].target, EntryTarget::File("/abs/d e.wav".into()));

    let pls = "[playlist]\nFile2=https://x.example/2.mp3\nFile1=one.ogg\nTitle1=One\nLength1=-1\nNumberOfEntries=2\nVersion=2\n";
    let e = parse_pls(pls, base);
    assert_eq!(e.len(), 2);
    assert_eq!(e[0].target, EntryTarget::File(base.join("one.ogg")));
    assert_eq!(e[0].title.as_deref(), Some("One"));
    assert_eq!(e[0].listed_seconds, None);
    assert_eq!(e[1].target, EntryTarget::Url("https://x.example/2.mp3".into()));

    let xspf = r#"<?xml version="1.0" encoding="UTF-8"?>
<playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList>
 <track><location>../music/Rock%20%26%20Roll.flac</location><title>Rock &amp; Roll</title><duration>183000</duration></track>
 <track><location>file:///abs/x.mp3</location></track>
 <track><location>http://a.example/s.ogg</location></track>
</trackList></playlist>"#;
    let e = parse_xspf(xspf, base).unwrap();
    assert_eq!(e.len(), 3);
    assert_eq!(e[0].target, EntryTarget::File(base.join("../music/Rock & Roll.flac")));
    assert_eq!(e[0].title.as_deref(), Some("Rock & Roll"));
    assert_eq!(e[0].listed_seconds, Some(183.0));
    assert_eq!(e[1].target, EntryTarget::File("/abs/x.mp3".into()));
    assert!(matches!(e[2].target, EntryTarget::Url(_)));
}

#[test]
fn check_flags_off_format_dead_air_genre_change_missing_url_and_non_audio() {
    let home = home_with_head();
    let dir = tempfile::tempdir().unwrap();
    music(dir.path());
    let lists = dir.path().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(
        lists.join("tonight.m3u"),
        "#EXTM3U\n#EXTINF:12,Chords\n../music/chords.wav\n#EXTINF:12,Drone\n..\\music\\drone.wav\n../music/gap.wav\n../music/change.wav\n../music/gone.wav\nhttp://stream.example/live.mp3\n../music/notes.txt\n",
    )
    .unwrap();
    std::fs::write(lists.join("utf8.m3u8"), "\u{feff}#EXTM3U\n#EXTINF:12,Akkorde – Ü\n../music/chords.wav\n").unwrap();
    std::fs::write(lists.join("tonight.pls"), "[playlist]\nFile1=../music/chords.wav\nTitle1=Chords\nFile2=../music/gone.wav\nNumberOfEntries=2\n").unwrap();
    std::fs::write(
        lists.join("tonight.xspf"),
        r#"<?xml version="1.0"?><playlist version="1" xmlns="http://xspf.org/ns/0/"><trackList><track><location>../music/chords.wav</location></track><track><location>../music/drone.wav</location></track></trackList></playlist>"#,
    )
    .unwrap();
    let l = |n: &str| lists.join(n).to_str().unwrap().to_string();

    let o = check(home.path(), &["--format", "json", &l("tonight.m3u")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = doc["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 7);
    let flags = |k: usize| -> Vec<String> { entries[k]["flags"].as_array().unwrap().iter().map(|f| f["flag"].as_str().unwrap().to_string()).collect() };
    assert_eq!(entries[0]["pass"], true, "chords: {}", entries[0]);
    assert_eq!(entries[0]["title"], "Chords");
    assert_eq!(entries[0]["top_genre"], "chords");
    assert_eq!(flags(1), vec!["off-format"], "{}", entries[1]);
    assert_eq!(entries[1]["top_genre"], "drone");
    assert_eq!(flags(2), vec!["dead-air"], "{}", entries[2]);
    let gap = &entries[2]["flags"][0]["gaps"][0];
    assert!((gap["start_seconds"].as_f64().unwrap() - 10.0).abs() < 0.1, "{gap}");
    assert!((gap["end_seconds"].as_f64().unwrap() - 20.0).abs() < 0.1, "{gap}");
    assert!(flags(3).contains(&"genre-change".to_string()), "{}", entries[3]);
    let change = entries[3]["flags"].as_array().unwrap().iter().find(|f| f["flag"] == "genre-change").unwrap();
    let segs = change["segments"].as_array().unwrap();
    assert_eq!(segs.len(), 2, "{change}");
    assert_eq!((segs[0]["genre"].as_str(), segs[1]["genre"].as_str()), (Some("drone"), Some("chords")));
    let boundary = segs[0]["end_seconds"].as_f64().unwrap();
    assert!((12.0..=18.0).contains(&boundary), "the change is found near 15 s: {boundary}");
    assert_eq!(flags(4), vec!["missing"]);
    assert_eq!(flags(5), vec!["not-checkable"]);
    assert_eq!(flags(6), vec!["unreadable"], "{}", entries[6]);
    assert_eq!(doc["summary"]["pass"], 1);

    // Table and CSV carry the same verdicts.
    let o = check(home.path(), &[&l("tonight.m3u")]);
    let table = String::from_utf8_lossy(&o.stdout);
    assert_eq!(table.matches("FLAGGED").count(), 6, "{table}");
    assert!(table.contains("dead air: 10.0 s at 0:10.0"), "{table}");
    let o = check(home.path(), &["--format", "csv", &l("tonight.m3u")]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert_eq!(csv.lines().count(), 8, "{csv}");
    assert!(csv.lines().nth(3).unwrap().contains(",flagged,dead-air,"), "{csv}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("0 files analysed, 4 from the cache"), "{}", text(&o));

    // The other formats resolve their relative paths too.
    let o = check(home.path(), &["--format", "json", &l("tonight.pls"), &l("tonight.xspf"), &l("utf8.m3u8")]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let verdicts: Vec<(bool, String)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["pass"].as_bool().unwrap(), e["flags"].as_array().unwrap().iter().map(|f| f["flag"].as_str().unwrap()).collect::<Vec<_>>().join("+")))
        .collect();
    assert_eq!(
        verdicts,
        vec![(true, "".into()), (false, "missing".into()), (true, "".into()), (false, "off-format".into()), (true, "".into())],
        "{doc}"
    );
    assert_eq!(doc["entries"][4]["title"], "Akkorde – Ü");

    // Exit codes: 0 when everything passes, 2 when nothing could run.
    let o = check(home.path(), &[&l("utf8.m3u8")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = check(home.path(), &[&l("no-such.m3u")]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = common::genre_meter_cli(home.path(), &["check", "--model", "two-genres", "--expect", "polka", &l("utf8.m3u8")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("polka") && text(&o).contains("drone"), "{}", text(&o));
    // A folder is a playlist too.
    let o = check(home.path(), &["--format", "csv", dir.path().join("music").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 5, "four wavs; notes.txt is not picked up from a folder");
}

#[test]
fn a_brief_wobble_is_not_a_genre_change_but_a_long_part_is() {
    use genre_meter::playlist::check::{TimelineCell, genre_segments};
    let manifest = model::resolve(model::DEFAULT_MODEL).unwrap().manifest;
    // Windows every second: label 0 for 20 s, label 1 for 3 s, label 0 for 20 s, label 2 for 20 s.
    let labels: Vec<usize> = [(0, 20), (1, 3), (0, 20), (2, 20)].iter().flat_map(|&(l, n)| std::iter::repeat_n(l, n)).collect();
    let cells: Vec<TimelineCell> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| TimelineCell { start_seconds: i as f64, end_seconds: i as f64 + 3.0, label: Some(l), probability: 0.9 })
        .collect();
    let segs = genre_segments(&cells, &manifest, 65.0, 10.0);
    let names: Vec<&str> = segs.iter().map(|s| s.genre.as_str()).collect();
    assert_eq!(names, vec![manifest.labels.names[0].as_str(), manifest.labels.names[2].as_str()], "{segs:?}");
    assert!((segs[0].end_seconds - 44.0).abs() < 1e-9, "half way between the window centres 43.5 and 44.5: {segs:?}");
    assert_eq!((segs[0].start_seconds, segs[1].end_seconds), (0.0, 65.0));
    // With a 2 s minimum the 3 s wobble counts.
    assert_eq!(genre_segments(&cells, &manifest, 65.0, 2.0).len(), 4);
}
