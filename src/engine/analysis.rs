//! The whole audio → probabilities path as a stream: resample, log-mel, cut windows of one
//! patch every hop, classify non-silent windows, and average them over the piece.
//!
//! The CLI feeds it decoded files; the plugin's worker feeds it host audio. Both get the
//! same numbers for the same audio.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::decode::AudioDecoder;
use super::error::{AnalysisError, ModelError};
use super::logmel::LogMel;
use super::manifest::{FrontendConfig, Pooling};
use super::model::LoadedModel;
use super::resample::StreamResampler;

/// Largest magnitude a sample may have; louder values are clipped so that no power or log
/// overflows (±16 is +24 dBFS, far beyond any real signal).
const SAMPLE_LIMIT: f32 = 16.0;

/// Files shorter than this (or than one model patch, if that is shorter) are "too short to
/// classify" instead of getting a genre. Below 1 s a clip holds less than one beat at 60 bpm,
/// and repeat padding would tile it three or more times into musicnn's 3 s patch: the model
/// would judge a loop of a fragment. (The plugin does not use it: it waits for audio.)
pub const MIN_CLASSIFY_SECONDS: f64 = 1.0;

#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    /// Seconds between the starts of two windows (each window is one model patch).
    pub hop_seconds: f64,
    /// Windows quieter than this (mean power, dB re full scale) are silent: reported, never
    /// classified, and left out of the whole-piece result.
    pub silence_threshold_dbfs: f32,
    /// Windows classified per inference call. 1 by default: ONNX Runtime's activations (and
    /// the arena that keeps them) grow with the batch, while a patch costs about the same
    /// either way (`cargo bench --bench pipeline -- inference workers`; docs/scale-out.md).
    pub batch_windows: usize,
    /// Keep each window's embedding (for training heads); off by default to save memory.
    pub keep_embeddings: bool,
    /// Quick mode for files: classify only this many windows spread over the piece and
    /// decode only those regions (see [`super::quick`]); `None` analyses every window.
    pub quick_windows: Option<usize>,
    /// Adaptive quick mode: with `quick_windows` as the most windows, start with
    /// [`super::quick::QUICK_ROUND_WINDOWS`] and add rounds until the whole-track
    /// probabilities' jackknife standard error is at most this for every label
    /// ([`super::quick::QuickPlan::Adaptive`]). `None`: always `quick_windows` windows.
    pub quick_max_standard_error: Option<f32>,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self { hop_seconds: 1.0, silence_threshold_dbfs: -60.0, batch_windows: 1, keep_embeddings: false, quick_windows: None, quick_max_standard_error: None }
    }
}

/// One analysis window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowPrediction {
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// Mean power of the window, dB re full scale.
    pub level_dbfs: f32,
    /// Per-label probabilities; `None` for a silent window.
    pub probabilities: Option<Vec<f32>>,
    /// The backbone's embedding, when [`AnalysisSettings::keep_embeddings`] is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
}

impl WindowPrediction {
    pub fn is_silent(&self) -> bool {
        self.probabilities.is_none()
    }
}

/// The whole-piece result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackSummary {
    pub duration_seconds: f64,
    pub windows: usize,
    pub silent_windows: usize,
    /// Whole-piece probabilities over the non-silent windows, pooled as the model's
    /// manifest says ([`TrackPool`]); `None` when every window was silent.
    pub probabilities: Option<Vec<f32>>,
    /// The piece was shorter than one patch and was repeat-padded, as in training.
    pub repeat_padded: bool,
    /// NaN or infinite input samples, replaced by zero.
    pub non_finite_samples: u64,
    /// Shorter than [`min_classify_seconds`]: not classified (`probabilities` is `None`,
    /// no windows).
    pub too_short: bool,
}

/// The shortest file that is classified: [`MIN_CLASSIFY_SECONDS`] or one patch, whichever
/// is shorter.
pub fn min_classify_seconds(frontend: &FrontendConfig) -> f64 {
    MIN_CLASSIFY_SECONDS.min(frontend.patch_seconds())
}

/// Streaming analyser for one model and one input sample rate.
pub struct Analyzer {
    model: Arc<LoadedModel>,
    settings: AnalysisSettings,
    resampler: StreamResampler,
    logmel: LogMel,
    hop_frames: usize,
    patch_frames: usize,
    n_mels: usize,
    /// Log-mel rows kept for windows still to come; row 0 is absolute frame `first_frame`.
    frames: Vec<f32>,
    energies: Vec<f32>,
    first_frame: u64,
    next_window_frame: u64,
    batch: Vec<f32>,
    batch_meta: Vec<(u64, f32)>,
    clean: Vec<f32>,
    resampled: Vec<f32>,
    pool: TrackPool,
    labels: usize,
    classified: usize,
    silent: usize,
    non_finite: u64,
    input_frames: u64,
    input_rate_hz: u32,
    inference_seconds: f64,
}

