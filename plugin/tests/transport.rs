//! Transport awareness through clack-host, with a host that reports its transport with every
//! block as a DAW does: *Only while playing* analyses the playing parts only, and playback
//! from the song's start resets the whole-piece verdict (*Reset at song start*).

mod common;

use clack_host::events::event_types::{TransportEvent, TransportFlags};
use clack_host::events::io::{EventBuffer, OutputEvents};
use clack_host::events::{EventFlags, EventHeader};
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};
use common::*;

const RATE_HZ: u32 = 48_000;
const BLOCK: usize = 512;

/// The host's transport for a block: playing or not, at `position_seconds` into the song.
fn transport(playing: bool, position_seconds: f64) -> TransportEvent {
    let mut flags = TransportFlags::HAS_SECONDS_TIMELINE | TransportFlags::HAS_BEATS_TIMELINE | TransportFlags::HAS_TEMPO;
    if playing {
        flags |= TransportFlags::IS_PLAYING;
    }
    TransportEvent {
        header: EventHeader::new_core(0, EventFlags::empty()),
        flags,
        song_pos_beats: BeatTime::from_float(position_seconds * 2.0),
        song_pos_seconds: SecondsTime::from_float(position_seconds),
        tempo: 120.0,
        tempo_inc: 0.0,
        loop_start_beats: BeatTime::from_int(0),
        loop_end_beats: BeatTime::from_int(0),
        loop_start_seconds: SecondsTime::from_int(0),
        loop_end_seconds: SecondsTime::from_int(0),
        bar_start: BeatTime::from_int(0),
        bar_number: 0,
        time_signature_numerator: 4,
        time_signature_denominator: 4,
    }
}

/// A part of the session: `seconds` of `audio` while the transport is as given.
struct Part {
    audio: Vec<f32>,
    playing: bool,
    /// Song position at the part's start, seconds.
    from_seconds: f64,
}

/// Plays the parts one after another (mono, blocks of `BLOCK`) from activate to deactivate,
/// the host reporting the transport with every block. Returns the output.
fn play_session(instance: &mut PluginInstance<TestHost>, parts: &[Part]) -> Vec<f32> {
    select_layout(instance, 1);
    let config = PluginAudioConfiguration { sample_rate: RATE_HZ as f64, min_frames_count: 1, max_frames_count: BLOCK as u32 };
    let processor = instance.activate(|_, _| (), config).expect("activate");
    let mut processor = processor.start_processing().expect("start processing");
    let events = EventBuffer::with_capacity(4);
    let mut input = vec![0.0f32; BLOCK];
    let mut output = vec![0.0f32; BLOCK];
    let mut result = Vec::new();
    let mut in_ports = AudioPorts::with_capacity(1, 1);
    let mut out_ports = AudioPorts::with_capacity(1, 1);
    for part in parts {
        for (k, block) in part.audio.chunks(BLOCK).enumerate() {
            let len = block.len();
            // A stopped transport stays where it is; a playing one moves on.
            let position = part.from_seconds + if part.playing { (k * BLOCK) as f64 / RATE_HZ as f64 } else { 0.0 };
            let transport = transport(part.playing, position);
            input[..len].copy_from_slice(block);
            let in_buffers = in_ports.with_input_buffers([AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_input_only([InputChannel::variable(&mut input[..len])]),
            }]);
            let mut out_buffers = out_ports.with_output_buffers([AudioPortBuffer {
                latency: 0,
                channels: AudioPortBufferType::f32_output_only([&mut output[..len]]),
            }]);
            processor
                .process(&in_buffers, &mut out_buffers, &events.as_input(), &mut OutputEvents::void(), None, Some(&transport))
                .expect("process");
            result.extend_from_slice(&output[..len]);
        }
    }
    let processor = processor.stop_processing();
    instance.deactivate(processor);
    result
}

fn instance_with(entry: &PluginEntry, only_while_playing: bool, reset_at_song_start: bool) -> PluginInstance<TestHost> {
    let mut instance = new_instance(entry);
    let mut state = state_json(&mut instance);
    state["params"]["only_playing"] = serde_json::json!({ "bool": only_while_playing });
    state["params"]["reset_at_start"] = serde_json::json!({ "bool": reset_at_song_start });
    load_state_json(&mut instance, &state);
    instance
}

