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

    /// Forgets the stream, as for a new one; the filter tables and FFT plans are kept, and
    /// the output is the same as a newly built resampler's.
    pub fn reset(&mut self) {
        match self {
            Self::Identity { .. } => {}
            Self::KaiserBest(r) => r.reset(),
            Self::Fft(r) => r.reset(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_stream_resampler_gives_the_bits_of_a_new_one() {
        let signal = |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin() * 0.5).collect() };
        let regions = [signal(30_000, 0.031), signal(5_000, 0.2), signal(26_150, 0.007)];
        for kind in [ResamplerKind::KaiserBest, ResamplerKind::Fft] {
            for rate_in in [44_100u32, 48_000, 16_000] {
                let mut reused = StreamResampler::new(kind, rate_in, 16_000);
                reused.push(&signal(12_345, 0.05), &mut Vec::new());
                for (i, region) in regions.iter().enumerate() {
                    reused.reset();
                    let mut fresh = StreamResampler::new(kind, rate_in, 16_000);
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    for c in region.chunks(8_192) {
                        reused.push(c, &mut a);
                        fresh.push(c, &mut b);
                    }
                    reused.finish(&mut a);
                    fresh.finish(&mut b);
                    assert_eq!(a.len(), b.len(), "{kind:?} {rate_in} Hz, region {i}");
                    let same = a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits());
                    assert!(same, "{kind:?} {rate_in} Hz, region {i}: a reset resampler differs from a new one");
                }
            }
        }
    }
}
