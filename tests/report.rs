//! The HTML report: self-contained, coloured like the plugin, and rendered by a real
//! headless Chromium (Debian `chromium`), where every track row and its timeline strip must
//! be present after the page's script ran. Without Chromium the browser test says SKIPPED.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genre_meter::playlist::check::TimelineCell;
use genre_meter::report::palette::{SILENCE_RGB, label_rgb};
use genre_meter::report::{Report, ReportRow, render};

#[test]
fn report_colours_are_the_plugin_history_colours() {
    for index in 0..64 {
        for strength in [0.0f32, 0.25, 0.5, 0.8, 1.0] {
            // The plugin's formula (plugin/src/editor/palette.rs), through egui's own conversion.
            let hue = (index as f32 * 0.618_034).fract();
            let c: ecolor::Color32 = ecolor::Hsva::new(hue, 0.62, 0.35 + 0.6 * strength, 1.0).into();
            assert_eq!(label_rgb(index, strength), [c.r(), c.g(), c.b()], "label {index} at {strength}");
        }
    }
    // And the plugin still uses that formula and silence colour.
    let plugin = std::fs::read_to_string(common::repo_dir().join("plugin/src/editor/palette.rs")).unwrap();
    for needle in ["0.618_034", "Hsva::new(hue, 0.62, value, 1.0)", "0.35 + 0.6 * strength", "SILENCE: Color32 = Color32::from_rgb(40, 42, 46)"] {
        assert!(plugin.contains(needle), "plugin palette changed ({needle}): update src/report/palette.rs");
    }
    assert_eq!(SILENCE_RGB, [40, 42, 46]);
}

fn row(name: &str, pass: bool, labels: &[usize]) -> ReportRow {
    ReportRow {
        name: name.into(),
        location: format!("/music/{name}"),
        pass,
        flags: if pass { vec![] } else { vec![("off-format".into(), "top genre <b>".into())] },
        top_genre: Some(("rock".into(), 0.7)),
        note: None,
        duration_seconds: Some(labels.len() as f64),
        timeline: labels
            .iter()
            .enumerate()
            .map(|(i, &l)| TimelineCell { start_seconds: i as f64, end_seconds: i as f64 + 3.0, label: Some(l), probability: 0.8 })
            .collect(),
        dead_air: vec![],
        probabilities: Some(vec![0.7, 0.3]),
    }
}

#[test]
fn the_page_is_self_contained_and_escapes_what_it_shows() {
    let report = Report {
        title: "Tonight <script>".into(),
        subtitle: "model x".into(),
        labels: vec!["rock".into(), "pop".into()],
        genres: vec![0, 1],
        rows: vec![row("a & b.mp3", true, &[0, 0, 1]), row("c.mp3", false, &[1, 1])],
    };
    let html = render(&report);
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="), "no network, no external files");
    assert!(!html.contains("<link"));
    assert!(html.contains("Tonight &lt;script&gt;") && html.contains("a &amp; b.mp3") && html.contains("top genre &lt;b&gt;"));
    assert_eq!(html.matches("<tr class=\"track\"").count(), 2);
    assert_eq!(html.matches("<svg class=\"strip\"").count(), 2);
    assert_eq!(html.matches("<rect x=").count(), 5 + 2, "a cell per window, plus the genre-mix bar");
    assert!(html.contains(&genre_meter::report::palette::css(label_rgb(1, 0.8))));
}

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let o = Command::new("sh").arg("-c").arg(format!("command -v {name}")).output().ok()?;
        o.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
    })
}

fn browse(chromium: &Path, profile: &Path, extra: &[&str], url: &str) -> Output {
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(o.status.success(), "chromium failed: {}", String::from_utf8_lossy(&o.stderr));
    o
}

fn drone(rate: u32, seconds: f64) -> Vec<f32> {
    (0..(rate as f64 * seconds) as usize)
        .map(|i| {
            let t = i as f64 / rate as f64;
            (0.3 * (std::f64::consts::TAU * 60.0 * t).sin() + 0.2 * (std::f64::consts::TAU * 90.0 * t).sin()) as f32
        })
        .collect()
}

