//! The analysis cache: a second run over the same files does no inference and prints the
//! same output byte for byte; an interrupted batch resumes; `--no-cache` bypasses it; a
//! different setting or model is a different entry.

mod common;

use std::path::{Path, PathBuf};

use genre_meter::cache::{AnalysisCache, analyze_files_cached, counters};
use genre_meter::engine::{AnalysisSettings, model};

fn songs(dir: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let p = dir.join(format!("song{i}.wav"));
            common::write_wav_f32(&p, 22_050, 1, &common::synth_music(22_050, 4.0 + i as f64 * 0.5));
            p
        })
        .collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_second_run_does_no_inference_and_prints_the_same_bytes() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    songs(dir.path(), 3);
    let d = dir.path().to_str().unwrap();
    for format in ["json", "csv", "table"] {
        let args = ["analyze", "--format", format, "--timeline", d];
        let first = common::genre_meter_cli(home.path(), &args);
        assert!(first.status.success(), "{}", stderr(&first));
        let second = common::genre_meter_cli(home.path(), &args);
        assert!(second.status.success(), "{}", stderr(&second));
        if format == "json" {
            assert!(stderr(&first).contains("3 files analysed by the model, 0 from the cache"), "{}", stderr(&first));
        }
        assert!(stderr(&second).contains("0 files analysed by the model, 3 from the cache"), "{}", stderr(&second));
        assert_eq!(first.stdout, second.stdout, "{format}: byte-identical output from the cache");
        let bypass = common::genre_meter_cli(home.path(), &["analyze", "--no-cache", "--format", format, "--timeline", d]);
        assert!(stderr(&bypass).contains("3 files analysed by the model, 0 from the cache"), "{}", stderr(&bypass));
        assert_eq!(first.stdout, bypass.stdout, "{format}: fresh analysis gives the same output");
    }
    // Another hop is another analysis.
    let o = common::genre_meter_cli(home.path(), &["analyze", "--hop", "0.5", d]);
    assert!(stderr(&o).contains("3 files analysed by the model, 0 from the cache"), "{}", stderr(&o));
}

#[test]
fn results_are_stored_as_each_file_finishes_so_an_interrupted_batch_resumes() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let files = songs(dir.path(), 3);
    let entry = model::resolve(model::DEFAULT_MODEL).unwrap();
    let settings = AnalysisSettings::default();
    let cache = AnalysisCache::new(home.path().join("cache"), &entry, &settings);

    // Each result is on disk by the time the batch reports it.
    let mut stored_when_reported = Vec::new();
    let hash = |p: &Path| genre_meter::cache::content_sha256(p).unwrap();
    let before = counters();
    let (first, problem) = analyze_files_cached(&files[..2], &entry, &settings, Some(1), Some(&cache), |_, r| {
        stored_when_reported.push(cache.get(&hash(&r.path)).is_some());
    })
    .unwrap();
    assert!(problem.is_none());
    assert_eq!(stored_when_reported, vec![true, true]);
    assert!(first.iter().all(|r| !r.from_cache));
    let after_first = counters();
    assert_eq!(after_first.inferences - before.inferences, 2);

    // "Interrupted" after two files: the rerun over all three analyses only the third.
    let (all, _) = analyze_files_cached(&files, &entry, &settings, Some(1), Some(&cache), |_, _| {}).unwrap();
    let after = counters();
    assert_eq!(after.inferences - after_first.inferences, 1, "only the new file is analysed");
    assert_eq!(after.hits - after_first.hits, 2);
    assert_eq!(all.iter().map(|r| r.from_cache).collect::<Vec<_>>(), vec![true, true, false]);
    // The cached result is the analysis, value for value.
    let a = first[0].result.outcome.as_ref().unwrap();
    let b = all[0].result.outcome.as_ref().unwrap();
    assert_eq!(a.summary, b.summary);
    assert_eq!(a.windows, b.windows);

    // Another model (or front-end) does not see these entries.
    let other = model::resolve("msd-musicnn").unwrap();
    let other_cache = AnalysisCache::new(home.path().join("cache"), &other, &settings);
    assert!(other_cache.get(&hash(&files[0])).is_none());
    // Changed bytes are a different entry.
    let mut audio = std::fs::read(&files[0]).unwrap();
    let last = audio.len() - 1;
    audio[last] ^= 1;
    std::fs::write(&files[0], audio).unwrap();
    assert!(cache.get(&hash(&files[0])).is_none());
}

#[test]
fn a_killed_batch_resumes_from_the_files_it_finished() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    songs(dir.path(), 6);
    let lib = genre_meter::engine::runtime::locate_library().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_genre-meter"))
        .args(["analyze", "--jobs", "1", "--format", "json", dir.path().to_str().unwrap()])
        .env("GENRE_METER_HOME", home.path())
        .env("GENRE_METER_ORT_LIB", lib)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let entries = |root: &Path| -> usize {
        let Ok(rd) = std::fs::read_dir(root) else { return 0 };
        rd.filter_map(Result::ok)
            .filter(|e| e.path().is_dir())
            .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().filter_map(Result::ok))
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    let cache_dir = home.path().join("cache/analysis");
    let started = std::time::Instant::now();
    while entries(&cache_dir) == 0 && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().ok();
    let status = child.wait().unwrap();
    let done = entries(&cache_dir);
    assert!(done >= 1, "a result was stored before the kill");
    if status.success() {
        eprintln!("the batch finished before it could be killed; resuming is still checked");
    }
    let o = common::genre_meter_cli(home.path(), &["analyze", "--jobs", "1", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{} files analysed by the model, {done} from the cache", 6 - done)),
        "{}",
        stderr(&o)
    );
}
