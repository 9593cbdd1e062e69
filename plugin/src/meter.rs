//! What the worker shows the editor: a fixed-size snapshot passed through a triple buffer,
//! plus a few atomics and a rarely written status record.
//!
//! Writers and readers:
//! - [`MeterSnapshot`]: written by the worker after every analysis window (triple-buffer
//!   input), read by the editor every frame (triple-buffer output). Never blocks either side.
//! - [`MeterStatus`] atomics: `dropped_samples` is written by the audio thread, the rest by
//!   the worker; all are read by the editor.
//! - [`MeterStatus::text`]: a mutex written by the worker when the model, the catalogue or an
//!   error changes, read by the editor with `try_lock`. The audio thread never touches it.
//! - [`MeterStatus`] requests: set by the editor, taken (swapped off) by the worker.
//! - [`MeterStatus::gate`]: written by the audio thread, read by the worker and the editor.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use atomic_float::AtomicF32;

/// Most labels a model may have for the meter (YAMNet has 521).
pub const MAX_LABELS: usize = 1024;
/// Windows kept in the history strip: as many as the timeline keeps, so the strip scrolls
/// back over every window the export would write (2 hours at the shortest hop, 0.5 s).
pub const HISTORY_WINDOWS: usize = crate::worker::TIMELINE_MAX_WINDOWS;
/// History entry of a silent window.
pub const HISTORY_SILENT: u16 = u16::MAX;

/// One picture of the meter. Plain arrays, so that publishing never allocates.
#[derive(Clone)]
pub struct MeterSnapshot {
    /// Bumped on every publish; 0 means nothing was analysed yet.
    pub sequence: u64,
    /// Valid entries in the label arrays.
    pub label_count: usize,
    /// Live meter: per-label probabilities smoothed over the response time.
    pub smoothed: [f32; MAX_LABELS],
    /// The latest window was silent (live bars then fall towards zero).
    pub silent: bool,
    /// Whole-piece mean per label since the last reset; valid when `verdict_windows > 0`.
    pub verdict: [f32; MAX_LABELS],
    pub verdict_windows: u64,
    pub verdict_silent_windows: u64,
    /// Seconds of host audio analysed since the last reset.
    pub analysed_seconds: f64,
    /// Hop between history entries, seconds.
    pub hop_seconds: f32,
    /// Strongest label per window, oldest first; [`HISTORY_SILENT`] for silence.
    pub history_label: [u16; HISTORY_WINDOWS],
    /// Probability of that label, 0-255.
    pub history_confidence: [u8; HISTORY_WINDOWS],
    pub history_len: usize,
}

impl Default for MeterSnapshot {
    fn default() -> Self {
        Self {
            sequence: 0,
            label_count: 0,
            smoothed: [0.0; MAX_LABELS],
            silent: true,
            verdict: [0.0; MAX_LABELS],
            verdict_windows: 0,
            verdict_silent_windows: 0,
            analysed_seconds: 0.0,
            hop_seconds: 1.0,
            history_label: [HISTORY_SILENT; HISTORY_WINDOWS],
            history_confidence: [0; HISTORY_WINDOWS],
            history_len: 0,
        }
    }
}

impl MeterSnapshot {
    /// Appends a window to the history strip, forgetting the oldest when full.
    pub fn push_history(&mut self, label: u16, confidence: f32) {
        if self.history_len == HISTORY_WINDOWS {
            self.history_label.copy_within(1.., 0);
            self.history_confidence.copy_within(1.., 0);
            self.history_len -= 1;
        }
        self.history_label[self.history_len] = label;
        self.history_confidence[self.history_len] = (confidence.clamp(0.0, 1.0) * 255.0).round() as u8;
        self.history_len += 1;
    }
}

/// Model information and problems, in words (see the module doc for who writes it).
#[derive(Debug, Clone, Default)]
pub struct StatusText {
    /// Name of the model in use (or being loaded).
    pub model_name: String,
    /// Its title for display.
    pub model_title: String,
    /// Labels in the model's output order.
    pub labels: Vec<String>,
    /// Indices of the genre labels (all labels when the model names no genre subset).
    pub genre_indices: Vec<usize>,
    /// Models that can be chosen: (name, title).
    pub catalogue: Vec<(String, String)>,
    /// What is wrong and how to fix it; empty when all is well.
    pub error: String,
    /// Latest informational message (where an export went).
    pub notice: String,
}

/// Counters, figures and requests shared by the audio thread, the worker and the editor.
#[derive(Debug, Default)]
pub struct MeterStatus {
    /// Host samples (frames) dropped because the queue to the worker was full.
    pub dropped_samples: AtomicU64,
    /// Host sample rate of the running stream, Hz (0 while inactive).
    pub sample_rate_hz: AtomicU32,
    /// Mean wall-clock milliseconds of one model inference.
    pub inference_ms: AtomicF32,
    /// Share of one core the worker spent busy over the last seconds, 0-1.
    pub worker_cpu_share: AtomicF32,
    /// The model is loaded and analysing.
    pub model_ready: AtomicBool,
    /// Editor asks: forget the verdict, the timeline and the history.
    pub reset_requested: AtomicBool,
    /// Editor asks: write the timeline to the export folder.
    pub export_requested: AtomicBool,
    /// Bypass and transport: written by the audio thread, read by the worker and the editor
    /// (see `transport.rs`).
    pub gate: crate::transport::StreamGate,
    pub text: Mutex<StatusText>,
}

impl MeterStatus {
    /// Called by the audio thread: wait-free.
    #[inline]
    pub fn count_dropped(&self, frames: usize) {
        self.dropped_samples.fetch_add(frames as u64, Ordering::Relaxed);
    }
}
