//! `cargo bench --bench pipeline [-- SECTION...]` (or `cargo xtask bench`, which also runs the
//! Python peers): prints the engine's speed and memory figures next to musicnn's Python
//! pipeline measured in the same run on the same files.
//!
//! Sections: `frontend`, `resample`, `inference`, `files`, `memory`, `workers`, `quick`,
//! `quick-stages`, `optlevel` (default: all).
//! `workers`: peak RSS and speed per worker and for a whole 2-job run, for each ONNX Runtime
//! session setup (arena, memory pattern, one shared session); `quick`: `analyze --quick` on
//! long tracks (`GENRE_METER_BENCH_LONG`, default /tmp/gm-long/mp3, made by
//! scale-out/make_long_tracks.py); `quick-stages`: CPU time per quick-mode window of each stage
//! (seek + decode, resampler built or reset, resampling, log-mel, inference) on the same tracks.
//! Environment: `GENRE_METER_BENCH_PYTHON` = a Python with librosa + TensorFlow + musicnn
//! (see benches/python/requirements.txt) to run the peers; `GENRE_METER_BENCH_FILES` = a
//! folder of audio (default: ../shared/data/gtzan/audio, else synthesised clips).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use genre_meter::engine::batch::{analyze_files, collect_audio_files};
use genre_meter::engine::decode::AudioDecoder;
use genre_meter::engine::logmel::LogMel;
use genre_meter::engine::manifest::ResamplerKind;
use genre_meter::engine::resample::{KaiserBestResampler, StreamResampler};
use genre_meter::engine::{AnalysisSettings, LoadedModel, analyze_file, model};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    if let Some(pos) = args.iter().position(|a| a == "peak-memory-child") {
        return peak_memory_child(Path::new(&args[pos + 1]));
    }
    if args.iter().any(|a| a == "optlevel-child") {
        return optlevel_child();
    }
    if let Some(pos) = args.iter().position(|a| a == "workers-child") {
        return workers_child(args[pos + 1].parse().unwrap(), &args[pos + 2] == "shared");
    }
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let python = std::env::var_os("GENRE_METER_BENCH_PYTHON").map(PathBuf::from);
    if python.is_none() {
        println!("(GENRE_METER_BENCH_PYTHON not set: Python peers skipped; `cargo xtask bench` sets it up)");
    }
    if wants("frontend") {
        frontend(python.as_deref());
    }
    if wants("resample") {
        resample();
    }
    if wants("inference") {
        inference();
    }
    if wants("files") {
        files(python.as_deref());
    }
    if wants("memory") {
        memory();
    }
    if wants("workers") {
        workers();
    }
    if wants("quick") {
        quick();
    }
    if wants("quick-stages") {
        quick_stages();
    }
    if wants("optlevel") {
        optlevel();
    }
}

/// ONNX Runtime's graph optimisation levels (0 disable, 1 basic, 2 extended, 3 all): CPU time
/// of the default analysis over 8 bench files, 1 thread, each level in a fresh process, and
/// the largest whole-track probability difference against level 3.
fn optlevel() {
    let files = bench_files();
    let files = &files[..files.len().min(8)];
    let list = std::env::temp_dir().join("genre-meter-bench-optlevel.txt");
    std::fs::write(&list, files.iter().map(|f| format!("{}\n", f.display())).collect::<String>()).unwrap();
    let mut results: Vec<Vec<Vec<f64>>> = Vec::new();
    for level in [3, 2, 1, 0] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["optlevel-child"])
            .env("GENRE_METER_BENCH_LIST", &list)
            .env("GENRE_METER_ORT_OPT_LEVEL", level.to_string())
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let probs: Vec<Vec<f64>> = serde_json::from_value(v["probabilities"].clone()).unwrap();
        let reference: &Vec<Vec<f64>> = results.first().unwrap_or(&probs);
        let diff = probs
            .iter()
            .zip(reference)
            .flat_map(|(a, b)| a.iter().zip(b).map(|(x, y)| (x - y).abs()))
            .fold(0.0f64, f64::max);
        println!(
            "optlevel: level {level}: {:.1}x real time per CPU-second ({:.0}x by the wall clock), model load {:.0} ms; largest whole-track probability difference from level 3: {diff:.2e}",
            v["x_real_time_per_cpu_second"].as_f64().unwrap(),
            v["x_real_time"].as_f64().unwrap(),
            v["load_ms"].as_f64().unwrap()
        );
        results.push(probs);
    }
}

