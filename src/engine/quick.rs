//! Quick mode for files: classify a few windows spread over the piece and decode only those
//! regions, so that the cost of a track no longer grows with its length.
//!
//! For tagging a library the whole-track verdict is what matters. A piece's genre is
//! stationary enough that a handful of evenly spread windows gives the same top genre as
//! every window (the agreement curve per window count is in `docs/scale-out.md`, made by
//! `scale-out/quick_agreement.py`). Regions are reached by seeking (symphonia's accurate seek:
//! MP3 frame headers are skimmed, FLAC uses its seek table, WAV is computed); a format that
//! cannot seek is decoded as a stream instead, analysing only the regions' samples.

use std::path::Path;
use std::sync::Arc;

use super::analysis::{
    AnalysisSettings, Analyzer, FileAnalysis, TrackPool, TrackSummary, WindowPrediction, analyze_file,
};
use super::decode::AudioDecoder;
use super::error::{AnalysisError, DecodeError, ModelError};
use super::manifest::Pooling;
use super::model::LoadedModel;

/// Windows classified per track when `--quick` is given without `--windows` (with
/// [`DEFAULT_QUICK_MAX_STANDARD_ERROR`]: the most windows adaptive quick mode reads); chosen
/// from the agreement curve in `docs/scale-out.md`.
pub const DEFAULT_QUICK_WINDOWS: usize = 8;

/// The standard error adaptive quick mode stops at when `--quick` is given without
/// `--max-error`; `0` means a fixed window count. See `docs/scale-out.md`.
pub const DEFAULT_QUICK_MAX_STANDARD_ERROR: f32 = 0.0;

/// Windows adaptive quick mode reads first and adds per round.
pub const QUICK_ROUND_WINDOWS: usize = 4;

/// Audio decoded past a region's patch so that its last STFT frames see real samples
/// rather than the end-of-stream padding (half an FFT at the model's rate is ~16 ms).
const REGION_MARGIN_SECONDS: f64 = 0.05;

/// Start times (seconds) of `windows` regions of `patch_seconds` spread evenly over a piece of
/// `duration_seconds`: region `i` is centred at `(i + 0.5) / windows` of the usable span, so
/// neither the first nor the last second is favoured.
pub fn region_starts(duration_seconds: f64, patch_seconds: f64, windows: usize) -> Vec<f64> {
    let span = (duration_seconds - patch_seconds).max(0.0);
    (0..windows)
        .map(|i| span * (i as f64 + 0.5) / windows as f64)
        .collect()
}

/// Where the next region's samples come from.
enum Reader {
    /// Seek to each region.
    Seek(AudioDecoder),
    /// Decode the stream from the start and keep only the regions; `pos` is the frame index
    /// of `pending[0]`.
    Stream {
        decoder: AudioDecoder,
        pos: u64,
        pending: Vec<f32>,
    },
}

impl Reader {
    fn decoder(&self) -> &AudioDecoder {
        match self {
            Reader::Seek(d) | Reader::Stream { decoder: d, .. } => d,
        }
    }

    /// Appends up to `len` mono frames starting at frame `start` to `out` (whose capacity is
    /// reused from region to region: a region of 44.1 kHz audio is half a megabyte).
    fn region(
        &mut self,
        path: &Path,
        start: u64,
        len: usize,
        out: &mut Vec<f32>,
    ) -> Result<(), DecodeError> {
        if let Reader::Seek(decoder) = self {
            match decoder.seek_frame(start) {
                Ok(early) => {
                    // Decoded straight into `out`; the frames before `start` are then dropped.
                    let base = out.len();
                    while out.len() - base < early as usize + len {
                        if !decoder.next_chunk(out)? {
                            break;
                        }
                    }
                    let from = base + (early as usize).min(out.len() - base);
                    out.drain(base..from);
                    out.truncate(base + len);
                    return Ok(());
                }
                // Not seekable (or the seek failed part-way): decode the stream from the start.
                Err(_) => {
                    *self = Reader::Stream {
                        decoder: AudioDecoder::open(path)?,
                        pos: 0,
                        pending: Vec::new(),
                    }
                }
            }
        }
        let Reader::Stream {
            decoder,
            pos,
            pending,
        } = self
        else {
            unreachable!("seek case returned above")
        };
        let end = start + len as u64;
        if start < *pos {
            // A later round of adaptive quick mode goes back in time: the stream restarts.
            *decoder = AudioDecoder::open(path)?;
            *pos = 0;
            pending.clear();
        }
        loop {
            // Keep no samples before the region: memory stays bounded on long files.
            let before = start.saturating_sub(*pos).min(pending.len() as u64) as usize;
            if before > 0 {
                pending.drain(..before);
                *pos += before as u64;
            }
            if *pos + pending.len() as u64 >= end {
                break;
            }
            if !decoder.next_chunk(pending)? {
                break;
            }
        }
        let from = start.saturating_sub(*pos).min(pending.len() as u64) as usize;
        let to = (end.saturating_sub(*pos) as usize).min(pending.len());
        out.extend_from_slice(&pending[from..to]);
        Ok(())
    }
}