impl Analyzer {
    pub fn new(model: Arc<LoadedModel>, input_rate_hz: u32, settings: AnalysisSettings) -> Self {
        let fe = model.manifest().frontend.clone();
        let hop_frames = ((settings.hop_seconds / fe.frame_seconds()).round() as usize).max(1);
        let labels = model.labels().len();
        let pool = TrackPool::new(&model);
        Self {
            resampler: StreamResampler::new(fe.resampler, input_rate_hz, fe.sample_rate_hz),
            logmel: LogMel::new(&fe),
            hop_frames,
            patch_frames: fe.patch_frames,
            n_mels: fe.n_mels,
            frames: Vec::new(),
            energies: Vec::new(),
            first_frame: 0,
            next_window_frame: 0,
            batch: Vec::new(),
            batch_meta: Vec::new(),
            clean: Vec::new(),
            resampled: Vec::new(),
            pool,
            labels,
            classified: 0,
            silent: 0,
            non_finite: 0,
            input_frames: 0,
            input_rate_hz,
            inference_seconds: 0.0,
            settings: AnalysisSettings { batch_windows: settings.batch_windows.max(1), ..settings },
            model,
        }
    }

    pub fn model(&self) -> &Arc<LoadedModel> {
        &self.model
    }

    pub fn settings(&self) -> &AnalysisSettings {
        &self.settings
    }

    /// Wall-clock seconds spent in model inference since creation.
    pub fn inference_seconds(&self) -> f64 {
        self.inference_seconds
    }

    /// Seconds of input pushed so far.
    pub fn input_seconds(&self) -> f64 {
        self.input_frames as f64 / self.input_rate_hz as f64
    }

    /// Frames between window starts.
    pub fn hop_frames(&self) -> usize {
        self.hop_frames
    }

