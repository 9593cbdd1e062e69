//! A softmax (multinomial logistic regression) head on fixed embeddings, trained in Rust:
//! standardised inputs, class weights for unbalanced genres, L2 regularisation, Adam, and
//! early stopping on held-out files.

use crate::engine::logmel::dot;
use crate::engine::manifest::Pooling;

/// Training data: one row per window.
pub struct Examples<'a> {
    /// `[n][dim]` row-major.
    pub x: &'a [f32],
    pub y: &'a [usize],
    pub dim: usize,
    pub classes: usize,
}

impl Examples<'_> {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }
}

#[derive(Debug, Clone)]
pub struct TrainSettings {
    pub l2: f32,
    pub learning_rate: f32,
    pub max_epochs: usize,
    /// Epochs without a better held-out loss before stopping.
    pub patience: usize,
    /// Epochs when there is no held-out data (a fit on all the data; the last epoch's
    /// weights are kept).
    pub full_epochs: usize,
    /// `MeanProbabilities`: a window-level head (one example per window, early stopping on
    /// held-out files). `MeanEmbedding`: a track-level head (one example per file, the mean
    /// of its window embeddings, fitted on all files for `full_epochs`).
    pub pooling: Pooling,
    /// Fit a temperature on out-of-fold predictions across the data's splits (track-level
    /// heads): each split predicted by a head fitted on the others.
    pub calibrate: bool,
    /// A temperature given by hand (ignored with `calibrate`); 1 leaves the head as fitted.
    pub temperature: Option<f32>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            l2: 1e-3,
            learning_rate: 0.01,
            max_epochs: 3000,
            patience: 150,
            full_epochs: 1000,
            pooling: Pooling::MeanProbabilities,
            calibrate: false,
            temperature: None,
        }
    }
}

/// A trained head: `softmax(x · weights + bias)` on the raw (unstandardised) embedding;
/// the standardisation is folded into the weights.
#[derive(Debug, Clone)]
pub struct SoftmaxHead {
    /// `[dim][classes]` row-major.
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
    pub dim: usize,
    pub classes: usize,
    /// Epoch with the best held-out loss, and that loss.
    pub best_epoch: usize,
    pub held_out_loss: f32,
}

impl SoftmaxHead {
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        let mut logits = self.logits(x);
        softmax(&mut logits);
        logits
    }

    /// `x · weights + bias`, before the softmax.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        let mut logits = self.bias.clone();
        for (d, &v) in x.iter().enumerate() {
            let row = &self.weights[d * self.classes..(d + 1) * self.classes];
            logits.iter_mut().zip(row).for_each(|(l, w)| *l += v * w);
        }
        logits
    }

    /// Divides the logits by `temperature` (folded into the weights and bias), so that the
    /// head's softmax gives calibrated probabilities.
    pub fn with_temperature(mut self, temperature: f32) -> Self {
        self.weights.iter_mut().for_each(|w| *w /= temperature);
        self.bias.iter_mut().for_each(|b| *b /= temperature);
        self
    }
}

/// In-place softmax.
pub fn softmax(v: &mut [f32]) {
    let max = v.iter().cloned().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    v.iter_mut().for_each(|x| {
        *x = (*x - max).exp();
        sum += *x;
    });
    v.iter_mut().for_each(|x| *x /= sum);
}

/// Inverse-frequency class weights (mean weight over the examples is 1).
pub fn class_weights(y: &[usize], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    y.iter().for_each(|&c| counts[c] += 1);
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts.iter().map(|&c| if c == 0 { 0.0 } else { y.len() as f32 / (present as f32 * c as f32) }).collect()
}

struct Standardiser {
    mean: Vec<f32>,
    scale: Vec<f32>,
}

