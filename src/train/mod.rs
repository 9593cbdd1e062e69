//! Training genre heads on a backbone's embeddings, and evaluating any model on labelled
//! audio. Uses only the engine's public API.

pub mod dataset;
pub mod metrics;
pub mod onnx;
pub mod softmax;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::engine::batch::analyze_files;
use crate::engine::isolation::isolate;
use crate::engine::manifest::{InputSpec, Labels, ManifestFile, OutputActivation, OutputSpec, Pooling};
use crate::engine::{AnalysisError, AnalysisSettings, ModelEntry, ModelError, TrackPool, runtime};
use dataset::Dataset;
use metrics::{Confusion, Reliability, Scores};
use softmax::{Examples, SoftmaxHead, TrainSettings};

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Dataset(#[from] dataset::DatasetError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("backbone '{0}' has no embedding output in its manifest, so no head can be trained on it")]
    NoEmbedding(String),
    #[error("genre '{genre}' has no usable audio (all {files} file(s) failed or were silent); fix or remove them")]
    NoUsableAudio { genre: String, files: usize },
    #[error("the model's labels do not cover the data's genres {missing:?}; the model knows: {labels}")]
    LabelsMismatch { missing: Vec<String>, labels: String },
    #[error("cannot write '{path}': {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("--calibrate fits a temperature on out-of-fold predictions across the data's splits, but the data has {found} split(s); give a CSV list with a `split` column and at least two splits (e.g. --split train,valid)")]
    CalibrationFolds { found: usize },
    #[error("--calibrate needs a track-level head (--pooling mean-embedding)")]
    CalibrationNeedsPooledHead,
    #[error("temperature {0} must be a positive, finite number")]
    BadTemperature(f32),
}

/// Where embeddings of one backbone are cached: `<data dir>/cache/embeddings/<backbone>/`.
pub fn embedding_cache_dir(backbone: &ModelEntry) -> PathBuf {
    runtime::data_dir().join("cache/embeddings").join(&backbone.manifest.name)
}

/// Per-window embeddings of one file (silent windows left out).
#[derive(Debug, Clone)]
pub struct FileEmbeddings {
    pub dim: usize,
    pub windows: Vec<f32>,
    pub from_cache: bool,
}

impl FileEmbeddings {
    pub fn count(&self) -> usize {
        self.windows.len() / self.dim.max(1)
    }
}

/// Bumped whenever the engine's audio → embedding path changes numerically (decoder,
/// resampler, log-mel), so that no embedding of an older engine is reused.
const EMBEDDING_CACHE_VERSION: &str = "2";

