//! Activation cycles and instance cycles leak neither threads nor memory: every worker
//! thread is joined, every queue freed. Runs in its own process (nextest), so the thread
//! count is this test's alone.

mod common;

use common::*;

/// Allowed resident-memory growth over all cycles.
const RSS_GROWTH_LIMIT_BYTES: u64 = 1 << 20;

#[test]
fn activation_and_instance_cycles_leak_no_threads_or_memory() {
    let entry = load_entry();
    let silence = vec![vec![0.0f32; 512]; 2];
    let (music, _) = music_clip(48_000, 0.5);

    // Warm up: the runtime, the model and the allocator's pools settle in.
    {
        let mut instance = new_instance(&entry);
        for _ in 0..20 {
            play(&mut instance, 48_000.0, 512, &silence);
        }
    }
    for _ in 0..5 {
        let mut instance = new_instance(&entry);
        play(&mut instance, 44_100.0, 64, &[music.clone()]);
    }
    let threads_before = thread_count();
    let rss_before = rss_bytes();

    // 1000 activate/deactivate cycles of one instance, changing the sample rate as hosts do.
    let mut instance = new_instance(&entry);
    for cycle in 0..1000 {
        let rate = [44_100.0, 48_000.0, 96_000.0][cycle % 3];
        play(&mut instance, rate, 512, &silence);
        if cycle % 100 == 0 {
            play(&mut instance, 48_000.0, 64, &[music.clone()]);
        }
    }
    let verdict = verdict(&mut instance);
    assert!(verdict["windows"].as_u64().unwrap() >= 10, "the music in between was analysed: {verdict}");
    drop(instance);
    assert_eq!(thread_count(), threads_before, "threads after 1000 activation cycles");

    // 100 create/destroy cycles, each instance activated and playing.
    for cycle in 0..100 {
        let mut instance = new_instance(&entry);
        if cycle % 2 == 0 {
            play(&mut instance, 48_000.0, 512, &silence);
        }
    }
    assert_eq!(thread_count(), threads_before, "threads after 100 instance cycles");
    let growth = rss_bytes().saturating_sub(rss_before);
    eprintln!("threads {threads_before} before and after; resident memory growth {growth} bytes");
    assert!(growth < RSS_GROWTH_LIMIT_BYTES, "resident memory grew by {growth} bytes");
}
