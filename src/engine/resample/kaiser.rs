//! `resampler = "kaiser-best"`: resampy's `kaiser_best` band-limited sinc interpolation, as
//! `librosa.load(path, sr=...)` runs it (librosa 0.8.1 + resampy 0.4.3, the versions pinned
//! in `models/msd-musicnn/requirements.txt`), reproduced sample for sample but streaming.
//!
//! resampy's rule, for output sample `t` of a signal `x` of `n_in` samples:
//! - `time = t * (1 / (rate_out / rate_in))` in f64, `n = floor(time)`, `frac = time - n`;
//! - `scale = min(1, rate_out / rate_in)`; the filter table (the right half of a Kaiser-
//!   windowed sinc, `STEPS` entries per zero crossing) is multiplied by `scale` when
//!   downsampling, and read every `index_step = floor(scale * STEPS)` entries, linearly
//!   interpolated between entries;
//! - the left wing weighs `x[n - i]` at table position `scale * frac * STEPS + i * index_step`,
//!   the right wing weighs `x[n + 1 + k]` at `scale * (1 - frac) * STEPS + k * index_step`,
//!   as long as the position stays inside the table; samples before 0 or after the end are
//!   left out (zeros);
//! - resampy makes `floor(n_in * rate_out / rate_in)` samples, and librosa then pads with
//!   zeros (or cuts) to `ceil(n_in * rate_out / rate_in)`.
//!
//! For a rational ratio `L / M` (lowest terms) output `t` has `n = floor(t * M / L)` and one of
//! `L` fractional positions, so the weights of each position are computed once (in f64, as
//! resampy does) and each output is one f32 dot product over a contiguous slice of input.
//! Ratios with too many positions (an odd rate such as 44 101 Hz) compute the weights per
//! output sample instead. Either way the output does not depend on how the input is chunked.
//!
//! An integer ratio (48 kHz → 16 kHz is 3:1) has one position: every output uses the same
//! weights on input shifted by the ratio, so [`dot_block`] computes `BLOCK_OUTPUTS` outputs per
//! pass over the weights (each weight loaded once, independent accumulators), lane for lane
//! the same arithmetic as [`dot`], hence the same bits. Other ratios (44.1 kHz → 16 kHz has 160
//! positions) compute `BLOCK_OUTPUTS` consecutive outputs per pass with [`dot_interleaved`]:
//! each with its own weights, but their accumulator chains run side by side instead of one
//! after another (one output's 276 multiply-adds are a chain of dependent additions), again
//! lane for lane what [`dot`] computes.

use std::sync::OnceLock;

/// A Kaiser-windowed sinc filter table, as resampy builds its precomputed filters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KaiserSincSpec {
    pub zero_crossings: usize,
    /// log2 of the table entries per zero crossing.
    pub steps_per_crossing_log2: u32,
    pub beta: f64,
    /// Cut-off as a fraction of the (lower) Nyquist frequency.
    pub rolloff: f64,
}

/// resampy 0.4.3's `kaiser_best` (`resampy/data/kaiser_best.npz`: 409 601 entries; this spec
/// rebuilds it to within 4e-16). resampy 0.2.x shipped a different `kaiser_best` (64 zero
/// crossings, 2^9 steps, beta 14.7697, rolloff 0.9476); the pinned environment has 0.4.3.
pub const KAISER_BEST: KaiserSincSpec =
    KaiserSincSpec { zero_crossings: 50, steps_per_crossing_log2: 13, beta: 12.984585247040012, rolloff: 0.9173473712608761 };

/// Most precomputed weights kept per resampler (f32): 4 MiB. 44.1 kHz → 16 kHz needs
/// 160 positions × 276 weights.
const MAX_BANK_WEIGHTS: usize = 1 << 20;

/// Outputs computed per pass: over shared weights when the ratio has one position, side by
/// side otherwise.
const BLOCK_OUTPUTS: usize = 4;

/// Input consumed before the history buffer is compacted.
const COMPACT_FRAMES: usize = 8192;

/// The right half of the filter, `zero_crossings * steps + 1` entries from the centre out.
pub struct SincTable {
    half_window: Vec<f64>,
    steps_per_crossing: usize,
}

