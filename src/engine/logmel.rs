//! Streaming log-mel front-end: samples at the model's rate in, log-mel frames out.
//!
//! The FFT plan, window and filterbank are built once in [`LogMel::new`]; pushing audio
//! allocates only when the internal sample buffer has to grow.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex, num_complex::Complex};

use super::manifest::{Framing, FrontendConfig, LogCompression, MelNorm, MelScale, PadMode, WindowKind};

/// One mel band: a run of FFT bins and their weights.
#[derive(Debug, Clone)]
struct MelBand {
    first_bin: usize,
    weights: Vec<f32>,
}

/// Triangular mel filterbank, stored sparsely.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    bands: Vec<MelBand>,
}

fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 1127.0 * (1.0 + hz / 700.0).ln(),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let log_step = 6.4f64.ln() / 27.0;
            if hz >= min_log_hz { min_log_mel + (hz / min_log_hz).ln() / log_step } else { hz / f_sp }
        }
    }
}

fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * ((mel / 1127.0).exp() - 1.0),
        MelScale::Slaney => {
            let f_sp = 200.0 / 3.0;
            let min_log_hz = 1000.0;
            let min_log_mel = min_log_hz / f_sp;
            let log_step = 6.4f64.ln() / 27.0;
            if mel >= min_log_mel { min_log_hz * ((mel - min_log_mel) * log_step).exp() } else { mel * f_sp }
        }
    }
}

impl MelFilterbank {
    /// Builds the filterbank for `cfg`.
    ///
    /// Slaney scale: librosa's `filters.mel` (triangles in Hz between mel-spaced edges).
    /// HTK scale: TensorFlow's `linear_to_mel_weight_matrix` (triangles in mel, DC bin zero),
    /// as YAMNet's front-end uses.
    pub fn new(cfg: &FrontendConfig) -> Self {
        let n_bins = cfg.n_fft / 2 + 1;
        let sr = cfg.sample_rate_hz as f64;
        let mel_lo = hz_to_mel(cfg.f_min_hz as f64, cfg.mel_scale);
        let mel_hi = hz_to_mel(cfg.f_max_hz as f64, cfg.mel_scale);
        let edges_mel: Vec<f64> = (0..cfg.n_mels + 2)
            .map(|i| mel_lo + (mel_hi - mel_lo) * i as f64 / (cfg.n_mels + 1) as f64)
            .collect();
        let bin_hz = |k: usize| k as f64 * sr / cfg.n_fft as f64;
        let mut bands = Vec::with_capacity(cfg.n_mels);
        for m in 0..cfg.n_mels {
            let dense: Vec<f64> = match cfg.mel_scale {
                MelScale::Slaney => {
                    let edges_hz: Vec<f64> =
                        edges_mel[m..m + 3].iter().map(|&x| mel_to_hz(x, MelScale::Slaney)).collect();
                    let (lo, centre, hi) = (edges_hz[0], edges_hz[1], edges_hz[2]);
                    let norm = match cfg.mel_norm {
                        MelNorm::Slaney => 2.0 / (hi - lo),
                        MelNorm::None => 1.0,
                    };
                    (0..n_bins)
                        .map(|k| {
                            let f = bin_hz(k);
                            let up = (f - lo) / (centre - lo);
                            let down = (hi - f) / (hi - centre);
                            up.min(down).max(0.0) * norm
                        })
                        .collect()
                }
                MelScale::Htk => {
                    let (lo, centre, hi) = (edges_mel[m], edges_mel[m + 1], edges_mel[m + 2]);
                    (0..n_bins)
                        .map(|k| {
                            if k == 0 {
                                return 0.0;
                            }
                            let mel = hz_to_mel(bin_hz(k), MelScale::Htk);
                            let up = (mel - lo) / (centre - lo);
                            let down = (hi - mel) / (hi - centre);
                            let w = up.min(down).max(0.0);
                            match cfg.mel_norm {
                                MelNorm::Slaney => {
                                    w * 2.0 / (mel_to_hz(hi, MelScale::Htk) - mel_to_hz(lo, MelScale::Htk))
                                }
                                MelNorm::None => w,
                            }
                        })
                        .collect()
                }
            };
            let first = dense.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = dense.iter().rposition(|&w| w > 0.0).map_or(first, |l| l + 1);
            bands.push(MelBand { first_bin: first, weights: dense[first..last].iter().map(|&w| w as f32).collect() });
        }
        Self { bands }
    }

    pub fn n_mels(&self) -> usize {
        self.bands.len()
    }

    /// Dense `[n_mels][n_bins]` weights (for tests and inspection).
    pub fn dense(&self, n_bins: usize) -> Vec<Vec<f32>> {
        self.bands
            .iter()
            .map(|b| {
                let mut row = vec![0.0; n_bins];
                row[b.first_bin..b.first_bin + b.weights.len()].copy_from_slice(&b.weights);
                row
            })
            .collect()
    }

