//! Benchmarks of the plugin's promises. Run with
//! `cargo bench -p genre-meter-plugin --bench plugin` (about a minute; plays audio in real time).
//!
//! 1. Audio-thread cost of one 512-frame stereo block (downmix + queue push) against a
//!    plain copy of the block, and the whole CLAP process call through the wrapper.
//! 2. Worker CPU share of one core at 48 kHz, default settings, one instance, real time.
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
/// Seconds played in real time; the first `WARM_UP_SECONDS` (model loading, first windows)
/// are left out of the CPU figures.
const REAL_TIME_SECONDS: f64 = 25.0;
const WARM_UP_SECONDS: f64 = 5.0;

fn main() {
    audio_thread_cost();
    engine_cost();
    let clap_ns = clap_process_cost();
    println!("  whole CLAP process() call through nice-plug's wrapper: {clap_ns:.0} ns per block");
    real_time_instances(1);
    real_time_instances(16);
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
fn engine_cost() {
    use genre_meter::engine::{AnalysisSettings, Analyzer};
    let model = Arc::new(genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL).unwrap().load().unwrap());
    let (left, right) = music_clip(RATE_HZ, 30.0);
    let mono = downmix(&left, &right);
    let hop = genre_meter_plugin::params::DEFAULT_HOP_SECONDS as f64;
    let settings = AnalysisSettings { batch_windows: 1, hop_seconds: hop, ..AnalysisSettings::default() };
    let mut best = (f64::MAX, 0.0);
    for _ in 0..3 {
        let mut analyzer = Analyzer::new(model.clone(), RATE_HZ, settings.clone());
        let mut windows = Vec::new();
        let started = Instant::now();
        for piece in mono.chunks(RATE_HZ as usize / 50) {
            analyzer.push(piece, &mut windows).unwrap();
        }
        let total = started.elapsed().as_secs_f64();
        if total < best.0 {
            best = (total, analyzer.inference_seconds());
        }
    }
    let (total, inference) = best;
    println!("engine alone, model {}, 30 s of 48 kHz audio, hop {hop} s, batch 1 (best of 3):", genre_meter::engine::DEFAULT_MODEL);
    println!(
        "  {:.2} % of one core in real time: inference {:.2} %, resampling + log-mel + windows {:.2} %",
        total / 30.0 * 100.0,
        inference / 30.0 * 100.0,
        (total - inference) / 30.0 * 100.0
    );
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

/// CPU seconds (user + system) of this process's threads whose name starts with `prefix`.
fn thread_cpu_seconds(prefix: &str) -> f64 {
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let mut ticks = 0u64;
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !stat[open + 1..close].starts_with(prefix) {
            continue;
        }
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        ticks += fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    }
    ticks as f64 / ticks_per_second
}

/// Plays music into `count` instances in real time from one "audio thread" loop.
fn real_time_instances(count: usize) {
    let entry = load_entry();
    let rss_start = rss_bytes();
    let (left, right) = music_clip(RATE_HZ, REAL_TIME_SECONDS);
    let config = PluginAudioConfiguration { sample_rate: RATE_HZ as f64, min_frames_count: 1, max_frames_count: BLOCK as u32 };
    let mut instances: Vec<_> = (0..count).map(|_| new_instance(&entry)).collect();
    let mut processors: Vec<_> = instances
        .iter_mut()
        .map(|i| i.activate(|_, _| (), config).unwrap().start_processing().unwrap())
        .collect();
    let mut input = [vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]];
    let mut output = [vec![0.0f32; BLOCK], vec![0.0f32; BLOCK]];
    let mut in_ports = AudioPorts::with_capacity(2, 1);
    let mut out_ports = AudioPorts::with_capacity(2, 1);
    let block_time = Duration::from_secs_f64(BLOCK as f64 / RATE_HZ as f64);
    let mut cpu_start = 0.0;
    let mut measured_from = Instant::now();
    let started = Instant::now();
    let mut rss_first = 0;
    let mut rss_all = 0;
    for (b, at) in (0..left.len() - BLOCK).step_by(BLOCK).enumerate() {
        input[0].copy_from_slice(&left[at..at + BLOCK]);
        input[1].copy_from_slice(&right[at..at + BLOCK]);
        for processor in &mut processors {
            process_stereo_block(processor, &mut in_ports, &mut out_ports, &mut input, &mut output);
        }
        if b == (WARM_UP_SECONDS * RATE_HZ as f64 / BLOCK as f64) as usize {
            rss_all = rss_bytes(); // models loaded, first windows out
            cpu_start = thread_cpu_seconds("genre-meter-wor");
            measured_from = Instant::now();
        }
        if let Some(wait) = (block_time * (b as u32 + 1)).checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let wall = measured_from.elapsed().as_secs_f64();
    let worker_cpu = thread_cpu_seconds("genre-meter-wor") - cpu_start;
    let mut dropped = 0;
    let mut windows = 0;
    let mut model = String::new();
    for (instance, processor) in instances.iter_mut().zip(processors) {
        instance.deactivate(processor.stop_processing());
        let verdict = verdict(instance);
        dropped += verdict["dropped_samples"].as_u64().unwrap();
        windows += verdict["windows"].as_u64().unwrap();
        model = verdict["model"].as_str().unwrap_or("?").to_string();
    }
    if count == 1 {
        rss_first = rss_all;
    }
    println!("{count} instance(s) of model {model}, 48 kHz stereo, 512-frame blocks, {REAL_TIME_SECONDS} s in real time (CPU over the last {wall:.1} s):");
    println!(
        "  worker CPU: {:.2} % of one core per instance ({:.2} % for all); windows {windows}; dropped samples {dropped}",
        worker_cpu / wall / count as f64 * 100.0,
        worker_cpu / wall * 100.0
    );
    let grown = rss_all.saturating_sub(rss_start) as f64 / 1e6;
    if count == 1 {
        println!("  resident memory of the first instance (library, runtime, model, queue): {:.1} MB", rss_first.saturating_sub(rss_start) as f64 / 1e6);
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