/// Fractions of the usable span (the piece minus one patch) where adaptive quick mode centres
/// its windows, in the order it reads them: the first `first` windows are evenly spread
/// (`(i + 0.5) / first`), and every further round of `first` windows is evenly spread too,
/// refining a grid three times finer than the previous one, so that after each complete
/// level the windows are again exactly `(i + 0.5) / n` for `n = first · 3^level`. A track
/// therefore gets a stratified sample whatever the round it stops at.
pub fn adaptive_fractions(first: usize, max_windows: usize) -> Vec<f64> {
    let first = first.max(1);
    let mut out: Vec<f64> = (0..first).map(|i| (i as f64 + 0.5) / first as f64).collect();
    let mut grid = first; // the windows so far are (i + 0.5) / grid, i < grid
    while out.len() < max_windows {
        let finer = grid * 3;
        // The cells of `grid` each get their left and right third; in rounds of `first`
        // windows whose cells are spread evenly (stride `grid / first`).
        let stride = grid / first;
        for third in [0.5, 2.5] {
            for offset in 0..stride {
                for cell in (offset..grid).step_by(stride) {
                    out.push((3.0 * cell as f64 + third) / finer as f64);
                }
            }
        }
        grid = finer;
    }
    out.truncate(max_windows.max(1));
    out
}

/// How quick mode picks its windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QuickPlan {
    /// Exactly this many windows, evenly spread.
    Fixed(usize),
    /// Start with `first` evenly spread windows and add rounds of `first` more (see
    /// [`adaptive_fractions`]) until the whole-track probabilities' jackknife standard error
    /// is at most `max_standard_error` for every label, or `max_windows` are read.
    Adaptive { first: usize, max_windows: usize, max_standard_error: f32 },
}

impl QuickPlan {
    /// The plan the settings ask for: at most `windows`, adaptive when
    /// [`AnalysisSettings::quick_max_standard_error`] is set.
    pub fn from_settings(windows: usize, settings: &AnalysisSettings) -> Self {
        match settings.quick_max_standard_error {
            Some(e) if e > 0.0 => QuickPlan::Adaptive {
                first: QUICK_ROUND_WINDOWS.min(windows.max(1)),
                max_windows: windows,
                max_standard_error: e,
            },
            _ => QuickPlan::Fixed(windows),
        }
    }

    /// The most windows the plan may read.
    pub fn max_windows(&self) -> usize {
        match *self {
            QuickPlan::Fixed(n) => n.max(1),
            QuickPlan::Adaptive { first, max_windows, .. } => max_windows.max(first).max(1),
        }
    }

    /// Region centres as fractions of the usable span, in reading order.
    fn fractions(&self) -> Vec<f64> {
        match *self {
            QuickPlan::Fixed(n) => (0..n.max(1)).map(|i| (i as f64 + 0.5) / n.max(1) as f64).collect(),
            QuickPlan::Adaptive { first, .. } => adaptive_fractions(first, self.max_windows()),
        }
    }

    /// Windows read between two stopping tests.
    fn round(&self) -> usize {
        match *self {
            QuickPlan::Fixed(n) => n.max(1),
            QuickPlan::Adaptive { first, .. } => first.max(1),
        }
    }
}

