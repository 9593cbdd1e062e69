//! Analysis results kept on disk, so that analysing the same audio again with the same model
//! and settings costs no inference (a second `check` of a playlist, `tag` after `analyze`).
//!
//! A result is keyed by the sha256 of the file's bytes, the model (name, ONNX sha256, and
//! its backbone's), the analysis settings and the model's front-end configuration. Each
//! result is written as soon as its file finishes, atomically (temporary file + rename), so
//! an interrupted batch resumes where it stopped. After `tag` rewrites a file (new bytes,
//! same audio), it files the result under the new content hash too ([`AnalysisCache::alias`]).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::batch::{FileResult, analyze_files};
use crate::engine::{AnalysisSettings, FileAnalysis, ModelEntry, ModelError, runtime};

/// Version of the stored record; bump when [`FileAnalysis`] or the engine's numbers change
/// meaning without a manifest change (engine changes within a release are not detected).
/// 2: symphonia 0.6 decodes Ogg Vorbis peaks above full scale unclamped.
const RECORD_VERSION: u32 = 2;

/// Files analysed by the model (inference ran) in this process, through this module.
static INFERENCES: AtomicU64 = AtomicU64::new(0);
/// Results served from the cache in this process.
static HITS: AtomicU64 = AtomicU64::new(0);

/// How many files this process analysed with the model, and how many came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CacheCounters {
    pub inferences: u64,
    pub hits: u64,
}

pub fn counters() -> CacheCounters {
    CacheCounters { inferences: INFERENCES.load(Ordering::Relaxed), hits: HITS.load(Ordering::Relaxed) }
}

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read '{path}' to hash it for the analysis cache: {source}")]
    Hash { path: PathBuf, source: std::io::Error },
    #[error("cannot write the analysis cache entry '{path}': {source} (use --no-cache to run without it)")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Where analysis results live by default: `<data dir>/cache/analysis/`.
pub fn default_dir() -> PathBuf {
    runtime::data_dir().join("cache/analysis")
}

#[derive(Serialize, Deserialize)]
struct Record {
    version: u32,
    model: String,
    analysis: FileAnalysis,
}

/// The on-disk cache for one model and one set of analysis settings.
#[derive(Debug, Clone)]
pub struct AnalysisCache {
    dir: PathBuf,
    /// Hash of everything but the audio that the result depends on.
    context: String,
    model: String,
}

impl AnalysisCache {
    /// The cache in `dir` for results of `entry` with `settings`.
    pub fn new(dir: PathBuf, entry: &ModelEntry, settings: &AnalysisSettings) -> Self {
        let mut h = Sha256::new();
        h.update(RECORD_VERSION.to_le_bytes());
        // A new release may analyse differently; its results are its own.
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        let mut model = Some(entry);
        while let Some(m) = model {
            h.update(m.manifest.name.as_bytes());
            h.update([0]);
            h.update(m.manifest.sha256.as_bytes());
            h.update(serde_json::to_vec(&m.manifest.frontend).expect("front-end config serialises"));
            h.update(serde_json::to_vec(&m.manifest.labels).expect("labels serialise"));
            // Every other manifest field too (e.g. calibration or resampler settings added
            // later): a changed manifest is a different model, never a stale hit.
            h.update(format!("{:?}", m.manifest).as_bytes());
            model = m.backbone.as_deref();
        }
        // Every setting that changes the numbers (batch size does not).
        h.update(settings.hop_seconds.to_le_bytes());
        h.update(settings.silence_threshold_dbfs.to_le_bytes());
        h.update([settings.keep_embeddings as u8]);
        // Quick mode classifies other windows than a full analysis.
        h.update(settings.quick_windows.map_or(0u64, |n| n as u64 + 1).to_le_bytes());
        if let Some(e) = settings.quick_max_standard_error {
            h.update(e.to_le_bytes());
        }
        Self { dir, context: hex(&h.finalize()), model: entry.manifest.name.clone() }
    }

    /// The cache in the user's data folder.
    pub fn in_data_dir(entry: &ModelEntry, settings: &AnalysisSettings) -> Self {
        Self::new(default_dir(), entry, settings)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, content_sha256: &str) -> PathBuf {
        let mut h = Sha256::new();
        h.update(self.context.as_bytes());
        h.update(content_sha256.as_bytes());
        let key = hex(&h.finalize());
        self.dir.join(&key[..2]).join(format!("{key}.json"))
    }

    /// The stored result for audio whose file bytes hash to `content_sha256`.
    pub fn get(&self, content_sha256: &str) -> Option<FileAnalysis> {
        let bytes = std::fs::read(self.entry_path(content_sha256)).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        (record.version == RECORD_VERSION && record.model == self.model).then_some(record.analysis)
    }

