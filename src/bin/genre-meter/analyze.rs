//! `genre-meter analyze`: files in parallel, one model session per worker thread.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use genre_meter::engine::{AnalysisSettings, FileAnalysis, LoadedModel, ModelEntry, analyze_file, model};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

/// Extensions picked up when a folder is searched (a file named explicitly is always tried).
const AUDIO_EXTENSIONS: &[&str] =
    &["wav", "wave", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc", "m4a", "mp4", "aac", "caf", "mka", "mkv", "webm"];

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Audio files or folders (searched recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// One row per analysis window as well as the whole-piece result.
    #[arg(long)]
    pub timeline: bool,
    /// How many labels to show per file (table and the JSON `top` list).
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Model name (see `genre-meter models`) or path of a model folder or manifest.toml.
    #[arg(long, default_value = model::DEFAULT_MODEL)]
    pub model: String,
    /// Seconds between windows, or `patch` for non-overlapping windows (musicnn's own).
    #[arg(long, default_value = "1", value_parser = parse_hop)]
    pub hop: HopArg,
    /// Windows quieter than this (dBFS) count as silence.
    #[arg(long, default_value_t = -60.0, allow_negative_numbers = true)]
    pub silence_db: f32,
    /// Files analysed at once (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
pub enum HopArg {
    Seconds(f64),
    Patch,
}

fn parse_hop(s: &str) -> Result<HopArg, String> {
    if s == "patch" {
        return Ok(HopArg::Patch);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 3600.0 => Ok(HopArg::Seconds(v)),
        _ => Err(format!("hop '{s}' must be a number of seconds > 0 (e.g. 1 or 0.5) or `patch`")),
    }
}

/// One input's outcome.
pub struct FileResult {
    pub path: PathBuf,
    pub outcome: Result<FileAnalysis, String>,
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let entry = match model::resolve(&args.model) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let settings = AnalysisSettings {
        hop_seconds: match args.hop {
            HopArg::Seconds(s) => s,
            HopArg::Patch => entry.manifest.frontend.patch_seconds(),
        },
        silence_threshold_dbfs: args.silence_db,
        ..AnalysisSettings::default()
    };
    let (files, missing) = collect_files(&args.paths);
    let mut results: Vec<FileResult> = missing
        .into_iter()
        .map(|(path, why)| FileResult { path, outcome: Err(why) })
        .collect();
    let started = Instant::now();
    match analyse_all(&files, &entry, &settings, args.jobs) {
        Ok(done) => results.extend(done),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let model = &entry.manifest;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        Format::Table => output::table(&mut out, &results, model, args.top, args.timeline),
        Format::Json => output::json(&mut out, &results, model, args.top, args.timeline),
        Format::Csv => output::csv(&mut out, &results, model, args.timeline),
    };
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the output failed: {e}");
            return ExitCode::from(2);
        }
    }
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    for r in results.iter().filter(|r| r.outcome.is_err()) {
        eprintln!("failed: {}: {}", r.path.display(), r.outcome.as_ref().err().unwrap());
    }
    let audio_s: f64 = results.iter().filter_map(|r| r.outcome.as_ref().ok()).map(|a| a.summary.duration_seconds).sum();
    eprintln!(
        "analysed {} of {} files ({:.1} min of audio) in {:.2} s ({:.0}x real time) with model {}; {} failed",
        results.len() - failed,
        results.len(),
        audio_s / 60.0,
        elapsed,
        audio_s / elapsed.max(1e-9),
        model.name,
        failed
    );
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Expands folders (recursively, audio extensions only, sorted); reports paths that do not exist.
fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
            if found.is_empty() {
                missing.push((p.clone(), format!("folder has no audio files ({})", AUDIO_EXTENSIONS.join(", "))));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            missing.push((p.clone(), "no such file or folder".to_string()));
        }
    }
    (files, missing)
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

/// Analyses `files` on `jobs` worker threads, each with its own model session; results come
/// back in input order. Fails only when the model cannot be loaded.
pub fn analyse_all(
    files: &[PathBuf],
    entry: &ModelEntry,
    settings: &AnalysisSettings,
    jobs: Option<usize>,
) -> Result<Vec<FileResult>, genre_meter::engine::ModelError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = jobs.unwrap_or(cores).clamp(1, files.len().max(1));
    // Load once up front so that a model problem is one clear error, not one per file.
    let first: Arc<LoadedModel> = Arc::new(entry.load()?);
    let progress = ProgressBar::new(files.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} elapsed, ETA {eta}  {wide_msg}")
            .expect("valid template"),
    );
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    let mut slots: Vec<Option<FileResult>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| -> Result<(), genre_meter::engine::ModelError> {
        let mut handles = Vec::new();
        for w in 0..workers {
            let tx = tx.clone();
            let next = &next;
            let model = if w == 0 { Ok(first.clone()) } else { entry.load().map(Arc::new) };
            let model = model?;
            handles.push(scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let outcome = analyze_file(path, &model, settings).map_err(|e| e.to_string());
                    if tx.send((i, FileResult { path: path.clone(), outcome })).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(tx);
        for (i, result) in rx {
            progress.set_message(result.path.display().to_string());
            progress.inc(1);
            slots[i] = Some(result);
        }
        Ok(())
    })?;
    progress.finish_and_clear();
    Ok(slots.into_iter().map(|s| s.expect("every file is analysed once")).collect())
}
