//! The standalone app (`genre-meter-plugin`, bundled as `Genre Meter`) as the docs run it for
//! a smoke test: `--backend dummy` (no audio device; the backend feeds silence) without a
//! display, for a few seconds, then Ctrl-C. It must keep running until asked to stop, then
//! stop cleanly (exit status 0, no panic), with its worker having run.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_standalone_app_runs_with_the_dummy_backend_and_stops_on_ctrl_c() {
    let home = tempfile_home();
    let child = Command::new(env!("CARGO_BIN_EXE_genre-meter-plugin"))
        .args(["--backend", "dummy"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("GENRE_METER_HOME", &home)
        .env("GENRE_METER_ORT_LIB", genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the standalone app");
    // Killed if the test fails before it stopped.
    let mut child = KillOnDrop(Some(child));
    let child = child.0.as_mut().unwrap();
    std::thread::sleep(Duration::from_secs(3));
    if let Some(status) = child.try_wait().unwrap() {
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        panic!("the app ended by itself within 3 s ({status}): {stderr}");
    }
    // The plugin is active: its analysis worker runs (thread names are cut to 15 bytes).
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    assert!(threads.iter().any(|t| "genre-meter-worker".starts_with(t.as_str()) && t.len() >= 15), "threads: {threads:?}");
    // Ctrl-C.
    let sent = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the app did not stop within 20 s of Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let log = format!("{stdout}{stderr}");
    eprintln!("{log}");
    assert!(status.success(), "exit status {status}: {log}");
    assert!(!log.contains("panicked"), "{log}");
    std::fs::remove_dir_all(&home).ok();
}

fn tempfile_home() -> std::path::PathBuf {
    let home = std::env::temp_dir().join(format!("genre-meter-standalone-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    home
}

struct KillOnDrop(Option<std::process::Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take()
            && child.try_wait().ok().flatten().is_none()
        {
            child.kill().ok();
            child.wait().ok();
        }
    }
}
