//! `genre-meter analyze`: files in parallel, one model session per worker thread.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use genre_meter::engine::batch::{FileResult, find_audio_files};
use genre_meter::engine::quick::{DEFAULT_QUICK_MAX_STANDARD_ERROR, DEFAULT_QUICK_WINDOWS};
use genre_meter::engine::{AnalysisSettings, DecodeError, model};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    /// JSON Lines: one object per file, written (and flushed) as each file finishes.
    Jsonl,
}

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Audio files or folders (searched recursively).
    #[arg(required_unless_present = "files_from")]
    pub paths: Vec<PathBuf>,
    /// Also read paths from this file, one per line (`-`: standard input), e.g. the shard of
    /// a file list a cluster executor is given.
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,
    /// Skip files that already have a successful line in this JSON Lines file (an earlier
    /// `--format jsonl` run): rerunning with `>> FILE` resumes an interrupted run.
    #[arg(long, value_name = "FILE")]
    pub skip_done: Option<PathBuf>,
    #[command(flatten)]
    pub quick: QuickArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// One row per analysis window as well as the whole-piece result.
    #[arg(long)]
    pub timeline: bool,
    /// How many labels to show per file (table and the JSON `top` list).
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Show only the model's genre labels (YAMNet: AudioSet's music genres, not its other
    /// sound classes; msd-musicnn: its genre tags, not moods or eras).
    #[arg(long)]
    pub genres_only: bool,
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
    /// Analyse every file even when a cached result exists.
    #[arg(long)]
    pub no_cache: bool,
    /// Also write a self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug)]
pub enum HopArg {
    Seconds(f64),
    Patch,
}

/// Quick mode's options, the same for `analyze`, `tag` and `check`.
#[derive(clap::Args, Debug, Clone)]
pub struct QuickArgs {
    /// Quick mode: classify a few windows spread over each track and decode only those, so
    /// that a track's cost does not grow with its length (the whole-track verdict agrees
    /// with full analysis; see docs/scale-out.md). In `check`, the expected-genre share and
    /// the genre changes come from those windows; dead air still reads every sample.
    #[arg(long)]
    pub quick: bool,
    /// Windows per track in quick mode (with --max-error: the most windows).
    #[arg(long, requires = "quick", default_value_t = DEFAULT_QUICK_WINDOWS as u32, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub windows: u32,
    /// Adaptive quick mode: add windows (4 at a time, up to --windows) until the standard
    /// error of every whole-track probability is at most this; 0: always --windows windows.
    #[arg(long, requires = "quick", default_value_t = DEFAULT_QUICK_MAX_STANDARD_ERROR, value_parser = parse_max_error)]
    pub max_error: f32,
}

impl QuickArgs {
    /// `AnalysisSettings::quick_windows`: the window count, in quick mode only.
    pub fn windows(&self) -> Option<usize> {
        self.quick.then_some(self.windows as usize)
    }

    /// `AnalysisSettings::quick_max_standard_error`: adaptive quick mode only.
    pub fn max_standard_error(&self) -> Option<f32> {
        (self.quick && self.max_error > 0.0).then_some(self.max_error)
    }
}