impl SincTable {
    pub fn build(spec: &KaiserSincSpec) -> Self {
        let steps = 1usize << spec.steps_per_crossing_log2;
        let n = steps * spec.zero_crossings;
        let i0_beta = bessel_i0(spec.beta);
        // numpy.linspace(0, zero_crossings, n + 1): j * (zero_crossings / n), last exact.
        let delta = spec.zero_crossings as f64 / n as f64;
        let half_window = (0..=n)
            .map(|j| {
                let x = if j == n { spec.zero_crossings as f64 } else { j as f64 * delta };
                let sinc = spec.rolloff * sinc(spec.rolloff * x);
                // numpy.kaiser(2n + 1, beta)[n + j]: the window's right half.
                let r = j as f64 / n as f64;
                let taper = bessel_i0(spec.beta * (1.0 - r * r).sqrt()) / i0_beta;
                taper * sinc
            })
            .collect();
        Self { half_window, steps_per_crossing: steps }
    }

    /// The `kaiser_best` table, built once per process (3.2 MB).
    pub fn kaiser_best() -> &'static SincTable {
        static TABLE: OnceLock<SincTable> = OnceLock::new();
        TABLE.get_or_init(|| SincTable::build(&KAISER_BEST))
    }

    pub fn len(&self) -> usize {
        self.half_window.len()
    }

    pub fn is_empty(&self) -> bool {
        self.half_window.is_empty()
    }

    pub fn entry(&self, i: usize) -> f64 {
        self.half_window[i]
    }
}