    /// Feeds mono samples at the input rate; finished windows are appended to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
        self.input_frames += samples.len() as u64;
        self.clean.clear();
        for &s in samples {
            if s.is_finite() {
                self.clean.push(s.clamp(-SAMPLE_LIMIT, SAMPLE_LIMIT));
            } else {
                self.non_finite += 1;
                self.clean.push(0.0);
            }
        }
        self.resampled.clear();
        self.resampler.push(&self.clean, &mut self.resampled);
        self.logmel.push(&self.resampled, &mut self.frames, &mut self.energies);
        self.cut_windows(out)
    }

    /// Ends the stream and returns the whole-piece result. The analyser can then be reused
    /// after [`Analyzer::reset`].
    pub fn finish(&mut self, out: &mut Vec<WindowPrediction>) -> Result<TrackSummary, ModelError> {
        self.resampled.clear();
        self.resampler.finish(&mut self.resampled);
        self.logmel.push(&self.resampled, &mut self.frames, &mut self.energies);
        self.logmel.finish(&mut self.frames, &mut self.energies);
        self.cut_windows(out)?;
        let mut repeat_padded = false;
        let rows = self.energies.len();
        if self.next_window_frame == 0 && self.first_frame == 0 && rows > 0 {
            // Shorter than one patch: repeat the frames to fill it, as musicnn's training did.
            let row_len = self.n_mels;
            let mut patch = Vec::with_capacity(self.patch_frames * row_len);
            let mut energy = 0.0f64;
            for i in 0..self.patch_frames {
                let r = i % rows;
                patch.extend_from_slice(&self.frames[r * row_len..(r + 1) * row_len]);
                energy += self.energies[r] as f64;
            }
            let level = to_db(energy / self.patch_frames as f64);
            self.frames = patch;
            self.energies.clear();
            self.queue_window(0, level);
            repeat_padded = true;
        }
        self.flush_batch(out)?;
        let windows = self.classified + self.silent;
        let probabilities = self.pool.probabilities(&self.model)?;
        Ok(TrackSummary {
            duration_seconds: self.input_frames as f64 / self.input_rate_hz as f64,
            windows,
            silent_windows: self.silent,
            probabilities,
            repeat_padded,
            non_finite_samples: self.non_finite,
            too_short: false,
        })
    }

    /// Forgets the stream and the running whole-piece average.
    pub fn reset(&mut self) {
        // Keeps the resampler's filter weights and the log-mel's FFT plan and filterbank:
        // quick mode resets once per region.
        self.resampler.reset();
        self.logmel.reset();
        self.frames.clear();
        self.energies.clear();
        self.first_frame = 0;
        self.next_window_frame = 0;
        self.batch.clear();
        self.batch_meta.clear();
        self.pool.reset();
        self.classified = 0;
        self.silent = 0;
        self.non_finite = 0;
        self.input_frames = 0;
    }

    fn cut_windows(&mut self, out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
        let available = self.first_frame + self.energies.len() as u64;
        while self.next_window_frame + self.patch_frames as u64 <= available {
            let start = (self.next_window_frame - self.first_frame) as usize;
            let energy: f64 =
                self.energies[start..start + self.patch_frames].iter().map(|&e| e as f64).sum::<f64>();
            let level = to_db(energy / self.patch_frames as f64);
            self.queue_window(start, level);
            self.next_window_frame += self.hop_frames as u64;
            if self.batch_meta.len() >= self.settings.batch_windows {
                self.flush_batch(out)?;
            }
        }
        // Drop rows no future window needs.
        let keep_from = self.next_window_frame.min(available);
        let drop = (keep_from - self.first_frame) as usize;
        if drop > 0 {
            self.frames.drain(..drop * self.n_mels);
            self.energies.drain(..drop);
            self.first_frame += drop as u64;
        }
        Ok(())
    }

    /// Adds the patch starting at row `start` of `frames` to the batch.
    fn queue_window(&mut self, start: usize, level_dbfs: f32) {
        let abs = self.first_frame + start as u64;
        if level_dbfs < self.settings.silence_threshold_dbfs {
            // A silent window takes no patch and is never classified.
            self.batch_meta.push((abs, level_dbfs));
            return;
        }
        let row_len = self.n_mels;
        self.batch.extend_from_slice(&self.frames[start * row_len..(start + self.patch_frames) * row_len]);
        self.batch_meta.push((abs, level_dbfs));
    }

    fn flush_batch(&mut self, out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
        if self.batch_meta.is_empty() {
            return Ok(());
        }
        let patch_len = self.patch_frames * self.n_mels;
        let n_patches = self.batch.len() / patch_len;
        let started = std::time::Instant::now();
        let inference = if n_patches > 0 { Some(self.model.infer(&self.batch, n_patches)?) } else { None };
        self.inference_seconds += started.elapsed().as_secs_f64();
        let labels = self.labels;
        let frame_s = self.model.manifest().frontend.frame_seconds();
        let mut next_patch = 0;
        for &(start, level) in &self.batch_meta {
            let silent = level < self.settings.silence_threshold_dbfs;
            let mut embedding = None;
            let probabilities = if silent {
                self.silent += 1;
                None
            } else {
                let inf = inference.as_ref().expect("a non-silent window has a patch");
                let mut p = inf.probabilities[next_patch * labels..(next_patch + 1) * labels].to_vec();
                let window_embedding = (!inf.embeddings.is_empty()).then(|| {
                    let dim = inf.embeddings.len() / n_patches;
                    &inf.embeddings[next_patch * dim..(next_patch + 1) * dim]
                });
                if self.settings.keep_embeddings {
                    embedding = window_embedding.map(<[f32]>::to_vec);
                }
                next_patch += 1;
                // A model fed finite input gives finite output, but never let one bad value
                // poison the running average.
                p.iter_mut().for_each(|v| {
                    if !v.is_finite() {
                        *v = 0.0
                    }
                });
                self.pool.add(&p, window_embedding);
                self.classified += 1;
                Some(p)
            };
            out.push(WindowPrediction {
                start_seconds: start as f64 * frame_s,
                end_seconds: (start + self.patch_frames as u64) as f64 * frame_s,
                level_dbfs: level,
                probabilities,
                embedding,
            });
        }
        self.batch.clear();
        self.batch_meta.clear();
        Ok(())
    }
}

/// The running whole-piece result of one piece, pooled as the model's manifest says
/// (`pooling`): the mean of the window probabilities, or the head applied to the mean of the
/// windows' embeddings. The CLI (through [`Analyzer`]), `eval` and the plugin's verdict all
/// pool through this, so they agree.
#[derive(Debug, Clone)]
pub struct TrackPool {
    pooling: Pooling,
    windows: u64,
    /// Per-label sums of the window probabilities (`mean-probabilities`) or per-dimension
    /// sums of the window embeddings (`mean-embedding`).
    sum: Vec<f64>,
}

