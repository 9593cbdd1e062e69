//! Hostile input: NaN, infinities, denormals and full-scale noise pass through untouched,
//! nothing panics, and no NaN reaches the published result.

mod common;

use common::*;

fn hostile_signal(rate_hz: u32, seconds: f64) -> Vec<f32> {
    let n = (rate_hz as f64 * seconds) as usize;
    let mut noise = Noise::new(99);
    (0..n)
        .map(|i| match (i / 4800) % 5 {
            0 => f32::NAN,
            1 => if i % 2 == 0 { f32::INFINITY } else { f32::NEG_INFINITY },
            2 => f32::from_bits(1 + (i as u32 % 1000)), // denormals
            3 => noise.next(),                          // full-scale noise
            _ => if i % 7 == 0 { f32::NAN } else { noise.next() * f32::MAX },
        })
        .collect()
}

#[test]
fn hostile_input_passes_through_and_publishes_no_nan() {
    let rate_hz = 48_000;
    let entry = load_entry();
    let signal = hostile_signal(rate_hz, 5.0);
    let mut noise = Noise::new(3);
    let right: Vec<f32> = signal.iter().map(|&s| if s.is_finite() { noise.next() } else { s }).collect();
    for (layout, block) in [(vec![signal.clone()], 64), (vec![signal.clone(), right], 511)] {
        let mut instance = new_instance(&entry);
        let output = play(&mut instance, rate_hz as f64, block, &layout);
        assert_bit_exact(&layout, &output, "hostile input");
        let verdict = verdict(&mut instance);
        let probabilities = f32s(&verdict["probabilities"]);
        assert!(verdict["windows"].as_u64().unwrap() > 0, "the noisy parts are classified");
        assert!(
            probabilities.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)),
            "published probabilities are finite: {probabilities:?}"
        );
    }
}

#[test]
fn silence_is_reported_as_silence() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    // 7 s: fits the 8 s queue when played faster than real time, so nothing is dropped.
    let silence = vec![vec![0.0f32; 48_000 * 7]; 2];
    play(&mut instance, 48_000.0, 512, &silence);
    let verdict = verdict(&mut instance);
    assert_eq!(verdict["dropped_samples"], 0);
    assert_eq!(verdict["windows"], 0, "no silent window is classified as a genre");
    assert!(f32s(&verdict["probabilities"]).is_empty());
    // As many silent windows as the engine (the CLI) finds in the same silence.
    let model = std::sync::Arc::new(
        genre_meter::engine::model::resolve(genre_meter::engine::DEFAULT_MODEL).and_then(|e| e.load()).unwrap(),
    );
    let settings = plugin_default_settings_for(&model);
    let mut analyzer = genre_meter::engine::Analyzer::new(model, 48_000, settings);
    let mut windows = Vec::new();
    analyzer.push(&silence[0], &mut windows).unwrap();
    let summary = analyzer.finish(&mut windows).unwrap();
    let silent = verdict["silent_windows"].as_u64().unwrap();
    assert!(silent >= 2 && silent == summary.silent_windows as u64, "plugin {silent}, engine {}", summary.silent_windows);
}

#[test]
fn a_worker_that_falls_behind_drops_and_counts_samples_without_touching_audio() {
    // 30 s at once is far more than the 8 s queue holds before the worker catches up.
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let (left, _) = music_clip(48_000, 30.0);
    let layout = vec![left];
    let output = play(&mut instance, 48_000.0, 4096, &layout);
    assert_bit_exact(&layout, &output, "overloaded worker");
    let dropped = verdict(&mut instance)["dropped_samples"].as_u64().unwrap();
    assert!(dropped > 0 && dropped < 30 * 48_000, "dropped {dropped} samples");
}