impl Standardiser {
    fn fit(e: &Examples) -> Self {
        let n = e.len().max(1) as f64;
        let mut mean = vec![0.0f64; e.dim];
        let mut sq = vec![0.0f64; e.dim];
        for i in 0..e.len() {
            for (d, &v) in e.row(i).iter().enumerate() {
                mean[d] += v as f64;
                sq[d] += (v as f64) * (v as f64);
            }
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
        let scale = sq
            .iter()
            .zip(&mean)
            .map(|(s, &m)| {
                let var = (s / n) as f32 - m * m;
                1.0 / var.max(0.0).sqrt().max(1e-4)
            })
            .collect();
        Self { mean, scale }
    }

    fn apply(&self, e: &Examples) -> Vec<f32> {
        let mut out = Vec::with_capacity(e.x.len());
        for i in 0..e.len() {
            out.extend(e.row(i).iter().enumerate().map(|(d, &v)| (v - self.mean[d]) * self.scale[d]));
        }
        out
    }
}

/// Weighted cross-entropy summed over rows `rows` of `xs`, its weight sum, and (optionally)
/// the summed gradient. `w` is class-major `[classes][dim]` so that both the logits (dot
/// products) and the gradient (scaled row additions) run over contiguous memory.
#[allow(clippy::too_many_arguments)]
fn loss_and_grad_rows(
    xs: &[f32],
    y: &[usize],
    rows: std::ops::Range<usize>,
    dim: usize,
    weights: &[f32],
    w: &[f32],
    b: &[f32],
    mut grad: Option<(&mut [f32], &mut [f32])>,
) -> (f64, f64) {
    let k = b.len();
    let mut logits = vec![0.0f32; k];
    let (mut total, mut weight_sum) = (0.0f64, 0.0f64);
    for i in rows {
        let x = &xs[i * dim..(i + 1) * dim];
        for (c, l) in logits.iter_mut().enumerate() {
            *l = b[c] + dot(x, &w[c * dim..(c + 1) * dim]);
        }
        softmax(&mut logits);
        let cw = weights[y[i]];
        total += -(cw as f64) * (logits[y[i]].max(1e-12) as f64).ln();
        weight_sum += cw as f64;
        if let Some((gw, gb)) = grad.as_mut() {
            logits[y[i]] -= 1.0;
            for (c, &l) in logits.iter().enumerate() {
                let scale = l * cw;
                gw[c * dim..(c + 1) * dim].iter_mut().zip(x).for_each(|(g, &v)| *g += v * scale);
                gb[c] += scale;
            }
        }
    }
    (total, weight_sum)
}

/// Weighted mean cross-entropy and its gradient for standardised inputs `xs`, with the
/// rows split over the machine's cores.
fn loss_and_grad(
    xs: &[f32],
    e: &Examples,
    weights: &[f32],
    w: &[f32],
    b: &[f32],
    grad: Option<(&mut [f32], &mut [f32])>,
) -> f32 {
    let (k, dim, n) = (e.classes, e.dim, e.len());
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get()).min(n / 256).max(1);
    let chunk = n.div_ceil(threads);
    let want_grad = grad.is_some();
    let parts: Vec<(f64, f64, Vec<f32>, Vec<f32>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let rows = t * chunk..((t + 1) * chunk).min(n);
                    let (mut gw, mut gb) = if want_grad { (vec![0.0f32; k * dim], vec![0.0f32; k]) } else { (vec![], vec![]) };
                    let g = want_grad.then_some((&mut gw[..], &mut gb[..]));
                    let (loss, ws) = loss_and_grad_rows(xs, e.y, rows, dim, weights, w, b, g);
                    (loss, ws, gw, gb)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("training thread")).collect()
    });
    let total: f64 = parts.iter().map(|p| p.0).sum();
    let norm = parts.iter().map(|p| p.1).sum::<f64>().max(1e-12);
    if let Some((gw, gb)) = grad {
        gw.fill(0.0);
        gb.fill(0.0);
        for (_, _, pw, pb) in &parts {
            gw.iter_mut().zip(pw).for_each(|(g, p)| *g += p);
            gb.iter_mut().zip(pb).for_each(|(g, p)| *g += p);
        }
        gw.iter_mut().for_each(|g| *g /= norm as f32);
        gb.iter_mut().for_each(|g| *g /= norm as f32);
    }
    (total / norm) as f32
}

/// Trains on `train`, stopping when the class-weighted loss on `held_out` stops improving.
/// With an empty `held_out`, trains for `full_epochs` epochs and keeps the last.
pub fn train(train: &Examples, held_out: &Examples, settings: &TrainSettings, mut progress: impl FnMut(usize, f32)) -> SoftmaxHead {
    let (k, dim) = (train.classes, train.dim);
    let std = Standardiser::fit(train);
    let xs = std.apply(train);
    let xh = std.apply(held_out);
    let cw = class_weights(train.y, k);
    let mut w = vec![0.0f32; dim * k];
    let mut b = vec![0.0f32; k];
    let (mut gw, mut gb) = (vec![0.0f32; dim * k], vec![0.0f32; k]);
    let (mut mw, mut vw) = (vec![0.0f32; dim * k], vec![0.0f32; dim * k]);
    let (mut mb, mut vb) = (vec![0.0f32; k], vec![0.0f32; k]);
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let mut best = (f32::INFINITY, 0usize, w.clone(), b.clone());
    let epochs = if held_out.is_empty() { settings.full_epochs } else { settings.max_epochs };
    for epoch in 1..=epochs {
        let loss = loss_and_grad(&xs, train, &cw, &w, &b, Some((&mut gw, &mut gb)));
        gw.iter_mut().zip(&w).for_each(|(g, &wv)| *g += settings.l2 * wv);
        let (c1, c2) = (1.0 - beta1.powi(epoch as i32), 1.0 - beta2.powi(epoch as i32));
        for (((p, g), m), v) in w.iter_mut().zip(&gw).zip(mw.iter_mut()).zip(vw.iter_mut()) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *p -= settings.learning_rate * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
        for (((p, g), m), v) in b.iter_mut().zip(&gb).zip(mb.iter_mut()).zip(vb.iter_mut()) {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *p -= settings.learning_rate * (*m / c1) / ((*v / c2).sqrt() + eps);
        }
        let held = if held_out.is_empty() { loss } else { loss_and_grad(&xh, held_out, &cw, &w, &b, None) };
        if held_out.is_empty() {
            // No held-out data: a fit on everything, kept at its last epoch.
            best = (held, epoch, w.clone(), b.clone());
        } else if held < best.0 {
            best = (held, epoch, w.clone(), b.clone());
        } else if !held_out.is_empty() && epoch - best.1 >= settings.patience {
            break;
        }
        progress(epoch, held);
    }
    let (held_out_loss, best_epoch, w, b) = best;
    // Fold the standardisation in: x_s = (x - mean) * scale.
    // Training works class-major (`w[c * dim + d]`); the head is stored `[dim][classes]`.
    let mut weights = vec![0.0f32; dim * k];
    let mut bias = b.clone();
    for d in 0..dim {
        for c in 0..k {
            let wv = w[c * dim + d] * std.scale[d];
            weights[d * k + c] = wv;
            bias[c] -= wv * std.mean[d];
        }
    }
    SoftmaxHead { weights, bias, dim, classes: k, best_epoch, held_out_loss }
}