/// The largest (over the labels) jackknife standard error of the whole-track probabilities
/// that pooling `rows` (one per window: embeddings for `mean-embedding`, probabilities for
/// `mean-probabilities`) gives: each window is left out in turn, the rest pooled and (for a
/// track-level head) classified, and the spread of those estimates scaled by `(k - 1) / k`.
/// It estimates how far the mean of these windows may be from the mean of all of them; with
/// evenly spread windows the real error is usually smaller (stratification), so it is a
/// cautious stopping test. `None` for fewer than 2 windows.
pub fn jackknife_standard_error(
    model: &LoadedModel,
    pooling: Pooling,
    rows: &[&[f32]],
) -> Result<Option<f32>, ModelError> {
    let k = rows.len();
    if k < 2 {
        return Ok(None);
    }
    let dim = rows[0].len();
    let mut sum = vec![0.0f64; dim];
    for r in rows {
        sum.iter_mut().zip(r.iter()).for_each(|(s, &v)| *s += v as f64);
    }
    let mut left_out = Vec::with_capacity(k * dim);
    for r in rows {
        left_out.extend(sum.iter().zip(r.iter()).map(|(s, &v)| ((s - v as f64) / (k - 1) as f64) as f32));
    }
    let probabilities = match pooling {
        Pooling::MeanProbabilities => left_out,
        Pooling::MeanEmbedding => match model.classify_embeddings(&left_out, k) {
            Some(p) => p?,
            None => {
                return Err(ModelError::Mismatch {
                    model: model.manifest().name.clone(),
                    reason: "pooling = \"mean-embedding\" needs a head on a backbone".into(),
                });
            }
        },
    };
    let labels = probabilities.len() / k;
    let mut worst = 0.0f64;
    for l in 0..labels {
        let column = (0..k).map(|j| probabilities[j * labels + l] as f64);
        let mean = column.clone().sum::<f64>() / k as f64;
        let spread: f64 = column.map(|p| (p - mean) * (p - mean)).sum();
        worst = worst.max(((k - 1) as f64 / k as f64 * spread).sqrt());
    }
    Ok(Some(worst as f32))
}

