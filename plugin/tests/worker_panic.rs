//! A panic inside the analysis (a model runtime or decoder bug, injected here through the
//! debug build's fault hook) never reaches the host: audio passes bit for bit on, the host
//! deactivates, reactivates and destroys the plugin as usual, and nothing more is classified.
//! (The editor's message is checked in `panic_guard`'s unit test.)

mod common;

use common::*;

#[test]
fn a_panic_in_the_analysis_does_not_reach_the_host_and_audio_keeps_passing() {
    // SAFETY: nextest runs each test in its own process; the plugin is not loaded yet and no
    // other thread reads the environment.
    unsafe { std::env::set_var("GENRE_METER_TEST_WORKER_PANIC_AFTER_SECONDS", "1") };
    let entry = load_entry();
    let mut instance = new_instance(&entry);
    let (left, right) = music_clip(48_000, 6.0);
    let layout = [left, right];
    for round in 0..2 {
        let output = play(&mut instance, 48_000.0, 512, &layout);
        assert_bit_exact(&layout, &output, &format!("round {round}, the analysis having panicked"));
        let verdict = verdict(&mut instance);
        assert_eq!(verdict["windows"], 0, "round {round}: the first window (2.99 s) never completed: {verdict}");
    }
    drop(instance);
}
