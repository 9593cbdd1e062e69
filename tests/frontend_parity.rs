//! The log-mel front-end reproduces librosa (musicnn's front-end) on a synthesised clip.

mod common;

use genre_meter::engine::decode::decode_to_mono;
use genre_meter::engine::logmel::LogMel;
use genre_meter::engine::model;

fn fixture_shape(key: &str) -> Vec<usize> {
    let text = std::fs::read_to_string(common::fixture("synth_16k.json")).expect("fixture json");
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    v[key].as_array().unwrap_or_else(|| panic!("{key} in synth_16k.json")).iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn musicnn_frontend() -> genre_meter::engine::FrontendConfig {
    model::resolve("msd-musicnn").expect("built-in musicnn").manifest.frontend
}

#[test]
fn log_mel_matches_librosa_within_1e_4() {
    let (samples, rate) = decode_to_mono(&common::fixture("synth_16k.wav")).expect("fixture decodes");
    assert_eq!(rate, 16_000);
    let fe = musicnn_frontend();
    let ours = LogMel::compute(&fe, &samples);
    let reference = common::read_f32(&common::fixture("synth_16k.logmel.f32"));
    let shape = fixture_shape("logmel_shape");
    assert_eq!(shape[1], fe.n_mels);
    assert_eq!(ours.len(), shape[0] * shape[1], "frame count differs from librosa's");
    assert_eq!(reference.len(), ours.len());
    let diff = common::max_abs_diff(&ours, &reference);
    eprintln!("log-mel max abs diff vs librosa: {diff:.2e} over {} frames", shape[0]);
    assert!(diff <= 1e-4, "max abs diff {diff} > 1e-4");
    // The fixture is music, not silence: the comparison means something.
    let max = reference.iter().cloned().fold(f32::MIN, f32::max);
    assert!(max > 1.0, "reference log-mel peak {max} looks like silence");
}

#[test]
fn streaming_in_odd_blocks_equals_one_shot() {
    let (samples, _) = decode_to_mono(&common::fixture("synth_16k.wav")).expect("fixture decodes");
    let fe = musicnn_frontend();
    let whole = LogMel::compute(&fe, &samples);
    let mut lm = LogMel::new(&fe);
    let (mut frames, mut energies) = (Vec::new(), Vec::new());
    for block in samples.chunks(17) {
        lm.push(block, &mut frames, &mut energies);
    }
    lm.finish(&mut frames, &mut energies);
    assert_eq!(frames, whole);
    assert_eq!(energies.len() * fe.n_mels, frames.len());
}

#[test]
fn frame_count_follows_manifest_hop() {
    let mut fe = musicnn_frontend();
    let samples = common::synth_music(16_000, 2.0);
    for (hop, n_mels) in [(256, 96), (160, 64), (512, 128)] {
        fe.hop_length = hop;
        fe.n_mels = n_mels;
        let out = LogMel::compute(&fe, &samples);
        // Centred frames: 1 + len / hop.
        assert_eq!(out.len(), (1 + samples.len() / hop) * n_mels, "hop {hop}, {n_mels} mels");
        assert!(out.iter().all(|v| v.is_finite()));
    }
}