    /// Stores a result atomically: a reader sees the old entry, none, or the whole new one.
    pub fn put(&self, content_sha256: &str, analysis: &FileAnalysis) -> Result<(), CacheError> {
        let path = self.entry_path(content_sha256);
        let write = |path: &Path| -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("entry has a folder"))?;
            let record = Record { version: RECORD_VERSION, model: self.model.clone(), analysis: analysis.clone() };
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec(&record).expect("analysis serialises"))?;
            std::fs::rename(&tmp, path)
        };
        write(&path).map_err(|source| CacheError::Write { path, source })
    }

    /// Files the result of `old_sha256` under `new_sha256` too (the same audio in a file
    /// whose tags changed). Returns whether there was a result to file.
    pub fn alias(&self, old_sha256: &str, new_sha256: &str) -> Result<bool, CacheError> {
        match self.get(old_sha256) {
            Some(a) => self.put(new_sha256, &a).map(|()| true),
            None => Ok(false),
        }
    }
}

impl AnalysisCache {
    fn side_path(&self, kind: &str, content_sha256: &str) -> PathBuf {
        self.dir.join(kind).join(&content_sha256[..2.min(content_sha256.len())]).join(format!("{content_sha256}.json"))
    }

    /// A model-independent by-product of decoding (e.g. the level profile of `check`),
    /// keyed by the file's content only.
    pub fn get_side<T: serde::de::DeserializeOwned>(&self, kind: &str, content_sha256: &str) -> Option<T> {
        serde_json::from_slice(&std::fs::read(self.side_path(kind, content_sha256)).ok()?).ok()
    }

    pub fn put_side<T: Serialize>(&self, kind: &str, content_sha256: &str, value: &T) -> Result<(), CacheError> {
        let path = self.side_path(kind, content_sha256);
        let write = |path: &Path| -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("entry has a folder"))?;
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec(value).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, path)
        };
        write(&path).map_err(|source| CacheError::Write { path, source })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a file's bytes, streamed (a long file is not read into memory at once).
pub fn content_sha256(path: &Path) -> Result<String, CacheError> {
    let err = |source| CacheError::Hash { path: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// One file's result and where it came from.
#[derive(Debug)]
pub struct CachedResult {
    pub result: FileResult,
    pub from_cache: bool,
    /// sha256 of the file's bytes when it could be read.
    pub content_sha256: Option<String>,
}

/// Like [`analyze_files`], but results already in `cache` are taken from it and new ones
/// are stored as each file finishes. `cache = None` analyses everything (`--no-cache`).
/// `on_done(finished, result)` is called for cached and fresh results alike. A cache entry
/// that could not be written does not fail the batch: the first such problem is returned.
pub fn analyze_files_cached(
    files: &[PathBuf],
    entry: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
    cache: Option<&AnalysisCache>,
    mut on_done: impl FnMut(usize, &FileResult),
) -> Result<(Vec<CachedResult>, Option<CacheError>), ModelError> {
    let hashes: Vec<Option<String>> =
        files.iter().map(|f| if cache.is_some() { content_sha256(f).ok() } else { None }).collect();
    let mut slots: Vec<Option<CachedResult>> = files.iter().map(|_| None).collect();
    let mut finished = 0;
    if let Some(cache) = cache {
        for (i, (path, hash)) in files.iter().zip(&hashes).enumerate() {
            if let Some(analysis) = hash.as_deref().and_then(|h| cache.get(h)) {
                HITS.fetch_add(1, Ordering::Relaxed);
                let result = FileResult { path: path.clone(), outcome: Ok(analysis) };
                finished += 1;
                on_done(finished, &result);
                slots[i] = Some(CachedResult { result, from_cache: true, content_sha256: hash.clone() });
            }
        }
    }
    let todo: Vec<usize> = (0..files.len()).filter(|&i| slots[i].is_none()).collect();
    let todo_files: Vec<PathBuf> = todo.iter().map(|&i| files[i].clone()).collect();
    let mut write_problem: Option<CacheError> = None;
    let fresh = analyze_files(&todo_files, entry, settings, jobs, |_, r| {
        finished += 1;
        if r.outcome.is_ok() {
            INFERENCES.fetch_add(1, Ordering::Relaxed);
        }
        // Stored as it finishes, so that an interrupted batch resumes from here.
        if let (Some(cache), Ok(analysis)) = (cache, &r.outcome) {
            let i = todo_files.iter().position(|p| p == &r.path).map(|k| todo[k]);
            if let Some(hash) = i.and_then(|i| hashes[i].as_deref())
                && let Err(e) = cache.put(hash, analysis)
                && write_problem.is_none()
            {
                write_problem = Some(e);
            }
        }
        on_done(finished, r);
    })?;
    for (&i, result) in todo.iter().zip(fresh) {
        slots[i] = Some(CachedResult { result, from_cache: false, content_sha256: hashes[i].clone() });
    }
    Ok((slots.into_iter().map(|s| s.expect("every file has a result")).collect(), write_problem))
}
