//! `genre-meter check`: playlist entries against a station's format (genre, dead air, genre
//! changes, missing files), as a table, JSON or CSV, and optionally an HTML report.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use genre_meter::cache::{AnalysisCache, analyze_files_cached, counters};
use genre_meter::engine::{AnalysisSettings, Manifest, model};
use genre_meter::playlist::check::{EntryCheck, Flag, FormatRules, genre_indices, judge};
use genre_meter::playlist::silence::{LevelProfile, level_profile};
use genre_meter::playlist::{self, EntryTarget};
use genre_meter::report::{Report, ReportRow, render};
use serde_json::json;

use crate::analyze::QuickArgs;
use crate::tag::parse_probability;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CheckFormat {
    Table,
    Json,
    Csv,
}

#[derive(Args)]
pub struct CheckArgs {
    /// Playlists (.m3u, .m3u8, .pls, .xspf) or folders.
    #[arg(required = true)]
    pub playlists: Vec<PathBuf>,
    /// The genres the format allows, comma-separated model labels (e.g. rock,metal).
    #[arg(long, required = true, value_delimiter = ',')]
    pub expect: Vec<String>,
    /// Off-format when the expected genres' summed probability is below P.
    #[arg(long, default_value_t = 0.5, value_parser = parse_probability)]
    pub min_share: f32,
    /// Dead air: silence inside a track longer than this many seconds.
    #[arg(long, default_value_t = 5.0)]
    pub max_silence: f64,
    /// Level (dBFS) below which audio counts as silence.
    #[arg(long, default_value_t = -60.0, allow_negative_numbers = true)]
    pub silence_db: f32,
    /// A genre change is flagged when each part lasts at least this many seconds.
    #[arg(long, default_value_t = 15.0)]
    pub min_segment: f64,
    /// Model name (see `genre-meter models`) or path of a model folder or manifest.toml.
    #[arg(long, default_value = model::DEFAULT_MODEL)]
    pub model: String,
    #[arg(long, value_enum, default_value = "table")]
    pub format: CheckFormat,
    /// Also write a self-contained HTML report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Analyse every file even when a cached result exists.
    #[arg(long)]
    pub no_cache: bool,
    /// Files analysed at once (default: all cores).
    #[arg(long, short)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub quick: QuickArgs,
}

/// Model label indices of the expected genres (case-insensitive), or an error naming the
/// unknown ones and the labels there are.
fn expected_indices(model: &Manifest, expect: &[String]) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for e in expect.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        match model.labels.names.iter().position(|l| l.eq_ignore_ascii_case(e)) {
            Some(i) => out.push(i),
            None => unknown.push(e.to_string()),
        }
    }
    if !unknown.is_empty() || out.is_empty() {
        let genres: Vec<&str> = genre_indices(model).into_iter().map(|i| model.labels.names[i].as_str()).collect();
        return Err(format!(
            "--expect names {} not among model '{}''s genres: {}",
            if unknown.is_empty() { "no genre".to_string() } else { unknown.join(", ") },
            model.name,
            genres.join(", ")
        ));
    }
    Ok(out)
}

