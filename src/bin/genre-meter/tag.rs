//! `genre-meter tag`: analyse files (or folders, or playlists) and write the genre into each
//! file's own tags, with a machine-readable record of the decision beside it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use genre_meter::cache::{AnalysisCache, analyze_files_cached, content_sha256, counters};
use genre_meter::engine::batch::collect_audio_files;
use genre_meter::engine::{AnalysisSettings, Manifest, model};
use genre_meter::library::{GenreUpdate, LibraryError, read_genre_tags, write_genre_tags};
use genre_meter::playlist::{self, EntryTarget};
use genre_meter::playlist::check::genre_indices;
use serde_json::json;

use crate::analyze::QuickArgs;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TagFormat {
    Table,
    Json,
}

#[derive(Args)]
pub struct TagArgs {
    /// Audio files, folders (recursively) or playlists (.m3u, .m3u8, .pls, .xspf).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Show each file's current genre and what would be written; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the N strongest genres (as several values where the format allows).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub top: u16,
    /// Leave a file alone (reported as unsure) when its top genre's probability is below P;
    /// with --top N, further genres are written only when they reach P too.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub min_confidence: f32,
    /// Never overwrite a genre that is already in the file.
    #[arg(long)]
    pub keep_existing: bool,
    /// Model name (see `genre-meter models`) or path of a model folder or manifest.toml.
    #[arg(long, default_value = model::DEFAULT_MODEL)]
    pub model: String,
    /// Analyse every file even when a cached result exists.
    #[arg(long)]
    pub no_cache: bool,
    /// Files analysed at once (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: TagFormat,
    #[command(flatten)]
    pub quick: QuickArgs,
}

pub fn parse_probability(s: &str) -> Result<f32, String> {
    match s.parse::<f32>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("'{s}' must be a probability between 0 and 1 (e.g. 0.6)")),
    }
}

