//! The plugin, loaded from its built CLAP library like a DAW does, passes audio through bit
//! for bit and gives the engine's (the CLI's) whole-piece result for the same audio, at
//! every common sample rate, block size and channel layout, and for a stream longer than its
//! queue.
//!
//! Tolerance: the plugin runs the engine's own `Analyzer` on the same samples (the audio
//! thread's stereo mix `(l + r) * 0.5` is the decoder's), so the only differences left are
//! the batch size of inference (the worker classifies one window per call, the engine
//! eight; ONNX Runtime's kernels sum in another order: ~1e-7) and the chunking of the
//! resampler and log-mel stream (exact: `tests/frontend_parity.rs`). 1e-5 leaves room for the
//! former and none for a lost, repeated or shifted block of audio.

mod common;

use common::*;

/// Seconds of the test clip: two whole windows and the engine's end-of-stream windows.
const CLIP_SECONDS: f64 = 6.0;
const BLOCK_SIZES: [usize; 5] = [1, 17, 64, 512, 4096];
const TOLERANCE: f32 = 1e-5;

fn check_rate(rate_hz: u32) {
    let entry = load_entry();
    let (left, right) = music_clip(rate_hz, CLIP_SECONDS);
    let reference_mono = engine_probabilities(&left, rate_hz);
    let reference_stereo = engine_probabilities(&downmix(&left, &right), rate_hz);
    for layout in [vec![left.clone()], vec![left.clone(), right.clone()]] {
        let reference = if layout.len() == 1 { &reference_mono } else { &reference_stereo };
        for block in BLOCK_SIZES {
            let what = format!("{rate_hz} Hz, {} channel(s), blocks of {block}", layout.len());
            let mut instance = new_instance(&entry);
            let output = play(&mut instance, rate_hz as f64, block, &layout);
            assert_bit_exact(&layout, &output, &what);
            let verdict = verdict(&mut instance);
            assert_eq!(verdict["dropped_samples"], 0, "{what}: no samples dropped");
            let probabilities = f32s(&verdict["probabilities"]);
            assert_eq!(probabilities.len(), reference.len(), "{what}: one probability per label");
            let worst = probabilities
                .iter()
                .zip(reference)
                .map(|(p, r)| (p - r).abs())
                .fold(0.0f32, f32::max);
            eprintln!("{what}: largest difference to the engine {worst:.2e}");
            assert!(worst <= TOLERANCE, "{what}: differs from the engine by {worst}");
            let seconds = verdict["analysed_seconds"].as_f64().unwrap();
            assert!((seconds - CLIP_SECONDS).abs() < 0.01, "{what}: analysed {seconds} s");
        }
    }
}

#[test]
fn matches_engine_and_passes_audio_at_44100_hz() {
    check_rate(44_100);
}

#[test]
fn matches_engine_and_passes_audio_at_48000_hz() {
    check_rate(48_000);
}

#[test]
fn matches_engine_and_passes_audio_at_96000_hz() {
    check_rate(96_000);
}

/// The CLI path proper: the same clip written as a WAV file and analysed by
/// `genre_meter::engine::analyze_file` (what `genre-meter analyze --hop patch` runs: the
/// plugin's default hop gives windows one after another).
#[test]
fn matches_cli_analysis_of_a_wav_file() {
    let rate_hz = 48_000;
    let (left, right) = music_clip(rate_hz, CLIP_SECONDS);
    let dir = std::env::temp_dir().join(format!("genre-meter-plugin-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("clip.wav");
    let spec = hound::WavSpec { channels: 2, sample_rate: rate_hz, bits_per_sample: 32, sample_format: hound::SampleFormat::Float };
    let mut writer = hound::WavWriter::create(&path, spec).unwrap();
    for (l, r) in left.iter().zip(&right) {
        writer.write_sample(*l).unwrap();
        writer.write_sample(*r).unwrap();
    }
    writer.finalize().unwrap();
    let model = std::sync::Arc::new(genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL).unwrap().load().unwrap());
    let cli = genre_meter::engine::analyze_file(&path, &model, &plugin_default_settings_for(&model)).unwrap();
    let cli_probabilities = cli.summary.probabilities.unwrap();
    std::fs::remove_dir_all(&dir).ok();

    let entry = load_entry();
    let mut instance = new_instance(&entry);
    play(&mut instance, rate_hz as f64, 512, &[left, right]);
    let verdict = verdict(&mut instance);
    let plugin = f32s(&verdict["probabilities"]);
    let worst = plugin.iter().zip(&cli_probabilities).map(|(p, r)| (p - r).abs()).fold(0.0f32, f32::max);
    eprintln!("WAV file through analyze_file: largest difference to the plugin {worst:.2e}");
    assert!(worst <= TOLERANCE, "plugin differs from the CLI by {worst}");
    assert_eq!(verdict["windows"].as_u64().unwrap() as usize, cli.summary.windows - cli.summary.silent_windows);
}

/// A stream of 20 s, 2.5 times the plugin's 8 s queue, so that the worker reads the queue
/// across its end (the two slices of `worker.rs`'s drain), value for value. The worker is
/// slowed down by 250 ms per drain (`GENRE_METER_TEST_WORKER_DELAY_MS`) so that it reads
/// seconds of audio at a time, and the host plays in bursts of 4 s, waiting for the worker
/// between bursts, so that nothing is dropped. At 44.1 kHz the queue holds 352 800 frames, not
/// a multiple of the 512-frame blocks, so the reads that cross its end (at 8 s and 16 s)
/// cannot end exactly there: both have a second slice.
#[test]
fn a_stream_longer_than_the_queue_matches_the_engine_value_for_value() {
    // SAFETY: nextest runs every test in its own process, and no worker runs yet.
    unsafe { std::env::set_var("GENRE_METER_TEST_WORKER_DELAY_MS", "250") };
    let rate_hz = 44_100;
    let seconds = 20.0;
    let (left, right) = music_clip(rate_hz, seconds);
    let layout = vec![left, right];
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let output = play_paced(&mut instance, rate_hz as f64, 512, &layout, 4.0, 3.5);
    assert_bit_exact(&layout, &output, "20 s stream");
    let verdict = verdict(&mut instance);
    assert_eq!(verdict["dropped_samples"], 0, "paced playback drops nothing: {verdict}");

    let mono = downmix(&layout[0], &layout[1]);
    let model = std::sync::Arc::new(genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL).unwrap().load().unwrap());
    let mut analyzer = genre_meter::engine::Analyzer::new(model.clone(), rate_hz, plugin_default_settings_for(&model));
    let mut windows = Vec::new();
    analyzer.push(&mono, &mut windows).unwrap();
    let summary = analyzer.finish(&mut windows).unwrap();
    let engine = summary.probabilities.unwrap();
    let plugin = f32s(&verdict["probabilities"]);
    assert_eq!(verdict["windows"].as_u64().unwrap() as usize, summary.windows - summary.silent_windows, "{verdict}");
    let worst = plugin.iter().zip(&engine).map(|(p, r)| (p - r).abs()).fold(0.0f32, f32::max);
    eprintln!("20 s stream through the slowed worker: largest difference to the engine {worst:.2e}");
    assert!(worst <= TOLERANCE, "plugin differs from the engine by {worst}: {plugin:?} vs {engine:?}");
    // The saved verdict counts the whole stream, also the 2 s after the last whole window
    // (windows of 2.99 s start every 3 s: the sixth ends at 17.99 s), which give no window.
    let analysed = verdict["analysed_seconds"].as_f64().unwrap();
    assert!((analysed - seconds).abs() < 1e-6, "analysed {analysed} s of {seconds} s");
}