pub fn run(args: CheckArgs) -> ExitCode {
    let entry = match crate::resolve_model(&args.model) {
        Ok(e) => e,
        Err(code) => return code,
    };
    let model = entry.manifest.clone();
    let expected = match expected_indices(&model, &args.expect) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if !(args.max_silence.is_finite() && args.max_silence >= 0.0 && args.min_segment.is_finite() && args.min_segment >= 0.0) {
        eprintln!("error: --max-silence and --min-segment must be seconds >= 0");
        return ExitCode::from(2);
    }
    let rules = FormatRules {
        expected,
        min_share: args.min_share,
        max_silence_seconds: args.max_silence,
        silence_threshold_dbfs: args.silence_db,
        min_segment_seconds: args.min_segment,
    };
    let settings = AnalysisSettings {
        silence_threshold_dbfs: args.silence_db,
        quick_windows: args.quick.windows(),
        quick_max_standard_error: args.quick.max_standard_error(),
        ..AnalysisSettings::default()
    };

    // Every entry of every playlist, in order; files to analyse once each.
    let mut entries: Vec<EntryCheck> = Vec::new();
    let mut to_analyse: Vec<PathBuf> = Vec::new();
    let mut pending: Vec<(usize, PathBuf)> = Vec::new();
    let mut readable_lists = 0;
    for list_path in &args.playlists {
        let list = match playlist::read(list_path) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        readable_lists += 1;
        for (k, e) in list.entries.into_iter().enumerate() {
            let (location, flag) = match &e.target {
                EntryTarget::Url(u) => (u.clone(), Some(Flag::NotCheckable { url: u.clone() })),
                EntryTarget::File(f) if !f.exists() => {
                    (f.display().to_string(), Some(Flag::Missing { reason: "no such file".into() }))
                }
                EntryTarget::File(f) if f.is_dir() => {
                    (f.display().to_string(), Some(Flag::Unreadable { reason: "a folder, not a file".into() }))
                }
                EntryTarget::File(f) => (f.display().to_string(), None),
            };
            let check = EntryCheck::failed(list.source.clone(), k + 1, location, e.title.clone(), Flag::AllSilent);
            match (flag, &e.target) {
                (Some(flag), _) => entries.push(EntryCheck { flags: vec![flag], ..check }),
                (None, EntryTarget::File(f)) => {
                    if !to_analyse.contains(f) {
                        to_analyse.push(f.clone());
                    }
                    pending.push((entries.len(), f.clone()));
                    entries.push(check);
                }
                (None, EntryTarget::Url(_)) => unreachable!("URLs are flagged above"),
            }
        }
    }
    if readable_lists == 0 {
        eprintln!("error: no playlist could be read");
        return ExitCode::from(2);
    }
    let cache = (!args.no_cache).then(|| AnalysisCache::in_data_dir(&entry, &settings));
    let analysed = match analyze_files_cached(&to_analyse, &entry, &settings, args.jobs, cache.as_ref(), |_, _| {}) {
        Ok((done, problem)) => {
            if let Some(e) = problem {
                eprintln!("warning: {e}");
            }
            done
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // Dead air needs the short-term level: one more decode per file (no inference), on
    // `--jobs` threads, and cached like the analysis.
    let levels = levels_of_all(&analysed, cache.as_ref(), args.jobs);
    for (slot, path) in pending {
        let k = analysed.iter().position(|d| d.result.path == path).expect("every file was analysed");
        let done = &analysed[k];
        let check = std::mem::replace(
            &mut entries[slot],
            EntryCheck::failed(PathBuf::new(), 0, String::new(), None, Flag::AllSilent),
        );
        entries[slot] = match &done.result.outcome {
            Err(e) => EntryCheck { flags: vec![Flag::Unreadable { reason: e.to_string() }], ..check },
            Ok(a) => judge(check, a, levels[k].as_ref(), &model, &rules),
        };
    }

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match args.format {
        CheckFormat::Table => table(&mut out, &entries),
        CheckFormat::Json => json_out(&mut out, &entries, &model, &args, &rules),
        CheckFormat::Csv => csv_out(&mut out, &entries),
    };
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("error: writing the output failed: {e}");
        return ExitCode::from(2);
    }
    if let Some(path) = &args.report {
        let expected: Vec<&str> = rules.expected.iter().map(|&i| model.labels.names[i].as_str()).collect();
        let report = Report {
            title: format!("Playlist check: {}", args.playlists.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")),
            subtitle: format!("model {} · expected: {} (share ≥ {:.0} %)", model.name, expected.join(", "), rules.min_share * 100.0),
            labels: model.labels.names.clone(),
            genres: genre_indices(&model),
            rows: entries.iter().map(report_row).collect(),
        };
        if let Err(e) = std::fs::write(path, render(&report)) {
            eprintln!("error: cannot write the report '{}': {e}", path.display());
            return ExitCode::from(2);
        }
        eprintln!("report: {}", path.display());
    }
    let flagged = entries.iter().filter(|e| !e.pass).count();
    let c = counters();
    eprintln!(
        "checked {} entries: {} pass, {} flagged; {} files analysed, {} from the cache",
        entries.len(),
        entries.len() - flagged,
        flagged,
        c.inferences,
        c.hits
    );
    if entries.is_empty() {
        eprintln!("error: the playlists have no entries");
        return ExitCode::from(2);
    }
    if flagged > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

/// Level profiles of every analysed file, in order (`None` where it failed to analyse).
fn levels_of_all(
    analysed: &[genre_meter::cache::CachedResult],
    cache: Option<&AnalysisCache>,
    jobs: Option<usize>,
) -> Vec<Option<LevelProfile>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = jobs.unwrap_or(cores).clamp(1, analysed.len().max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let slots: Vec<std::sync::Mutex<Option<LevelProfile>>> = analysed.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(done) = analysed.get(i) else { break };
                    if done.result.outcome.is_ok() {
                        let p = levels_for(&done.result.path, done.content_sha256.as_deref(), cache);
                        *slots[i].lock().expect("no panics while holding") = p;
                    }
                }
            });
        }
    });
    slots.into_iter().map(|m| m.into_inner().expect("no panics while holding")).collect()
}

