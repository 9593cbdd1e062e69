//! Benchmarks of the plugin's promises. Run with
//! `cargo bench --workspace --bench plugin` (about two minutes; plays audio in real time).
//!
//! 1. Audio-thread cost of one 512-frame stereo block (downmix + queue push) against a
//!    plain copy of the block, and the whole CLAP process call through the wrapper.
//! 2. Worker CPU share of one core at 48 kHz, default settings, one instance, real time,
//!    over a whole number of hops (see [`real_time_instances`]).
//! 3. 16 instances in one process at 48 kHz, real time: dropped samples, memory of the
//!    first instance and of each further one.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clack_host::events::io::{InputEvents, OutputEvents};
use clack_host::prelude::*;
use common::*;
use genre_meter_plugin::capture;
use genre_meter_plugin::meter::MeterStatus;

const BLOCK: usize = 512;
const RATE_HZ: u32 = 48_000;
/// Audio seconds played before the measured span may start (model loading, first windows).
const WARM_UP_SECONDS: f64 = 5.0;
/// Hops measured: one instance, and 16 instances (each hop of 16 instances costs 16 times
/// the CPU, and the whole bench plays in real time).
const HOPS_ONE_INSTANCE: usize = 20;
const HOPS_SIXTEEN_INSTANCES: usize = 10;

/// Sections, chosen by name on the command line (default: all but `paced`): `audio`,
/// `engine`, `clap`, `realtime`, and `paced` (the worker without real time, for profiling:
/// `valgrind --tool=callgrind --separate-threads=yes target/release/deps/plugin-* paced 20`).
fn main() {
    let chosen: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |name: &str| if chosen.is_empty() { name != "paced" } else { chosen.iter().any(|c| c == name) };
    if wants("audio") {
        audio_thread_cost();
    }
    if wants("engine") {
        engine_cost();
    }
    if wants("clap") {
        let clap_ns = clap_process_cost();
        println!("  whole CLAP process() call through nice-plug's wrapper: {clap_ns:.0} ns per block");
    }
    if wants("realtime") {
        real_time_instances(1, HOPS_ONE_INSTANCE);
        real_time_instances(16, HOPS_SIXTEEN_INSTANCES);
    }
    if wants("paced") {
        // `paced 20`: fewer seconds, for a run under valgrind.
        let seconds = chosen.iter().find_map(|a| a.parse::<f64>().ok()).unwrap_or(PACED_SECONDS);
        paced_worker(seconds);
    }
}

/// Audio seconds of the `paced` section.
const PACED_SECONDS: f64 = 60.0;

/// The worker's CPU per second of audio with the host not in real time: one instance, 48 kHz
/// stereo, played in 2 s bursts, each time waiting until the worker has classified every
/// whole window of what was played. CPU between the first and the last wait, over the audio
/// those windows analysed. Polls cost less than in real time (fewer per audio second), so
/// this is the analysis path's cost; under callgrind the worker thread's profile splits it
/// into the engine (`Analyzer::push`) and the rest.
fn paced_worker(seconds: f64) {
    let entry = load_entry();
    let (window_s, hop_s) = default_window_and_hop();
    let (left, right) = music_clip(RATE_HZ, seconds);
    let mut instance = new_instance(&entry);
    let burst_blocks = (2.0 * RATE_HZ as f64 / BLOCK as f64) as usize;
    let last_wait = (left.len() / BLOCK).saturating_sub(1) / burst_blocks * burst_blocks;
    let mut first: Option<(f64, u64)> = None;
    let mut last = (0.0, 0);
    play_with_host(&mut instance, RATE_HZ as f64, BLOCK, &[left, right], |instance, block_index, _, _| {
        if block_index == 0 || block_index % burst_blocks != 0 {
            return;
        }
        let played = (block_index * BLOCK) as f64 / RATE_HZ as f64;
        let whole_windows = if played < window_s { 0 } else { ((played - window_s) / hop_s).floor() as u64 + 1 };
        let deadline = Instant::now() + Duration::from_secs(600);
        let windows = loop {
            let windows = windows_so_far(std::slice::from_mut(instance));
            if windows >= whole_windows {
                break windows;
            }
            assert!(Instant::now() < deadline, "the worker classified {windows} of {whole_windows} windows in 600 s");
            std::thread::sleep(Duration::from_millis(20));
        };
        let at = (thread_cpu_seconds("genre-meter-wor"), windows);
        if first.is_none() {
            first = Some(at);
        }
        if block_index == last_wait {
            last = at;
        }
    });
    let (cpu0, windows0) = first.expect("at least one burst");
    let (cpu, windows) = (last.0 - cpu0, last.1 - windows0);
    println!("worker without real time, 1 instance, 48 kHz stereo, {seconds} s played in 2 s bursts:");
    println!(
        "  {:.2} % of one core per second of audio ({cpu:.3} CPU s for {windows} windows, {:.1} s of audio)",
        cpu / (windows as f64 * hop_s) * 100.0,
        windows as f64 * hop_s
    );
}