    fn apply(&self, spectrum: &[f32], out: &mut [f32]) {
        for (band, o) in self.bands.iter().zip(out.iter_mut()) {
            let bins = &spectrum[band.first_bin..band.first_bin + band.weights.len()];
            *o = dot(bins, &band.weights);
        }
    }
}

/// Streaming log-mel spectrogram with the parameters of one model's manifest.
pub struct LogMel {
    cfg: FrontendConfig,
    window: Vec<f32>,
    fft: Arc<dyn RealToComplex<f32>>,
    fft_in: Vec<f32>,
    fft_out: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
    filterbank: MelFilterbank,
    /// Padded signal not yet fully consumed; `buffer[next_frame_at..]` starts the next frame.
    buffer: Vec<f32>,
    next_frame_at: usize,
    /// Whether the left padding has been written (needs `n_fft / 2 + 1` samples for reflect).
    started: bool,
    samples_in: u64,
}

/// Per-frame mean square of the raw samples, used to tell silence from music.
pub type FrameEnergy = f32;

impl LogMel {
    pub fn new(cfg: &FrontendConfig) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(cfg.n_fft);
        let window = build_window(cfg);
        let fft_in = fft.make_input_vec();
        let fft_out = fft.make_output_vec();
        let fft_scratch = fft.make_scratch_vec();
        Self {
            cfg: cfg.clone(),
            window,
            power: vec![0.0; cfg.n_fft / 2 + 1],
            fft,
            fft_in,
            fft_out,
            fft_scratch,
            filterbank: MelFilterbank::new(cfg),
            buffer: Vec::with_capacity(cfg.n_fft * 4),
            next_frame_at: 0,
            started: !cfg.center,
            samples_in: 0,
        }
    }

    pub fn config(&self) -> &FrontendConfig {
        &self.cfg
    }

    pub fn filterbank(&self) -> &MelFilterbank {
        &self.filterbank
    }

    /// Forgets all buffered audio, as for a new stream.
    pub fn reset(&mut self) {
        self.buffer.clear();
        self.next_frame_at = 0;
        self.started = !self.cfg.center;
        self.samples_in = 0;
    }

    /// Samples pushed since the last reset.
    pub fn samples_in(&self) -> u64 {
        self.samples_in
    }

    /// Appends samples (finite, at the model's rate); complete frames go to `frames`
    /// (`n_mels` values each) and their energies to `energies`.
    pub fn push(&mut self, samples: &[f32], frames: &mut Vec<f32>, energies: &mut Vec<FrameEnergy>) {
        self.samples_in += samples.len() as u64;
        let pad = self.cfg.n_fft / 2;
        if !self.started {
            let held = self.buffer.len();
            if held + samples.len() <= pad {
                self.buffer.extend_from_slice(samples);
                return;
            }
            // Reflect padding: x[pad], ..., x[1] before x[0] (x = what is held, then `samples`).
            let x = |i: usize| if i < held { self.buffer[i] } else { samples[i - held] };
            let mut padded = Vec::with_capacity(pad + held + samples.len());
            match self.cfg.pad_mode {
                PadMode::Reflect => padded.extend((1..=pad).rev().map(x)),
                PadMode::Constant => padded.resize(pad, 0.0),
            }
            padded.extend_from_slice(&self.buffer);
            self.buffer = padded;
            self.started = true;
        }
        self.buffer.extend_from_slice(samples);
        self.drain_frames(frames, energies);
    }

    /// Ends the stream: pads the tail (as a centred STFT does) and emits the last frames.
    pub fn finish(&mut self, frames: &mut Vec<f32>, energies: &mut Vec<FrameEnergy>) {
        let pad = self.cfg.n_fft / 2;
        if self.samples_in == 0 {
            return;
        }
        if !self.started {
            // Shorter than the padding: too short to reflect, pad with zeros.
            self.buffer.splice(0..0, std::iter::repeat_n(0.0, pad));
            self.started = true;
            self.buffer.extend(std::iter::repeat_n(0.0, pad));
        } else if self.cfg.center {
            let n = self.buffer.len();
            let reflectable = self.cfg.pad_mode == PadMode::Reflect && n > pad + 1;
            if reflectable {
                for i in 0..pad {
                    let v = self.buffer[n - 2 - i];
                    self.buffer.push(v);
                }
            } else {
                self.buffer.extend(std::iter::repeat_n(0.0, pad));
            }
        }
        self.drain_frames(frames, energies);
    }

    fn drain_frames(&mut self, frames: &mut Vec<f32>, energies: &mut Vec<FrameEnergy>) {
        let n_fft = self.cfg.n_fft;
        let frame_len = self.cfg.frame_length();
        let hop = self.cfg.hop_length;
        while self.next_frame_at + frame_len <= self.buffer.len() {
            let start = self.next_frame_at;
            let start_len = frames.len();
            frames.resize(start_len + self.filterbank.n_mels(), 0.0);
            let energy = self.frame(start, &mut frames[start_len..]);
            energies.push(energy);
            self.next_frame_at += hop;
        }
        // Keep the buffer small: drop what no later frame needs, but keep the last n_fft
        // samples, which the end padding reflects.
        let droppable = self.next_frame_at.min(self.buffer.len().saturating_sub(n_fft));
        if droppable > 8 * n_fft {
            self.buffer.drain(..droppable);
            self.next_frame_at -= droppable;
        }
    }

    /// Computes one frame starting at `buffer[start]` into `out`; returns its energy.
    fn frame(&mut self, start: usize, out: &mut [f32]) -> FrameEnergy {
        let frame_len = self.cfg.frame_length();
        let raw = &self.buffer[start..start + frame_len];
        for ((dst, &x), &w) in self.fft_in.iter_mut().zip(raw).zip(&self.window) {
            *dst = x * w;
        }
        // TensorFlow framing: the rest of the FFT input is zero padding (the FFT also uses
        // its input as scratch, so it is rewritten every frame).
        self.fft_in[frame_len..].fill(0.0);
        let energy = dot(raw, raw);
        self.fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.fft_scratch)
            .expect("FFT buffers are sized by the plan");
        if self.cfg.power == 2.0 {
            for (p, c) in self.power.iter_mut().zip(&self.fft_out) {
                *p = c.norm_sqr();
            }
        } else {
            for (p, c) in self.power.iter_mut().zip(&self.fft_out) {
                *p = c.norm();
            }
        }
        self.filterbank.apply(&self.power, out);
        let (mult, offset) = (self.cfg.log_multiplier, self.cfg.log_offset);
        match self.cfg.log {
            LogCompression::Log10Scaled => {
                out.iter_mut().for_each(|v| *v = ln(mult * *v + offset) * std::f32::consts::LOG10_E)
            }
            LogCompression::NaturalOffset => out.iter_mut().for_each(|v| *v = ln(*v + offset)),
        }
        energy / frame_len as f32
    }

    /// Log-mel of a whole signal in one call, `[frames][n_mels]` row-major.
    pub fn compute(cfg: &FrontendConfig, samples: &[f32]) -> Vec<f32> {
        let mut lm = LogMel::new(cfg);
        let (mut frames, mut energies) = (Vec::new(), Vec::new());
        lm.push(samples, &mut frames, &mut energies);
        lm.finish(&mut frames, &mut energies);
        frames
    }
}

