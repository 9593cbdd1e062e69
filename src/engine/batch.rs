//! Many files at once: one worker thread per core, each with its own model session, so the
//! workers never wait for each other. Every file is isolated: a panic while working on it
//! becomes its error, and a watchdog gives up a file whose decoding stops making progress.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use super::analysis::{AnalysisSettings, FileAnalysis, analyze_file};
use super::decode::special_file_kind;
use super::error::{AnalysisError, FileFailure, ModelError};
use super::isolation::{Lane, Watchdog, attach_lane, isolate};
use super::model::{LoadedModel, ModelEntry};

/// One input's outcome.
#[derive(Debug)]
pub struct FileOutcome<T, E> {
    pub path: PathBuf,
    pub outcome: Result<T, E>,
}

/// One analysed input's outcome.
pub type FileResult = FileOutcome<FileAnalysis, AnalysisError>;

/// Analyses `files` on `jobs` threads (default: all cores); `on_done(finished, result)` is
/// called on the calling thread as each file finishes. Results come back in input order.
/// Fails only when the model cannot be loaded; a bad file (also one that panics the decoder
/// or stalls it past the watchdog's limit, [`Watchdog::from_env`]) is an `Err` outcome in its
/// slot.
pub fn analyze_files(
    files: &[PathBuf],
    entry: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
    on_done: impl FnMut(usize, &FileResult),
) -> Result<Vec<FileResult>, ModelError> {
    let settings = settings.clone();
    for_each_file(
        files,
        jobs,
        Watchdog::from_env(),
        || entry.load().map(Arc::new),
        move |model: &mut Arc<LoadedModel>, path: &Path| analyze_file(path, model, &settings),
        on_done,
    )
}

