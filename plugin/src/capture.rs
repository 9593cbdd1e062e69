//! The audio thread's whole job: unless bypassed or gated by the transport, downmix the
//! block to mono and push it into the queue to the worker. No allocation, lock, syscall,
//! logging or waiting; the audio is not touched.

use std::sync::Arc;

use rtrb::{Consumer, Producer, RingBuffer};

use nice_plug::prelude::Transport;

use crate::meter::MeterStatus;
use crate::transport::{AudioGate, GateSettings};

/// Seconds of host audio the queue holds: the worker may fall this far behind (while a
/// model loads, or on a busy machine) before samples are dropped.
pub const QUEUE_SECONDS: f64 = 8.0;

/// Audio-thread end of the queue.
pub struct Capture {
    queue: Producer<f32>,
    status: Arc<MeterStatus>,
    gate: AudioGate,
    /// Frames queued since activation (the worker counts the same frames it reads).
    queued_frames: u64,
}

/// Creates the queue for a stream at `sample_rate_hz` (main thread, in `activate`).
pub fn queue(sample_rate_hz: f32, status: Arc<MeterStatus>) -> (Capture, Consumer<f32>) {
    let capacity = (sample_rate_hz as f64 * QUEUE_SECONDS).ceil() as usize;
    let (queue, consumer) = RingBuffer::new(capacity.max(1));
    status.gate.restart();
    (Capture { queue, status, gate: AudioGate::default(), queued_frames: 0 }, consumer)
}

impl Capture {
    /// One host block: queued when the gate (bypass, transport) is open.
    #[inline]
    pub fn block<C: AsRef<[f32]>>(&mut self, channels: &[C], settings: GateSettings, transport: &Transport) {
        if self.gate.open(&self.status.gate, settings, transport, self.queued_frames) {
            self.queued_frames += self.push(channels) as u64;
        }
        self.gate.publish(&self.status.gate);
    }

    /// Pushes the mono mix of `channels` (all the same length). What does not fit is
    /// dropped and counted. Returns the frames queued.
    #[inline]
    pub fn push<C: AsRef<[f32]>>(&mut self, channels: &[C]) -> usize {
        let Some(first) = channels.first() else { return 0 };
        let frames = first.as_ref().len();
        let fits = frames.min(self.queue.slots());
        if fits < frames {
            self.status.count_dropped(frames - fits);
        }
        let Ok(chunk) = self.queue.write_chunk_uninit(fits) else { return 0 };
        match channels {
            [mono] => chunk.fill_from_iter(mono.as_ref().iter().copied()),
            [left, right] => {
                let (left, right) = (left.as_ref(), right.as_ref());
                chunk.fill_from_iter(left.iter().zip(right).map(|(l, r)| (l + r) * 0.5))
            }
            _ => {
                // Same mix as the CLI's decoder: the sum of the channels over their count.
                let scale = 1.0 / channels.len() as f32;
                chunk.fill_from_iter(
                    (0..fits).map(|i| channels.iter().map(|c| c.as_ref()[i]).sum::<f32>() * scale),
                )
            }
        }
    }
}