/// The temperature `T` that minimises the mean negative log-likelihood of
/// `softmax(logits / T)` for the true classes `y` (golden-section search on `ln T` in
/// [ln 0.05, ln 20]; the NLL is convex in `1/T`). `logits` is `[n][classes]`.
pub fn fit_temperature(logits: &[f32], y: &[usize], classes: usize) -> f32 {
    let nll = |t: f64| -> f64 {
        let mut total = 0.0f64;
        for (row, &c) in logits.chunks_exact(classes).zip(y) {
            let max = row.iter().fold(f32::MIN, |m, &v| m.max(v)) as f64;
            let sum: f64 = row.iter().map(|&v| ((v as f64 - max) / t).exp()).sum();
            total -= (row[c] as f64 - max) / t - sum.ln();
        }
        total / y.len().max(1) as f64
    };
    let (mut lo, mut hi) = (0.05f64.ln(), 20f64.ln());
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let (mut a, mut b) = (hi - g * (hi - lo), lo + g * (hi - lo));
    let (mut fa, mut fb) = (nll(a.exp()), nll(b.exp()));
    for _ in 0..80 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = nll(a.exp());
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = nll(b.exp());
        }
    }
    (((lo + hi) / 2.0).exp()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two Gaussian blobs per class in 4-d, unbalanced 10:1.
    fn blobs(n_major: usize, n_minor: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut s = seed;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) as f32 - 0.5
        };
        let mut x = Vec::new();
        let mut y = Vec::new();
        for (class, n, centre) in [(0usize, n_major, [2.0f32, 0.0, 5.0, 1.0]), (1, n_minor, [-2.0, 1.0, 5.0, 1.0])] {
            for _ in 0..n {
                x.extend(centre.iter().map(|c| c + 2.0 * rnd()));
                y.push(class);
            }
        }
        (x, y)
    }

    #[test]
    fn learns_separable_unbalanced_classes_and_folds_standardisation() {
        let (x, y) = blobs(200, 20, 1);
        let (xh, yh) = blobs(50, 5, 2);
        let tr = Examples { x: &x, y: &y, dim: 4, classes: 2 };
        let ho = Examples { x: &xh, y: &yh, dim: 4, classes: 2 };
        let head = train(&tr, &ho, &TrainSettings::default(), |_, _| {});
        let correct = (0..yh.len()).filter(|&i| {
            let p = head.probabilities(&xh[i * 4..(i + 1) * 4]);
            (p[1] > p[0]) == (yh[i] == 1)
        });
        assert_eq!(correct.count(), yh.len(), "the blobs are separable on the first axis");
        let minority_recall = (50..55).filter(|&i| head.probabilities(&xh[i * 4..(i + 1) * 4])[1] > 0.5).count();
        assert_eq!(minority_recall, 5);
        assert!(head.best_epoch > 0 && head.held_out_loss < 0.3);
    }

    #[test]
    fn temperature_undoes_a_known_overconfidence() {
        // Calibrated logits z (class 0 right with probability softmax(z)[0]), scaled by 3:
        // the fitted temperature must come back near 3.
        let mut s = 7u64;
        let (mut logits, mut y) = (Vec::new(), Vec::new());
        for _ in 0..4000 {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let z = ((s >> 11) as f64 / (1u64 << 53) as f64) as f32 * 3.0;
            let p0 = 1.0 / (1.0 + (-z).exp());
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let u = ((s >> 11) as f64 / (1u64 << 53) as f64) as f32;
            logits.extend([3.0 * z, 0.0]);
            y.push(if u < p0 { 0 } else { 1 });
        }
        let t = fit_temperature(&logits, &y, 2);
        assert!((t - 3.0).abs() < 0.35, "temperature {t}");
    }

    #[test]
    fn class_weights_balance_counts() {
        let w = class_weights(&[0, 0, 0, 1], 3);
        assert_eq!(w[2], 0.0);
        assert!((w[0] * 3.0 - w[1] * 1.0).abs() < 1e-6);
    }
}
