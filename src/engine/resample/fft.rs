//! `resampler = "fft"`: rubato's FFT resampler (fixed ratio, band-limited, flat to close to
//! the output's Nyquist frequency); its delay is removed so that output sample `n` lines up
//! with input time `n / rate_out`. The engine's resampler before the models declared theirs;
//! kept for manifests that ask for it.

use rubato::{FftFixedIn, Resampler as _};

/// Output frames per resampler call (64 ms at 16 kHz). The FFT resampler's anti-alias
/// filter is as long as its FFTs, so the chunk is sized on the output side: a fixed input
/// chunk would leave very short filters at high input rates (384 kHz → 16 kHz).
const CHUNK_OUT_FRAMES: usize = 1024;

pub struct FftResampler {
    inner: Option<FftFixedIn<f32>>,
    rate_in: u32,
    rate_out: u32,
    chunk_frames: usize,
    pending: Vec<f32>,
    out_buf: Vec<Vec<f32>>,
    /// Output samples still to drop to undo the resampler's delay.
    delay_left: usize,
    frames_in: u64,
    frames_out: u64,
}

impl FftResampler {
    /// A resampler from `rate_in` to `rate_out` (identity when they are equal).
    pub fn new(rate_in: u32, rate_out: u32) -> Self {
        let chunk_frames = (CHUNK_OUT_FRAMES as u64 * rate_in as u64).div_ceil(rate_out as u64) as usize;
        let inner = (rate_in != rate_out).then(|| {
            FftFixedIn::<f32>::new(rate_in as usize, rate_out as usize, chunk_frames, 1, 1)
                .expect("sample rates are positive and validated by the caller")
        });
        let delay_left = inner.as_ref().map_or(0, |r| r.output_delay());
        let out_buf = vec![vec![0.0; inner.as_ref().map_or(0, |r| r.output_frames_max())]];
        Self {
            inner,
            rate_in,
            rate_out,
            chunk_frames,
            pending: Vec::with_capacity(chunk_frames),
            out_buf,
            delay_left,
            frames_in: 0,
            frames_out: 0,
        }
    }

    /// Forgets the stream, as for a new one, keeping the FFT plans and filter.
    pub fn reset(&mut self) {
        if let Some(r) = self.inner.as_mut() {
            r.reset();
        }
        self.pending.clear();
        self.delay_left = self.inner.as_ref().map_or(0, |r| r.output_delay());
        self.frames_in = 0;
        self.frames_out = 0;
    }

    pub fn rate_in(&self) -> u32 {
        self.rate_in
    }

    pub fn rate_out(&self) -> u32 {
        self.rate_out
    }

    /// Resamples `input`, appending the output to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.frames_in += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.frames_out += input.len() as u64;
            return;
        }
        let mut rest = input;
        while !rest.is_empty() {
            let need = self.chunk_frames - self.pending.len();
            let take = need.min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.chunk_frames {
                self.process_pending(out);
            }
        }
    }

    fn process_pending(&mut self, out: &mut Vec<f32>) {
        let resampler = self.inner.as_mut().expect("only called when resampling");
        let (_, produced) = resampler
            .process_into_buffer(&[&self.pending[..]], &mut self.out_buf, None)
            .expect("buffers are sized by the resampler");
        self.pending.clear();
        let produced = &self.out_buf[0][..produced];
        let skip = self.delay_left.min(produced.len());
        self.delay_left -= skip;
        out.extend_from_slice(&produced[skip..]);
        self.frames_out += (produced.len() - skip) as u64;
    }

    /// Flushes the tail; the total output is the input length times the rate ratio.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.inner.is_none() {
            return;
        }
        let expected = (self.frames_in as f64 * self.rate_out as f64 / self.rate_in as f64).round() as u64;
        // Feed zeros until the delayed tail has come out.
        let mut guard = 0;
        while self.frames_out < expected && guard < 64 {
            self.pending.resize(self.chunk_frames, 0.0);
            let before = out.len();
            self.process_pending(out);
            let over = self.frames_out.saturating_sub(expected) as usize;
            out.truncate(out.len() - over.min(out.len() - before));
            self.frames_out -= over as u64;
            guard += 1;
        }
    }
}