/// numpy.sinc: sin(pi x) / (pi x), 1 at 0.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Modified Bessel function of the first kind, order 0, by its power series (converges for
/// every argument the window uses, |x| <= beta < 20, to full f64 precision).
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    let mut k = 1.0;
    while term > sum * 1e-18 {
        term *= q / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// How one output sample's weights are read from the table (the parts that do not depend on
/// the output position).
#[derive(Debug, Clone, Copy)]
struct Reading {
    /// min(1, rate_out / rate_in): the filter's bandwidth relative to the input's.
    scale: f64,
    /// Amplitude applied to the table (rate_out / rate_in when downsampling, else 1).
    gain: f64,
    index_step: usize,
    steps: f64,
}

impl Reading {
    /// Weights of one wing, nearest sample first, for fractional position `frac_scaled`
    /// (already multiplied by `scale`), appended to `out`.
    fn wing(&self, table: &SincTable, frac_scaled: f64, out: &mut Vec<f64>) {
        let index_frac = frac_scaled * self.steps;
        let offset = index_frac as usize;
        let eta = index_frac - offset as f64;
        let len = table.len();
        let count = len.saturating_sub(offset) / self.index_step;
        for i in 0..count {
            let o = offset + i * self.index_step;
            // resampy interpolates with the difference of the scaled table (0 past its end).
            let w0 = self.gain * table.entry(o);
            let delta = if o + 1 < len { self.gain * table.entry(o + 1) - w0 } else { 0.0 };
            out.push(w0 + eta * delta);
        }
    }

    /// Both wings for unscaled fraction `frac` in [0, 1).
    fn weights(&self, table: &SincTable, frac: f64, left: &mut Vec<f64>, right: &mut Vec<f64>) {
        left.clear();
        right.clear();
        let frac_scaled = self.scale * frac;
        self.wing(table, frac_scaled, left);
        self.wing(table, self.scale - frac_scaled, right);
    }

    /// Upper bound on the weights of one wing.
    fn max_wing(&self, table: &SincTable) -> usize {
        table.len() / self.index_step + 1
    }
}

/// Precomputed weights for every fractional position of a rational ratio.
struct PhaseBank {
    /// Weights of fraction r / L, oldest input first: `weights[start[r]..start[r] + len[r]]`,
    /// applied to input `n - left[r] + 1 ..= n + len[r] - left[r]`.
    weights: Vec<f32>,
    start: Vec<usize>,
    len: Vec<usize>,
    left: Vec<usize>,
}

/// Streaming `kaiser_best` resampler from `rate_in` to `rate_out` (which differ).
pub struct KaiserBestResampler {
    table: &'static SincTable,
    reading: Reading,
    rate_in: u32,
    rate_out: u32,
    /// Output step in input samples, computed as resampy does: 1 / (rate_out / rate_in).
    time_increment: f64,
    /// rate_out / rate_in = phases / input_step, in lowest terms.
    phases: u64,
    input_step: u64,
    bank: Option<PhaseBank>,
    /// Outputs in blocks of `BLOCK_OUTPUTS` (off only in tests and the bench's comparison).
    blocked: bool,
    max_left: usize,
    max_right: usize,
    /// Input history; `history[0]` is absolute input sample `history_start` (negative
    /// indices are the zeros before the signal).
    history: Vec<f32>,
    history_start: i64,
    frames_in: u64,
    next_out: u64,
    left: Vec<f64>,
    right: Vec<f64>,
}

impl KaiserBestResampler {
    pub fn new(rate_in: u32, rate_out: u32) -> Self {
        assert!(rate_in > 0 && rate_out > 0 && rate_in != rate_out, "rates are validated by the caller");
        let table = SincTable::kaiser_best();
        let ratio = rate_out as f64 / rate_in as f64;
        let scale = ratio.min(1.0);
        let steps = table.steps_per_crossing as f64;
        let reading = Reading {
            scale,
            gain: if ratio < 1.0 { ratio } else { 1.0 },
            index_step: ((scale * steps) as usize).max(1),
            steps,
        };
        let g = gcd(rate_in as u64, rate_out as u64);
        let (phases, input_step) = (rate_out as u64 / g, rate_in as u64 / g);
        let max_left = reading.max_wing(table);
        let max_right = max_left;
        let bank = (phases as usize * (max_left + max_right) <= MAX_BANK_WEIGHTS)
            .then(|| build_bank(table, &reading, phases));
        Self {
            table,
            reading,
            rate_in,
            rate_out,
            time_increment: 1.0 / ratio,
            phases,
            input_step,
            blocked: true,
            bank,
            max_left,
            max_right,
            history: vec![0.0; max_left],
            history_start: -(max_left as i64),
            frames_in: 0,
            next_out: 0,
            left: Vec::with_capacity(max_left),
            right: Vec::with_capacity(max_right),
        }
    }

    /// Forgets the stream, as for a new one, keeping the filter weights: the next output is
    /// bit for bit what a newly built resampler gives (quick mode resamples one region after
    /// another with one resampler; building the weights costs about as much as resampling
    /// a tenth of a second).
    pub fn reset(&mut self) {
        self.history.clear();
        self.history.resize(self.max_left, 0.0);
        self.history_start = -(self.max_left as i64);
        self.frames_in = 0;
        self.next_out = 0;
    }

    pub fn rate_in(&self) -> u32 {
        self.rate_in
    }

    pub fn rate_out(&self) -> u32 {
        self.rate_out
    }

    /// The same resampler computing outputs one at a time, as it did before the blocked
    /// paths: the same samples, slower. For `cargo bench --bench pipeline --
    /// resample`, which times both in one run.
    pub fn one_output_per_pass(mut self) -> Self {
        self.blocked = false;
        self
    }

    /// Whether the weights are precomputed per position (else computed per output sample).
    pub fn is_polyphase(&self) -> bool {
        self.bank.is_some()
    }

    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.history.extend_from_slice(input);
        self.frames_in += input.len() as u64;
        // Output t needs input up to n + max_right, n = floor(t * M / L).
        let Some(ready) = self.frames_in.checked_sub(self.max_right as u64) else { return };
        // Largest t with n(t) < ready: t < ready * L / M.
        let end = (ready as u128 * self.phases as u128).div_ceil(self.input_step as u128) as u64;
        self.emit_until(end, out);
        self.compact();
    }

    /// Ends the stream: the rest of the output, zeros after the input, to librosa's length.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        let n_in = self.frames_in as f64;
        // resampy: int(n * float(sr_new) / float(sr_orig)); librosa: ceil(n * (sr_new / sr_orig)).
        let resampy_len = (n_in * self.rate_out as f64 / self.rate_in as f64) as u64;
        let librosa_len = (n_in * (self.rate_out as f64 / self.rate_in as f64)).ceil() as u64;
        self.history.resize(self.history.len() + self.max_right + 1, 0.0);
        self.emit_until(resampy_len.min(librosa_len), out);
        if self.next_out < librosa_len {
            out.resize(out.len() + (librosa_len - self.next_out) as usize, 0.0);
            self.next_out = librosa_len;
        }
    }

    fn emit_until(&mut self, end: u64, out: &mut Vec<f32>) {
        while self.next_out < end {
            if self.blocked && end - self.next_out >= BLOCK_OUTPUTS as u64 {
                let emitted = if self.phases == 1 { self.emit_block(out) } else { self.emit_interleaved(out) };
                if emitted {
                    continue;
                }
            }
            let t = self.next_out;
            let (n_exact, phase) = self.position(t);
            // resampy's own f64 time decides n: at an exact input instant it can fall just
            // below, which reads the table at different positions.
            let time = t as f64 * self.time_increment;
            let n_float = time as u64;
            let y = match &self.bank {
                Some(bank) if phase != 0 || n_float == n_exact => {
                    let first = (n_exact as i64 - bank.left[phase] as i64 + 1 - self.history_start) as usize;
                    let w = &bank.weights[bank.start[phase]..bank.start[phase] + bank.len[phase]];
                    dot(w, &self.history[first..first + w.len()])
                }
                _ => self.exact_sample(n_float, time - n_float as f64),
            };
            out.push(y);
            self.next_out += 1;
        }
    }

    /// Output `t`'s exact input sample `n = floor(t * M / L)` and its position `r` (the
    /// fraction `r / L` of an input step).
    fn position(&self, t: u64) -> (u64, usize) {
        match t.checked_mul(self.input_step) {
            Some(scaled) => (scaled / self.phases, (scaled % self.phases) as usize),
            None => {
                let scaled = t as u128 * self.input_step as u128;
                ((scaled / self.phases as u128) as u64, (scaled % self.phases as u128) as usize)
            }
        }
    }

    /// With several positions: the next `BLOCK_OUTPUTS` outputs in one pass of side-by-side
    /// dot products, when each of them takes its precomputed weights (else `false`, and the
    /// caller takes them one by one).
    fn emit_interleaved(&mut self, out: &mut Vec<f32>) -> bool {
        let Some(bank) = &self.bank else { return false };
        let mut ws: [&[f32]; BLOCK_OUTPUTS] = [&[]; BLOCK_OUTPUTS];
        let mut xs: [&[f32]; BLOCK_OUTPUTS] = [&[]; BLOCK_OUTPUTS];
        for k in 0..BLOCK_OUTPUTS {
            let t = self.next_out + k as u64;
            let (n_exact, phase) = self.position(t);
            // The single-output path's test: resampy's f64 time must agree with the exact n.
            if phase == 0 && (t as f64 * self.time_increment) as u64 != n_exact {
                return false;
            }
            let first = (n_exact as i64 - bank.left[phase] as i64 + 1 - self.history_start) as usize;
            ws[k] = &bank.weights[bank.start[phase]..bank.start[phase] + bank.len[phase]];
            xs[k] = &self.history[first..first + ws[k].len()];
        }
        out.extend_from_slice(&dot_interleaved(&ws, &xs));
        self.next_out += BLOCK_OUTPUTS as u64;
        true
    }

    /// With one position (an integer ratio): the next `BLOCK_OUTPUTS` outputs in one pass,
    /// when resampy's f64 time puts each of them on its exact input instant (else `false`,
    /// and the caller takes them one by one).
    fn emit_block(&mut self, out: &mut Vec<f32>) -> bool {
        let Some(bank) = &self.bank else { return false };
        let t = self.next_out;
        let step = self.input_step;
        if !(0..BLOCK_OUTPUTS as u64).all(|k| ((t + k) as f64 * self.time_increment) as u64 == (t + k) * step) {
            return false;
        }
        let first = ((t * step) as i64 - bank.left[0] as i64 + 1 - self.history_start) as usize;
        let w = &bank.weights[bank.start[0]..bank.start[0] + bank.len[0]];
        let stride = step as usize;
        let x = &self.history[first..first + (BLOCK_OUTPUTS - 1) * stride + w.len()];
        out.extend_from_slice(&dot_block(w, x, stride));
        self.next_out += BLOCK_OUTPUTS as u64;
        true
    }

    /// One output sample with weights computed on the spot (f64 accumulation).
    fn exact_sample(&mut self, n: u64, frac: f64) -> f32 {
        self.reading.weights(self.table, frac, &mut self.left, &mut self.right);
        let at = |i: i64| -> f64 {
            let k = i - self.history_start;
            if k < 0 { 0.0 } else { self.history.get(k as usize).copied().unwrap_or(0.0) as f64 }
        };
        let n = n as i64;
        let mut acc = 0.0f64;
        for (i, w) in self.left.iter().enumerate() {
            acc += w * at(n - i as i64);
        }
        for (k, w) in self.right.iter().enumerate() {
            acc += w * at(n + 1 + k as i64);
        }
        acc as f32
    }

    /// Drops input no future output reads.
    fn compact(&mut self) {
        let next_n = self.position(self.next_out).0 as i64;
        // One sample of slack: resampy's f64 time can put n one below the exact value.
        let keep_from = next_n - self.max_left as i64 - 1;
        let drop = keep_from - self.history_start;
        if drop >= COMPACT_FRAMES as i64 {
            self.history.drain(..drop as usize);
            self.history_start += drop;
        }
    }
}