/// Files named directly, found in folders, or listed in playlists; and the inputs that gave
/// nothing (missing files, unreadable playlists, URLs).
pub fn expand_inputs(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(String, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        if p.is_file() && playlist::is_playlist(p) {
            match playlist::read(p) {
                Ok(list) => {
                    for e in list.entries {
                        match e.target {
                            EntryTarget::File(f) if f.is_file() => files.push(f),
                            EntryTarget::File(f) => problems.push((f.display().to_string(), "no such file (listed in a playlist)".into())),
                            EntryTarget::Url(u) => problems.push((u, "a URL: only local files can be tagged".into())),
                        }
                    }
                }
                Err(e) => problems.push((p.display().to_string(), e.to_string())),
            }
        } else {
            let (found, missing) = collect_audio_files(std::slice::from_ref(p));
            files.extend(found);
            problems.extend(missing.into_iter().map(|(p, why)| (p.display().to_string(), why)));
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    (files, problems)
}

/// The machine-readable field: model, versions, what was written and every genre's
/// probability (4 decimals), as compact JSON.
pub fn machine_record(model: &Manifest, written: &[String], p: &[f32]) -> String {
    let probabilities: serde_json::Map<String, serde_json::Value> = genre_indices(model)
        .into_iter()
        .map(|i| (model.labels.names[i].clone(), json!(((p[i] as f64) * 1e4).round() / 1e4)))
        .collect();
    json!({
        "model": model.name,
        "model_sha256": model.sha256,
        "genre_meter": env!("CARGO_PKG_VERSION"),
        "genres": written,
        "probabilities": probabilities,
    })
    .to_string()
}

/// Genres to write: the strongest `top`, those below `min_confidence` left out.
pub fn chosen_genres(model: &Manifest, p: &[f32], top: usize, min_confidence: f32) -> Vec<String> {
    let mut idx = genre_indices(model);
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    idx.into_iter().take(top).take_while(|&i| p[i] >= min_confidence).map(|i| model.labels.names[i].clone()).collect()
}

pub fn run(args: TagArgs) -> ExitCode {
    let entry = match crate::resolve_model(&args.model) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let settings = AnalysisSettings {
        quick_windows: args.quick.windows(),
        quick_max_standard_error: args.quick.max_standard_error(),
        ..AnalysisSettings::default()
    };
    let (files, problems) = expand_inputs(&args.paths);
    if files.is_empty() {
        for (p, why) in &problems {
            eprintln!("failed: {p}: {why}");
        }
        eprintln!("error: no audio files to tag");
        return ExitCode::from(2);
    }
    let cache = (!args.no_cache).then(|| AnalysisCache::in_data_dir(&entry, &settings));
    let analysed = match analyze_files_cached(&files, &entry, &settings, args.jobs, cache.as_ref(), |_, _| {}) {
        Ok((done, cache_problem)) => {
            if let Some(e) = cache_problem {
                eprintln!("warning: {e}");
            }
            done
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let model = &entry.manifest;
    let mut rows = Vec::new();
    let mut failed = problems.len();
    for (path, why) in &problems {
        rows.push(json!({ "path": path, "status": "failed", "reason": why }));
    }
    for done in &analysed {
        let path = &done.result.path;
        let row = |status: &str, current: &[String], new: &[String], reason: Option<String>| {
            json!({ "path": path, "status": status, "current": current, "new": new, "reason": reason })
        };
        let analysis = match &done.result.outcome {
            Ok(a) => a,
            Err(e) => {
                failed += 1;
                rows.push(row("failed", &[], &[], Some(e.to_string())));
                continue;
            }
        };
        let current = match read_genre_tags(path) {
            Ok(t) => t,
            Err(e) => {
                failed += 1;
                rows.push(row("failed", &[], &[], Some(e.to_string())));
                continue;
            }
        };
        let Some(p) = &analysis.summary.probabilities else {
            rows.push(row("unsure", &current.genres, &[], Some("every window is silent".into())));
            continue;
        };
        let genres = chosen_genres(model, p, args.top as usize, args.min_confidence);
        if genres.is_empty() {
            let best = genre_indices(model).into_iter().map(|i| p[i]).fold(0.0f32, f32::max);
            let why = format!("top genre probability {best:.2} is below --min-confidence {:.2}", args.min_confidence);
            rows.push(row("unsure", &current.genres, &[], Some(why)));
            continue;
        }
        if args.keep_existing && current.genres.iter().any(|g| !g.trim().is_empty()) {
            rows.push(row("kept", &current.genres, &genres, Some("--keep-existing: the file already has a genre".into())));
            continue;
        }
        let update = GenreUpdate { machine: machine_record(model, &genres, p), genres: genres.clone() };
        if current.genres == genres && current.machine.as_deref() == Some(update.machine.as_str()) {
            rows.push(row("up to date", &current.genres, &genres, None));
            continue;
        }
        if args.dry_run {
            rows.push(row("would write", &current.genres, &genres, None));
            continue;
        }
        match write_genre_tags(path, &update) {
            Ok(()) => {
                // Same audio, new bytes: the cached analysis stays valid for the new file.
                if let (Some(cache), Some(old)) = (&cache, &done.content_sha256)
                    && let Ok(new) = content_sha256(path)
                {
                    let _ = cache.alias(old, &new);
                }
                rows.push(row("written", &current.genres, &genres, None));
            }
            Err(e) => {
                failed += 1;
                let status = if matches!(e, LibraryError::ReadOnly { .. }) { "read-only" } else { "failed" };
                rows.push(row(status, &current.genres, &genres, Some(e.to_string())));
            }
        }
    }
    match args.format {
        TagFormat::Json => {
            let doc = json!({ "model": model.name, "dry_run": args.dry_run, "files": rows });
            println!("{}", serde_json::to_string_pretty(&doc).expect("JSON"));
        }
        TagFormat::Table => {
            for r in &rows {
                let list = |v: &serde_json::Value| {
                    let items: Vec<&str> = v.as_array().map(|a| a.iter().filter_map(|s| s.as_str()).collect()).unwrap_or_default();
                    if items.is_empty() { "(none)".to_string() } else { items.join("; ") }
                };
                println!("{}", r["path"].as_str().unwrap_or_default());
                let status = r["status"].as_str().unwrap_or_default();
                println!("  {status:<12} current genre: {}   new: {}", list(&r["current"]), list(&r["new"]));
                if let Some(why) = r["reason"].as_str() {
                    println!("  {why}");
                }
            }
        }
    }
    let count = |s: &str| rows.iter().filter(|r| r["status"] == s).count();
    let c = counters();
    eprintln!(
        "{} files: {} written, {} would write, {} up to date, {} kept, {} unsure, {} read-only, {} failed; {} analysed, {} from the cache",
        rows.len(),
        count("written"),
        count("would write"),
        count("up to date"),
        count("kept"),
        count("unsure"),
        count("read-only"),
        failed - count("read-only"),
        c.inferences,
        c.hits
    );
    if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
