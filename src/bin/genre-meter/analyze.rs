//! `genre-meter analyze`: files in parallel, one model session per worker thread.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use genre_meter::engine::batch::{FileResult, find_audio_files};
use genre_meter::engine::{AnalysisSettings, DecodeError, model};
use indicatif::{ProgressBar, ProgressStyle};

use crate::output;

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
    let found = find_audio_files(&args.paths);
    for (path, why) in &found.skipped {
        eprintln!("skipped: {}: {why}", path.display());
    }
    let files = found.files;
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
    let on_done = |_: usize, r: &FileResult| {
        progress.set_message(r.path.display().to_string());
        progress.inc(1);
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
    let top = output::Top { count: args.top, genres_only: args.genres_only };
    let tags = crate::check::genre_tags_of(&results);
    let written = match args.format {
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

