//! Scale-out: `analyze --files-from - --format jsonl` as a cluster executor runs it, resuming
//! with `--skip-done`, and the Spark driver (scale-out/genre_meter_spark.py) in Spark's local
//! mode giving exactly the lines of a plain local run.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_genre-meter")
}

/// Three short, different clips and one file that is not audio (an error line).
fn clips(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (i, seconds) in [4.0, 5.0, 6.5].into_iter().enumerate() {
        let p = dir.join(format!("clip{i}.wav"));
        let x: Vec<f32> = common::synth_music(16_000, seconds)
            .iter()
            .map(|v| v * (0.4 + 0.3 * i as f32))
            .collect();
        common::write_wav_i16(&p, 16_000, 1, &x);
        files.push(p);
    }
    let bad = dir.join("notes.wav");
    std::fs::write(&bad, b"not audio at all").unwrap();
    files.push(bad);
    files
}

fn list_text(files: &[PathBuf]) -> String {
    files.iter().map(|f| format!("{}\n", f.display())).collect()
}

/// Runs the CLI with the list on stdin; returns stdout.
fn analyze_stdin(files: &[PathBuf], extra: &[&str]) -> String {
    let mut child = Command::new(bin())
        .args([
            "analyze",
            "--files-from",
            "-",
            "--format",
            "jsonl",
            "--jobs",
            "1",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list_text(files).as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // The non-audio file fails, so the exit code says so; every file still has its line.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn by_path(jsonl: &str) -> BTreeMap<String, Value> {
    jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| (v["path"].as_str().unwrap().to_string(), v))
        .collect()
}

#[test]
fn files_from_stdin_give_one_json_line_per_file_and_resume_skips_what_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let files = clips(dir.path());
    let first = analyze_stdin(&files, &[]);
    let lines: Vec<&str> = first.lines().collect();
    assert_eq!(lines.len(), files.len(), "{first}");
    let results = by_path(&first);
    assert_eq!(results.len(), files.len());
    for f in &files[..3] {
        let v = &results[&f.display().to_string()];
        assert_eq!(v["ok"], Value::Bool(true), "{v}");
        assert_eq!(v["model"], "gtzan10");
        assert!(v["probabilities"].as_object().unwrap().len() == 10);
    }
    let bad = &results[&files[3].display().to_string()];
    assert_eq!(bad["ok"], Value::Bool(false));
    assert!(
        bad["error"].as_str().unwrap().contains("notes.wav"),
        "{bad}"
    );
    // Idempotent: the same input gives the same lines.
    assert_eq!(by_path(&analyze_stdin(&files, &[])), results);

    // An interrupted run: one whole line and half of the next.
    let out = dir.path().join("out.jsonl");
    let ok_line = lines.iter().find(|l| l.contains("\"ok\":true")).unwrap();
    std::fs::write(
        &out,
        format!("{ok_line}\n{}", &lines[1][..lines[1].len() / 2]),
    )
    .unwrap();
    let resumed = analyze_stdin(&files, &["--skip-done", out.to_str().unwrap()]);
    // It ends the cut line first, then writes every file but the one already done.
    assert!(resumed.starts_with('\n'), "{resumed}");
    let redone = by_path(&resumed);
    assert_eq!(redone.len(), files.len() - 1);
    assert!(!redone.contains_key(by_path(ok_line).keys().next().unwrap()));
    let mut appended = std::fs::read_to_string(&out).unwrap();
    appended.push_str(&resumed);
    assert_eq!(
        by_path(&appended),
        results,
        "resumed output holds every file once, as a fresh run"
    );
}

/// A Python that can import pyspark: `$GENRE_METER_SPARK_PYTHON`, the venv `.ci/run` makes
/// (`target/spark-venv`), or `python3`.
fn spark_python() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("GENRE_METER_SPARK_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(common::repo_dir().join("target/spark-venv/bin/python"));
    candidates.push(PathBuf::from("python3"));
    candidates.into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import pyspark"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

#[test]
fn the_spark_driver_in_local_mode_gives_the_lines_of_a_local_run() {
    let Some(python) = spark_python() else {
        skip_test!(
            ci_provides: true,
            "no Python with pyspark (pip install -r scale-out/requirements.txt, or set GENRE_METER_SPARK_PYTHON)"
        );
    };
    if !Command::new("java")
        .arg("-version")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        skip_test!(ci_provides: true, "no Java runtime for Spark (Debian: openjdk-17-jre-headless)");
    }
    let dir = tempfile::tempdir().unwrap();
    let files = clips(dir.path());
    let local = by_path(&analyze_stdin(&files, &[]));
    let list = dir.path().join("files.txt");
    std::fs::write(&list, list_text(&files)).unwrap();
    let merged = dir.path().join("merged.jsonl");
    let out = Command::new(&python)
        .arg(common::repo_dir().join("scale-out/genre_meter_spark.py"))
        .args(["--master", "local[2]", "--partitions", "3", "--bin", bin()])
        .arg("--list")
        .arg(&list)
        .arg("--out")
        .arg(&merged)
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "driver failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&merged).unwrap();
    let paths: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["path"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "merged output is sorted by path");
    assert_eq!(
        by_path(&text),
        local,
        "Spark's merged lines equal a plain local run's"
    );
}