fn cache_key(backbone: &ModelEntry, settings: &AnalysisSettings, path: &Path) -> Option<String> {
    // Never read a FIFO or device here (it could block forever); the decoder reports it.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let mut h = Sha256::new();
    h.update(EMBEDDING_CACHE_VERSION.as_bytes());
    h.update(backbone.manifest.sha256.as_bytes());
    // The front-end (resampler included) decides the embeddings as much as the weights do.
    h.update(toml::to_string(&backbone.manifest.frontend).ok()?.as_bytes());
    h.update(settings.hop_seconds.to_le_bytes());
    h.update(settings.silence_threshold_dbfs.to_le_bytes());
    h.update(&bytes);
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A cache entry, or `None` when it is missing or damaged (then the file is embedded again).
fn read_cached(path: &Path, expected_dim: Option<usize>) -> Option<FileEmbeddings> {
    let bytes = std::fs::read(path).ok()?;
    let word = |i: usize| -> Option<u64> { Some(u32::from_le_bytes(bytes.get(i * 4..i * 4 + 4)?.try_into().ok()?) as u64) };
    let (dim, n): (u64, u64) = (word(0)?, word(1)?);
    let floats: Vec<f32> = bytes[8..].chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let dim_ok = n == 0 || (dim > 0 && expected_dim.is_none_or(|d| d as u64 == dim));
    let sound = floats.len() as u64 == dim * n && dim_ok && floats.iter().all(|v| v.is_finite());
    sound.then_some(FileEmbeddings { dim: dim as usize, windows: floats, from_cache: true })
}

fn write_cached(path: &Path, e: &FileEmbeddings) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(8 + e.windows.len() * 4);
    bytes.extend_from_slice(&(e.dim as u32).to_le_bytes());
    bytes.extend_from_slice(&(e.count() as u32).to_le_bytes());
    e.windows.iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    let tmp = path.with_extension("part");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

/// Embeddings of `files`, from the cache when the same file (by content) was embedded
/// before with the same backbone and settings; the rest are computed in parallel.
pub fn embed_files(
    files: &[PathBuf],
    backbone: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
    mut on_done: impl FnMut(usize),
) -> Result<Vec<Result<FileEmbeddings, AnalysisError>>, TrainError> {
    if backbone.manifest.outputs.embedding.is_none() || backbone.backbone.is_some() {
        return Err(TrainError::NoEmbedding(backbone.manifest.name.clone()));
    }
    let dir = embedding_cache_dir(backbone);
    let _ = std::fs::create_dir_all(&dir);
    let keys: Vec<Option<String>> = files.iter().map(|f| cache_key(backbone, settings, f)).collect();
    let mut out: Vec<Option<Result<FileEmbeddings, AnalysisError>>> = keys
        .iter()
        .map(|k| k.as_ref().and_then(|k| read_cached(&dir.join(format!("{k}.emb")), backbone.manifest.outputs.embedding_dim)).map(Ok))
        .collect();
    let mut finished = out.iter().filter(|o| o.is_some()).count();
    on_done(finished);
    let todo: Vec<usize> = (0..files.len()).filter(|&i| out[i].is_none()).collect();
    let todo_files: Vec<PathBuf> = todo.iter().map(|&i| files[i].clone()).collect();
    let settings = AnalysisSettings { keep_embeddings: true, ..settings.clone() };
    let results = analyze_files(&todo_files, backbone, &settings, jobs, |_, _| {
        finished += 1;
        on_done(finished);
    })?;
    for (&i, r) in todo.iter().zip(results) {
        out[i] = Some(r.outcome.map(|a| {
            let mut windows = Vec::new();
            let mut dim = backbone.manifest.outputs.embedding_dim.unwrap_or(0);
            for w in a.windows.iter().filter_map(|w| w.embedding.as_ref()) {
                dim = w.len();
                windows.extend_from_slice(w);
            }
            let e = FileEmbeddings { dim, windows, from_cache: false };
            if let Some(k) = &keys[i] {
                let _ = write_cached(&dir.join(format!("{k}.emb")), &e);
            }
            e
        }));
    }
    Ok(out.into_iter().map(|o| o.expect("every file has a result")).collect())
}

/// What `train_head` did.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub model_dir: PathBuf,
    pub genres: Vec<String>,
    pub files_used: usize,
    pub windows: usize,
    pub held_out_files: usize,
    pub best_epoch: usize,
    pub held_out_window: Option<Scores>,
    pub held_out_track: Option<Scores>,
    pub failed: Vec<(PathBuf, String)>,
    pub cached_files: usize,
    pub pooling: Pooling,
    /// Temperature folded into the written head (1 = none).
    pub temperature: f32,
    pub calibration: Option<CalibrationReport>,
}

/// Out-of-fold calibration (`train --calibrate`): every file predicted by a head fitted on
/// the other splits only.
#[derive(Debug, Clone, Serialize)]
pub struct CalibrationReport {
    pub folds: Vec<String>,
    pub temperature: f32,
    /// Out-of-fold track-level scores (temperature does not change them).
    pub out_of_fold: Scores,
    pub before: Reliability,
    pub after: Reliability,
}

/// Share of each genre's files held out for early stopping (whole files, never windows).
const HELD_OUT_SHARE: f64 = 0.2;