/// Weights for every fraction `r / phases` of an input step, indexed by `r`.
fn build_bank(table: &SincTable, reading: &Reading, phases: u64) -> PhaseBank {
    let mut bank = PhaseBank { weights: Vec::new(), start: Vec::new(), len: Vec::new(), left: Vec::new() };
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for r in 0..phases {
        let frac = r as f64 / phases as f64;
        reading.weights(table, frac, &mut left, &mut right);
        bank.start.push(bank.weights.len());
        bank.len.push(left.len() + right.len());
        bank.left.push(left.len());
        bank.weights.extend(left.iter().rev().map(|&w| w as f32));
        bank.weights.extend(right.iter().map(|&w| w as f32));
    }
    bank
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// f32 dot product in eight lanes, so that it vectorises.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7])) + tail
}

/// `BLOCK_OUTPUTS` dot products of `w` with `x[k * stride..][..w.len()]`, each bit for bit
/// what [`dot`] returns (same lanes, same order of sums). Uses AVX where the CPU has it: the
/// lanes do the same operations, only more at once.
fn dot_block(w: &[f32], x: &[f32], stride: usize) -> [f32; BLOCK_OUTPUTS] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above).
        return unsafe { dot_block_avx(w, x, stride) };
    }
    dot_block_portable(w, x, stride)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_block_avx(w: &[f32], x: &[f32], stride: usize) -> [f32; BLOCK_OUTPUTS] {
    dot_block_portable(w, x, stride)
}