fn optlevel_child() {
    let list = std::env::var("GENRE_METER_BENCH_LIST").unwrap();
    let files: Vec<PathBuf> = std::fs::read_to_string(list).unwrap().lines().map(PathBuf::from).collect();
    let t = Instant::now();
    let model = Arc::new(model::resolve(model::DEFAULT_MODEL).unwrap().load().unwrap());
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    let settings = AnalysisSettings::default();
    let (t, cpu) = (Instant::now(), process_cpu_seconds());
    let mut audio = 0.0;
    let mut probabilities = Vec::new();
    for f in &files {
        let a = analyze_file(f, &model, &settings).unwrap();
        audio += a.summary.duration_seconds;
        probabilities.push(a.summary.probabilities.unwrap_or_default());
    }
    let (wall, cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    println!(
        "{}",
        serde_json::json!({ "x_real_time": audio / wall, "x_real_time_per_cpu_second": audio / cpu, "load_ms": load_ms, "probabilities": probabilities })
    );
}

/// Session setups compared by `workers`: name, environment, one shared session?, windows per
/// inference call. The batch is the lever for memory: ONNX Runtime's activations (and the
/// arena that keeps them) scale with it.
const WORKER_SETUPS: &[(&str, &[(&str, &str)], bool, usize)] = &[
    ("batch 8, arena on, memory pattern on (before)", &[("GENRE_METER_ORT_ARENA", "1"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 8),
    ("batch 8, arena off, memory pattern on", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 8),
    ("batch 8, arena off, memory pattern off", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "0")], false, 8),
    ("batch 4, arena on, memory pattern on", &[("GENRE_METER_ORT_ARENA", "1"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 4),
    ("batch 4, arena off, memory pattern off", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "0")], false, 4),
    ("batch 2, arena on, memory pattern on", &[("GENRE_METER_ORT_ARENA", "1"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 2),
    ("batch 2, arena off, memory pattern off", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "0")], false, 2),
    ("batch 1, arena on, memory pattern on", &[("GENRE_METER_ORT_ARENA", "1"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 1),
    ("batch 1, arena on, memory pattern off", &[("GENRE_METER_ORT_ARENA", "1"), ("GENRE_METER_ORT_MEM_PATTERN", "0")], false, 1),
    ("batch 1, arena off, memory pattern on", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "1")], false, 1),
    ("batch 1, arena off, memory pattern off", &[("GENRE_METER_ORT_ARENA", "0"), ("GENRE_METER_ORT_MEM_PATTERN", "0")], false, 1),
    ("built-in default", &[], false, 0),
    ("built-in default, one shared session (intra-op threads = jobs)", &[], true, 0),
];

/// Peak RSS and speed of the default analysis (gtzan10, 1 s hop) over the bench files, each
/// setup and job count in a fresh process. Speed is given twice: by the wall clock (needs a
/// quiet machine) and per CPU-second of the process (user + system; valid under load).
/// `GENRE_METER_BENCH_SETUPS=batch 1,default` keeps only the setups whose names contain one
/// of the comma-separated words.
fn workers() {
    let files = bench_files();
    let files = &files[..files.len().min(8)];
    let list = std::env::temp_dir().join("genre-meter-bench-workers.txt");
    std::fs::write(&list, files.iter().map(|f| format!("{}\n", f.display())).collect::<String>()).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let only = std::env::var("GENRE_METER_BENCH_SETUPS").ok();
    for (name, env, shared, batch) in WORKER_SETUPS {
        if let Some(only) = &only
            && !only.split(',').any(|w| name.contains(w.trim()))
        {
            continue;
        }
        let mut line = format!("workers: {name}:");
        let mut one_job_speed = f64::NAN;
        for jobs in [1, cores.max(2)] {
            let mut cmd = Command::new(std::env::current_exe().unwrap());
            cmd.args(["workers-child", &jobs.to_string(), if *shared { "shared" } else { "own" }])
                .env("GENRE_METER_BENCH_LIST", &list)
                .env("GENRE_METER_BENCH_BATCH", batch.to_string())
                .envs(env.iter().copied());
            if *shared {
                cmd.env("GENRE_METER_ORT_INTRA_THREADS", jobs.to_string());
            }
            let out = cmd.output().unwrap();
            if !out.status.success() {
                eprintln!("{}", String::from_utf8_lossy(&out.stderr));
                continue;
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let (peak, speed, cpu) =
                (v["peak_rss_mib"].as_f64().unwrap(), v["x_real_time"].as_f64().unwrap(), v["x_real_time_per_cpu_second"].as_f64().unwrap());
            if jobs == 1 {
                one_job_speed = speed;
                line += &format!(" 1 job: peak RSS {peak:.0} MiB, {speed:.0}x real time ({cpu:.1}x per CPU-second);");
            } else {
                line += &format!(
                    " {jobs} jobs: peak RSS {peak:.0} MiB ({:.0} MiB per worker), {speed:.0}x real time ({:.2}x one job; {cpu:.1}x per CPU-second)",
                    peak / jobs as f64,
                    speed / one_job_speed
                );
            }
        }
        println!("{line}");
    }
}

/// User + system CPU seconds of this process so far (all its threads, also finished ones).
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(f64::NAN)).collect();
    // utime and stime are fields 14 and 15 of the line, in USER_HZ (100 per second on Linux).
    (f.get(11).copied().unwrap_or(f64::NAN) + f.get(12).copied().unwrap_or(f64::NAN)) / 100.0
}