/// A standard error for adaptive quick mode: a probability, 0 to 1.
pub fn parse_max_error(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("--max-error '{s}' must be a probability between 0 and 1 (e.g. 0.02), or 0 for a fixed window count")),
    }
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

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let entry = match crate::resolve_model(&args.model) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let settings = AnalysisSettings {
        hop_seconds: match args.hop {
            HopArg::Seconds(s) => s,
            HopArg::Patch => entry.manifest.frontend.patch_seconds(),
        },
        silence_threshold_dbfs: args.silence_db,
        quick_windows: args.quick.windows(),
        quick_max_standard_error: args.quick.max_standard_error(),
        ..AnalysisSettings::default()
    };
    let mut paths = args.paths.clone();
    if let Some(list) = &args.files_from {
        match read_file_list(list) {
            Ok(more) => paths.extend(more),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let found = find_audio_files(&paths);
    for (path, why) in &found.skipped {
        eprintln!("skipped: {}: {why}", path.display());
    }
    let mut files = found.files;
    if let Some(done_file) = &args.skip_done {
        match read_done(done_file) {
            Ok((done, ends_mid_line)) => {
                let before = files.len();
                files.retain(|f| !done.contains(f.to_string_lossy().as_ref()));
                eprintln!("skipping {} files already in {}", before - files.len(), done_file.display());
                if ends_mid_line && args.format == Format::Jsonl {
                    // An interrupted run left half a line: end it, so our first line is whole
                    // when appended to the same file.
                    println!();
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let mut results: Vec<FileResult> = found
        .failed
        .into_iter()
        .map(|(path, reason)| FileResult { outcome: Err(DecodeError::Missing { path: path.clone(), reason }.into()), path })
        .collect();
    let started = Instant::now();
    let progress = ProgressBar::new(files.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files, {elapsed} elapsed, ETA {eta}  {wide_msg}")
            .expect("valid template"),
    );
    let jsonl = args.format == Format::Jsonl;
    let top = output::Top { count: args.top, genres_only: args.genres_only };
    let mut jsonl_error = None;
    if jsonl {
        // A cluster log is no terminal: no progress bar in its stderr.
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        for r in &results {
            if let Err(e) = write_jsonl(r, &entry.manifest, top, args.timeline, &settings) {
                jsonl_error.get_or_insert(e);
            }
        }
    }
    let on_done = |_: usize, r: &FileResult| {
        progress.set_message(r.path.display().to_string());
        progress.inc(1);
        if jsonl && jsonl_error.is_none() {
            if let Err(e) = write_jsonl(r, &entry.manifest, top, args.timeline, &settings) {
                jsonl_error = Some(e);
            }
        }
    };
    let cache = (!args.no_cache).then(|| genre_meter::cache::AnalysisCache::in_data_dir(&entry, &settings));
    let analysed = genre_meter::cache::analyze_files_cached(&files, &entry, &settings, args.jobs, cache.as_ref(), on_done);
    progress.finish_and_clear();
    match analysed {
        Ok((done, cache_problem)) => {
            if let Some(e) = cache_problem {
                eprintln!("warning: {e}");
            }
            results.extend(done.into_iter().map(|d| d.result))
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let model = &entry.manifest;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let tags = crate::check::genre_tags_of(&results);
    let written = match args.format {
        Format::Jsonl => jsonl_error.map_or(Ok(()), Err),
        Format::Table => output::table(&mut out, &results, model, top, args.timeline, &tags),
        Format::Json => output::json(&mut out, &results, model, top, args.timeline, &tags),
        Format::Csv => output::csv(&mut out, &results, model, args.timeline, &tags),
    };
    if let Some(path) = &args.report
        && let Err(e) = crate::check::write_analysis_report(path, &results, model, &tags)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: writing the output failed: {e}");
            return ExitCode::from(2);
        }
    }
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    for r in results.iter().filter(|r| r.outcome.is_err()) {
        eprintln!("failed: {}", r.outcome.as_ref().err().unwrap());
    }
    let too_short = results.iter().filter(|r| output::status(r) == "too_short").count();
    let audio_s: f64 = results.iter().filter_map(|r| r.outcome.as_ref().ok()).map(|a| a.summary.duration_seconds).sum::<f64>() + 0.0; // not "-0.0" when none decoded
    eprintln!(
        "analysed {} of {} files ({:.1} min of audio) in {:.2} s ({:.0}x real time) with model {}; {} failed{}",
        results.len() - failed,
        results.len(),
        audio_s / 60.0,
        elapsed,
        audio_s / elapsed.max(1e-9),
        model.name,
        failed,
        if too_short > 0 { format!(", {too_short} too short to classify") } else { String::new() }
    );
    let cache_counts = genre_meter::cache::counters();
    eprintln!("{} files analysed by the model, {} from the cache", cache_counts.inferences, cache_counts.hits);
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}


/// Paths listed one per line (blank lines ignored) in `list`, or on standard input for `-`.
fn read_file_list(list: &Path) -> Result<Vec<PathBuf>, String> {
    let text = if list.as_os_str() == "-" {
        let mut lines = Vec::new();
        for line in std::io::stdin().lock().lines() {
            lines.push(line.map_err(|e| format!("reading the file list from standard input failed: {e}"))?);
        }
        lines.join("\n")
    } else {
        std::fs::read_to_string(list).map_err(|e| format!("cannot read the file list '{}': {e}", list.display()))?
    };
    Ok(text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty()).map(PathBuf::from).collect())
}

/// Paths with an `"ok": true` line in a JSON Lines file, and whether the file ends inside a
/// line. Unparseable lines (an interrupted write) and failures are not done: they are retried.
/// A missing file is an empty one (the first run of a resumable job).
fn read_done(file: &Path) -> Result<(HashSet<String>, bool), String> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((HashSet::new(), false)),
        Err(e) => return Err(format!("cannot read --skip-done file '{}': {e}", file.display())),
    };
    let done = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["ok"] == serde_json::Value::Bool(true))
        .filter_map(|v| v["path"].as_str().map(str::to_string))
        .collect();
    Ok((done, !text.is_empty() && !text.ends_with('\n')))
}

/// One file as one JSON line, written with a single write and flushed, so that a killed run
/// leaves whole lines (and at most one partial last line, which `--skip-done` ignores).
fn write_jsonl(
    r: &FileResult,
    model: &genre_meter::engine::Manifest,
    top: output::Top,
    timeline: bool,
    settings: &AnalysisSettings,
) -> std::io::Result<()> {
    let tags = crate::check::genre_tags_of(std::slice::from_ref(r));
    let mut v = output::file_json(r, model, top, timeline, tags.get(&r.path));
    v["model"] = serde_json::json!(model.name);
    v["quick_windows"] = serde_json::json!(settings.quick_windows);
    v["quick_max_error"] = serde_json::json!(settings.quick_max_standard_error);
    v["hop_seconds"] = serde_json::json!(settings.hop_seconds);
    let mut line = serde_json::to_string(&v).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())?;
    out.flush()
}
