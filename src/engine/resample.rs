//! Streaming conversion of mono audio from the input's rate to the model's rate, by the
//! method the model's manifest declares (`[frontend] resampler`): a model hears audio
//! resampled as in the pipeline it was trained and evaluated with.

mod fft;
mod kaiser;

pub use fft::FftResampler;
pub use kaiser::{KAISER_BEST, KaiserBestResampler, KaiserSincSpec, SincTable};

use super::manifest::ResamplerKind;

pub enum StreamResampler {
    /// The input is already at the model's rate (librosa returns it untouched too).
    Identity { rate_hz: u32 },
    KaiserBest(Box<KaiserBestResampler>),
    Fft(Box<FftResampler>),
}

impl StreamResampler {
    /// A resampler from `rate_in` to `rate_out` (identity when they are equal).
    pub fn new(kind: ResamplerKind, rate_in: u32, rate_out: u32) -> Self {
        if rate_in == rate_out {
            return Self::Identity { rate_hz: rate_in };
        }
        match kind {
            ResamplerKind::KaiserBest => Self::KaiserBest(Box::new(KaiserBestResampler::new(rate_in, rate_out))),
            ResamplerKind::Fft => Self::Fft(Box::new(FftResampler::new(rate_in, rate_out))),
        }
    }

    pub fn rate_in(&self) -> u32 {
        match self {
            Self::Identity { rate_hz } => *rate_hz,
            Self::KaiserBest(r) => r.rate_in(),
            Self::Fft(r) => r.rate_in(),
        }
    }

    pub fn rate_out(&self) -> u32 {
        match self {
            Self::Identity { rate_hz } => *rate_hz,
            Self::KaiserBest(r) => r.rate_out(),
            Self::Fft(r) => r.rate_out(),
        }
    }

    /// Resamples `input`, appending the output to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        match self {
            Self::Identity { .. } => out.extend_from_slice(input),
            Self::KaiserBest(r) => r.push(input, out),
            Self::Fft(r) => r.push(input, out),
        }
    }

    /// Flushes the tail (the total output length is the method's own rule).
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        match self {
            Self::Identity { .. } => {}
            Self::KaiserBest(r) => r.finish(out),
            Self::Fft(r) => r.finish(out),
        }
    }
}
