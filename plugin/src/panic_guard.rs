//! A panic in the analysis (the model runtime, the engine, a dependency) must not reach the
//! host: the worker catches it, turns the meter off with the reason in the editor, and the
//! audio keeps passing (the audio thread never waits for the worker).

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`; a panic comes back as its message.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| panic_message(panic.as_ref()))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Fault injection for the tests, in debug builds only (the tests' build): the analysis
/// panics once a stream holds this many seconds of audio, as a model runtime or decoder bug
/// would. Set by `GENRE_METER_TEST_WORKER_PANIC_AFTER_SECONDS=<s>` (read once) or
/// [`inject_fault_after_seconds`].
#[cfg(debug_assertions)]
static FAULT_AFTER_SECONDS: std::sync::OnceLock<Option<f64>> = std::sync::OnceLock::new();

#[cfg(debug_assertions)]
pub fn inject_fault_after_seconds(seconds: f64) {
    let _ = FAULT_AFTER_SECONDS.set(Some(seconds));
}

#[cfg(debug_assertions)]
pub fn test_fault(stream_frames: u64, sample_rate_hz: u32) {
    let after = FAULT_AFTER_SECONDS.get_or_init(|| {
        std::env::var("GENRE_METER_TEST_WORKER_PANIC_AFTER_SECONDS").ok().and_then(|v| v.parse().ok())
    });
    if let Some(after) = *after
        && stream_frames as f64 >= after * sample_rate_hz as f64
    {
        panic!("injected analysis fault after {after} s (GENRE_METER_TEST_WORKER_PANIC_AFTER_SECONDS)");
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn test_fault(_stream_frames: u64, _sample_rate_hz: u32) {}

#[cfg(all(test, debug_assertions))]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::{Arc, PoisonError};

    use triple_buffer::TripleBuffer;

    use crate::meter::{MeterSnapshot, MeterStatus};
    use crate::params::GenreMeterParams;
    use crate::worker::{Carry, Worker};

    #[test]
    fn a_panic_in_the_analysis_turns_the_meter_off_with_the_reason_and_the_worker_carries_on() {
        super::inject_fault_after_seconds(1.0);
        let status = Arc::new(MeterStatus::default());
        let params = Arc::new(GenreMeterParams::default());
        let (input, _output) = TripleBuffer::new(&MeterSnapshot::default()).split();
        let (mut capture, queue) = crate::capture::queue(16_000.0, status.clone());
        let worker = Worker::start(Carry::new(input), queue, 16_000, params.clone(), status.clone());
        // A tenth of a second at a time, twice as fast as real time.
        let tone: Vec<f32> = (0..1_600).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let crashed = || status.text.lock().unwrap_or_else(PoisonError::into_inner).error.contains("crashed");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !crashed() && std::time::Instant::now() < deadline {
            capture.push(&[&tone]);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        // Audio keeps coming after the panic: the worker still drains the queue.
        for _ in 0..40 {
            capture.push(&[&tone]);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let error = status.text.lock().unwrap_or_else(PoisonError::into_inner).error.clone();
        assert!(error.contains("the analysis crashed (injected analysis fault"), "the editor's error line: {error:?}");
        assert!(error.contains("press Reset"), "says what to do: {error:?}");
        assert!(!status.model_ready.load(Ordering::Acquire), "the meter is off");
        assert_eq!(status.dropped_samples.load(Ordering::Relaxed), 0, "the queue is still drained after the panic");
        // Stopping joins the thread without a panic reaching the caller (the host).
        let _carry = worker.stop();
    }
}