/// Nanoseconds per block of `f`, best of several rounds of `blocks` calls.
fn time_per_block(blocks: usize, mut f: impl FnMut(usize), mut between: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..200 {
        let start = Instant::now();
        for b in 0..blocks {
            f(b);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / blocks as f64);
        between();
    }
    best
}

/// Where the worker's time goes: the engine alone (resample, log-mel, model) on 30 s of
/// 48 kHz music in 20 ms pieces, as the worker feeds it, default plugin settings.
/// The engine's cost for each model in `GENRE_METER_BENCH_MODELS` (comma-separated names;
/// default: the default model), e.g. `GENRE_METER_BENCH_MODELS=gtzan10,gtzan10-ensemble`
/// with YAMNet and the gtzan10-yamnet head installed.
fn engine_cost() {
    let names = std::env::var("GENRE_METER_BENCH_MODELS").unwrap_or_else(|_| genre_meter::engine::DEFAULT_MODEL.to_string());
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        engine_cost_of(name);
    }
}

fn engine_cost_of(name: &str) {
    use genre_meter::engine::{AnalysisSettings, Analyzer};
    let model = Arc::new(genre_meter::engine::model::resolve(name).and_then(|e| e.load()).unwrap_or_else(|e| panic!("{e}")));
    let (left, right) = music_clip(RATE_HZ, 30.0);
    let mono = downmix(&left, &right);
    let hop = genre_meter_plugin::params::DEFAULT_HOP_SECONDS as f64;
    let settings = AnalysisSettings { batch_windows: 1, hop_seconds: hop, ..AnalysisSettings::default() };
    // (CPU seconds of this thread, wall seconds, wall seconds in inference) of the best run.
    let mut best = (f64::MAX, 0.0, 0.0);
    for _ in 0..3 {
        let mut analyzer = Analyzer::new(model.clone(), RATE_HZ, settings.clone());
        let mut windows = Vec::new();
        let cpu_before = own_thread_cpu_seconds();
        let started = Instant::now();
        for piece in mono.chunks(RATE_HZ as usize / 50) {
            analyzer.push(piece, &mut windows).unwrap();
        }
        let wall = started.elapsed().as_secs_f64();
        let cpu = own_thread_cpu_seconds() - cpu_before;
        if cpu < best.0 {
            best = (cpu, wall, analyzer.inference_seconds());
        }
    }
    let (cpu, wall, inference_wall) = best;
    // The engine times inference by the clock; its share of the wall time splits the CPU.
    let inference = cpu * inference_wall / wall;
    println!("engine alone, model {name}, 30 s of 48 kHz audio, hop {hop} s, batch 1 (best of 3, thread CPU time):");
    println!(
        "  {:.2} % of one core in real time: inference {:.2} %, resampling + log-mel + windows {:.2} %",
        cpu / 30.0 * 100.0,
        inference / 30.0 * 100.0,
        (cpu - inference) / 30.0 * 100.0
    );
}

/// CPU seconds of the calling thread (the scheduler's nanoseconds; 0 where the kernel keeps
/// no schedstat, and then the figures above say 0).
fn own_thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .map_or(0.0, |ns| ns as f64 * 1e-9)
}

fn audio_thread_cost() {
    let (left, right) = music_clip(RATE_HZ, 1.0);
    let blocks = 32;
    let status = Arc::new(MeterStatus::default());
    let (mut capture, mut queue) = capture::queue(RATE_HZ as f32, status.clone());
    let capture_ns = time_per_block(
        blocks,
        |b| {
            let at = (b * BLOCK) % (left.len() - BLOCK);
            capture.push(&[&left[at..at + BLOCK], &right[at..at + BLOCK]]);
        },
        || {
            let n = queue.slots();
            queue.read_chunk(n).unwrap().commit_all();
        },
    );
    let mut out_l = vec![0.0f32; BLOCK];
    let mut out_r = vec![0.0f32; BLOCK];
    let copy_ns = time_per_block(
        blocks,
        |b| {
            let at = (b * BLOCK) % (left.len() - BLOCK);
            out_l.copy_from_slice(&left[at..at + BLOCK]);
            out_r.copy_from_slice(&right[at..at + BLOCK]);
            black_box((&mut out_l, &mut out_r));
        },
        || {},
    );
    assert_eq!(status.dropped_samples.load(std::sync::atomic::Ordering::Relaxed), 0);
    println!("audio thread, 512-frame stereo block:");
    println!("  capture (downmix + queue push): {capture_ns:.0} ns; plain copy of the block: {copy_ns:.0} ns; ratio {:.2}x", capture_ns / copy_ns);
}

