//! The whole audio → probabilities path as a stream: resample, log-mel, cut windows of one
//! patch every hop, classify non-silent windows, and average them over the piece.
//!
//! The CLI feeds it decoded files; the plugin's worker feeds it host audio. Both get the
//! same numbers for the same audio.

use std::collections::VecDeque;
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

/// The stream of one model that is not an ensemble (an [`Analyzer`] runs one per member).
struct Stream {
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

impl Stream {
    fn new(model: Arc<LoadedModel>, input_rate_hz: u32, settings: AnalysisSettings) -> Self {
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


    fn settings(&self) -> &AnalysisSettings {
        &self.settings
    }

    /// Wall-clock seconds spent in model inference since creation.
    fn inference_seconds(&self) -> f64 {
        self.inference_seconds
    }

    /// Seconds of input pushed so far.
    fn input_seconds(&self) -> f64 {
        self.input_frames as f64 / self.input_rate_hz as f64
    }

    /// Frames between window starts.
    fn hop_frames(&self) -> usize {
        self.hop_frames
    }

    fn frame_seconds(&self) -> f64 {
        self.model.manifest().frontend.frame_seconds()
    }

    /// Where the next window this stream will output starts (one cut but still waiting in
    /// the batch, or the next one to cut), in seconds of the stream.
    fn next_output_start_seconds(&self) -> f64 {
        let frame = self.batch_meta.first().map_or(self.next_window_frame, |&(start, _)| start);
        frame as f64 * self.frame_seconds()
    }

    fn patch_seconds(&self) -> f64 {
        self.patch_frames as f64 * self.frame_seconds()
    }

    /// Feeds mono samples at the input rate; finished windows are appended to `out`.
    fn push(&mut self, samples: &[f32], out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
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
        let resampled = std::mem::take(&mut self.resampled);
        let result = self.push_resampled(&resampled, out);
        self.resampled = resampled;
        result
    }

    /// Feeds samples already at the model's rate, made as this stream's resampler would
    /// make them (an ensemble member sharing another member's resampling).
    fn push_resampled(&mut self, resampled: &[f32], out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
        self.logmel.push(resampled, &mut self.frames, &mut self.energies);
        self.cut_windows(out)
    }

    /// Ends the stream and returns the whole-piece result. The stream can then be reused
    /// after [`Stream::reset`].
    fn finish(&mut self, out: &mut Vec<WindowPrediction>) -> Result<TrackSummary, ModelError> {
        self.resampled.clear();
        self.resampler.finish(&mut self.resampled);
        let tail = std::mem::take(&mut self.resampled);
        let result = self.finish_resampled(&tail, out);
        self.resampled = tail;
        result
    }

    /// [`Stream::finish`] with the resampler's last samples made elsewhere (see
    /// [`Stream::push_resampled`]).
    fn finish_resampled(&mut self, tail: &[f32], out: &mut Vec<WindowPrediction>) -> Result<TrackSummary, ModelError> {
        self.logmel.push(tail, &mut self.frames, &mut self.energies);
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
    fn reset(&mut self) {
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

/// Streaming analyser for one model and one input sample rate.
///
/// An ensemble runs one stream per member on the same samples. Its windows are its first
/// member's; each of them mixes that member's window with, for every other member, that
/// member pooled (as its manifest says) over its windows lying inside the first one's span.
/// Its whole-piece result mixes the members' whole-piece results. Both mixes weigh the
/// members as the manifest says (over the members that have a result) and are sharpened by
/// its temperature.
pub struct Analyzer {
    model: Arc<LoadedModel>,
    streams: Vec<Stream>,
    /// Ensemble only: the first member's windows waiting for the others' windows in their span,
    pending: VecDeque<WindowPrediction>,
    /// and each other member's windows that a waiting or later window may still contain.
    others: Vec<VecDeque<WindowPrediction>>,
    scratch: Vec<WindowPrediction>,
    /// Every member converts the input to the same rate by the same method: the first
    /// member's resampled samples feed them all (the same samples, made once).
    shared_resampling: bool,
}

/// Windows of two members closer than this (seconds) are taken to start or end together.
const SPAN_TOLERANCE_SECONDS: f64 = 1e-6;

impl Analyzer {
    pub fn new(model: Arc<LoadedModel>, input_rate_hz: u32, settings: AnalysisSettings) -> Self {
        let members = model.members();
        let streams: Vec<Stream> = if members.is_empty() {
            vec![Stream::new(model.clone(), input_rate_hz, settings)]
        } else {
            members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let member_settings = if i == 0 {
                        settings.clone()
                    } else {
                        let fe = &m.model.manifest().frontend;
                        AnalysisSettings {
                            hop_seconds: m.hop_seconds.unwrap_or_else(|| fe.patch_seconds()),
                            // A track-level head pools embeddings, also over one window's span.
                            keep_embeddings: m.model.manifest().pooling == Pooling::MeanEmbedding,
                            ..settings.clone()
                        }
                    };
                    Stream::new(m.model.clone(), input_rate_hz, member_settings)
                })
                .collect()
        };
        let others = (1..streams.len()).map(|_| VecDeque::new()).collect();
        let conversion = |m: &super::model::LoadedMember| {
            let fe = &m.model.manifest().frontend;
            (fe.resampler, fe.sample_rate_hz)
        };
        let shared_resampling = members.windows(2).all(|pair| conversion(&pair[0]) == conversion(&pair[1]));
        Self { model, streams, pending: VecDeque::new(), others, scratch: Vec::new(), shared_resampling }
    }

    pub fn model(&self) -> &Arc<LoadedModel> {
        &self.model
    }

    pub fn settings(&self) -> &AnalysisSettings {
        self.streams[0].settings()
    }

    /// Wall-clock seconds spent in model inference since creation (all members).
    pub fn inference_seconds(&self) -> f64 {
        self.streams.iter().map(Stream::inference_seconds).sum()
    }

    /// Seconds of input pushed so far.
    pub fn input_seconds(&self) -> f64 {
        self.streams[0].input_seconds()
    }

    /// Frames between window starts.
    pub fn hop_frames(&self) -> usize {
        self.streams[0].hop_frames()
    }

    /// The whole-piece pool of the stream so far (before [`Analyzer::finish`]: of the windows
    /// given out so far, and for an ensemble's other members of all their windows so far).
    pub fn pool(&self) -> TrackPool {
        if self.others.is_empty() {
            return self.streams[0].pool.clone();
        }
        let members = self.streams.iter().zip(self.model.members()).map(|(s, m)| (s.pool.clone(), m.weight)).collect();
        TrackPool { members, temperature: self.model.ensemble_temperature(), ..TrackPool::single(Pooling::MeanProbabilities) }
    }

    /// Feeds mono samples at the input rate; finished windows are appended to `out`.
    pub fn push(&mut self, samples: &[f32], out: &mut Vec<WindowPrediction>) -> Result<(), ModelError> {
        if self.others.is_empty() {
            return self.streams[0].push(samples, out);
        }
        self.scratch.clear();
        self.streams[0].push(samples, &mut self.scratch)?;
        self.pending.extend(self.scratch.drain(..));
        let (first, rest) = self.streams.split_at_mut(1);
        for (stream, queue) in rest.iter_mut().zip(&mut self.others) {
            if self.shared_resampling {
                stream.input_frames += samples.len() as u64;
                stream.push_resampled(&first[0].resampled, &mut self.scratch)?;
            } else {
                stream.push(samples, &mut self.scratch)?;
            }
            queue.extend(self.scratch.drain(..));
        }
        self.emit(out, false)
    }

    /// Ends the stream and returns the whole-piece result. The analyser can then be reused
    /// after [`Analyzer::reset`].
    pub fn finish(&mut self, out: &mut Vec<WindowPrediction>) -> Result<TrackSummary, ModelError> {
        if self.others.is_empty() {
            return self.streams[0].finish(out);
        }
        self.scratch.clear();
        let mut summary = self.streams[0].finish(&mut self.scratch)?;
        self.pending.extend(self.scratch.drain(..));
        let mut results = Vec::with_capacity(self.streams.len() - 1);
        let (first, rest) = self.streams.split_at_mut(1);
        for (stream, queue) in rest.iter_mut().zip(&mut self.others) {
            let member = if self.shared_resampling {
                stream.finish_resampled(&first[0].resampled, &mut self.scratch)?
            } else {
                stream.finish(&mut self.scratch)?
            };
            queue.extend(self.scratch.drain(..));
            results.push(member.probabilities);
        }
        self.emit(out, true)?;
        if let Some(first) = summary.probabilities.take() {
            let members = self.model.members();
            let mut parts: Vec<(&[f32], f32)> = vec![(&first, members[0].weight)];
            parts.extend(results.iter().zip(&members[1..]).filter_map(|(p, m)| Some((p.as_deref()?, m.weight))));
            summary.probabilities = Some(mix_probabilities(&parts, self.model.ensemble_temperature()));
        }
        Ok(summary)
    }

    /// Forgets the stream and the running whole-piece average.
    pub fn reset(&mut self) {
        self.streams.iter_mut().for_each(Stream::reset);
        self.pending.clear();
        self.others.iter_mut().for_each(VecDeque::clear);
    }

    /// Gives out the first member's waiting windows, mixed, once no other member can add a
    /// window inside their span any more (all of them when `finished`).
    fn emit(&mut self, out: &mut Vec<WindowPrediction>, finished: bool) -> Result<(), ModelError> {
        let first_hop = self.streams[0].hop_frames() as f64 * self.streams[0].frame_seconds();
        while let Some(front) = self.pending.front() {
            let end = front.end_seconds + SPAN_TOLERANCE_SECONDS;
            let complete = |s: &Stream| s.next_output_start_seconds() + s.patch_seconds() > end;
            if !finished && !self.streams[1..].iter().all(complete) {
                break;
            }
            let mut window = self.pending.pop_front().expect("front exists");
            self.mix_window(&mut window)?;
            // Later windows start at least one hop later: what starts before cannot be inside.
            let next_start = window.start_seconds + first_hop - SPAN_TOLERANCE_SECONDS;
            for queue in &mut self.others {
                while queue.front().is_some_and(|o| o.start_seconds < next_start) {
                    queue.pop_front();
                }
            }
            out.push(window);
        }
        if finished {
            self.others.iter_mut().for_each(VecDeque::clear);
        }
        Ok(())
    }

    fn mix_window(&self, window: &mut WindowPrediction) -> Result<(), ModelError> {
        let Some(first) = window.probabilities.take() else { return Ok(()) };
        let members = self.model.members();
        let (lo, hi) = (window.start_seconds - SPAN_TOLERANCE_SECONDS, window.end_seconds + SPAN_TOLERANCE_SECONDS);
        let mut pooled: Vec<(Vec<f32>, f32)> = Vec::with_capacity(self.others.len());
        for (queue, member) in self.others.iter().zip(&members[1..]) {
            let mut pool = TrackPool::new(&member.model);
            for o in queue.iter().filter(|o| o.start_seconds >= lo && o.end_seconds <= hi) {
                if let Some(p) = &o.probabilities {
                    pool.add(p, o.embedding.as_deref());
                }
            }
            if let Some(p) = pool.probabilities(&member.model)? {
                pooled.push((p, member.weight));
            }
        }
        let mut parts: Vec<(&[f32], f32)> = vec![(&first, members[0].weight)];
        parts.extend(pooled.iter().map(|(p, w)| (p.as_slice(), *w)));
        window.probabilities = Some(mix_probabilities(&parts, self.model.ensemble_temperature()));
        Ok(())
    }
}

/// The weighted mean of probability vectors (weights renormalised over the parts given),
/// sharpened to `p^(1/temperature)` and renormalised unless `temperature` is 1. A non-finite
/// value counts as 0.
pub fn mix_probabilities(parts: &[(&[f32], f32)], temperature: f32) -> Vec<f32> {
    let labels = parts.first().map_or(0, |p| p.0.len());
    let total: f64 = parts.iter().map(|p| p.1 as f64).sum();
    let mut mixed = vec![0.0f64; labels];
    for (p, w) in parts {
        for (m, &v) in mixed.iter_mut().zip(p.iter()) {
            *m += *w as f64 * if v.is_finite() { v as f64 } else { 0.0 };
        }
    }
    mixed.iter_mut().for_each(|m| *m /= total.max(f64::MIN_POSITIVE));
    if temperature != 1.0 {
        let inv = 1.0 / temperature as f64;
        mixed.iter_mut().for_each(|m| *m = m.max(1e-30).powf(inv));
        let sum: f64 = mixed.iter().sum();
        mixed.iter_mut().for_each(|m| *m /= sum);
    }
    mixed.into_iter().map(|m| m as f32).collect()
}

/// The running whole-piece result of one piece, pooled as the model's manifest says
/// (`pooling`): the mean of the window probabilities, or the head applied to the mean of the
/// windows' embeddings; for an ensemble, each member pooled so and the results mixed. The CLI
/// (through [`Analyzer`]), `eval` and the plugin's verdict all pool through this, so they agree.
#[derive(Debug, Clone)]
pub struct TrackPool {
    pooling: Pooling,
    windows: u64,
    /// Per-label sums of the window probabilities (`mean-probabilities`) or per-dimension
    /// sums of the window embeddings (`mean-embedding`).
    sum: Vec<f64>,
    /// An ensemble's: each member's pool and share of the mix (empty for other models).
    members: Vec<(TrackPool, f32)>,
    temperature: f32,
}

impl TrackPool {
    pub fn new(model: &LoadedModel) -> Self {
        let members = model.members().iter().map(|m| (TrackPool::new(&m.model), m.weight)).collect();
        Self { members, temperature: model.ensemble_temperature(), ..Self::single(model.manifest().pooling) }
    }

    fn single(pooling: Pooling) -> Self {
        Self { pooling, windows: 0, sum: Vec::new(), members: Vec::new(), temperature: 1.0 }
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Whether [`TrackPool::add`] needs the window's embedding (never for an ensemble, whose
    /// pool its [`Analyzer`] fills: see [`Analyzer::pool`]).
    pub fn needs_embeddings(&self) -> bool {
        self.members.is_empty() && self.pooling == Pooling::MeanEmbedding
    }

    /// Non-silent windows pooled so far (an ensemble: its first member's).
    pub fn windows(&self) -> u64 {
        match self.members.first() {
            Some((first, _)) => first.windows,
            None => self.windows,
        }
    }

    /// Adds one classified window: its probabilities and (for `mean-embedding`, required)
    /// its backbone embedding. A window without the embedding a pool needs is ignored, and so
    /// is every window given to an ensemble's pool (its members' windows are not the
    /// ensemble's: [`Analyzer::pool`] gives an ensemble's pool).
    pub fn add(&mut self, probabilities: &[f32], embedding: Option<&[f32]>) {
        if !self.members.is_empty() {
            return;
        }
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

    /// Adds everything `other` (a pool of the same model) has pooled.
    pub fn absorb(&mut self, other: &TrackPool) {
        for ((mine, _), (theirs, _)) in self.members.iter_mut().zip(&other.members) {
            mine.absorb(theirs);
        }
        if other.windows == 0 {
            return;
        }
        if self.windows == 0 {
            self.sum = other.sum.clone();
        } else if self.sum.len() == other.sum.len() {
            self.sum.iter_mut().zip(&other.sum).for_each(|(s, o)| *s += o);
        } else {
            return; // another shape never mixes in
        }
        self.windows += other.windows;
    }

    /// The pooled values so far (mean probabilities or mean embedding); empty before any
    /// window, and for an ensemble (see [`TrackPool::state`]).
    pub fn mean(&self) -> Vec<f32> {
        self.sum.iter().map(|s| (s / self.windows.max(1) as f64) as f32).collect()
    }

    /// Continues from a saved state: `mean` as [`TrackPool::mean`] gave it, over `windows`.
    pub fn restore(&mut self, mean: &[f32], windows: u64) {
        self.windows = if mean.is_empty() { 0 } else { windows };
        self.sum = mean.iter().map(|&m| m as f64 * self.windows as f64).collect();
    }

    /// Whether [`TrackPool::state`] is the whole-piece probabilities themselves (a pool of the
    /// mean window probabilities), so that a saved result need not store it twice.
    pub fn state_is_probabilities(&self) -> bool {
        self.members.is_empty() && self.pooling == Pooling::MeanProbabilities
    }

    /// Everything needed to continue pooling later ([`TrackPool::restore_state`]): the mean
    /// for one model; for an ensemble, per member `[windows, values, mean...]`.
    pub fn state(&self) -> Vec<f32> {
        if self.members.is_empty() {
            return self.mean();
        }
        let mut state = Vec::new();
        for (m, _) in &self.members {
            let mean = m.state();
            state.extend([m.windows as f32, mean.len() as f32]);
            state.extend(mean);
        }
        state
    }

    /// Continues from [`TrackPool::state`] over `windows` windows (an ensemble's state holds
    /// its members' counts). A state that does not fit this pool starts it afresh.
    pub fn restore_state(&mut self, state: &[f32], windows: u64) {
        if self.members.is_empty() {
            return self.restore(state, windows);
        }
        let mut rest = state;
        for (m, _) in &mut self.members {
            let header = rest.get(..2).filter(|h| h.iter().all(|v| v.is_finite() && *v >= 0.0));
            let Some(&[count, len]) = header else { return self.reset() };
            let Some(values) = rest.get(2..2 + len as usize) else { return self.reset() };
            m.restore_state(values, count as u64);
            rest = &rest[2 + len as usize..];
        }
        if !rest.is_empty() {
            self.reset();
        }
    }

    pub fn reset(&mut self) {
        self.windows = 0;
        self.sum.clear();
        self.members.iter_mut().for_each(|(m, _)| m.reset());
    }

    /// The whole-piece probabilities; `None` before any window.
    pub fn probabilities(&self, model: &LoadedModel) -> Result<Option<Vec<f32>>, ModelError> {
        if !self.members.is_empty() {
            let mut results = Vec::with_capacity(self.members.len());
            for ((pool, weight), member) in self.members.iter().zip(model.members()) {
                results.push((pool.probabilities(&member.model)?, *weight));
            }
            if results.first().is_none_or(|(first, _)| first.is_none()) {
                return Ok(None);
            }
            let parts: Vec<(&[f32], f32)> = results.iter().filter_map(|(p, w)| Some((p.as_deref()?, *w))).collect();
            return Ok(Some(mix_probabilities(&parts, self.temperature)));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ensemble_pool() -> TrackPool {
        let members = vec![(TrackPool::single(Pooling::MeanEmbedding), 0.6), (TrackPool::single(Pooling::MeanProbabilities), 0.4)];
        TrackPool { members, temperature: 0.9, ..TrackPool::single(Pooling::MeanProbabilities) }
    }

    fn feed(pool: &mut TrackPool, seed: u32, n: usize) {
        for i in 0..n {
            let v = (seed as f32 + i as f32) * 0.1;
            pool.members[0].0.add(&[0.5, 0.5], Some(&[v, -v, 1.0]));
            pool.members[1].0.add(&[v.fract(), 1.0 - v.fract()], None);
            pool.members[1].0.add(&[0.25, 0.75], None);
        }
    }

    #[test]
    fn an_ensemble_pool_state_restores_every_member_and_its_count() {
        let mut pool = ensemble_pool();
        feed(&mut pool, 3, 5);
        let state = pool.state();
        let mut back = ensemble_pool();
        back.restore_state(&state, pool.windows());
        assert_eq!(back.windows(), 5);
        assert_eq!(back.members[1].0.windows(), 10, "each member keeps its own count");
        for ((a, _), (b, _)) in pool.members.iter().zip(&back.members) {
            assert_eq!(a.windows, b.windows);
            assert!(a.sum.iter().zip(&b.sum).all(|(x, y)| (x - y).abs() < 1e-5), "{:?} vs {:?}", a.sum, b.sum);
        }
        // A state of another shape starts afresh instead of mixing in.
        let mut other = ensemble_pool();
        other.restore_state(&state[..state.len() - 1], 5);
        assert_eq!((other.windows(), other.members[1].0.windows()), (0, 0));
    }

    #[test]
    fn absorbing_pools_equals_pooling_everything_in_one() {
        let mut one = ensemble_pool();
        feed(&mut one, 1, 4);
        feed(&mut one, 7, 3);
        let (mut a, mut b) = (ensemble_pool(), ensemble_pool());
        feed(&mut a, 1, 4);
        feed(&mut b, 7, 3);
        a.absorb(&b);
        for ((x, _), (y, _)) in one.members.iter().zip(&a.members) {
            assert_eq!(x.windows, y.windows);
            assert!(x.sum.iter().zip(&y.sum).all(|(p, q)| (p - q).abs() < 1e-9));
        }
        let mut empty = ensemble_pool();
        empty.absorb(&a);
        assert_eq!(empty.state(), a.state(), "absorbing into an empty pool copies");
    }

    #[test]
    fn a_mix_renormalises_its_weights_and_a_temperature_is_softmax_over_t() {
        let (p, q) = ([0.7f32, 0.2, 0.1], [0.1f32, 0.3, 0.6]);
        let m = mix_probabilities(&[(&p, 3.0), (&q, 1.0)], 1.0);
        for i in 0..3 {
            assert!((m[i] - (0.75 * p[i] + 0.25 * q[i])).abs() < 1e-6);
        }
        // p = softmax(z) => p^(1/T) renormalised = softmax(z / T).
        let z = [2.0f64, 0.5, -1.0];
        let softmax = |t: f64| {
            let e: Vec<f64> = z.iter().map(|v| (v / t).exp()).collect();
            let s: f64 = e.iter().sum();
            e.iter().map(|v| (v / s) as f32).collect::<Vec<f32>>()
        };
        let sharpened = mix_probabilities(&[(&softmax(1.0), 1.0)], 0.7);
        let expected = softmax(0.7);
        assert!(sharpened.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6), "{sharpened:?} vs {expected:?}");
        let poisoned = mix_probabilities(&[(&[f32::NAN, 1.0, 0.0], 1.0)], 1.0);
        assert!(poisoned.iter().all(|v| v.is_finite()));
    }
}
