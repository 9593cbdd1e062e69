//! Bypass and the host transport, read on the audio thread and handed to the worker by
//! atomics.
//!
//! While the analysis is gated off (bypassed, or the transport stopped with *Only while
//! playing*), the audio thread queues nothing. When it opens again, the audio thread marks
//! where the new stream starts in the queue, and whether the whole-piece verdict is to be
//! reset there (playback started at the song's start, with *Reset at song start*). The
//! worker ends the old stream at that frame, so audio from before and after a pause is
//! never stitched into one window.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nice_plug::prelude::Transport;

/// Playback that starts at most this far into the song counts as starting at its start
/// (hosts with pre-roll report slightly negative positions, some start a block late).
pub const SONG_START_TOLERANCE_SECONDS: f64 = 0.05;

/// Shared by the audio thread (writes), the worker and the editor (read).
#[derive(Debug, Default)]
pub struct StreamGate {
    /// The audio thread queued the latest block. Written after each block (Release, after
    /// the push), read by the worker before it looks at the queue (Acquire): when false,
    /// every frame of the stream that ended is visible to it.
    analysing: AtomicBool,
    /// The host reports a playing transport (or reports none). For the editor.
    host_playing: AtomicBool,
    /// Latest stream start since activation: `(queued frame index + 1) << 1 | reset`, 0 for
    /// none. Written before the stream's first frame is pushed, so a worker that sees that
    /// frame in the queue sees the mark too.
    mark: AtomicU64,
}

impl StreamGate {
    /// Called on the main thread in `activate`, while no audio runs.
    pub fn restart(&self) {
        self.mark.store(0, Ordering::Relaxed);
        self.analysing.store(true, Ordering::Relaxed);
        self.host_playing.store(true, Ordering::Relaxed);
    }

    pub fn analysing(&self) -> bool {
        self.analysing.load(Ordering::Acquire)
    }

    pub fn host_playing(&self) -> bool {
        self.host_playing.load(Ordering::Relaxed)
    }
}

/// The parameters the audio thread reads for the gate (atomic loads).
#[derive(Debug, Clone, Copy)]
pub struct GateSettings {
    pub bypassed: bool,
    pub only_while_playing: bool,
    pub reset_at_song_start: bool,
}

/// The audio thread's memory of the previous block.
#[derive(Debug)]
pub struct AudioGate {
    analysing: bool,
    was_playing: bool,
}

impl Default for AudioGate {
    fn default() -> Self {
        // A new activation starts a new stream anyway: no mark is needed for the first block
        // unless playback starts at the song's start there.
        Self { analysing: true, was_playing: false }
    }
}

impl AudioGate {
    /// Decides whether this block is queued; `queued_frames` is the number of frames queued
    /// since activation. Wait-free: a few loads and stores.
    #[inline]
    pub fn open(&mut self, gate: &StreamGate, settings: GateSettings, transport: &Transport, queued_frames: u64) -> bool {
        let position_seconds = transport.pos_seconds();
        // A host that reports no transport at all (a live setup) counts as playing. (CLAP:
        // nice-plug sets `preroll_active` exactly when the host sent transport information.)
        let reports_transport = transport.playing
            || transport.preroll_active.is_some()
            || transport.pos_samples().is_some()
            || transport.pos_beats().is_some();
        let playing = transport.playing || !reports_transport;
        let analyse = !settings.bypassed && (!settings.only_while_playing || playing);
        let started = transport.playing && !self.was_playing;
        let at_song_start = position_seconds.is_some_and(|s| s <= SONG_START_TOLERANCE_SECONDS);
        let reset = analyse && started && at_song_start && settings.reset_at_song_start;
        if analyse && (!self.analysing || reset) {
            gate.mark.store(((queued_frames + 1) << 1) | reset as u64, Ordering::Release);
        }
        self.analysing = analyse;
        self.was_playing = transport.playing;
        gate.host_playing.store(playing, Ordering::Relaxed);
        analyse
    }

    /// Called after the block was (or was not) queued.
    #[inline]
    pub fn publish(&self, gate: &StreamGate) {
        gate.analysing.store(self.analysing, Ordering::Release);
    }
}

/// Where a new stream starts in the queue, as the worker reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamStart {
    /// Frames since activation before the new stream's first frame.
    pub at_frame: u64,
    pub reset_verdict: bool,
}

/// The worker's side: which mark it has acted on.
#[derive(Debug, Default)]
pub struct StreamMarks {
    seen: u64,
}

impl StreamMarks {
    /// The stream start among the `available` frames after `consumed`, if one is new. Read
    /// after the queue's fill level, so a start inside the visible frames is never missed;
    /// of two starts within one poll (100 ms) only the later is seen.
    pub fn next(&mut self, gate: &StreamGate, consumed: u64, available: u64) -> Option<StreamStart> {
        let mark = gate.mark.load(Ordering::Acquire);
        if mark == 0 || mark == self.seen {
            return None;
        }
        let at_frame = ((mark >> 1) - 1).clamp(consumed, consumed + available);
        self.seen = mark;
        Some(StreamStart { at_frame, reset_verdict: mark & 1 == 1 })
    }
}