fn noise(seconds: f64, seed: u64) -> Vec<f32> {
    let mut noise = Noise::new(seed);
    (0..(seconds * RATE_HZ as f64) as usize).map(|_| noise.next() * 0.5).collect()
}

fn music(seconds: f64) -> Vec<f32> {
    let (left, right) = music_clip(RATE_HZ, seconds);
    downmix(&left, &right)
}

fn assert_close(plugin: &[f32], engine: &[f32], what: &str) {
    assert_eq!(plugin.len(), engine.len(), "{what}: label count");
    let worst = plugin.iter().zip(engine).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "{what}: the plugin's verdict differs from the engine's on the same audio by {worst}");
}

#[test]
fn only_while_playing_analyses_the_playing_parts_and_nothing_else() {
    let entry = load_entry();
    let mut instance = instance_with(&entry, true, false);
    // Noodling with the transport stopped, then the song (music) played from bar 5.
    let parts = [
        Part { audio: noise(3.0, 3), playing: false, from_seconds: 8.0 },
        Part { audio: music(6.0), playing: true, from_seconds: 8.0 },
        Part { audio: noise(2.0, 4), playing: false, from_seconds: 14.0 },
    ];
    let input: Vec<f32> = parts.iter().flat_map(|p| p.audio.iter().copied()).collect();
    let output = play_session(&mut instance, &parts);
    assert_bit_exact(&[input], &[output], "audio while the transport starts and stops");
    let verdict = verdict(&mut instance);
    let seconds = verdict["analysed_seconds"].as_f64().unwrap();
    assert!((seconds - 6.0).abs() < 1e-6, "only the 6 s played were analysed, not {seconds} s");
    assert_eq!(verdict["dropped_samples"], 0);
    assert_close(&f32s(&verdict["probabilities"]), &engine_probabilities(&parts[1].audio, RATE_HZ), "the played part");
}

#[test]
fn playback_from_the_song_start_resets_the_whole_piece_verdict() {
    let entry = load_entry();
    // A take from the middle of the song, a pause, then the song from its start. (Sessions
    // stay under the 8 s queue: the test plays faster than real time.)
    let parts = || {
        [
            Part { audio: noise(2.0, 5), playing: true, from_seconds: 30.0 },
            Part { audio: noise(0.5, 6), playing: false, from_seconds: 32.0 },
            Part { audio: music(5.0), playing: true, from_seconds: 0.0 },
        ]
    };
    let mut resetting = instance_with(&entry, false, true);
    play_session(&mut resetting, &parts());
    let verdict = verdict(&mut resetting);
    let seconds = verdict["analysed_seconds"].as_f64().unwrap();
    assert!((seconds - 5.0).abs() < 1e-6, "the verdict is the song's 5 s from its start, not {seconds} s");
    assert_eq!(verdict["dropped_samples"], 0);
    assert_close(&f32s(&verdict["probabilities"]), &engine_probabilities(&parts()[2].audio, RATE_HZ), "the song");

    // With the option off, the verdict keeps everything heard (7.5 s).
    let mut keeping = instance_with(&entry, false, false);
    play_session(&mut keeping, &parts());
    let seconds = verdict_seconds(&mut keeping);
    assert!((seconds - 7.5).abs() < 1e-6, "without the reset everything counts, not {seconds} s");

    // Playback that starts in the middle of the song does not reset.
    let mut mid_song = instance_with(&entry, false, true);
    let parts = [
        Part { audio: noise(2.0, 5), playing: true, from_seconds: 30.0 },
        Part { audio: noise(0.5, 6), playing: false, from_seconds: 32.0 },
        Part { audio: music(5.0), playing: true, from_seconds: 32.0 },
    ];
    play_session(&mut mid_song, &parts);
    let seconds = verdict_seconds(&mut mid_song);
    assert!((seconds - 7.5).abs() < 1e-6, "a start mid-song keeps the verdict, not {seconds} s");
}

fn verdict_seconds(instance: &mut PluginInstance<TestHost>) -> f64 {
    verdict(instance)["analysed_seconds"].as_f64().unwrap()
}