fn clap_process_cost() -> f64 {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let config = PluginAudioConfiguration { sample_rate: RATE_HZ as f64, min_frames_count: 1, max_frames_count: BLOCK as u32 };
    let processor = instance.activate(|_, _| (), config).unwrap();
    let mut processor = processor.start_processing().unwrap();
    let (left, right) = music_clip(RATE_HZ, 1.0);
    let mut input = [left[..BLOCK].to_vec(), right[..BLOCK].to_vec()];
    let mut output = [vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]];
    let mut in_ports = AudioPorts::with_capacity(2, 1);
    let mut out_ports = AudioPorts::with_capacity(2, 1);
    // 400 blocks are 4.3 s of audio: the queue holds them all, so nothing is dropped.
    let ns = time_per_block(
        2,
        |_| {
            process_stereo_block(&mut processor, &mut in_ports, &mut out_ports, &mut input, &mut output);
        },
        || {},
    );
    instance.deactivate(processor.stop_processing());
    ns
}

/// One CLAP `process()` call on a stereo block, as a host's audio thread makes it.
fn process_stereo_block(
    processor: &mut StartedPluginAudioProcessor<TestHost>,
    in_ports: &mut AudioPorts,
    out_ports: &mut AudioPorts,
    input: &mut [Vec<f32>; 2],
    output: &mut [Vec<f32>; 2],
) {
    let in_buffers = in_ports.with_input_buffers([AudioPortBuffer {
        latency: 0,
        channels: AudioPortBufferType::f32_input_only(input.iter_mut().map(|b| InputChannel::variable(b))),
    }]);
    let mut out_buffers = out_ports.with_output_buffers([AudioPortBuffer {
        latency: 0,
        channels: AudioPortBufferType::f32_output_only(output.iter_mut().map(|b| b.as_mut_slice())),
    }]);
    processor
        .process(&in_buffers, &mut out_buffers, &InputEvents::empty(), &mut OutputEvents::void(), None, None)
        .unwrap();
}

/// CPU seconds of this process's threads whose name starts with `prefix`: the scheduler's
/// nanosecond run time (`/proc/self/task/*/schedstat`), or user + system ticks (10 ms) from
/// `stat` where the kernel keeps no schedstat.
fn thread_cpu_seconds(prefix: &str) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut seconds = 0.0;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let run_ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
            .filter(|&ns| ns > 0);
        seconds += match run_ns {
            Some(ns) => ns as f64 * 1e-9,
            None => {
                let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
                (fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()) as f64 / ticks_per_second
            }
        };
    }
    seconds
}

/// Window geometry of the default model at the plugin's default hop: (window, hop) seconds.
/// The model the real-time section's instances use: `GENRE_METER_BENCH_PLUGIN_MODEL`, else the
/// plugin's default.
fn plugin_model() -> String {
    std::env::var("GENRE_METER_BENCH_PLUGIN_MODEL").unwrap_or_else(|_| genre_meter::engine::DEFAULT_MODEL.to_string())
}

/// A new instance set to [`plugin_model`] (through its saved state, as a host restores it).
fn bench_instance(entry: &PluginEntry) -> PluginInstance<TestHost> {
    let mut instance = new_instance(entry);
    let name = plugin_model();
    if name != genre_meter::engine::DEFAULT_MODEL {
        let mut state = state_json(&mut instance);
        state["fields"]["model"] = serde_json::json!(serde_json::to_string(&name).unwrap());
        load_state_json(&mut instance, &state);
    }
    instance
}

fn default_window_and_hop() -> (f64, f64) {
    let model = genre_meter::engine::model::resolve(&plugin_model()).unwrap().load().unwrap();
    let window = model.manifest().frontend.patch_seconds();
    let hop = genre_meter_plugin::worker::window_hop(genre_meter_plugin::params::DEFAULT_HOP_SECONDS as f64, &model);
    (window, hop)
}

/// Classified plus silent windows of each instance's saved verdict, summed.
fn windows_so_far(instances: &mut [PluginInstance<TestHost>]) -> u64 {
    instances
        .iter_mut()
        .map(|i| {
            let v = verdict(i);
            v["windows"].as_u64().unwrap() + v["silent_windows"].as_u64().unwrap()
        })
        .sum()
}