impl TrackPool {
    pub fn new(model: &LoadedModel) -> Self {
        Self { pooling: model.manifest().pooling, windows: 0, sum: Vec::new() }
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Whether [`TrackPool::add`] needs the window's embedding.
    pub fn needs_embeddings(&self) -> bool {
        self.pooling == Pooling::MeanEmbedding
    }

    /// Non-silent windows pooled so far.
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// Adds one classified window: its probabilities and (for `mean-embedding`, required)
    /// its backbone embedding. A window without the embedding a pool needs is ignored.
    pub fn add(&mut self, probabilities: &[f32], embedding: Option<&[f32]>) {
        let values = match self.pooling {
            Pooling::MeanProbabilities => probabilities,
            Pooling::MeanEmbedding => match embedding {
                Some(e) => e,
                None => return,
            },
        };
        if self.sum.len() != values.len() {
            if self.windows > 0 {
                return; // a window of another shape never mixes in
            }
            self.sum = vec![0.0; values.len()];
        }
        // A non-finite value never poisons the running sum.
        self.sum.iter_mut().zip(values).for_each(|(s, &v)| *s += if v.is_finite() { v as f64 } else { 0.0 });
        self.windows += 1;
    }

    /// The pooled values so far (mean probabilities or mean embedding); empty before any window.
    pub fn mean(&self) -> Vec<f32> {
        self.sum.iter().map(|s| (s / self.windows.max(1) as f64) as f32).collect()
    }

    /// Continues from a saved state: `mean` as [`TrackPool::mean`] gave it, over `windows`.
    pub fn restore(&mut self, mean: &[f32], windows: u64) {
        self.windows = if mean.is_empty() { 0 } else { windows };
        self.sum = mean.iter().map(|&m| m as f64 * self.windows as f64).collect();
    }

    pub fn reset(&mut self) {
        self.windows = 0;
        self.sum.clear();
    }

    /// The whole-piece probabilities; `None` before any window.
    pub fn probabilities(&self, model: &LoadedModel) -> Result<Option<Vec<f32>>, ModelError> {
        if self.windows == 0 {
            return Ok(None);
        }
        let mean = self.mean();
        match self.pooling {
            Pooling::MeanProbabilities => Ok(Some(mean)),
            Pooling::MeanEmbedding => match model.classify_embeddings(&mean, 1) {
                Some(p) => p.map(Some),
                None => Err(ModelError::Mismatch {
                    model: model.manifest().name.clone(),
                    reason: "pooling = \"mean-embedding\" needs a head on a backbone".into(),
                }),
            },
        }
    }
}

fn to_db(mean_square: f64) -> f32 {
    (10.0 * mean_square.max(1e-20).log10()) as f32
}

/// What analysing one file gives.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileAnalysis {
    pub sample_rate_hz: u32,
    pub channels: usize,
    pub summary: TrackSummary,
    pub windows: Vec<WindowPrediction>,
    /// Problems that did not stop the analysis (damaged packets, early end of file).
    pub warnings: Vec<String>,
    /// Wall-clock seconds of the analysis spent in model inference.
    pub inference_seconds: f64,
}

/// Decodes and analyses a file, streaming: memory does not grow with the file's length
/// except for the per-window results (a few hundred bytes per window).
pub fn analyze_file(
    path: &Path,
    model: &Arc<LoadedModel>,
    settings: &AnalysisSettings,
) -> Result<FileAnalysis, AnalysisError> {
    if let Some(windows) = settings.quick_windows {
        return super::quick::analyze_file_quick(path, model, settings, super::quick::QuickPlan::from_settings(windows, settings));
    }
    let mut decoder = AudioDecoder::open(path)?;
    let mut analyzer = Analyzer::new(model.clone(), decoder.sample_rate_hz(), settings.clone());
    let mut chunk = Vec::with_capacity(8192);
    let mut windows = Vec::new();
    loop {
        chunk.clear();
        let more = decoder.next_chunk(&mut chunk)?;
        analyzer.push(&chunk, &mut windows)?;
        if !more {
            break;
        }
    }
    let min_seconds = min_classify_seconds(&model.manifest().frontend);
    let summary = if analyzer.input_seconds() < min_seconds {
        TrackSummary {
            duration_seconds: analyzer.input_seconds(),
            windows: 0,
            silent_windows: 0,
            probabilities: None,
            repeat_padded: false,
            non_finite_samples: 0,
            too_short: true,
        }
    } else {
        analyzer.finish(&mut windows)?
    };
    let mut warnings = decoder.warnings().to_vec();
    if summary.non_finite_samples > 0 {
        warnings.push(format!("{} NaN or infinite samples were replaced by silence", summary.non_finite_samples));
    }
    if summary.repeat_padded {
        warnings.push(format!(
            "shorter than one {:.2} s patch: repeat-padded",
            model.manifest().frontend.patch_seconds()
        ));
    }
    Ok(FileAnalysis {
        sample_rate_hz: decoder.sample_rate_hz(),
        channels: decoder.channels(),
        summary,
        windows,
        warnings,
        inference_seconds: analyzer.inference_seconds(),
    })
}
