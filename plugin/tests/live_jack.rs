//! A DJ's live input, end to end: a JACK server with the dummy driver (its own server name),
//! the standalone app with its inputs connected to a player, a head trained here on two
//! synthesised "genres" (drones and beats), and the two played in turn through JACK in real
//! time. The timeline the app exports on exit must follow the change within the response
//! time. Skips (saying so) where JACK or jack-tools are missing; fails instead under
//! `CI=true` (CI installs them).

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use genre_meter::engine::{AnalysisSettings, model};

const RATE_HZ: u32 = 48_000;
/// Seconds each "genre" plays.
const PART_SECONDS: f64 = 12.0;
/// The plugin's default response time (the live bars' time constant), seconds.
const RESPONSE_SECONDS: f64 = 4.0;

/// Child processes of the test, ended (by their own ids) when the test ends, however it ends.
struct Children(Vec<Child>);

impl Drop for Children {
    /// SIGTERM first, so that jackd takes its entry out of JACK's shared-memory registry
    /// (a killed server leaves it there, and after 8 of them no server starts on the
    /// machine: "Too many servers already active"); SIGKILL only if that fails.
    fn drop(&mut self) {
        for child in self.0.iter_mut().rev() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            if wait_for(10, || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn missing_tool() -> Option<&'static str> {
    ["jackd", "jack_lsp", "jack-play"].into_iter().find(|tool| {
        !std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
    })
}

fn write_wav(path: &Path, rate_hz: u32, channels: &[&[f32]]) {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate_hz,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..channels[0].len() {
        channels.iter().for_each(|c| w.write_sample(c[i]).unwrap());
    }
    w.finalize().unwrap();
}

/// Trains `live-genres` (drone, beat) on musicnn into the user folder, as
/// `genre-meter train --data` does.
fn train_head(home: &Path) {
    let data = home.join("my-genres");
    for genre in ["drone", "beat"] {
        std::fs::create_dir_all(data.join(genre)).unwrap();
        for v in 0..4 {
            let clip = if genre == "drone" { common::drone(22_050, 5.0, v) } else { music_clip(22_050, 5.0 + v as f64 * 0.5).0 };
            write_wav(&data.join(genre).join(format!("{genre}{v}.wav")), 22_050, &[&clip]);
        }
    }
    let dataset = genre_meter::train::dataset::Dataset::from_folders(&data).unwrap();
    let backbone = model::resolve("msd-musicnn").unwrap();
    let out = model::user_models_dir().join("live-genres");
    genre_meter::train::train_head(&dataset, &backbone, &out, &AnalysisSettings::default(), &Default::default(), Some(1), |_| {}, |_, _| {})
        .expect("training");
}

/// Polls `what` every 100 ms until it returns Some or `seconds` pass.
fn wait_for<T>(seconds: u64, mut what: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(v) = what() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn jack_ports(server: &str) -> Option<String> {
    let out = Command::new("jack_lsp").env("JACK_DEFAULT_SERVER", server).stderr(Stdio::null()).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_standalone_app_on_a_live_jack_input_follows_a_change_of_genre() {
    if let Some(tool) = missing_tool() {
        skip_test!(ci_provides: true, "{tool} not found (apt-get install jackd2 jack-tools); the live-input test needs JACK");
    }
    let home = fresh_home("live-jack", None);
    train_head(&home);
    let server = format!("genre-meter-test-{}", std::process::id());
    let mut children = Children(Vec::new());
    children.0.push(
        Command::new("jackd")
            .args(["--no-realtime", "-n", &server, "-d", "dummy", "-r", &RATE_HZ.to_string(), "-p", "1024"])
            .env("JACK_DEFAULT_SERVER", &server)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jackd starts"),
    );
    wait_for(15, || jack_ports(&server)).expect("the JACK server answers");

    // The app as a DJ starts it, its state given by options: the model and the export.
    let app_log = home.join("app.log");
    children.0.push(
        Command::new(env!("CARGO_BIN_EXE_genre-meter-plugin"))
            .args(["--backend", "jack", "--model", "live-genres", "--export-timeline-on-exit"])
            .env("JACK_DEFAULT_SERVER", &server)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&app_log).unwrap())
            .spawn()
            .expect("the standalone app starts"),
    );
    let input_port = wait_for(30, || {
        jack_ports(&server)?.lines().find(|l| l.ends_with(":input_1")).map(str::to_string)
    })
    .unwrap_or_else(|| panic!("the app's JACK input appears; its log:\n{}", std::fs::read_to_string(&app_log).unwrap_or_default()));
    let client = input_port.trim_end_matches(":input_1").to_string();

    // The two genres in turn, stereo, played into the app's inputs in real time.
    let mut mono = common::drone(RATE_HZ, PART_SECONDS, 1);
    let (left, right) = music_clip(RATE_HZ, PART_SECONDS);
    mono.extend(downmix(&left, &right));
    let wav = home.join("set.wav");
    write_wav(&wav, RATE_HZ, &[&mono, &mono]);
    let played = Command::new("jack-play")
        .arg(&wav)
        .env("JACK_DEFAULT_SERVER", &server)
        .env("JACK_PLAY_CONNECT_TO", format!("{client}:input_%d"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("jack-play runs");
    assert!(played.success(), "jack-play: {played}");
    // Let the worker take the last of it, then end the app as Ctrl+C does.
    std::thread::sleep(Duration::from_millis(1500));
    let app = children.0.last_mut().unwrap();
    Command::new("kill").args(["-INT", &app.id().to_string()]).status().expect("kill -INT");
    // Ending drains what is queued through the (debug-build) worker and writes the export:
    // seconds, but more when the other tests load both cores.
    if wait_for(60, || app.try_wait().ok().flatten()).is_none() {
        panic!("the app did not end within 60 s of SIGINT; its log:\n{}", std::fs::read_to_string(&app_log).unwrap_or_default());
    }
    let log = std::fs::read_to_string(&app_log).unwrap_or_default();

    let exports = home.join("exports");
    let json = std::fs::read_dir(&exports)
        .unwrap_or_else(|e| panic!("{}: {e}; the app's log:\n{log}", exports.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap_or_else(|| panic!("no timeline exported on exit; the app's log:\n{log}"));
    let timeline: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(timeline["model"], "live-genres");
    assert_eq!(timeline["sample_rate_hz"], RATE_HZ);
    let labels: Vec<&str> = timeline["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    let (drone_at, beat_at) = (labels.iter().position(|&l| l == "drone").unwrap(), labels.iter().position(|&l| l == "beat").unwrap());
    struct Window {
        start: f64,
        end: f64,
        beat_minus_drone: Option<f64>,
    }
    let windows: Vec<Window> = timeline["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| Window {
            start: w["start_seconds"].as_f64().unwrap(),
            end: w["end_seconds"].as_f64().unwrap(),
            beat_minus_drone: w["probabilities"].as_array().map(|p| p[beat_at].as_f64().unwrap() - p[drone_at].as_f64().unwrap()),
        })
        .collect();
    let report: String = windows
        .iter()
        .map(|w| format!("{:6.2}-{:6.2} s: {}\n", w.start, w.end, w.beat_minus_drone.map_or("silence".into(), |d| format!("beat - drone {d:+.3}"))))
        .collect();
    // Samples the app dropped because its worker fell behind: a gap the windows cannot show.
    let dropped = &timeline["verdict"]["dropped_samples"];
    let report = format!("{report}samples dropped by the app: {dropped}\n");
    eprintln!("timeline ({} windows):\n{report}", windows.len());
    // The player starts inside the first non-silent window; the change comes PART_SECONDS later.
    let first = windows.iter().position(|w| w.beat_minus_drone.is_some()).expect("the app heard the player");
    let (onset_from, onset_to) = (windows[first].start, windows[first].end);
    let (change_from, change_to) = (onset_from + PART_SECONDS, onset_to + PART_SECONDS);
    let end_of_music = onset_from + 2.0 * PART_SECONDS;
    let drone_windows: Vec<&Window> = windows.iter().filter(|w| w.start >= onset_to && w.end <= change_from).collect();
    let beat_windows: Vec<&Window> = windows.iter().filter(|w| w.start >= change_to && w.end <= end_of_music).collect();
    assert!(drone_windows.len() >= 2 && beat_windows.len() >= 2, "enough whole windows of each part:\n{report}");
    assert!(drone_windows.iter().all(|w| w.beat_minus_drone.is_some_and(|d| d < 0.0)), "drone heard as drone:\n{report}");
    assert!(beat_windows.iter().all(|w| w.beat_minus_drone.is_some_and(|d| d > 0.0)), "beat heard as beat:\n{report}");
    // The live meter (the bars) smooths the windows over the response time; it must show the
    // new genre on top within the response time plus the window that straddles the change.
    let hop = windows[first + 1].start - windows[first].start;
    let alpha = 1.0 - (-hop / RESPONSE_SECONDS).exp();
    let mut meter = 0.0;
    let mut crossed_at = None;
    for w in &windows[first..] {
        meter += alpha * (w.beat_minus_drone.unwrap_or(0.0) - meter);
        if w.start >= change_from - hop && meter > 0.0 && crossed_at.is_none() {
            crossed_at = Some(w.end);
        }
    }
    let crossed_at = crossed_at.unwrap_or_else(|| panic!("the meter never showed the beat on top:\n{report}"));
    let window_seconds = windows[first].end - windows[first].start;
    assert!(
        crossed_at <= change_to + RESPONSE_SECONDS + window_seconds,
        "the meter followed the change at {crossed_at:.1} s, later than {change_to:.1} s + the response time + a window:\n{report}"
    );
    eprintln!("change between {change_from:.1} and {change_to:.1} s; the meter showed it at {crossed_at:.1} s");
    drop(children);
    std::fs::remove_dir_all(&home).ok();
}
