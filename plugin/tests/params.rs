//! Parameters through the CLAP params extension, as hosts and validators use them:
//! ranges, defaults and text conversion are consistent, and automating every parameter
//! while audio plays leaves the audio untouched and the meter sane.

mod common;

use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_host::events::event_types::ParamValueEvent;
use clack_host::prelude::*;
use common::*;

struct Info {
    id: ClapId,
    name: String,
    min: f64,
    max: f64,
    default: f64,
}

fn param_infos(instance: &mut PluginInstance<TestHost>) -> Vec<Info> {
    let handle = instance.plugin_handle();
    let params = handle.get_extension::<PluginParams>().expect("params extension");
    let mut buffer = ParamInfoBuffer::new();
    (0..params.count(&handle))
        .map(|i| {
            let info = params.get_info(&handle, i, &mut buffer).expect("param info");
            Info {
                id: info.id,
                name: String::from_utf8_lossy(info.name).into_owned(),
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
            }
        })
        .collect()
}

#[test]
fn parameters_are_consistent_and_convert_to_text_and_back() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let infos = param_infos(&mut instance);
    assert_eq!(infos.len(), 8, "bypass, only while playing, reset at song start, response, hop, bar order, all labels, history");
    let handle = instance.plugin_handle();
    let params = handle.get_extension::<PluginParams>().unwrap();
    for info in &infos {
        assert!(info.min < info.max, "{}: range", info.name);
        assert!((info.min..=info.max).contains(&info.default), "{}: default in range", info.name);
        let value = params.get_value(&handle, info.id).expect("value");
        assert_eq!(value, info.default, "{}: starts at its default", info.name);
        for probe in [info.min, info.default, info.max] {
            let mut text = [0u8; 256];
            let text = params.value_to_text(&handle, info.id, probe, &mut text).expect("value to text");
            let text = std::ffi::CString::new(text.to_vec()).unwrap();
            let back = params.text_to_value(&handle, info.id, &text).expect("text to value");
            assert!((back - probe).abs() <= (info.max - info.min) * 0.01, "{}: {probe} -> {text:?} -> {back}", info.name);
        }
    }
}

#[test]
fn automating_every_parameter_during_playback_never_touches_the_audio() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let infos = param_infos(&mut instance);
    let (left, right) = music_clip(48_000, 8.0);
    let layout = vec![left, right];
    let mut noise = Noise::new(11);
    let mut last = vec![None; infos.len()];
    let output = play_with_events(&mut instance, 48_000.0, 256, &layout, |block, frames, events| {
        if block % 5 != 0 {
            return;
        }
        for (k, info) in infos.iter().enumerate() {
            let unit = (noise.next() as f64 + 1.0) / 2.0;
            let value = info.min + unit * (info.max - info.min);
            let value = if info.name.contains("Response") || info.name.contains("hop") { value } else { value.round() };
            let time = ((unit * frames as f64) as u32).min(frames as u32 - 1);
            events.push(&ParamValueEvent::new(time, info.id, Pckn::match_all(), value));
            last[k] = Some(value);
        }
        events.sort();
    });
    assert_bit_exact(&layout, &output, "automated playback");
    let verdict = verdict(&mut instance);
    let probabilities = f32s(&verdict["probabilities"]);
    assert!(verdict["windows"].as_u64().unwrap() > 0);
    assert!(probabilities.iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)));
    let handle = instance.plugin_handle();
    let params = handle.get_extension::<PluginParams>().unwrap();
    for (info, last) in infos.iter().zip(last) {
        let value = params.get_value(&handle, info.id).unwrap();
        let expected = last.unwrap();
        assert!((value - expected).abs() <= (info.max - info.min) * 0.06, "{}: {value} after automating to {expected}", info.name);
    }
}
