//! Keeping one file's trouble to that file: a panic (ours or a dependency's, e.g. a decoder's
//! on a damaged header) becomes that file's error, and a file whose decoding stops making
//! progress is given up by a watchdog. Used by every per-file command through
//! [`super::batch::for_each_file`]; [`isolate`] alone serves callers without a pool.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::time::{Duration, Instant};

use super::error::FileFailure;

/// Environment variable that sets the watchdog's limit in seconds (tests use a small one).
pub const STALL_SECONDS_ENV: &str = "GENRE_METER_STALL_SECONDS";
/// Default limit: a file whose decoding makes no progress for this long is given up. Far above
/// any real file's time per chunk (a few ms) even on a loaded machine or a slow network share.
pub const DEFAULT_STALL_SECONDS: f64 = 60.0;
/// Environment variable that, when set, lets isolated panics print the usual panic message
/// (and backtrace) as well, for debugging a crashing file.
pub const PANIC_DETAILS_ENV: &str = "GENRE_METER_PANIC_DETAILS";

/// The per-file watchdog's limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Watchdog {
    /// Longest time without decoding progress before a file is given up.
    pub stall_seconds: f64,
}

impl Watchdog {
    /// The limit from `GENRE_METER_STALL_SECONDS`, else [`DEFAULT_STALL_SECONDS`].
    pub fn from_env() -> Self {
        let stall_seconds = std::env::var(STALL_SECONDS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
            .unwrap_or(DEFAULT_STALL_SECONDS);
        Self { stall_seconds }
    }

    pub(crate) fn limit(&self) -> Duration {
        Duration::from_secs_f64(self.stall_seconds.clamp(0.001, 1e9))
    }
}

impl Default for Watchdog {
    fn default() -> Self {
        Self { stall_seconds: DEFAULT_STALL_SECONDS }
    }
}

/// What one worker thread of a pool is doing, shared with the pool's supervisor.
#[derive(Debug)]
pub(crate) struct Lane {
    state: Mutex<LaneState>,
}

#[derive(Debug)]
pub(crate) struct LaneState {
    /// Index of the file being worked on.
    pub current: Option<usize>,
    pub last_progress: Instant,
    /// Given up by the supervisor: the thread must not report or take more files.
    pub abandoned: bool,
}

impl Lane {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self { state: Mutex::new(LaneState { current: None, last_progress: Instant::now(), abandoned: false }) })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, LaneState> {
        // The state is three plain fields, valid whatever a panicking holder did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

thread_local! {
    static LANE: RefCell<Option<Arc<Lane>>> = const { RefCell::new(None) };
    static ISOLATION_DEPTH: Cell<usize> = const { Cell::new(0) };
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Makes `lane` the one [`note_progress`] reports to on this thread.
pub(crate) fn attach_lane(lane: Arc<Lane>) {
    LANE.with(|l| *l.borrow_mut() = Some(lane));
}

/// Tells the watchdog that the current file made progress (the decoder calls it for every
/// chunk of samples). Costs one uncontended lock; does nothing outside a pool.
pub fn note_progress() {
    LANE.with(|l| {
        if let Some(lane) = l.borrow().as_ref() {
            lane.lock().last_progress = Instant::now();
        }
    });
}

/// Whether the watchdog gave up the file this thread is working on (outside a pool: never).
/// Decoding loops check it so that a given-up thread stops as soon as control comes back.
pub fn abandoned() -> bool {
    LANE.with(|l| l.borrow().as_ref().is_some_and(|lane| lane.lock().abandoned))
}

/// Runs one file's work so that a panic in it becomes `FileFailure::Panicked` with the panic's
/// message and place, instead of unwinding into the caller. The panic is not printed (the
/// caller reports the file's error as one line), unless `GENRE_METER_PANIC_DETAILS` is set.
pub fn isolate<T, E: From<FileFailure>>(path: &Path, work: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    install_quiet_hook();
    ISOLATION_DEPTH.with(|d| d.set(d.get() + 1));
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(work));
    ISOLATION_DEPTH.with(|d| d.set(d.get() - 1));
    match outcome {
        Ok(result) => result,
        Err(payload) => {
            let reason = LAST_PANIC.with(|p| p.borrow_mut().take()).unwrap_or_else(|| payload_text(payload.as_ref()));
            Err(FileFailure::Panicked { path: path.to_path_buf(), reason }.into())
        }
    }
}

/// Installs (once per process) a panic hook that stays quiet for panics inside [`isolate`]
/// on the panicking thread and passes every other panic to the hook that was there before.
fn install_quiet_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        let details = std::env::var_os(PANIC_DETAILS_ENV).is_some();
        std::panic::set_hook(Box::new(move |info| {
            if ISOLATION_DEPTH.with(Cell::get) > 0 {
                let text = describe(info);
                LAST_PANIC.with(|p| *p.borrow_mut() = Some(text));
                if !details {
                    return;
                }
            }
            previous(info)
        }));
    });
}

fn describe(info: &PanicHookInfo<'_>) -> String {
    // One line: `assert_eq!` messages span three.
    let message = payload_text(info.payload()).split_whitespace().collect::<Vec<_>>().join(" ");
    match info.location() {
        Some(l) => format!("panic at {}:{}: {message}", short_source_path(l.file()).display(), l.line()),
        None => format!("panic: {message}"),
    }
}

/// `crate-x.y.z/src/file.rs` of a dependency's full registry path (the file names the crate
/// and its version); other paths as they are.
fn short_source_path(file: &str) -> PathBuf {
    let parts: Vec<_> = Path::new(file).components().collect();
    let is_crate_dir = |c: &std::path::Component| {
        let s = c.as_os_str().to_string_lossy();
        s.rsplit_once('-').is_some_and(|(_, v)| v.starts_with(|ch: char| ch.is_ascii_digit()) && v.contains('.'))
    };
    match (0..parts.len().saturating_sub(1)).rev().find(|&i| is_crate_dir(&parts[i]) && parts[i + 1].as_os_str() == "src") {
        Some(i) => parts[i..].iter().collect(),
        None => PathBuf::from(file),
    }
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}
