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

/// One row of the parameter table in `docs/plugin.md`.
struct DocRow {
    name: String,
    range: String,
    default: String,
}

fn documented_parameters() -> Vec<DocRow> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/plugin.md")).expect("docs/plugin.md");
    let mut rows = doc.lines().skip_while(|l| !l.starts_with("| Parameter | Range | Default |")).skip(2);
    std::iter::from_fn(|| rows.next().filter(|l| l.starts_with('|')))
        .map(|line| {
            let cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
            DocRow { name: cells[1].clone(), range: cells[2].clone(), default: cells[3].clone() }
        })
        .collect()
}

/// `"0.5-3 s"` → (0.5, 3.0, "s").
fn numeric_range(range: &str) -> Option<(f64, f64, String)> {
    let (span, unit) = range.split_once(' ')?;
    let (min, max) = span.split_once('-')?;
    Some((min.parse().ok()?, max.parse().ok()?, unit.to_string()))
}

/// The parameters the host sees are the ones `docs/plugin.md` lists, with the documented
/// ranges and defaults (numbers, units and the words of switches and choices).
#[test]
fn ranges_and_defaults_are_the_documented_ones() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let infos = param_infos(&mut instance);
    let rows = documented_parameters();
    let mut documented: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    let mut actual: Vec<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    documented.sort();
    actual.sort();
    assert_eq!(actual, documented, "the plugin's parameters are the documented ones");
    let handle = instance.plugin_handle();
    let params = handle.get_extension::<PluginParams>().unwrap();
    let text = |id: ClapId, value: f64| {
        let mut buffer = [0u8; 256];
        String::from_utf8_lossy(params.value_to_text(&handle, id, value, &mut buffer).expect("value to text")).into_owned()
    };
    for row in &rows {
        let info = infos.iter().find(|i| i.name == row.name).unwrap();
        match numeric_range(&row.range) {
            Some((min, max, unit)) => {
                // nice-plug gives hosts continuous parameters normalised to 0-1: read the plain
                // values as the host shows them ("30.0 s").
                let shown = |value: f64| -> f64 {
                    let t = text(info.id, value);
                    let number = t.strip_suffix(&format!(" {unit}")).unwrap_or_else(|| panic!("{}: {t:?} is in {unit}", row.name));
                    number.trim().parse().unwrap_or_else(|_| panic!("{}: {t:?}", row.name))
                };
                assert_eq!((shown(info.min), shown(info.max)), (min, max), "{}: range {}", row.name, row.range);
                let (default, default_unit) = row.default.split_once(' ').expect("a default with its unit");
                assert_eq!(default_unit, unit, "{}", row.name);
                assert_eq!(shown(info.default), default.parse::<f64>().unwrap(), "{}: default {}", row.name, row.default);
            }
            None => {
                // A switch or a choice: "on/off", "fixed / strongest first".
                let words: Vec<String> = row.range.split('/').map(|w| w.trim().to_lowercase()).collect();
                let shown: Vec<String> = [info.min, info.max].iter().map(|&v| text(info.id, v).to_lowercase()).collect();
                let mut words_sorted = words.clone();
                let mut shown_sorted = shown.clone();
                words_sorted.sort();
                shown_sorted.sort();
                assert_eq!(shown_sorted, words_sorted, "{}: choices {}", row.name, row.range);
                assert_eq!(text(info.id, info.default).to_lowercase(), row.default.to_lowercase(), "{}: default", row.name);
            }
        }
    }
}
