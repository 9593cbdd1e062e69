//! Shared helpers of the integration tests: synthetic music, WAV writing, the default model
//! and the optional `../shared` data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use genre_meter::engine::{LoadedModel, model};

/// Skips that show (`skip_test!`); read its documentation before adding a skip.
pub mod skip;

/// Helpers the plugin's tests share (`shared_dir`, `require_shared!`, `drone`, `heap_in_use`).
pub mod support;
#[allow(unused_imports)] // each test binary uses its own subset
pub use support::{drone, heap_in_use, shared_dir};

/// A deterministic, music-like signal defined in continuous time, so that it is the same
/// audio at every sample rate: a chord progression with harmonics, a bass line, a kick and
/// a band-limited "hi-hat" made of many sines. Everything stays below 7 kHz.
pub fn synth_music(rate_hz: u32, seconds: f64) -> Vec<f32> {
    let n = (seconds * rate_hz as f64).round() as usize;
    let tau = std::f64::consts::TAU;
    let chords: [[f64; 3]; 4] = [[261.63, 329.63, 392.0], [220.0, 261.63, 329.63], [174.61, 220.0, 261.63], [196.0, 246.94, 293.66]];
    let bass = [65.41, 55.0, 43.65, 49.0];
    // Pseudo-noise partials: fixed frequencies and phases from a tiny LCG.
    let mut seed = 12345u64;
    let mut rnd = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let hat: Vec<(f64, f64)> = (0..40).map(|_| (3000.0 + 3800.0 * rnd(), tau * rnd())).collect();
    let beat = 0.5; // 120 bpm
    (0..n)
        .map(|i| {
            let t = i as f64 / rate_hz as f64;
            let bar = ((t / (4.0 * beat)) as usize) % 4;
            let in_beat = t % beat;
            let in_half = t % (beat / 2.0);
            let mut x = 0.0;
            for &f in &chords[bar] {
                for h in 1..=4 {
                    x += 0.05 / h as f64 * (tau * f * h as f64 * t).sin();
                }
            }
            x *= 0.6 + 0.4 * (-3.0 * in_beat).exp();
            x += 0.25 * (tau * bass[bar] * t).sin() * (-2.0 * in_beat).exp();
            x += 0.3 * (tau * (50.0 + 120.0 * (-30.0 * in_beat).exp()) * in_beat).sin() * (-12.0 * in_beat).exp();
            let hat_env = (-60.0 * in_half).exp();
            if hat_env > 1e-4 {
                x += 0.02 * hat_env * hat.iter().map(|&(f, p)| (tau * f * t + p).sin()).sum::<f64>();
            }
            (0.7 * x) as f32
        })
        .collect()
}

pub fn write_wav_f32(path: &Path, rate_hz: u32, channels: u16, interleaved: &[f32]) {
    let spec = hound::WavSpec { channels, sample_rate: rate_hz, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &s in interleaved {
        w.write_sample(s).expect("write sample");
    }
    w.finalize().expect("finalize wav");
}

pub fn write_wav_i16(path: &Path, rate_hz: u32, channels: u16, interleaved: &[f32]) {
    let spec = hound::WavSpec { channels, sample_rate: rate_hz, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for &s in interleaved {
        w.write_sample((s.clamp(-1.0, 1.0) * 32767.0) as i16).expect("write sample");
    }
    w.finalize().expect("finalize wav");
}

/// Copies a mono signal to `channels` channels (interleaved).
pub fn interleave(mono: &[f32], channels: usize) -> Vec<f32> {
    mono.iter().flat_map(|&s| std::iter::repeat_n(s, channels)).collect()
}

fn load(name: &str) -> Arc<LoadedModel> {
    let entry = model::resolve(name).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(entry.load().unwrap_or_else(|e| panic!("{e}")))
}

/// The built-in default model (gtzan10: genre head on musicnn), loaded once per test binary.
pub fn default_model() -> Arc<LoadedModel> {
    static MODEL: OnceLock<Arc<LoadedModel>> = OnceLock::new();
    MODEL.get_or_init(|| load(model::DEFAULT_MODEL)).clone()
}

/// The built-in musicnn MSD tagger (the backbone on its own), loaded once per test binary.
pub fn musicnn_model() -> Arc<LoadedModel> {
    static MODEL: OnceLock<Arc<LoadedModel>> = OnceLock::new();
    MODEL.get_or_init(|| load("msd-musicnn")).clone()
}

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_dir().join("tests/fixtures").join(name)
}

/// Reads a raw little-endian f32 fixture.
pub fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}


/// Max absolute difference of two equally long slices.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs the `genre-meter` binary with `home` as its user folder; the ONNX Runtime library
/// stays the installed one.
pub fn genre_meter_cli(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_genre-meter"))
        .args(args)
        .env("GENRE_METER_HOME", home)
        .env("GENRE_METER_ORT_LIB", genre_meter::engine::runtime::locate_library().expect("ONNX Runtime installed"))
        .output()
        .expect("run genre-meter")
}