/// Analyses regions of the file as `plan` says (see the module documentation). A piece too
/// short for quick mode to save anything (the plan's most windows cover it) is analysed in
/// full with `settings`.
pub fn analyze_file_quick(
    path: &Path,
    model: &Arc<LoadedModel>,
    settings: &AnalysisSettings,
    plan: QuickPlan,
) -> Result<FileAnalysis, AnalysisError> {
    let windows = plan.max_windows();
    let full = AnalysisSettings {
        quick_windows: None,
        quick_max_standard_error: None,
        ..settings.clone()
    };
    let fe = model.manifest().frontend.clone();
    let patch_seconds = fe.patch_seconds();
    let decoder = AudioDecoder::open(path)?;
    let rate = decoder.sample_rate_hz();
    // The decoder that read the length is kept unless counting the length consumed it.
    let (total_frames, decoder) = match decoder.total_frames() {
        Some(n) => (n, Some(decoder)),
        None => (decoder.count_frames_by_packets()?, None),
    };
    let duration_seconds = total_frames as f64 / rate as f64;
    if duration_seconds <= windows as f64 * patch_seconds {
        return analyze_file(path, model, &full);
    }
    let decoder = match decoder {
        Some(d) => d,
        None => AudioDecoder::open(path)?,
    };
    let mut reader = if decoder.seeks_accurately() {
        Reader::Seek(decoder)
    } else {
        Reader::Stream {
            decoder,
            pos: 0,
            pending: Vec::new(),
        }
    };
    // One window per region: the hop is the patch, and a region holds one patch.
    // The whole-piece result pools the regions' windows as the model's manifest says (the
    // head on the mean embedding for track-level heads), exactly as a full analysis does.
    let mut pool = TrackPool::new(model);
    // An ensemble's whole-piece pool is its members' pools (windows of the mix are not pooled;
    // the adaptive plan's standard error is that of the mixed windows' mean).
    let mut ensemble_pool = (!model.members().is_empty()).then(|| TrackPool::new(model));
    let region_settings = AnalysisSettings {
        hop_seconds: patch_seconds,
        quick_windows: None,
        quick_max_standard_error: None,
        keep_embeddings: settings.keep_embeddings || pool.needs_embeddings(),
        ..settings.clone()
    };
    let mut analyzer = Analyzer::new(model.clone(), rate, region_settings);
    let region_frames = ((patch_seconds + REGION_MARGIN_SECONDS) * rate as f64).ceil() as usize;
    let mut samples = Vec::with_capacity(region_frames + 8192);
    let mut got = Vec::with_capacity(1);
    let mut found: Vec<WindowPrediction> = Vec::with_capacity(windows);
    let mut non_finite = 0;
    let span = (duration_seconds - patch_seconds).max(0.0);
    let fractions = plan.fractions();
    // Streamed formats read forwards only: each round's regions in time order.
    let mut attempted = 0;
    for round in fractions.chunks(plan.round()) {
        let mut round: Vec<f64> = round.to_vec();
        round.sort_by(f64::total_cmp);
        for fraction in round {
            attempted += 1;
            let start = (span * fraction * rate as f64).round() as u64;
            samples.clear();
            reader.region(path, start, region_frames, &mut samples)?;
            if samples.is_empty() {
                // The container promised more audio than the stream holds (truncated file).
                continue;
            }
            analyzer.reset();
            got.clear();
            analyzer.push(&samples, &mut got)?;
            let summary = analyzer.finish(&mut got)?;
            non_finite += summary.non_finite_samples;
            let offset = start as f64 / rate as f64;
            // A region cut short by the end of a damaged stream gives no full window: skipped.
            if let Some(mut w) = got.drain(..).next().filter(|_| !summary.repeat_padded) {
                w.start_seconds += offset;
                w.end_seconds += offset;
                found.push(w);
                if let Some(ensemble) = &mut ensemble_pool {
                    // Each member pooled over its own windows in the region, as in full analysis.
                    ensemble.absorb(&analyzer.pool());
                }
            }
        }
        if let QuickPlan::Adaptive { max_standard_error, .. } = plan {
            let rows: Vec<&[f32]> = found
                .iter()
                .filter_map(|w| match pool.pooling() {
                    Pooling::MeanEmbedding => w.probabilities.as_ref().and(w.embedding.as_deref()),
                    Pooling::MeanProbabilities => w.probabilities.as_deref(),
                })
                .collect();
            if let Some(se) = jackknife_standard_error(model, pool.pooling(), &rows)?
                && se <= max_standard_error
            {
                break;
            }
        }
    }
    if found.is_empty() {
        return Err(DecodeError::NoSamples {
            path: path.to_path_buf(),
        }
        .into());
    }
    // Reported in time order, as a full analysis's windows are.
    found.sort_by(|a, b| a.start_seconds.total_cmp(&b.start_seconds));
    let mut classified = 0;
    for w in &mut found {
        if let Some(p) = &w.probabilities {
            pool.add(p, w.embedding.as_deref());
            classified += 1;
        }
        if !settings.keep_embeddings {
            w.embedding = None;
        }
    }
    let probabilities = ensemble_pool.as_ref().unwrap_or(&pool).probabilities(model)?;
    let decoder = reader.decoder();
    let mut warnings = decoder.warnings().to_vec();
    if non_finite > 0 {
        warnings.push(format!(
            "{non_finite} NaN or infinite samples were replaced by silence"
        ));
    }
    if found.len() < attempted {
        warnings.push(format!(
            "quick mode: {} of {attempted} windows could be read (the stream is shorter than its header says)",
            found.len()
        ));
    }
    Ok(FileAnalysis {
        sample_rate_hz: rate,
        channels: decoder.channels(),
        summary: TrackSummary {
            duration_seconds,
            windows: found.len(),
            silent_windows: found.len() - classified,
            probabilities,
            repeat_padded: false,
            too_short: false,
            non_finite_samples: non_finite,
        },
        windows: found,
        warnings,
        inference_seconds: analyzer.inference_seconds(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_spread_evenly_and_stay_inside_the_piece() {
        let starts = region_starts(240.0, 3.0, 8);
        assert_eq!(starts.len(), 8);
        assert!(starts[0] > 0.0 && starts[7] + 3.0 < 240.0);
        let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|g| (g - gaps[0]).abs() < 1e-9), "{gaps:?}");
        assert_eq!(region_starts(2.0, 3.0, 3), vec![0.0; 3]);
    }

    #[test]
    fn the_streamed_fallback_reads_the_same_regions_as_seeking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ramp.wav");
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..8_000 * 20 {
            let v = ((i % 20_000) as i32 - 10_000) as i16;
            w.write_sample(v).unwrap();
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let mut seek = Reader::Seek(AudioDecoder::open(&path).unwrap());
        let mut stream = Reader::Stream {
            decoder: AudioDecoder::open(&path).unwrap(),
            pos: 0,
            pending: Vec::new(),
        };
        for start in [100u64, 30_000, 30_500, 150_000, 159_000] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            seek.region(&path, start, 2_000, &mut a).unwrap();
            stream.region(&path, start, 2_000, &mut b).unwrap();
            assert_eq!(a, b, "region at frame {start}");
            let expected = ((start % 20_000) as i32 - 10_000) as f32 / 32_768.0;
            assert!(
                (a[0] - expected).abs() < 1e-6,
                "region at frame {start} starts with {} not {expected}",
                a[0]
            );
        }
        // The last region runs past the end: both readers stop at the end of the stream.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        seek.region(&path, 159_000, 2_000, &mut a).unwrap();
        stream.region(&path, 159_000, 2_000, &mut b).unwrap();
        assert_eq!(a.len(), 1_000);
        assert_eq!(a, b);
        // A later round of adaptive quick mode goes back in time: the stream restarts.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        seek.region(&path, 30_000, 2_000, &mut a).unwrap();
        stream.region(&path, 30_000, 2_000, &mut b).unwrap();
        assert_eq!(a.len(), 2_000);
        assert_eq!(a, b);
    }
}