/// The file's level profile, from the cache when the same bytes were measured before.
fn levels_for(path: &Path, hash: Option<&str>, cache: Option<&AnalysisCache>) -> Option<LevelProfile> {
    if let (Some(cache), Some(hash)) = (cache, hash)
        && let Some(p) = cache.get_side::<LevelProfile>("levels", hash)
    {
        return Some(p);
    }
    // Per file and isolated, as the analysis: a decoder panic on a damaged file is that
    // entry's problem only.
    let profile = genre_meter::engine::isolation::isolate(path, || {
        level_profile(path).map_err(genre_meter::engine::AnalysisError::from)
    })
    .ok()?;
    if let (Some(cache), Some(hash)) = (cache, hash) {
        let _ = cache.put_side("levels", hash, &profile);
    }
    Some(profile)
}

pub fn report_row(e: &EntryCheck) -> ReportRow {
    let name = e.title.clone().unwrap_or_else(|| {
        Path::new(&e.location).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| e.location.clone())
    });
    ReportRow {
        name,
        location: e.location.clone(),
        pass: e.pass,
        flags: e.flags.iter().map(|f| (f.name().to_string(), f.describe())).collect(),
        top_genre: e.top_genre.clone().zip(e.top_probability),
        note: e.expected_share.map(|s| format!("expected genres {:.0} %", s * 100.0)),
        duration_seconds: e.duration_seconds,
        timeline: e.timeline.clone(),
        dead_air: e
            .flags
            .iter()
            .filter_map(|f| if let Flag::DeadAir { gaps } = f { Some(gaps) } else { None })
            .flatten()
            .map(|g| (g.start_seconds, g.end_seconds))
            .collect(),
        probabilities: e.probabilities.clone(),
    }
}

fn table(out: &mut impl Write, entries: &[EntryCheck]) -> std::io::Result<()> {
    let mut last_list: Option<&Path> = None;
    for e in entries {
        if last_list != Some(e.playlist.as_path()) {
            writeln!(out, "{}", e.playlist.display())?;
            last_list = Some(&e.playlist);
        }
        let verdict = if e.pass { "PASS" } else { "FLAGGED" };
        let top = match (&e.top_genre, e.top_probability, e.expected_share) {
            (Some(g), Some(p), Some(s)) => format!("{g} {p:.2} (expected {s:.2})"),
            _ => String::new(),
        };
        writeln!(out, "  {:>3}  {verdict:<8} {}  {top}", e.position, e.location)?;
        for f in &e.flags {
            writeln!(out, "         {}", f.describe())?;
        }
    }
    Ok(())
}

