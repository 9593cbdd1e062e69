//! Many files at once: one worker thread per core, each with its own model session, so the
//! workers never wait for each other.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use super::analysis::{AnalysisSettings, FileAnalysis, analyze_file};
use super::error::{AnalysisError, ModelError};
use super::model::{LoadedModel, ModelEntry};

/// One input's outcome.
#[derive(Debug)]
pub struct FileResult {
    pub path: PathBuf,
    pub outcome: Result<FileAnalysis, AnalysisError>,
}

/// Analyses `files` on `jobs` threads (default: all cores); `on_done(finished, result)` is
/// called on the calling thread as each file finishes. Results come back in input order.
/// Fails only when the model cannot be loaded; a bad file is an `Err` outcome in its slot.
pub fn analyze_files(
    files: &[PathBuf],
    entry: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
    mut on_done: impl FnMut(usize, &FileResult),
) -> Result<Vec<FileResult>, ModelError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = jobs.unwrap_or(cores).clamp(1, files.len().max(1));
    // Loaded before any thread starts: a model problem is one error, not one per file.
    let mut models: Vec<Arc<LoadedModel>> = Vec::with_capacity(workers);
    for _ in 0..workers {
        models.push(Arc::new(entry.load()?));
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, FileResult)>();
    let mut slots: Vec<Option<FileResult>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for model in models {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let outcome = analyze_file(path, &model, settings);
                    if tx.send((i, FileResult { path: path.clone(), outcome })).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (finished, (i, result)) in rx.into_iter().enumerate() {
            on_done(finished + 1, &result);
            slots[i] = Some(result);
        }
    });
    Ok(slots.into_iter().map(|s| s.expect("every file is analysed once")).collect())
}

/// Extensions picked up when a folder is searched (a file named explicitly is always tried).
pub const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc", "m4a", "mp4", "aac", "caf", "mka", "mkv", "webm"];

/// Expands folders (recursively, audio extensions only, sorted). Paths that do not exist and
/// folders without audio come back as `(path, reason)`.
pub fn collect_audio_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
            if found.is_empty() {
                problems.push((p.clone(), format!("folder has no audio files ({})", AUDIO_EXTENSIONS.join(", "))));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            problems.push((p.clone(), "no such file or folder".to_string()));
        }
    }
    (files, problems)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for entry in rd.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, found);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            found.push(path);
        }
    }
}
