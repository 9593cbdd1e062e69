//! The plugin, loaded from its built CLAP library like a DAW does, passes audio through bit
//! for bit and gives the engine's (the CLI's) whole-piece result for the same audio, at
//! every common sample rate, block size and channel layout.

mod common;

use common::*;

/// Seconds of the test clip: two whole windows and the engine's end-of-stream windows.
const CLIP_SECONDS: f64 = 6.0;
const BLOCK_SIZES: [usize; 5] = [1, 17, 64, 512, 4096];
const TOLERANCE: f32 = 0.02;

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
    assert!(worst <= TOLERANCE, "plugin differs from the CLI by {worst}");
    assert_eq!(verdict["windows"].as_u64().unwrap() as usize, cli.summary.windows - cli.summary.silent_windows);
}