fn json_out(out: &mut impl Write, entries: &[EntryCheck], model: &Manifest, args: &CheckArgs, rules: &FormatRules) -> std::io::Result<()> {
    let flagged = entries.iter().filter(|e| !e.pass).count();
    let doc = json!({
        "model": model.name,
        "expected": rules.expected.iter().map(|&i| &model.labels.names[i]).collect::<Vec<_>>(),
        "min_share": rules.min_share,
        "max_silence_seconds": rules.max_silence_seconds,
        "min_segment_seconds": rules.min_segment_seconds,
        "playlists": args.playlists,
        "entries": entries,
        "summary": { "entries": entries.len(), "pass": entries.len() - flagged, "flagged": flagged },
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn csv_out(out: &mut impl Write, entries: &[EntryCheck]) -> std::io::Result<()> {
    writeln!(out, "playlist,position,location,title,verdict,flags,top_genre,top_probability,expected_share,duration_seconds,details")?;
    for e in entries {
        let num = |v: Option<f32>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&e.playlist.display().to_string()),
            e.position,
            csv_field(&e.location),
            csv_field(e.title.as_deref().unwrap_or("")),
            if e.pass { "pass" } else { "flagged" },
            csv_field(&e.flags.iter().map(|f| f.name()).collect::<Vec<_>>().join(";")),
            csv_field(e.top_genre.as_deref().unwrap_or("")),
            num(e.top_probability),
            num(e.expected_share),
            e.duration_seconds.map(|d| format!("{d:.3}")).unwrap_or_default(),
            csv_field(&e.flags.iter().map(|f| f.describe()).collect::<Vec<_>>().join("; ")),
        )?;
    }
    Ok(())
}

/// The genre tag of every file that has one readable (for `analyze`'s clean-up view).
pub fn genre_tags_of(results: &[genre_meter::engine::batch::FileResult]) -> crate::output::GenreTagsByPath {
    results
        .iter()
        .filter(|r| r.outcome.is_ok())
        .filter_map(|r| genre_meter::library::read_genre_tags(&r.path).ok().map(|t| (r.path.clone(), t.genres)))
        .collect()
}

/// `analyze --report`: one row per file, flagged when it failed or its genre tag disagrees.
pub fn write_analysis_report(
    path: &Path,
    results: &[genre_meter::engine::batch::FileResult],
    model: &Manifest,
    tags: &crate::output::GenreTagsByPath,
) -> Result<(), String> {
    let genres = genre_indices(model);
    let rows = results
        .iter()
        .map(|r| {
            let name = r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let location = r.path.display().to_string();
            match &r.outcome {
                Err(e) => ReportRow {
                    name,
                    location,
                    pass: false,
                    flags: vec![("unreadable".into(), e.to_string())],
                    top_genre: None,
                    note: None,
                    duration_seconds: None,
                    timeline: Vec::new(),
                    dead_air: Vec::new(),
                    probabilities: None,
                },
                Ok(a) => {
                    let p = a.summary.probabilities.as_ref();
                    let top = p.and_then(|p| genres.iter().copied().max_by(|&x, &y| p[x].total_cmp(&p[y])).map(|i| (i, p[i])));
                    let tag = tags.get(&r.path).filter(|t| t.iter().any(|v| !v.trim().is_empty()));
                    let mut flags = Vec::new();
                    if let (Some(tag), Some((i, _))) = (tag, top)
                        && !tag.iter().any(|v| genre_meter::library::tags::same_genre(v, &model.labels.names[i]))
                    {
                        flags.push((
                            "tag-disagrees".to_string(),
                            format!("genre tag '{}', prediction '{}'", tag.join("; "), model.labels.names[i]),
                        ));
                    }
                    if p.is_none() {
                        flags.push(("all-silent".to_string(), "every window is silent".to_string()));
                    }
                    ReportRow {
                        name,
                        location,
                        pass: flags.is_empty(),
                        flags,
                        top_genre: top.map(|(i, v)| (model.labels.names[i].clone(), v)),
                        note: tag.map(|t| format!("genre tag: {}", t.join("; "))),
                        duration_seconds: Some(a.summary.duration_seconds),
                        timeline: genre_meter::playlist::check::timeline(a, model),
                        dead_air: Vec::new(),
                        probabilities: a.summary.probabilities.clone(),
                    }
                }
            }
        })
        .collect();
    let report = Report {
        title: "Genre Meter analysis".to_string(),
        subtitle: format!("model {}", model.name),
        labels: model.labels.names.clone(),
        genres,
        rows,
    };
    std::fs::write(path, render(&report)).map_err(|e| format!("cannot write the report '{}': {e}", path.display()))?;
    eprintln!("report: {}", path.display());
    Ok(())
}