/// `BLOCK_OUTPUTS` dot products of `ws[k]` with `xs[k]` (equal lengths per `k`) computed side by
/// side, each bit for bit what [`dot`] returns for it (same lanes, same order of sums).
fn dot_interleaved(ws: &[&[f32]; BLOCK_OUTPUTS], xs: &[&[f32]; BLOCK_OUTPUTS]) -> [f32; BLOCK_OUTPUTS] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above).
        return unsafe { dot_interleaved_avx(ws, xs) };
    }
    dot_interleaved_portable(ws, xs)
}

/// [`dot_interleaved_portable`] in AVX registers, one per output (the compiler does not keep
/// four arrays of lanes in registers by itself): a register's 8 lanes are `dot`'s 8 lanes,
/// multiplied and added separately (no fused multiply-add), so the bits are the same.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_interleaved_avx(ws: &[&[f32]; BLOCK_OUTPUTS], xs: &[&[f32]; BLOCK_OUTPUTS]) -> [f32; BLOCK_OUTPUTS] {
    use std::arch::x86_64::{__m256, _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps};
    const _: () = assert!(BLOCK_OUTPUTS == 4, "one register per output below");
    let full: [usize; BLOCK_OUTPUTS] = std::array::from_fn(|k| {
        assert_eq!(ws[k].len(), xs[k].len(), "one sample per weight");
        ws[k].len() / 8 * 8
    });
    let common = full.iter().copied().min().unwrap_or(0);
    // SAFETY (every load): `c + 8 <= full[k] <= ws[k].len() == xs[k].len()`.
    let mac = |acc: __m256, k: usize, c: usize| unsafe {
        let w = _mm256_loadu_ps(ws[k].as_ptr().add(c));
        let x = _mm256_loadu_ps(xs[k].as_ptr().add(c));
        _mm256_add_ps(acc, _mm256_mul_ps(w, x))
    };
    let (mut a0, mut a1, mut a2, mut a3) = (_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps());
    let mut c = 0;
    while c < common {
        a0 = mac(a0, 0, c);
        a1 = mac(a1, 1, c);
        a2 = mac(a2, 2, c);
        a3 = mac(a3, 3, c);
        c += 8;
    }
    let mut result = [0.0f32; BLOCK_OUTPUTS];
    for (k, mut acc) in [a0, a1, a2, a3].into_iter().enumerate() {
        let mut c = common;
        while c < full[k] {
            acc = mac(acc, k, c);
            c += 8;
        }
        let mut l = [0.0f32; 8];
        // SAFETY: `l` holds 8 floats.
        unsafe { _mm256_storeu_ps(l.as_mut_ptr(), acc) };
        let tail: f32 = ws[k][full[k]..].iter().zip(&xs[k][full[k]..]).map(|(a, b)| a * b).sum();
        result[k] = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + tail;
    }
    result
}