fn workers_child(jobs: usize, shared: bool) {
    let list = std::env::var("GENRE_METER_BENCH_LIST").unwrap();
    let files: Vec<PathBuf> = std::fs::read_to_string(list).unwrap().lines().map(PathBuf::from).collect();
    let entry = model::resolve(model::DEFAULT_MODEL).unwrap();
    let batch: usize = std::env::var("GENRE_METER_BENCH_BATCH").ok().and_then(|b| b.parse().ok()).unwrap_or(0);
    let settings = AnalysisSettings {
        batch_windows: if batch == 0 { AnalysisSettings::default().batch_windows } else { batch },
        ..Default::default()
    };
    let t = Instant::now();
    let cpu = process_cpu_seconds();
    let audio: f64 = if shared {
        // One session for all workers; its intra-op threads (set by the parent) share each run.
        let model = Arc::new(entry.load().unwrap());
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..jobs)
                .map(|_| {
                    s.spawn(|| {
                        let mut audio = 0.0;
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(f) = files.get(i) else { break };
                            audio += analyze_file(f, &model, &settings).map_or(0.0, |a| a.summary.duration_seconds);
                        }
                        audio
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        })
    } else {
        analyze_files(&files, &entry, &settings, Some(jobs), |_, _| {})
            .unwrap()
            .iter()
            .filter_map(|r| r.outcome.as_ref().ok())
            .map(|a| a.summary.duration_seconds)
            .sum()
    };
    let wall = t.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu;
    println!(
        "{}",
        serde_json::json!({ "peak_rss_mib": vm_hwm_mib(), "x_real_time": audio / wall, "x_real_time_per_cpu_second": audio / cpu })
    );
}