/// A playlist of synthesised tracks: music, a drone, music with 10 s of silence inside,
/// music then a drone, and an entry whose file is missing.
fn playlist(dir: &Path) -> PathBuf {
    let rate = 22_050;
    let music = |s| common::synth_music(rate, s);
    common::write_wav_f32(&dir.join("Chord Study.wav"), rate, 1, &music(20.0));
    common::write_wav_f32(&dir.join("Low Drone.wav"), rate, 1, &drone(rate, 20.0));
    let mut gap = music(12.0);
    gap.extend(std::iter::repeat_n(0.0, rate as usize * 10));
    gap.extend(music(12.0));
    common::write_wav_f32(&dir.join("Gap In The Middle.wav"), rate, 1, &gap);
    let mut change = music(15.0);
    change.extend(drone(rate, 15.0));
    common::write_wav_f32(&dir.join("Chords Then Drone.wav"), rate, 1, &change);
    let list = dir.join("tonight.m3u");
    std::fs::write(
        &list,
        "#EXTM3U\nChord Study.wav\nLow Drone.wav\nGap In The Middle.wav\nChords Then Drone.wav\n#EXTINF:200,Lost Track\nlost.wav\n",
    )
    .unwrap();
    list
}

#[test]
fn the_report_renders_in_headless_chromium_with_every_row_and_strip() {
    let Some(chromium) = chromium() else {
        skip_test!(ci_provides: true, "Chromium is not installed (Debian package chromium); the HTML report is checked without a browser elsewhere");
    };
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = playlist(dir.path());
    let report = dir.path().join("report.html");
    let o = common::genre_meter_cli(
        home.path(),
        &["check", list.to_str().unwrap(), "--expect", "jazz,blues,classical", "--min-segment", "8", "--report", report.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<tr class=\"track\"").count(), 5);

    // After the script ran, sorted by flags (column 2, most flags first).
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}#sort=2", report.display());
    let dom = String::from_utf8(browse(&chromium, profile.path(), &["--dump-dom"], &url).stdout).unwrap();
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran: {}", &dom[..dom.len().min(400)]);
    assert!(dom.contains("data-rows=\"5\"") && dom.contains("data-strips=\"5\""), "every row and every strip is in the DOM");
    let rows: Vec<&str> = dom.split("<tr class=\"track\"").skip(1).collect();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        assert!(r.contains("<svg class=\"strip\""), "each row has its strip");
    }
    let flag_counts: Vec<usize> = rows.iter().map(|r| r.split("</tr>").next().unwrap().matches("class=\"flag\"").count()).collect();
    assert!(flag_counts.windows(2).all(|w| w[0] >= w[1]), "sorted by flags: {flag_counts:?}");
    assert!(dom.contains("Lost Track") && dom.contains("missing"));
    assert!(dom.contains("dead air"), "the gap is flagged");

    // A screenshot: a real PNG of the requested size.
    let shot = dir.path().join("report.png");
    browse(&chromium, profile.path(), &[&format!("--screenshot={}", shot.display()), "--window-size=1280,760"], &url);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1280, 760));
    assert!(png.len() > 20_000, "the page drew something ({} bytes)", png.len());
    if std::env::var_os("GENRE_METER_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&shot, common::repo_dir().join("docs/screenshots/report.png")).unwrap();
        eprintln!("updated docs/screenshots/report.png");
    }
}

#[test]
fn analyze_writes_a_report_too() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    common::write_wav_f32(&dir.path().join("a.wav"), 16_000, 1, &common::synth_music(16_000, 6.0));
    std::fs::write(dir.path().join("b.wav"), b"RIFF not really").unwrap();
    let report = dir.path().join("r.html");
    let o = common::genre_meter_cli(home.path(), &["analyze", dir.path().to_str().unwrap(), "--report", report.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "b.wav fails");
    let html = std::fs::read_to_string(report).unwrap();
    assert_eq!(html.matches("<tr class=\"track\"").count(), 2);
    assert!(html.contains("unreadable"));
}