#[inline(always)]
fn dot_interleaved_portable(ws: &[&[f32]; BLOCK_OUTPUTS], xs: &[&[f32]; BLOCK_OUTPUTS]) -> [f32; BLOCK_OUTPUTS] {
    let full: [usize; BLOCK_OUTPUTS] = std::array::from_fn(|k| {
        assert_eq!(ws[k].len(), xs[k].len(), "one sample per weight");
        ws[k].len() / 8 * 8
    });
    let common = full.iter().copied().min().unwrap_or(0);
    let mut lanes = [[0.0f32; 8]; BLOCK_OUTPUTS];
    // The chunks every output has, side by side; then each output's own last chunks.
    for c in (0..common).step_by(8) {
        for k in 0..BLOCK_OUTPUTS {
            let wc: &[f32; 8] = ws[k][c..c + 8].try_into().expect("8 weights");
            let xc: &[f32; 8] = xs[k][c..c + 8].try_into().expect("8 samples");
            for i in 0..8 {
                lanes[k][i] += wc[i] * xc[i];
            }
        }
    }
    let mut result = [0.0f32; BLOCK_OUTPUTS];
    for k in 0..BLOCK_OUTPUTS {
        let acc = &mut lanes[k];
        for c in (common..full[k]).step_by(8) {
            for i in 0..8 {
                acc[i] += ws[k][c + i] * xs[k][c + i];
            }
        }
        let tail: f32 = ws[k][full[k]..].iter().zip(&xs[k][full[k]..]).map(|(a, b)| a * b).sum();
        let l = &lanes[k];
        result[k] = ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + tail;
    }
    result
}