/// `analyze --quick` (default window count) on long tracks, 1 job and all cores.
fn quick() {
    let dir = std::env::var_os("GENRE_METER_BENCH_LONG").map_or_else(|| PathBuf::from("/tmp/gm-long/mp3"), PathBuf::from);
    let (files, _) = collect_audio_files(&[dir.clone()]);
    if files.is_empty() {
        println!("quick: no tracks in {} (make them: python3 scale-out/make_long_tracks.py), skipped", dir.display());
        return;
    }
    let entry = model::resolve(model::DEFAULT_MODEL).unwrap();
    let windows = genre_meter::engine::quick::DEFAULT_QUICK_WINDOWS;
    let settings = AnalysisSettings { quick_windows: Some(windows), ..Default::default() };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for jobs in [1, cores] {
        let (t, cpu) = (Instant::now(), process_cpu_seconds());
        let results = analyze_files(&files, &entry, &settings, Some(jobs), |_, _| {}).unwrap();
        let (wall, cpu) = (t.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
        let ok: Vec<_> = results.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
        let audio: f64 = ok.iter().map(|a| a.summary.duration_seconds).sum();
        let inference: f64 = ok.iter().map(|a| a.inference_seconds).sum();
        let read: usize = ok.iter().map(|a| a.summary.windows).sum();
        println!(
            "quick: {} tracks ({:.1} min each) in {}, --quick --windows {windows}, {jobs} job(s): {wall:.2} s = {:.0}x real time ({:.1} files/s); inference {:.0} % of the work; CPU {cpu:.2} s = {:.1} ms per window (model loads included)",
            ok.len(),
            audio / ok.len().max(1) as f64 / 60.0,
            dir.display(),
            audio / wall,
            ok.len() as f64 / wall,
            100.0 * inference / (wall * jobs as f64),
            1e3 * cpu / read.max(1) as f64
        );
    }
}

/// CPU nanoseconds this thread has run (Linux schedstat): stage costs that stay valid when
/// other processes share the cores.
fn thread_cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Quick mode's stages on the regions it reads (default window count, the long tracks of
/// `quick`), one thread, in CPU time per window: what a window costs outside inference, and
/// the resampler built per region with one output per pass (as before) against one reset
/// resampler computing four outputs per pass (now). Every region's output is checked equal.
fn quick_stages() {
    let dir = std::env::var_os("GENRE_METER_BENCH_LONG").map_or_else(|| PathBuf::from("/tmp/gm-long/mp3"), PathBuf::from);
    let (files, _) = collect_audio_files(&[dir.clone()]);
    if files.is_empty() {
        println!("quick-stages: no tracks in {} (make them: python3 scale-out/make_long_tracks.py), skipped", dir.display());
        return;
    }
    // The default model (quick mode's, gtzan10: musicnn and a head), not the bench's msd-musicnn.
    let model = Arc::new(model::resolve(model::DEFAULT_MODEL).unwrap().load().unwrap());
    let fe = model.manifest().frontend.clone();
    let windows = genre_meter::engine::quick::DEFAULT_QUICK_WINDOWS;
    let patch = fe.patch_seconds();
    // [open, seek + decode, build resampler, resample one by one, reset, resample blocked, log-mel, inference]
    let mut ns = [0u64; 8];
    let (mut regions, mut early_frames) = (0usize, 0usize);
    let mut logmel = LogMel::new(&fe);
    let (mut region, mut before, mut after, mut frames, mut energies) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut reused: Option<StreamResampler> = None;
    let mut clock = thread_cpu_ns();
    let mut lap = |slot: usize, ns: &mut [u64; 8]| {
        let now = thread_cpu_ns();
        ns[slot] += now - clock;
        clock = now;
    };
    for path in &files {
        let mut dec = AudioDecoder::open(path).unwrap();
        let rate = dec.sample_rate_hz();
        let duration = dec.total_frames().unwrap() as f64 / rate as f64;
        lap(0, &mut ns);
        let region_frames = ((patch + 0.05) * rate as f64).ceil() as usize;
        for start_s in genre_meter::engine::quick::region_starts(duration, patch, windows) {
            region.clear();
            let start = (start_s * rate as f64).round() as u64;
            let early = dec.seek_frame(start).unwrap() as usize;
            early_frames += early;
            while region.len() < early + region_frames && dec.next_chunk(&mut region).unwrap() {}
            region.drain(..early.min(region.len()));
            region.truncate(region_frames);
            lap(1, &mut ns);
            let fresh = KaiserBestResampler::new(rate, fe.sample_rate_hz);
            lap(2, &mut ns);
            before.clear();
            let mut fresh = fresh.one_output_per_pass();
            fresh.push(&region, &mut before);
            fresh.finish(&mut before);
            lap(3, &mut ns);
            let r = reused.get_or_insert_with(|| StreamResampler::new(fe.resampler, rate, fe.sample_rate_hz));
            r.reset();
            lap(4, &mut ns);
            after.clear();
            r.push(&region, &mut after);
            r.finish(&mut after);
            lap(5, &mut ns);
            assert!(before.len() == after.len() && before.iter().zip(&after).all(|(a, b)| a.to_bits() == b.to_bits()));
            logmel.reset();
            frames.clear();
            energies.clear();
            logmel.push(&after, &mut frames, &mut energies);
            logmel.finish(&mut frames, &mut energies);
            lap(6, &mut ns);
            std::hint::black_box(model.infer(&frames[..model.patch_len()], 1).unwrap());
            lap(7, &mut ns);
            regions += 1;
        }
    }
    let ms = |slot: usize| ns[slot] as f64 / 1e6 / regions.max(1) as f64;
    println!(
        "quick-stages: {regions} windows of {} tracks, 1 thread, CPU ms per window: open {:.2}, seek + decode {:.2}, \
         resampler before (build {:.2} + one output per pass {:.2} = {:.2}), now (reset {:.3} + four per pass {:.2} = {:.2}), \
         log-mel {:.2}, inference {:.2}; outside inference now {:.2}, before {:.2}; decoded before the region: {:.0} frames a window",
        files.len(),
        ms(0),
        ms(1),
        ms(2),
        ms(3),
        ms(2) + ms(3),
        ms(4),
        ms(5),
        ms(4) + ms(5),
        ms(6),
        ms(7),
        ms(0) + ms(1) + ms(4) + ms(5) + ms(6),
        ms(0) + ms(1) + ms(2) + ms(3) + ms(6),
        early_frames as f64 / regions.max(1) as f64,
    );
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn timed(runs: usize, mut f: impl FnMut()) -> Vec<f64> {
    f();
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms
}

/// Runs a Python peer script and returns the JSON object on its last line.
fn python_peer(python: &Path, script: &str, args: &[String]) -> Option<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python").join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .envs([("OMP_NUM_THREADS", "1"), ("OPENBLAS_NUM_THREADS", "1"), ("MKL_NUM_THREADS", "1"), ("NUMBA_NUM_THREADS", "1")])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().rev().find_map(|l| serde_json::from_str(l.trim()).ok())
}

fn synth_clip(seconds: f64, rate: u32) -> Vec<f32> {
    // Chords, bass and noise bursts: enough structure that no stage takes a shortcut.
    let mut seed = 1u32;
    (0..(seconds * rate as f64) as usize)
        .map(|i| {
            let t = i as f32 / rate as f32;
            seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
            let noise = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let beat = t % 0.5;
            0.2 * (std::f32::consts::TAU * 220.0 * t).sin()
                + 0.1 * (std::f32::consts::TAU * 331.0 * t).sin()
                + 0.2 * (std::f32::consts::TAU * 55.0 * t).sin() * (-4.0 * beat).exp()
                + 0.2 * noise * (-40.0 * beat).exp()
        })
        .collect()
}

fn default_model() -> Arc<LoadedModel> {
    let entry = model::resolve("msd-musicnn").expect("built-in model");
    Arc::new(entry.load().unwrap_or_else(|e| panic!("{e}")))
}

fn frontend(python: Option<&Path>) {
    let fe = model::resolve("msd-musicnn").unwrap().manifest.frontend;
    let x = synth_clip(30.0, fe.sample_rate_hz);
    // As in the engine: plans, window and filterbank built once, buffers reused.
    let mut logmel = LogMel::new(&fe);
    let (mut frames, mut energies) = (Vec::new(), Vec::new());
    let ms = timed(200, || {
        logmel.reset();
        frames.clear();
        energies.clear();
        logmel.push(&x, &mut frames, &mut energies);
        logmel.finish(&mut frames, &mut energies);
        std::hint::black_box(&frames);
    });
    let cold = timed(20, || {
        std::hint::black_box(LogMel::compute(&fe, &x));
    });
    let (median, p90) = (percentile(&ms, 0.5), percentile(&ms, 0.9));
    println!(
        "frontend: Rust log-mel of 30 s at 16 kHz (musicnn parameters), 1 thread: median {median:.3} ms, p90 {p90:.3} ms (from scratch, allocating every buffer: median {:.3} ms)",
        percentile(&cold, 0.5)
    );
    if let Some(py) = python
        && let Some(v) = python_peer(py, "bench_frontend.py", &[])
    {
        let peer = v["median_ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "frontend: librosa melspectrogram + log, same parameters, 1 thread: median {peer:.3} ms, p90 {:.3} ms -> Rust is {:.1}x faster",
            v["p90_ms"].as_f64().unwrap_or(f64::NAN),
            peer / median
        );
    }
}

/// The resampler alone on 30 s of audio, against the whole analysis of the same 30 s (decode,
/// resample, log-mel, musicnn at its own non-overlapping patches, and at the default 1 s hop).
fn resample() {
    let entry = model::resolve("msd-musicnn").unwrap();
    let fe = entry.manifest.frontend.clone();
    let model = Arc::new(entry.load().unwrap());
    let dir = std::env::temp_dir().join("genre-meter-bench-resample");
    std::fs::create_dir_all(&dir).unwrap();
    for rate in [22_050u32, 44_100, 48_000] {
        let x = synth_clip(30.0, rate);
        let wav = dir.join(format!("synth30_{rate}.wav"));
        if !wav.exists() {
            write_wav(&wav, rate, &x);
        }
        let mut out = Vec::with_capacity(16_000 * 31);
        let mut line = format!("resample: 30 s at {rate} Hz -> 16 kHz, 1 thread:");
        for kind in [ResamplerKind::KaiserBest, ResamplerKind::Fft] {
            let ms = timed(10, || {
                out.clear();
                // 4096-sample pushes, as the decoder hands them over.
                let mut r = StreamResampler::new(kind, rate, fe.sample_rate_hz);
                for c in x.chunks(4096) {
                    r.push(c, &mut out);
                }
                r.finish(&mut out);
                std::hint::black_box(&out);
            });
            line += &format!(" {kind:?} median {:.1} ms ({:.2} % of real time);", percentile(&ms, 0.5), percentile(&ms, 0.5) / 300.0);
            if kind == ResamplerKind::KaiserBest {
                let kaiser = percentile(&ms, 0.5);
                for (what, hop) in [("patch hop", fe.patch_seconds()), ("1 s hop", 1.0)] {
                    let settings = AnalysisSettings { hop_seconds: hop, ..Default::default() };
                    let whole = timed(3, || {
                        std::hint::black_box(analyze_file(&wav, &model, &settings).unwrap());
                    });
                    line += &format!(
                        " whole analysis ({what}) median {:.0} ms -> resampler {:.1} %;",
                        percentile(&whole, 0.5),
                        100.0 * kaiser / percentile(&whole, 0.5)
                    );
                }
            }
        }
        println!("{}", line.trim_end_matches(';'));
        {
            // Time the one-output-at-a-time path the blocked paths replaced (shared weights for
            // an integer ratio, side-by-side dot products otherwise) on the same input.
            let mut medians = Vec::new();
            for blocked in [false, true] {
                let ms = timed(10, || {
                    out.clear();
                    let mut r = KaiserBestResampler::new(rate, fe.sample_rate_hz);
                    if !blocked {
                        r = r.one_output_per_pass();
                    }
                    for c in x.chunks(4096) {
                        r.push(c, &mut out);
                    }
                    r.finish(&mut out);
                    std::hint::black_box(&out);
                });
                medians.push((percentile(&ms, 0.5), ms[0]));
            }
            println!(
                "resample: {rate} Hz kaiser-best, one output per pass (before) median {:.1} ms (best {:.1}), four per pass median {:.1} ms (best {:.1}): {:.2}x",
                medians[0].0,
                medians[0].1,
                medians[1].0,
                medians[1].1,
                medians[0].0 / medians[1].0
            );
        }
    }
}

fn inference() {
    let model = default_model();
    let patch = {
        let fe = &model.manifest().frontend;
        let x = synth_clip(fe.patch_seconds() + 0.1, fe.sample_rate_hz);
        LogMel::compute(fe, &x)[..model.patch_len()].to_vec()
    };
    let ms = timed(300, || {
        std::hint::black_box(model.infer(&patch, 1).unwrap());
    });
    println!(
        "inference: musicnn, one {:.2} s patch, batch 1, 1 thread: median {:.2} ms, p99 {:.2} ms ({:.2} % of a core in real time at non-overlapping patches)",
        model.manifest().frontend.patch_seconds(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        100.0 * percentile(&ms, 0.5) / 1e3 / model.manifest().frontend.patch_seconds()
    );
    // Batching windows (within a file, or across files) only pays if a patch costs less in
    // a bigger call.
    let mut line = "inference: musicnn per patch by windows per call, 1 thread:".to_string();
    for batch in [1usize, 2, 4, 8, 16] {
        let patches: Vec<f32> = patch.iter().copied().cycle().take(patch.len() * batch).collect();
        let ms = timed(300 / batch, || {
            std::hint::black_box(model.infer(&patches, batch).unwrap());
        });
        line += &format!(" batch {batch}: {:.2} ms;", percentile(&ms, 0.5) / batch as f64);
    }
    println!("{}", line.trim_end_matches(';'));
    // The default model is a head on musicnn's embedding: what does the head add?
    let head = Arc::new(model::resolve(model::DEFAULT_MODEL).unwrap().load().unwrap());
    let embedding = model.infer(&patch, 1).unwrap().embeddings;
    let head_ms = timed(1000, || {
        std::hint::black_box(head.classify_embeddings(&embedding, 1).unwrap().unwrap());
    });
    println!(
        "inference: {} head alone on one embedding: median {:.4} ms, p99 {:.4} ms ({:.2} % of the backbone's median)",
        head.manifest().name,
        percentile(&head_ms, 0.5),
        percentile(&head_ms, 0.99),
        100.0 * percentile(&head_ms, 0.5) / percentile(&ms, 0.5)
    );
    inference_yamnet();
}

/// YAMNet, when the user has installed it (it cannot ship). A head on its embedding adds
/// what the musicnn head line above shows: a few microseconds.
fn inference_yamnet() {
    let Ok(entry) = model::resolve("yamnet") else {
        println!("inference: YAMNet not installed (`genre-meter install-yamnet`), skipped");
        return;
    };
    let model = entry.load().unwrap();
    let fe = &model.manifest().frontend;
    let x = synth_clip(fe.patch_seconds() + 0.1, fe.sample_rate_hz);
    let patch = LogMel::compute(fe, &x)[..model.patch_len()].to_vec();
    let ms = timed(300, || {
        std::hint::black_box(model.infer(&patch, 1).unwrap());
    });
    // The streaming front-end as the analyser runs it: built once, fed the patch's audio.
    let mut front = LogMel::new(fe);
    let (mut frames, mut energies) = (Vec::new(), Vec::new());
    let front_ms = timed(300, || {
        frames.clear();
        energies.clear();
        front.reset();
        front.push(&x, &mut frames, &mut energies);
        std::hint::black_box(&frames);
    });
    println!(
        "inference: YAMNet, one {:.2} s patch, batch 1, 1 thread: median {:.2} ms, p99 {:.2} ms ({:.2} % of a core at a 1 s hop); its log-mel front-end {:.3} ms a patch",
        fe.patch_seconds(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        100.0 * percentile(&ms, 0.5) / 1e3,
        percentile(&front_ms, 0.5)
    );
}

fn bench_files() -> Vec<PathBuf> {
    let dir = std::env::var_os("GENRE_METER_BENCH_FILES").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/gtzan/audio")
    });
    let (files, _) = collect_audio_files(&[dir.clone()]);
    if !files.is_empty() {
        println!("files: {} files under {}", files.len(), dir.display());
        return files;
    }
    let tmp = std::env::temp_dir().join("genre-meter-bench-files");
    std::fs::create_dir_all(&tmp).unwrap();
    let files: Vec<PathBuf> = (0..40)
        .map(|i| {
            let p = tmp.join(format!("synth{i:02}.wav"));
            if !p.exists() {
                write_wav(&p, 22_050, &synth_clip(30.0, 22_050));
            }
            p
        })
        .collect();
    println!("files: {} synthesised 30 s clips at 22.05 kHz (no ../shared)", files.len());
    files
}

fn write_wav(path: &Path, rate: u32, x: &[f32]) {
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &s in x {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

fn files(python: Option<&Path>) {
    let files = bench_files();
    let entry = model::resolve("msd-musicnn").unwrap();
    // musicnn's own settings: non-overlapping 3 s patches.
    let settings = AnalysisSettings { hop_seconds: entry.manifest.frontend.patch_seconds(), ..Default::default() };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut one_thread_speed = 0.0;
    for jobs in [1, cores] {
        let t = Instant::now();
        let results = analyze_files(&files, &entry, &settings, Some(jobs), |_, _| {}).unwrap();
        let wall = t.elapsed().as_secs_f64();
        let ok: Vec<_> = results.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
        let audio: f64 = ok.iter().map(|a| a.summary.duration_seconds).sum();
        let inference: f64 = ok.iter().map(|a| a.inference_seconds).sum();
        let speed = audio / wall;
        if jobs == 1 {
            one_thread_speed = speed;
            println!(
                "files: Rust, 1 thread: {audio:.0} s of audio in {wall:.2} s = {speed:.0}x real time; inference {:.1} % of the time, everything else {:.1} %",
                100.0 * inference / wall,
                100.0 * (1.0 - inference / wall)
            );
        } else {
            println!(
                "files: Rust, {jobs} threads: {audio:.0} s of audio in {wall:.2} s = {speed:.0}x real time = {:.2}x the 1-thread speed",
                speed / one_thread_speed
            );
        }
    }
    if let Some(py) = python {
        let args: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        if let Some(v) = python_peer(py, "bench_pipeline.py", &args) {
            let peer = v["x_real_time"].as_f64().unwrap_or(f64::NAN);
            println!(
                "files: musicnn Python pipeline (librosa + TensorFlow, graph built once), 1 thread: {peer:.0}x real time (inference {:.1} %) -> Rust 1 thread is {:.2}x faster",
                100.0 * v["inference_share"].as_f64().unwrap_or(f64::NAN),
                one_thread_speed / peer
            );
        }
    }
}

/// Writes `minutes` of synthetic music as a 44.1 kHz stereo 16-bit WAV (in pieces).
fn long_wav(minutes: usize) -> PathBuf {
    let path = std::env::temp_dir().join(format!("genre-meter-bench-{minutes}-min.wav"));
    if !path.exists() {
        let spec = hound::WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        let minute = synth_clip(60.0, 44_100);
        for _ in 0..minutes {
            for &s in &minute {
                let v = (s.clamp(-1.0, 1.0) * 32767.0) as i16;
                w.write_sample(v).unwrap();
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    path
}

/// Peak memory of analysing a 1-minute and a 60-minute file, each in a fresh process: equal
/// peaks mean memory does not grow with the file's length.
fn memory() {
    for minutes in [1, 60] {
        let path = long_wav(minutes);
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["peak-memory-child", path.to_str().unwrap()])
            .output()
            .unwrap();
        print!("{}", String::from_utf8_lossy(&out.stdout));
        if !out.status.success() {
            eprintln!("{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn peak_memory_child(path: &Path) {
    let model = default_model();
    let before = vm_hwm_mib();
    let t = Instant::now();
    // musicnn's own non-overlapping patches: the question is whether decoding a long file
    // holds it in memory, and a third of the inference answers it in a third of the time.
    let settings = AnalysisSettings { hop_seconds: model.manifest().frontend.patch_seconds(), ..Default::default() };
    let a = analyze_file(path, &model, &settings).unwrap();
    println!(
        "memory: {:.0}-minute file (44.1 kHz stereo WAV, {} windows at the patch hop, batch {}): peak RSS {:.0} MiB (after loading the model: {before:.0} MiB), analysed in {:.1} s",
        a.summary.duration_seconds / 60.0,
        a.summary.windows,
        settings.batch_windows,
        vm_hwm_mib(),
        t.elapsed().as_secs_f64()
    );
}