/// Dot product with eight independent partial sums, so that the compiler can vectorise it
/// (a single running f32 sum is a chain of dependent adds).
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Natural logarithm, within 1e-6 of `f32::ln` for normal positive input. libm's `ln` is
/// scalar and was most of the front-end's time; this one vectorises.
#[inline]
fn ln(x: f32) -> f32 {
    if !(x >= f32::MIN_POSITIVE && x.is_finite()) {
        return x.ln();
    }
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    // Mantissa in [1, 2), then recentred to [sqrt(1/2), sqrt(2)) so that |t| <= 0.172.
    let mut m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let mut e = exponent as f32;
    if m > std::f32::consts::SQRT_2 {
        m *= 0.5;
        e += 1.0;
    }
    // ln(m) = 2 atanh(t), t = (m - 1) / (m + 1); the series to t^9 errs below 1e-9 here.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = 1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0))));
    e * std::f32::consts::LN_2 + 2.0 * t * series
}

fn build_window(cfg: &FrontendConfig) -> Vec<f32> {
    let mut window = vec![0.0f32; cfg.n_fft];
    let offset = match cfg.framing {
        Framing::Librosa => (cfg.n_fft - cfg.win_length) / 2,
        Framing::Tensorflow => 0,
    };
    let n = cfg.win_length as f64;
    for i in 0..cfg.win_length {
        window[offset + i] = match cfg.window {
            WindowKind::HannPeriodic => (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos()) as f32,
        };
    }
    window
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_ln_matches_std_over_the_range_the_front_end_sees() {
        let mut worst = 0.0f32;
        let mut x = 1e-30f32;
        while x < 1e30 {
            worst = worst.max((ln(x) - x.ln()).abs() / x.ln().abs().max(1.0));
            x *= 1.0007;
        }
        assert!(worst < 1e-6, "relative error {worst}");
        assert_eq!(ln(0.0), f32::NEG_INFINITY);
        assert!(ln(f32::NAN).is_nan());
    }
}