/// Plays music into `count` instances in real time from one "audio thread" loop, and
/// measures the worker threads' CPU over exactly `hops` hops.
///
/// A window is analysed when its last sample reaches the worker, i.e. at audio times
/// `window + k·hop` (plus the next poll, ≤ 100 ms, and the inference). The measured span
/// runs from one midpoint between those moments to another, `hops` hops later, so it holds
/// exactly `hops` windows per instance whatever the phase; a span of arbitrary length
/// would hold one window more or less, which moved the earlier 20 s figure by ±15 %. The
/// span starts after `WARM_UP_SECONDS` (model loading and the first window are not counted).
/// Two figures over the same span: CPU / wall time (real time, what a host sees), and CPU
/// per second of audio the windows in the span analysed.
fn real_time_instances(count: usize, hops: usize) {
    let entry = load_entry();
    let (window_s, hop_s) = default_window_and_hop();
    let first_mid = window_s + 0.5 * hop_s;
    let span_start = first_mid + ((WARM_UP_SECONDS - first_mid) / hop_s).ceil().max(0.0) * hop_s;
    let span_end = span_start + hops as f64 * hop_s;
    let played_seconds = span_end + 0.5;
    let rss_start = rss_bytes();
    let (left, right) = music_clip(RATE_HZ, played_seconds);
    let config = PluginAudioConfiguration { sample_rate: RATE_HZ as f64, min_frames_count: 1, max_frames_count: BLOCK as u32 };
    let mut instances: Vec<_> = (0..count).map(|_| bench_instance(&entry)).collect();
    let mut processors: Vec<_> = instances
        .iter_mut()
        .map(|i| i.activate(|_, _| (), config).unwrap().start_processing().unwrap())
        .collect();
    let mut input = [vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]];
    let mut output = [vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]];
    let mut in_ports = AudioPorts::with_capacity(2, 1);
    let mut out_ports = AudioPorts::with_capacity(2, 1);
    let block_time = Duration::from_secs_f64(BLOCK as f64 / RATE_HZ as f64);
    let start_block = (span_start * RATE_HZ as f64 / BLOCK as f64).round() as usize;
    let end_block = (span_end * RATE_HZ as f64 / BLOCK as f64).round() as usize;
    let (mut cpu_start, mut windows_start) = (0.0, 0);
    let (mut cpu_end, mut windows_end) = (0.0, 0);
    let mut measured_from = Instant::now();
    let mut wall = 0.0;
    let started = Instant::now();
    let mut rss_all = 0;
    for (b, at) in (0..left.len() - BLOCK).step_by(BLOCK).enumerate() {
        input[0].copy_from_slice(&left[at..at + BLOCK]);
        input[1].copy_from_slice(&right[at..at + BLOCK]);
        for processor in &mut processors {
            process_stereo_block(processor, &mut in_ports, &mut out_ports, &mut input, &mut output);
        }
        if b == start_block {
            rss_all = rss_bytes(); // models loaded, first windows out
            cpu_start = thread_cpu_seconds("genre-meter-wor");
            measured_from = Instant::now();
            windows_start = windows_so_far(&mut instances);
        }
        if b == end_block {
            cpu_end = thread_cpu_seconds("genre-meter-wor");
            wall = measured_from.elapsed().as_secs_f64();
            windows_end = windows_so_far(&mut instances);
        }
        if let Some(wait) = (block_time * (b as u32 + 1)).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let worker_cpu = cpu_end - cpu_start;
    let span_windows = windows_end - windows_start;
    let mut dropped = 0;
    let mut model = String::new();
    for (instance, processor) in instances.iter_mut().zip(processors) {
        instance.deactivate(processor.stop_processing());
        let verdict = verdict(instance);
        dropped += verdict["dropped_samples"].as_u64().unwrap();
        model = verdict["model"].as_str().unwrap_or("?").to_string();
    }
    let audio_seconds = span_windows as f64 * hop_s;
    println!(
        "{count} instance(s) of model {model}, 48 kHz stereo, 512-frame blocks, {played_seconds:.2} s played in real time; \
         measured from {span_start:.2} s to {span_end:.2} s of the audio ({hops} hops of {hop_s} s, {wall:.2} s of wall time):"
    );
    println!(
        "  worker CPU, real time: {:.2} % of one core per instance ({:.2} % for all; {worker_cpu:.3} CPU s over {wall:.2} s)",
        worker_cpu / wall / count as f64 * 100.0,
        worker_cpu / wall * 100.0
    );
    println!(
        "  worker CPU per second of audio analysed: {:.2} % per instance ({span_windows} windows in the span, {} expected; {audio_seconds:.1} s of audio)",
        worker_cpu / audio_seconds.max(f64::MIN_POSITIVE) * 100.0,
        hops * count
    );
    println!("  dropped samples: {dropped}");
    let grown = rss_all.saturating_sub(rss_start) as f64 / 1e6;
    if count == 1 {
        println!("  resident memory of the first instance (library, runtime, model, queue): {grown:.1} MB");
    } else {
        println!("  resident memory of {count} instances: {grown:.1} MB above the process before them");
    }
    FIRST_MB.with(|m| {
        if count == 1 {
            m.set(grown);
        } else {
            println!("  each further instance: {:.2} MB", (grown - m.get()) / (count - 1) as f64);
        }
    });
}

thread_local! {
    static FIRST_MB: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}
