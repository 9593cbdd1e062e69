//! Every parameter and persisted field survives a save in one instance and a load in
//! another, as when a project is reopened.

mod common;

use common::*;
use serde_json::json;

#[test]
fn state_round_trips_every_parameter() {
    let entry = load_entry();
    let mut first = new_instance(&entry);
    // A verdict to carry over.
    let (music, _) = music_clip(48_000, 4.0);
    play(&mut first, 48_000.0, 512, &[music]);

    let mut state = state_json(&mut first);
    let defaults = state["params"].clone();
    let changed = json!({
        "response": {"f32": 7.5},
        "hop": {"f32": 2.0},
        "order": {"string": "sorted"},
        "all_labels": {"bool": true},
        "history": {"i32": 5},
        // Bypassed, the verdict could not carry on below; `bypass` tests it.
        "bypass": {"bool": false},
        // Without a transport from the host, the plugin counts as playing.
        "only_playing": {"bool": true},
        "reset_at_start": {"bool": false},
    });
    let names: Vec<&String> = defaults.as_object().unwrap().keys().collect();
    let mut expected_names: Vec<&String> = changed.as_object().unwrap().keys().collect();
    expected_names.sort();
    assert_eq!(names, expected_names, "the test covers every parameter");
    assert_ne!(defaults, changed);
    state["params"] = changed.clone();
    let mut second = new_instance(&entry);
    load_state_json(&mut second, &state);
    let restored = state_json(&mut second);
    assert_eq!(restored["params"], changed, "parameters");
    assert_eq!(restored["fields"], state["fields"], "model and verdict");

    // And the restored instance runs with them: the verdict carries on.
    let verdict_before = verdict(&mut second);
    let (music, _) = music_clip(48_000, 4.0);
    play(&mut second, 48_000.0, 512, &[music]);
    let verdict_after = verdict(&mut second);
    assert!(
        verdict_after["windows"].as_u64() > verdict_before["windows"].as_u64(),
        "verdict carried on and grew: before {verdict_before}, after {verdict_after}"
    );
    assert_eq!(restored["params"], state_json(&mut second)["params"]);
}

#[test]
fn a_model_that_cannot_load_leaves_audio_passing() {
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let mut state = state_json(&mut instance);
    state["fields"]["model"] = json!(serde_json::to_string("no-such-model").unwrap());
    load_state_json(&mut instance, &state);
    let (left, right) = music_clip(48_000, 2.0);
    let layout = vec![left, right];
    let output = play(&mut instance, 48_000.0, 256, &layout);
    assert_bit_exact(&layout, &output, "without a model");
    assert_eq!(verdict(&mut instance)["windows"], 0);
}