/// Deterministic shuffle (files sorted by path, then a fixed-seed Fisher–Yates).
fn shuffled(mut idx: Vec<usize>, seed: u64) -> Vec<usize> {
    let mut s = seed;
    for i in (1..idx.len()).rev() {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let j = ((s >> 33) as usize) % (i + 1);
        idx.swap(i, j);
    }
    idx
}

/// Trains a softmax head for `data`'s genres on `backbone`'s embeddings and writes it (ONNX +
/// manifest) to `out_dir`, whose folder name becomes the model's name.
#[allow(clippy::too_many_arguments)]
pub fn train_head(
    data: &Dataset,
    backbone: &ModelEntry,
    out_dir: &Path,
    analysis: &AnalysisSettings,
    train_settings: &TrainSettings,
    jobs: Option<usize>,
    on_embedded: impl FnMut(usize),
    on_epoch: impl FnMut(usize, f32),
) -> Result<TrainReport, TrainError> {
    let files: Vec<PathBuf> = data.files.iter().map(|f| f.path.clone()).collect();
    let embedded = embed_files(&files, backbone, analysis, jobs, on_embedded)?;
    let mut failed = Vec::new();
    let mut usable: Vec<(usize, FileEmbeddings)> = Vec::new();
    for (i, e) in embedded.into_iter().enumerate() {
        match e {
            Ok(e) if e.count() > 0 => usable.push((i, e)),
            Ok(_) => failed.push((files[i].clone(), "silent or too short: no window to learn from".to_string())),
            Err(err) => failed.push((files[i].clone(), err.to_string())),
        }
    }
    let cached_files = usable.iter().filter(|(_, e)| e.from_cache).count();
    let k = data.genres.len();
    let counts = data.counts();
    let mut by_genre: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (u, (i, _)) in usable.iter().enumerate() {
        by_genre[data.files[*i].genre].push(u);
    }
    if let Some(g) = (0..k).find(|&g| by_genre[g].is_empty()) {
        return Err(TrainError::NoUsableAudio { genre: data.genres[g].clone(), files: counts[g] });
    }
    if let Some(t) = train_settings.temperature
        && !(t.is_finite() && t > 0.0)
    {
        return Err(TrainError::BadTemperature(t));
    }
    if train_settings.pooling == Pooling::MeanEmbedding {
        return train_pooled_head(data, backbone, out_dir, analysis, train_settings, usable, failed, cached_files, on_epoch);
    }
    if train_settings.calibrate {
        return Err(TrainError::CalibrationNeedsPooledHead);
    }
    let dim = usable[0].1.dim;
    let mut held = vec![false; usable.len()];
    for (g, members) in by_genre.iter().enumerate() {
        let n_held = if members.len() >= 2 { ((members.len() as f64 * HELD_OUT_SHARE).round() as usize).max(1) } else { 0 };
        for &u in shuffled(members.clone(), 0x5eed + g as u64).iter().take(n_held) {
            held[u] = true;
        }
    }
    let build = |want_held: bool| {
        let (mut x, mut y, mut owner) = (Vec::new(), Vec::new(), Vec::new());
        for (u, (i, e)) in usable.iter().enumerate().filter(|(u, _)| held[*u] == want_held) {
            x.extend_from_slice(&e.windows);
            y.extend(std::iter::repeat_n(data.files[*i].genre, e.count()));
            owner.extend(std::iter::repeat_n(u, e.count()));
        }
        (x, y, owner)
    };
    let (xt, yt, _) = build(false);
    let (xh, yh, owner_h) = build(true);
    let train_ex = Examples { x: &xt, y: &yt, dim, classes: k };
    let held_ex = Examples { x: &xh, y: &yh, dim, classes: k };
    let head = softmax::train(&train_ex, &held_ex, train_settings, on_epoch);
    let (held_out_window, held_out_track) = if held_ex.is_empty() {
        (None, None)
    } else {
        let (w, t) = score_head(&head, &held_ex, &owner_h, &data.genres);
        (Some(w), Some(t))
    };
    let temperature = train_settings.temperature.unwrap_or(1.0);
    let head = head.with_temperature(temperature);
    let mut facts = toml::Table::new();
    facts.insert("best_epoch".into(), (head.best_epoch as i64).into());
    facts.insert("held_out_share_of_files".into(), HELD_OUT_SHARE.into());
    if let Some(s) = &held_out_track {
        facts.insert("held_out_track_balanced_accuracy".into(), round3(s.balanced_accuracy).into());
    }
    if temperature != 1.0 {
        facts.insert("temperature".into(), round_f32(temperature).into());
    }
    write_head(out_dir, &head, backbone, data, train_settings, analysis, facts)?;
    Ok(TrainReport {
        model_dir: out_dir.to_path_buf(),
        genres: data.genres.clone(),
        files_used: usable.len(),
        windows: yt.len() + yh.len(),
        held_out_files: held.iter().filter(|&&h| h).count(),
        best_epoch: head.best_epoch,
        held_out_window,
        held_out_track,
        failed,
        cached_files,
        pooling: Pooling::MeanProbabilities,
        temperature,
        calibration: None,
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A float32 as the shortest decimal that reads back as the same float32.
fn round_f32(v: f32) -> f64 {
    format!("{v}").parse::<f64>().unwrap_or(v as f64)
}

/// Mean of each file's window embeddings: the input of a track-level head.
fn mean_embedding(e: &FileEmbeddings) -> Vec<f32> {
    let mut sum = vec![0.0f64; e.dim];
    for w in e.windows.chunks_exact(e.dim) {
        sum.iter_mut().zip(w).for_each(|(s, &v)| *s += v as f64);
    }
    sum.iter().map(|s| (s / e.count() as f64) as f32).collect()
}

/// Trains a track-level head: one example per file (the mean of its window embeddings),
/// class-balanced, standardised, L2 logistic regression on all files; with `calibrate`, a
/// temperature from out-of-fold predictions across the data's splits is folded in.
#[allow(clippy::too_many_arguments)]
fn train_pooled_head(
    data: &Dataset,
    backbone: &ModelEntry,
    out_dir: &Path,
    analysis: &AnalysisSettings,
    settings: &TrainSettings,
    usable: Vec<(usize, FileEmbeddings)>,
    failed: Vec<(PathBuf, String)>,
    cached_files: usize,
    mut on_epoch: impl FnMut(usize, f32),
) -> Result<TrainReport, TrainError> {
    let k = data.genres.len();
    let dim = usable[0].1.dim;
    let x: Vec<f32> = usable.iter().flat_map(|(_, e)| mean_embedding(e)).collect();
    let y: Vec<usize> = usable.iter().map(|(i, _)| data.files[*i].genre).collect();
    let windows: usize = usable.iter().map(|(_, e)| e.count()).sum();
    let fit = |rows: &[usize], progress: &mut dyn FnMut(usize, f32)| -> SoftmaxHead {
        let xs: Vec<f32> = rows.iter().flat_map(|&r| x[r * dim..(r + 1) * dim].iter().copied()).collect();
        let ys: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
        let ex = Examples { x: &xs, y: &ys, dim, classes: k };
        let none = Examples { x: &[], y: &[], dim, classes: k };
        softmax::train(&ex, &none, settings, progress)
    };
    let calibration = if settings.calibrate {
        let split_of = |r: usize| data.files[usable[r].0].split.clone().unwrap_or_default();
        let mut folds: Vec<String> = Vec::new();
        for r in 0..usable.len() {
            let s = split_of(r);
            if !folds.contains(&s) {
                folds.push(s);
            }
        }
        if folds.len() < 2 {
            return Err(TrainError::CalibrationFolds { found: folds.len() });
        }
        let (mut logits, mut truth) = (Vec::new(), Vec::new());
        let mut confusion = Confusion::new(data.genres.clone());
        for fold in &folds {
            let (test, train): (Vec<usize>, Vec<usize>) = (0..usable.len()).partition(|&r| split_of(r) == *fold);
            let head = fit(&train, &mut |_, _| {});
            for r in test {
                let z = head.logits(&x[r * dim..(r + 1) * dim]);
                confusion.add(y[r], Some(argmax(&z)));
                logits.extend(z);
                truth.push(y[r]);
            }
        }
        let temperature = softmax::fit_temperature(&logits, &truth, k);
        let reliability = |t: f32| {
            let ex: Vec<(f64, bool)> = logits
                .chunks_exact(k)
                .zip(&truth)
                .map(|(z, &c)| {
                    let mut p: Vec<f32> = z.iter().map(|v| v / t).collect();
                    softmax::softmax(&mut p);
                    let top = argmax(&p);
                    (p[top] as f64, top == c)
                })
                .collect();
            Reliability::new(&ex)
        };
        Some(CalibrationReport {
            folds,
            temperature,
            out_of_fold: confusion.scores(),
            before: reliability(1.0),
            after: reliability(temperature),
        })
    } else {
        None
    };
    let temperature = calibration.as_ref().map(|c| c.temperature).or(settings.temperature).unwrap_or(1.0);
    let all: Vec<usize> = (0..usable.len()).collect();
    let head = fit(&all, &mut on_epoch).with_temperature(temperature);
    let mut facts = toml::Table::new();
    facts.insert("epochs".into(), (settings.full_epochs as i64).into());
    facts.insert("examples".into(), "one per file: the mean of its window embeddings".into());
    if temperature != 1.0 {
        facts.insert("temperature".into(), round_f32(temperature).into());
    }
    if let Some(c) = &calibration {
        let mut t = toml::Table::new();
        t.insert("folds".into(), toml::Value::Array(c.folds.iter().map(|f| f.clone().into()).collect()));
        t.insert("out_of_fold_ece_before".into(), round3(c.before.ece).into());
        t.insert("out_of_fold_ece_after".into(), round3(c.after.ece).into());
        t.insert("out_of_fold_balanced_accuracy".into(), round3(c.out_of_fold.balanced_accuracy).into());
        facts.insert("calibration".into(), toml::Value::Table(t));
    }
    write_head(out_dir, &head, backbone, data, settings, analysis, facts)?;
    Ok(TrainReport {
        model_dir: out_dir.to_path_buf(),
        genres: data.genres.clone(),
        files_used: usable.len(),
        windows,
        held_out_files: 0,
        best_epoch: head.best_epoch,
        held_out_window: None,
        held_out_track: None,
        failed,
        cached_files,
        pooling: Pooling::MeanEmbedding,
        temperature,
        calibration,
    })
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}

/// Window- and track-level scores of a head on held-out examples (`owner` = file of each row).
fn score_head(head: &SoftmaxHead, e: &Examples, owner: &[usize], genres: &[String]) -> (Scores, Scores) {
    let mut windows = Confusion::new(genres.to_vec());
    let mut tracks = Confusion::new(genres.to_vec());
    let mut i = 0;
    while i < e.len() {
        let mut sum = vec![0.0f32; e.classes];
        let start = i;
        while i < e.len() && owner[i] == owner[start] {
            let p = head.probabilities(&e.x[i * e.dim..(i + 1) * e.dim]);
            windows.add(e.y[i], Some(argmax(&p)));
            sum.iter_mut().zip(&p).for_each(|(s, v)| *s += v);
            i += 1;
        }
        tracks.add(e.y[start], Some(argmax(&sum)));
    }
    (windows.scores(), tracks.scores())
}

fn write_head(
    out_dir: &Path,
    head: &SoftmaxHead,
    backbone: &ModelEntry,
    data: &Dataset,
    settings: &TrainSettings,
    analysis: &AnalysisSettings,
    facts: toml::Table,
) -> Result<(), TrainError> {
    let name = out_dir.file_name().map_or("head".into(), |n| n.to_string_lossy().into_owned());
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Write { path, source }
    };
    std::fs::create_dir_all(out_dir).map_err(werr(out_dir))?;
    let doc = match settings.pooling {
        Pooling::MeanProbabilities => {
            format!("softmax head on {} embeddings for {}", backbone.manifest.name, data.genres.join(", "))
        }
        Pooling::MeanEmbedding => format!(
            "track-level softmax head on the mean of {} window embeddings for {}",
            backbone.manifest.name,
            data.genres.join(", ")
        ),
    };
    let bytes = onnx::head_to_onnx(head, &doc);
    let onnx_path = out_dir.join("head.onnx");
    std::fs::write(&onnx_path, &bytes).map_err(werr(&onnx_path))?;
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    let mut training = toml::Table::new();
    let counts = data.counts();
    training.insert("files".into(), (data.files.len() as i64).into());
    training.insert(
        "files_per_genre".into(),
        toml::Value::Table(data.genres.iter().zip(&counts).map(|(g, &c)| (g.clone(), (c as i64).into())).collect()),
    );
    training.insert("window_hop_seconds".into(), analysis.hop_seconds.into());
    training.insert("l2".into(), round_f32(settings.l2).into());
    let splits = data.splits();
    if !splits.is_empty() {
        training.insert("splits".into(), toml::Value::Array(splits.into_iter().map(Into::into).collect()));
    }
    training.extend(facts);
    training.insert("trained_by".into(), format!("genre-meter {} train", env!("CARGO_PKG_VERSION")).into());
    let manifest = ManifestFile {
        name: name.clone(),
        display_name: Some(format!("{name} ({} genres, head on {})", data.genres.len(), backbone.manifest.name)),
        description: Some(doc),
        onnx: "head.onnx".into(),
        sha256: sha,
        licence: None,
        source: Some("trained with `genre-meter train`".into()),
        backbone: Some(backbone.manifest.name.clone()),
        output_activation: OutputActivation::Softmax,
        pooling: settings.pooling,
        input: InputSpec { name: onnx::HEAD_INPUT.into() },
        outputs: OutputSpec { probabilities: onnx::HEAD_OUTPUT.into(), embedding: None, embedding_dim: None },
        frontend: None,
        labels: Labels { names: data.genres.clone(), genres: data.genres.clone() },
        training: Some(training),
        ensemble: None,
    };
    let text = toml::to_string_pretty(&manifest).expect("manifest serialises");
    let manifest_path = out_dir.join("manifest.toml");
    std::fs::write(&manifest_path, text).map_err(werr(&manifest_path))?;
    Ok(())
}

/// Evaluation of a model on labelled audio.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub model: String,
    pub pooling: Pooling,
    pub window: Scores,
    pub track: Scores,
    /// Calibration of the whole-track top-1 confidence.
    pub track_reliability: Reliability,
    pub failed: Vec<(PathBuf, String)>,
}

/// Runs `entry` over `data` and scores it per window and per track (the track's non-silent
/// windows pooled as the model's manifest says, exactly as `analyze` and the plugin do).
/// Data genres are matched to model labels by name (case-insensitive).
pub fn evaluate(
    data: &Dataset,
    entry: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
    on_done: impl FnMut(usize),
) -> Result<EvalReport, TrainError> {
    let labels = &entry.manifest.labels.names;
    let label_of_genre: Vec<Option<usize>> =
        data.genres.iter().map(|g| labels.iter().position(|l| l.eq_ignore_ascii_case(g))).collect();
    let missing: Vec<String> =
        data.genres.iter().zip(&label_of_genre).filter(|(_, l)| l.is_none()).map(|(g, _)| g.clone()).collect();
    if !missing.is_empty() {
        return Err(TrainError::LabelsMismatch { missing, labels: labels.join(", ") });
    }
    let genre_of_label = |l: usize| label_of_genre.iter().position(|&x| x == Some(l));
    let files: Vec<PathBuf> = data.files.iter().map(|f| f.path.clone()).collect();
    let mut windows = Confusion::new(data.genres.clone());
    let mut tracks = Confusion::new(data.genres.clone());
    let mut failed = Vec::new();
    let mut confidences: Vec<(f64, bool)> = Vec::new();
    let mut score = |genre: usize, window_probs: &mut dyn Iterator<Item = &[f32]>, track: Option<&[f32]>| {
        for p in window_probs {
            windows.add(genre, genre_of_label(argmax(p)));
        }
        let predicted = track.and_then(|p| genre_of_label(argmax(p)));
        if let Some(p) = track {
            confidences.push((p[argmax(p)] as f64, predicted == Some(genre)));
        }
        tracks.add(genre, predicted);
    };
    let mut on_done = on_done;
    if let Some(backbone) = &entry.backbone {
        // A head: the backbone's embeddings come from the cache when they can, so that
        // evaluating a retrained head is as quick as retraining it.
        let model = entry.load()?;
        let embedded = embed_files(&files, backbone, settings, jobs, &mut on_done)?;
        for (f, e) in data.files.iter().zip(embedded) {
            match e {
                Err(err) => failed.push((f.path.clone(), err.to_string())),
                Ok(e) if e.count() == 0 => score(f.genre, &mut std::iter::empty(), None),
                Ok(e) => {
                    // Per file and isolated: one file's odd embeddings fail that file only.
                    let classified = isolate(&f.path, || -> Result<Vec<f32>, AnalysisError> {
                        Ok(model.classify_embeddings(&e.windows, e.count()).expect("a head model")?)
                    });
                    let probs = match classified {
                        Ok(p) if !p.is_empty() => p,
                        Ok(_) => {
                            failed.push((f.path.clone(), "the head gave no probabilities".to_string()));
                            continue;
                        }
                        Err(err) => {
                            failed.push((f.path.clone(), err.to_string()));
                            continue;
                        }
                    };
                    let k = probs.len() / e.count();
                    let mut pool = TrackPool::new(&model);
                    for (p, emb) in probs.chunks_exact(k).zip(e.windows.chunks_exact(e.dim)) {
                        pool.add(p, Some(emb));
                    }
                    let track = pool.probabilities(&model)?;
                    score(f.genre, &mut probs.chunks_exact(k), track.as_deref());
                }
            }
        }
    } else {
        let results = analyze_files(&files, entry, settings, jobs, |n, _| on_done(n))?;
        for (f, r) in data.files.iter().zip(results) {
            match r.outcome {
                Err(e) => failed.push((f.path.clone(), e.to_string())),
                Ok(a) => {
                    let mut it = a.windows.iter().filter_map(|w| w.probabilities.as_deref());
                    score(f.genre, &mut it, a.summary.probabilities.as_deref());
                }
            }
        }
    }
    Ok(EvalReport {
        model: entry.manifest.name.clone(),
        pooling: entry.manifest.pooling,
        window: windows.scores(),
        track: tracks.scores(),
        track_reliability: Reliability::new(&confidences),
        failed,
    })
}

#[cfg(test)]
mod cache_key_tests {
    use super::*;
    use crate::engine::manifest::ResamplerKind;
    use crate::engine::model;

    #[test]
    fn embeddings_made_with_another_resampler_are_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let audio = dir.path().join("a.wav");
        std::fs::write(&audio, b"same bytes").unwrap();
        let kaiser = model::resolve("msd-musicnn").unwrap();
        assert_eq!(kaiser.manifest.frontend.resampler, ResamplerKind::KaiserBest);
        let mut fft = kaiser.clone();
        fft.manifest.frontend.resampler = ResamplerKind::Fft;
        let settings = AnalysisSettings::default();
        let (a, b) = (cache_key(&kaiser, &settings, &audio).unwrap(), cache_key(&fft, &settings, &audio).unwrap());
        assert_ne!(a, b);
        assert_eq!(a, cache_key(&kaiser, &settings, &audio).unwrap(), "the key is stable");
    }
}
