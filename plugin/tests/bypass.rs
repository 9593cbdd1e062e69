//! The host's bypass: a parameter flagged as the plugin's bypass (CLAP `IS_BYPASS`, VST3
//! `kIsBypass`), under which audio passes bit for bit and nothing is analysed.

mod common;

use clack_extensions::params::{ParamInfoBuffer, ParamInfoFlags, PluginParams};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use common::*;

/// The id of the parameter the plugin flags as its bypass; exactly one.
fn bypass_id(instance: &mut PluginInstance<TestHost>) -> ClapId {
    let handle = instance.plugin_handle();
    let params = handle.get_extension::<PluginParams>().expect("params extension");
    let mut buffer = ParamInfoBuffer::new();
    let mut bypass: Vec<(ClapId, String)> = Vec::new();
    for i in 0..params.count(&handle) {
        let info = params.get_info(&handle, i, &mut buffer).expect("param info");
        if info.flags.contains(ParamInfoFlags::IS_BYPASS) {
            bypass.push((info.id, String::from_utf8_lossy(info.name).into_owned()));
        }
    }
    assert_eq!(bypass.len(), 1, "one bypass parameter: {bypass:?}");
    assert_eq!(bypass[0].1, "Bypass");
    bypass[0].0
}

#[test]
fn bypassed_the_audio_passes_bit_for_bit_and_nothing_is_analysed() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let id = bypass_id(&mut instance);
    let (left, right) = music_clip(48_000, 6.0);
    let layout = [left, right];
    let output = play_with_events(&mut instance, 48_000.0, 256, &layout, |block, _, events| {
        if block == 0 {
            events.push(&ParamValueEvent::new(0, id, Pckn::match_all(), 1.0));
        }
    });
    assert_bit_exact(&layout, &output, "bypassed");
    let verdict = verdict(&mut instance);
    assert_eq!(verdict["windows"], 0, "bypassed, nothing is classified: {verdict}");
    assert_eq!(verdict["silent_windows"], 0);
    assert_eq!(verdict["analysed_seconds"].as_f64(), Some(0.0));
}

#[test]
fn bypassing_mid_play_stops_the_analysis_where_the_host_bypassed() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let id = bypass_id(&mut instance);
    // 4 s of music, then bypassed: 3 s of loud noise that would change the verdict.
    let (music, _) = music_clip(48_000, 4.0);
    let mut noise = Noise::new(9);
    let mut mono = music.clone();
    mono.extend((0..3 * 48_000).map(|_| noise.next()));
    const BLOCK: usize = 480;
    let bypass_block = music.len() / BLOCK;
    let output = play_with_events(&mut instance, 48_000.0, BLOCK, &[mono.clone()], |block, _, events| {
        if block == bypass_block {
            events.push(&ParamValueEvent::new(0, id, Pckn::match_all(), 1.0));
        }
    });
    assert_bit_exact(&[mono], &output, "bypassed mid-play");
    let verdict = verdict(&mut instance);
    let seconds = verdict["analysed_seconds"].as_f64().unwrap();
    assert!((seconds - 4.0).abs() < 1e-6, "the 4 s before the bypass were analysed, not {seconds} s");
    let plugin = f32s(&verdict["probabilities"]);
    let engine = engine_probabilities(&music, 48_000);
    let worst = plugin.iter().zip(&engine).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "the verdict is the music's alone (differs from the engine's by {worst})");
}