#[inline(always)]
fn dot_block_portable(w: &[f32], x: &[f32], stride: usize) -> [f32; BLOCK_OUTPUTS] {
    let n = w.len();
    let xs: [&[f32]; BLOCK_OUTPUTS] = std::array::from_fn(|k| &x[k * stride..k * stride + n]);
    let full = n / 8 * 8;
    let mut lanes = [[0.0f32; 8]; BLOCK_OUTPUTS];
    for c in (0..full).step_by(8) {
        let wc: &[f32; 8] = w[c..c + 8].try_into().expect("8 weights");
        for (acc, xk) in lanes.iter_mut().zip(&xs) {
            let xc: &[f32; 8] = xk[c..c + 8].try_into().expect("8 samples");
            for i in 0..8 {
                acc[i] += wc[i] * xc[i];
            }
        }
    }
    std::array::from_fn(|k| {
        let tail: f32 = w[full..].iter().zip(&xs[k][full..]).map(|(a, b)| a * b).sum();
        let l = &lanes[k];
        ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + tail
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resample_all(rate_in: u32, rate_out: u32, x: &[f32], chunk: usize) -> Vec<f32> {
        let mut r = KaiserBestResampler::new(rate_in, rate_out);
        let mut out = Vec::new();
        for c in x.chunks(chunk.max(1)) {
            r.push(c, &mut out);
        }
        r.finish(&mut out);
        out
    }

    fn noise(n: usize) -> Vec<f32> {
        let mut s = 0x1234_5678u32;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn table_matches_resampy_shape_and_edges() {
        let t = SincTable::kaiser_best();
        assert_eq!(t.len(), 50 * 8192 + 1);
        // resampy's kaiser_best.npz: first entry = rolloff, last entries ~ -5.3e-8.
        assert!((t.entry(0) - 0.9173473712608761).abs() < 1e-15);
        assert!((t.entry(t.len() - 1) - -5.28870953e-08).abs() < 1e-15, "{}", t.entry(t.len() - 1));
    }

    #[test]
    fn output_does_not_depend_on_chunk_sizes() {
        let x = noise(12_000);
        for (rin, rout) in [(44_100, 16_000), (22_050, 16_000), (48_000, 16_000), (96_000, 16_000), (8_000, 16_000), (44_101, 16_000)] {
            let whole = resample_all(rin, rout, &x, x.len());
            for chunk in [1, 7, 4099] {
                assert_eq!(resample_all(rin, rout, &x, chunk), whole, "{rin} -> {rout}, chunks of {chunk}");
            }
        }
    }

    #[test]
    fn polyphase_and_per_sample_weights_agree() {
        let x = noise(20_000);
        let mut poly = KaiserBestResampler::new(44_100, 16_000);
        let mut exact = KaiserBestResampler::new(44_100, 16_000);
        assert!(poly.is_polyphase());
        exact.bank = None;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        poly.push(&x, &mut a);
        poly.finish(&mut a);
        exact.push(&x, &mut b);
        exact.finish(&mut b);
        assert_eq!(a.len(), b.len());
        let diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0, f32::max);
        assert!(diff < 2e-6, "{diff}");
    }

    #[test]
    fn blocked_dot_products_equal_single_ones_bit_for_bit() {
        let x = noise(2_000);
        for (taps, stride) in [(300usize, 3usize), (301, 3), (7, 2), (8, 5), (0, 3)] {
            let w = &noise(taps + 1_000)[1_000..];
            let block = dot_block(w, &x, stride);
            let portable = dot_block_portable(w, &x, stride);
            for k in 0..BLOCK_OUTPUTS {
                let single = dot(w, &x[k * stride..k * stride + taps]);
                assert_eq!(block[k].to_bits(), single.to_bits(), "{taps} taps, stride {stride}, output {k}");
                assert_eq!(portable[k].to_bits(), single.to_bits(), "{taps} taps, stride {stride}, output {k}");
            }
        }
    }

    #[test]
    fn integer_ratio_blocks_equal_one_by_one_outputs() {
        let x = noise(30_000);
        for (rin, rout) in [(48_000u32, 16_000u32), (32_000, 16_000), (96_000, 16_000)] {
            let mut blocked = KaiserBestResampler::new(rin, rout);
            assert_eq!(blocked.phases, 1);
            assert!(blocked.blocked);
            let mut single = KaiserBestResampler::new(rin, rout).one_output_per_pass();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            blocked.push(&x, &mut a);
            blocked.finish(&mut a);
            single.push(&x, &mut b);
            single.finish(&mut b);
            assert_eq!(a, b, "{rin} -> {rout}");
        }
    }

    #[test]
    fn interleaved_dot_products_equal_single_ones_bit_for_bit() {
        let x = noise(4_000);
        let w = noise(4_000);
        for lens in [[276usize, 276, 275, 276], [7, 8, 9, 0], [300, 301, 302, 303], [16, 16, 16, 16]] {
            let ws: [&[f32]; BLOCK_OUTPUTS] = std::array::from_fn(|k| &w[k * 500..k * 500 + lens[k]]);
            let xs: [&[f32]; BLOCK_OUTPUTS] = std::array::from_fn(|k| &x[k * 3..k * 3 + lens[k]]);
            let side_by_side = dot_interleaved(&ws, &xs);
            let portable = dot_interleaved_portable(&ws, &xs);
            for k in 0..BLOCK_OUTPUTS {
                let single = dot(ws[k], xs[k]);
                assert_eq!(side_by_side[k].to_bits(), single.to_bits(), "lengths {lens:?}, output {k}");
                assert_eq!(portable[k].to_bits(), single.to_bits(), "lengths {lens:?}, output {k}");
            }
        }
    }

    #[test]
    fn several_position_blocks_equal_one_by_one_outputs() {
        let x = noise(12_000);
        for (rin, rout) in [(44_100u32, 16_000u32), (22_050, 16_000), (8_000, 16_000), (11_025, 16_000)] {
            let mut blocked = KaiserBestResampler::new(rin, rout);
            let mut single = KaiserBestResampler::new(rin, rout).one_output_per_pass();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for c in x.chunks(4_097) {
                blocked.push(c, &mut a);
                single.push(c, &mut b);
            }
            blocked.finish(&mut a);
            single.finish(&mut b);
            assert_eq!(a.len(), b.len(), "{rin} -> {rout}");
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "{rin} -> {rout}");
        }
    }

    #[test]
    fn a_reset_resampler_gives_the_bits_of_a_new_one() {
        // Quick mode resamples region after region with one resampler; a region may follow
        // a finished one or one abandoned part-way.
        let regions = [noise(12_000), noise(3_001)[..3_000].to_vec(), noise(10_000)[13..].to_vec()];
        for (rin, rout) in [(44_100u32, 16_000u32), (48_000, 16_000), (22_050, 16_000), (8_000, 16_000)] {
            let mut reused = KaiserBestResampler::new(rin, rout);
            // Left mid-stream, without finish.
            reused.push(&noise(4_999), &mut Vec::new());
            for (i, region) in regions.iter().enumerate() {
                reused.reset();
                let (mut a, mut b) = (Vec::new(), Vec::new());
                let mut fresh = KaiserBestResampler::new(rin, rout);
                for c in region.chunks(8_192) {
                    reused.push(c, &mut a);
                    fresh.push(c, &mut b);
                }
                reused.finish(&mut a);
                fresh.finish(&mut b);
                assert_eq!(a.len(), b.len(), "{rin} -> {rout}, region {i}");
                assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "{rin} -> {rout}, region {i}");
            }
        }
    }

    #[test]
    fn length_is_librosa_ceil() {
        for (rin, n) in [(44_100u32, 44_101usize), (22_050, 1000), (48_000, 3), (8_000, 5), (384_000, 100_000)] {
            let out = resample_all(rin, 16_000, &vec![0.1; n], 333);
            let want = (n as f64 * (16_000.0 / rin as f64)).ceil() as usize;
            assert_eq!(out.len(), want, "{rin} Hz, {n} samples");
        }
    }

    #[test]
    fn passband_is_kept_and_stopband_removed() {
        let rate = 44_100;
        let tone = |f: f64| -> Vec<f32> {
            (0..rate as usize).map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / rate as f64).sin() as f32).collect()
        };
        let rms = |v: &[f32]| (v[2000..v.len() - 2000].iter().map(|x| (x * x) as f64).sum::<f64>() / (v.len() - 4000) as f64).sqrt();
        let pass = resample_all(rate, 16_000, &tone(1000.0), 4096);
        assert!((rms(&pass) - 0.5f64.sqrt()).abs() < 1e-3, "{}", rms(&pass));
        let stop = resample_all(rate, 16_000, &tone(9000.0), 4096);
        assert!(rms(&stop) < 1e-4, "{}", rms(&stop));
    }
}