/// Runs `work` once per file on `jobs` worker threads (default: all cores), each with its own
/// state from `new_worker` (e.g. a model session). The states are made before any file is
/// read, all at once (one on the calling thread, the others on short-lived threads: loading a
/// model is serial work that would otherwise delay the second worker), so that a model
/// problem is one error, not one per file. `on_done(finished, path, outcome)` is called
/// on the calling thread as each file finishes; outcomes come back in input order.
///
/// Each file is isolated:
/// - a panic in `work` becomes that file's [`FileFailure::Panicked`] (see [`isolate`]);
/// - when the file makes no progress ([`super::isolation::note_progress`], called by the
///   decoder per chunk) for `watchdog.stall_seconds`, it gets [`FileFailure::Stalled`]. A
///   thread cannot be killed, so its thread is abandoned (it may go on blocking in the
///   background until the process ends, holding its state) and a fresh worker with a new
///   state from `new_worker` takes its place.
///
/// Fails only when `new_worker` fails.
pub fn for_each_file<S, T, E, X>(
    files: &[PathBuf],
    jobs: Option<usize>,
    watchdog: Watchdog,
    new_worker: impl Fn() -> Result<S, X> + Sync,
    work: impl Fn(&mut S, &Path) -> Result<T, E> + Send + Sync + 'static,
    mut on_done: impl FnMut(usize, &FileOutcome<T, E>),
) -> Result<Vec<FileOutcome<T, E>>, X>
where
    S: Send + 'static,
    T: Send + 'static,
    E: From<FileFailure> + Send + 'static,
    X: Send,
{
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = jobs.unwrap_or(cores).clamp(1, files.len());
    let shared = Arc::new(Shared { files: files.to_vec(), next: AtomicUsize::new(0), work });
    let (tx, rx) = mpsc::channel::<(usize, Result<T, E>)>();
    let states = std::thread::scope(|scope| {
        let others: Vec<_> = (1..workers).map(|_| scope.spawn(&new_worker)).collect();
        let mut states = vec![new_worker()];
        states.extend(others.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))));
        states.into_iter().collect::<Result<Vec<S>, X>>()
    })?;
    let mut lanes: Vec<Arc<Lane>> = states.into_iter().map(|s| spawn_worker(&shared, s, &tx)).collect();
    let mut slots: Vec<Option<FileOutcome<T, E>>> = (0..files.len()).map(|_| None).collect();
    let mut finished = 0;
    let limit = watchdog.limit();
    // Check the lanes often enough that a stall is noticed within a quarter of the limit.
    let tick = (limit / 4).clamp(Duration::from_millis(5), Duration::from_millis(500));
    while finished < files.len() {
        match rx.recv_timeout(tick) {
            Ok((i, outcome)) => {
                if slots[i].is_none() {
                    let done = FileOutcome { path: files[i].clone(), outcome };
                    finished += 1;
                    on_done(finished, &done);
                    slots[i] = Some(done);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // Cannot happen while `tx` is held here; kept total for safety.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let mut replaced = 0;
        for lane in &lanes {
            let mut st = lane.lock();
            let Some(i) = st.current.filter(|_| !st.abandoned) else { continue };
            if now.duration_since(st.last_progress) < limit || slots[i].is_some() {
                continue;
            }
            st.abandoned = true;
            drop(st);
            let failure = FileFailure::Stalled { path: files[i].clone(), limit_seconds: watchdog.stall_seconds };
            let done = FileOutcome { path: files[i].clone(), outcome: Err(failure.into()) };
            finished += 1;
            on_done(finished, &done);
            slots[i] = Some(done);
            replaced += 1;
        }
        if replaced > 0 {
            lanes.retain(|l| !l.lock().abandoned);
            if shared.next.load(Ordering::Relaxed) < files.len() {
                for _ in 0..replaced {
                    let state = new_worker()?;
                    lanes.push(spawn_worker(&shared, state, &tx));
                }
            }
        }
    }
    Ok(slots.into_iter().map(|s| s.expect("every file has an outcome")).collect())
}

struct Shared<W> {
    files: Vec<PathBuf>,
    next: AtomicUsize,
    work: W,
}

fn spawn_worker<S, T, E, W>(shared: &Arc<Shared<W>>, mut state: S, tx: &mpsc::Sender<(usize, Result<T, E>)>) -> Arc<Lane>
where
    S: Send + 'static,
    T: Send + 'static,
    E: From<FileFailure> + Send + 'static,
    W: Fn(&mut S, &Path) -> Result<T, E> + Send + Sync + 'static,
{
    let lane = Lane::new();
    let (shared, tx, mine) = (shared.clone(), tx.clone(), lane.clone());
    std::thread::Builder::new()
        .name("genre-meter-file".into())
        .spawn(move || {
            attach_lane(mine.clone());
            loop {
                let i = {
                    let mut st = mine.lock();
                    if st.abandoned {
                        return;
                    }
                    let i = shared.next.fetch_add(1, Ordering::Relaxed);
                    if i >= shared.files.len() {
                        st.current = None;
                        return;
                    }
                    st.current = Some(i);
                    st.last_progress = Instant::now();
                    i
                };
                let path = &shared.files[i];
                let outcome = isolate(path, || (shared.work)(&mut state, path));
                let mut st = mine.lock();
                if st.abandoned {
                    // The supervisor gave this file up already and reported it.
                    return;
                }
                st.current = None;
                if tx.send((i, outcome)).is_err() {
                    return;
                }
            }
        })
        .expect("the OS starts a worker thread");
    lane
}

/// Extensions picked up when a folder is searched (a file named explicitly is always tried).
pub const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc", "m4a", "mp4", "aac", "caf", "mka", "mkv", "webm"];

/// What a search of files and folders found.
#[derive(Debug, Default)]
pub struct AudioFileList {
    /// Files to analyse, each once even when reached by several paths (compared by canonical
    /// path; the first path found is kept). Folders' contents come sorted.
    pub files: Vec<PathBuf>,
    /// Given paths that cannot be analysed, with the reason: missing, not a regular file,
    /// folders without audio.
    pub failed: Vec<(PathBuf, String)>,
    /// Left out of a folder walk, with the reason: FIFOs, devices and sockets with audio names
    /// (opening one could wait forever), symbolic link loops (each reported once), unreadable
    /// folders and broken links.
    pub skipped: Vec<(PathBuf, String)>,
}

/// Expands folders recursively (audio extensions only) and follows symbolic links safely:
/// a link back into its own ancestry is a loop, reported once and not followed; a folder or
/// file reached twice is taken once. Hidden entries (names starting with `.`, which includes
/// macOS `._*` resource forks) are skipped in folder walks; a path given explicitly is always
/// taken if it is a regular file.
pub fn find_audio_files(paths: &[PathBuf]) -> AudioFileList {
    let mut walk = FolderWalk::default();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => {
                let found_before = walk.candidates;
                let canonical = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
                if walk.seen_dirs.contains(&canonical) {
                    continue; // given twice, or inside a folder given before
                }
                walk.dir(p, canonical, &mut Vec::new());
                if walk.candidates == found_before {
                    let why = format!("folder has no audio files ({})", AUDIO_EXTENSIONS.join(", "));
                    walk.list.failed.push((p.clone(), why));
                }
            }
            Ok(m) if m.is_file() => walk.file(p),
            Ok(m) => walk.list.failed.push((p.clone(), not_regular_reason(&m))),
            Err(_) if std::fs::symlink_metadata(p).is_ok() => {
                walk.list.failed.push((p.clone(), "symbolic link to nothing (or a link loop)".to_string()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                walk.list.failed.push((p.clone(), "no such file or folder".to_string()))
            }
            Err(e) => walk.list.failed.push((p.clone(), format!("cannot read: {e}"))),
        }
    }
    walk.list
}

/// [`find_audio_files`] without the skipped entries: `(files, failed)`.
pub fn collect_audio_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let list = find_audio_files(paths);
    (list.files, list.failed)
}

#[derive(Default)]
struct FolderWalk {
    list: AudioFileList,
    seen_files: HashSet<PathBuf>,
    seen_dirs: HashSet<PathBuf>,
    /// Audio files met, duplicates included (a folder of duplicates is not "without audio").
    candidates: usize,
}

impl FolderWalk {
    fn file(&mut self, path: &Path) {
        self.candidates += 1;
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.seen_files.insert(canonical) {
            self.list.files.push(path.to_path_buf());
        }
    }

    /// Walks `dir` (canonical path `canonical`); `ancestors` holds the canonical paths of the
    /// folders being walked above it, so that a link back into them is seen as a loop.
    fn dir(&mut self, dir: &Path, canonical: PathBuf, ancestors: &mut Vec<PathBuf>) {
        if !self.seen_dirs.insert(canonical.clone()) {
            return;
        }
        let mut entries: Vec<(std::ffi::OsString, PathBuf)> = match std::fs::read_dir(dir) {
            Ok(rd) => rd.filter_map(Result::ok).map(|e| (e.file_name(), e.path())).collect(),
            Err(e) => {
                self.list.skipped.push((dir.to_path_buf(), format!("cannot read folder: {e}")));
                return;
            }
        };
        entries.sort();
        ancestors.push(canonical);
        for (name, path) in entries {
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    // A dangling link, or a link to itself (ELOOP).
                    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                        self.list.skipped.push((path, format!("symbolic link that cannot be followed: {e}")));
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
                if ancestors.contains(&target) {
                    let why = format!("symbolic link loop: leads back to '{}', not followed", target.display());
                    self.list.skipped.push((path, why));
                } else {
                    self.dir(&path, target, ancestors);
                }
            } else if has_audio_extension(&path) {
                if meta.is_file() {
                    self.file(&path);
                } else {
                    let why = format!("{}; skipped", not_regular_reason(&meta));
                    self.list.skipped.push((path, why));
                }
            }
        }
        ancestors.pop();
    }
}

fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn not_regular_reason(meta: &std::fs::Metadata) -> String {
    format!("not a regular file but a {}: not opened, because reading it could wait forever", special_file_kind(meta))
}
