//! Table, JSON and CSV renderings of analysis results.

use std::io::{self, Write};

use genre_meter::engine::analysis::min_classify_seconds;
use genre_meter::engine::{Manifest, WindowPrediction};
use serde_json::{Value, json};

use genre_meter::engine::batch::FileResult;

/// Label indices by descending probability.
fn ranked(probabilities: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..probabilities.len()).collect();
    idx.sort_by(|&a, &b| probabilities[b].total_cmp(&probabilities[a]));
    idx
}

fn is_genre(model: &Manifest, i: usize) -> bool {
    model.labels.genres.contains(&model.labels.names[i])
}

/// Each file's genre tag as it is in the file (absent: no tag could be read).
pub type GenreTagsByPath = std::collections::HashMap<std::path::PathBuf, Vec<String>>;

/// The top genre label and whether the file's genre tag names it (`None`: no tag value).
fn tag_agreement(model: &Manifest, p: &[f32], tags: &[String]) -> (Option<String>, Option<bool>) {
    let top = ranked(p).into_iter().find(|&i| model.labels.genres.is_empty() || is_genre(model, i));
    let top = top.map(|i| model.labels.names[i].clone());
    let values: Vec<&String> = tags.iter().filter(|t| !t.trim().is_empty()).collect();
    let agrees = match (&top, values.is_empty()) {
        (Some(t), false) => Some(values.iter().any(|v| genre_meter::library::tags::same_genre(v, t))),
        _ => None,
    };
    (top, agrees)
}

/// Which labels a file's top list shows.
#[derive(Clone, Copy)]
pub struct Top {
    pub count: usize,
    /// Only the model's genre labels (e.g. AudioSet's music genres of YAMNet's 521 classes).
    pub genres_only: bool,
}

impl Top {
    fn labels(self, model: &Manifest, p: &[f32]) -> impl Iterator<Item = usize> {
        let genres_only = self.genres_only && !model.labels.genres.is_empty();
        ranked(p).into_iter().filter(move |&i| !genres_only || is_genre(model, i)).take(self.count)
    }
}

/// A file's verdict in one word (JSON `status`, CSV `status` column).
pub fn status(r: &FileResult) -> &'static str {
    match &r.outcome {
        Err(_) => "error",
        Ok(a) if a.summary.too_short => "too_short",
        Ok(a) if a.summary.probabilities.is_none() => "silent",
        Ok(_) => "ok",
    }
}

pub fn table(
    out: &mut impl Write,
    results: &[FileResult],
    model: &Manifest,
    top: Top,
    timeline: bool,
    tags: &GenreTagsByPath,
) -> io::Result<()> {
    let marks_genres = !model.labels.genres.is_empty() && model.labels.genres.len() < model.labels.names.len();
    for r in results {
        writeln!(out, "{}", r.path.display())?;
        let a = match &r.outcome {
            Ok(a) => a,
            Err(e) => {
                writeln!(out, "  error: {e}\n")?;
                continue;
            }
        };
        let s = &a.summary;
        writeln!(
            out,
            "  {:.1} s, {} Hz, {} ch; {} windows, {} silent",
            s.duration_seconds, a.sample_rate_hz, a.channels, s.windows, s.silent_windows
        )?;
        for w in &a.warnings {
            writeln!(out, "  warning: {w}")?;
        }
        match &s.probabilities {
            None if s.too_short => writeln!(
                out,
                "  too short to classify: {:.3} s, the minimum is {:.2} s",
                s.duration_seconds,
                min_classify_seconds(&model.frontend)
            )?,
            None => writeln!(out, "  silence: no window was loud enough to classify")?,
            Some(p) => {
                if !model.labels.genres.is_empty() {
                    let best_genre = ranked(p).into_iter().find(|&i| is_genre(model, i));
                    if let Some(g) = best_genre {
                        writeln!(out, "  top genre: {} ({:.3})", model.labels.names[g], p[g])?;
                    }
                }
                if let Some(values) = tags.get(&r.path).filter(|v| !v.is_empty()) {
                    let verdict = match tag_agreement(model, p, values).1 {
                        Some(false) => "  <- DISAGREES with the prediction",
                        _ => "  (agrees)",
                    };
                    writeln!(out, "  genre tag: {}{verdict}", values.join("; "))?;
                }
                for i in top.labels(model, p) {
                    let mark = if marks_genres && is_genre(model, i) { "  [genre]" } else { "" };
                    writeln!(out, "  {:<24} {:.3}{mark}", model.labels.names[i], p[i])?;
                }
            }
        }
        if timeline {
            writeln!(out, "  {:>8} {:>8} {:>7}  top labels", "start_s", "end_s", "dBFS")?;
            for w in &a.windows {
                let labels = match &w.probabilities {
                    None => "(silence)".to_string(),
                    Some(p) => Top { count: top.count.min(3), ..top }
                        .labels(model, p)
                        .map(|i| format!("{} {:.2}", model.labels.names[i], p[i]))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                writeln!(out, "  {:>8.2} {:>8.2} {:>7.1}  {labels}", w.start_seconds, w.end_seconds, w.level_dbfs)?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

fn label_map(model: &Manifest, p: &[f32]) -> Value {
    Value::Object(model.labels.names.iter().zip(p).map(|(l, &v)| (l.clone(), json!(v))).collect())
}

fn window_json(model: &Manifest, w: &WindowPrediction) -> Value {
    json!({
        "start_seconds": w.start_seconds,
        "end_seconds": w.end_seconds,
        "level_dbfs": w.level_dbfs,
        "silent": w.is_silent(),
        "probabilities": w.probabilities.as_ref().map(|p| label_map(model, p)),
    })
}

/// One file's JSON object (an element of `files` in `--format json`, a line of `jsonl`), with
/// the file's own genre tag when it has one.
pub fn file_json(r: &FileResult, model: &Manifest, top: Top, timeline: bool, tag: Option<&Vec<String>>) -> Value {
    match &r.outcome {
            Err(e) => json!({ "path": r.path, "ok": false, "status": status(r), "error": e.to_string() }),
            Ok(a) => {
                let s = &a.summary;
                let top_list: Vec<Value> = s
                    .probabilities
                    .as_ref()
                    .map(|p| {
                        top.labels(model, p)
                            .map(|i| json!({ "label": model.labels.names[i], "probability": p[i], "genre": is_genre(model, i) }))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut v = json!({
                    "path": r.path,
                    "ok": true,
                    "status": status(r),
                    "duration_seconds": s.duration_seconds,
                    "sample_rate_hz": a.sample_rate_hz,
                    "channels": a.channels,
                    "windows": s.windows,
                    "silent_windows": s.silent_windows,
                    "silent": s.probabilities.is_none(),
                    "repeat_padded": s.repeat_padded,
                    "non_finite_samples": s.non_finite_samples,
                    "warnings": a.warnings,
                    "top": top_list,
                    "probabilities": s.probabilities.as_ref().map(|p| label_map(model, p)),
                });
                v["genre_tag"] = json!(tag);
                v["genre_tag_agrees"] =
                    json!(tag.zip(s.probabilities.as_ref()).and_then(|(t, p)| tag_agreement(model, p, t).1));
                if timeline {
                    v["timeline"] = Value::Array(a.windows.iter().map(|w| window_json(model, w)).collect());
                }
                v
            }
    }
}

pub fn json(
    out: &mut impl Write,
    results: &[FileResult],
    model: &Manifest,
    top: Top,
    timeline: bool,
    tags: &GenreTagsByPath,
) -> io::Result<()> {
    let files: Vec<Value> = results.iter().map(|r| file_json(r, model, top, timeline, tags.get(&r.path))).collect();
    let doc = json!({
        "model": { "name": model.name, "labels": model.labels.names, "genres": model.labels.genres },
        "files": files,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

pub fn csv(out: &mut impl Write, results: &[FileResult], model: &Manifest, timeline: bool, tags: &GenreTagsByPath) -> io::Result<()> {
    let labels: Vec<String> = model.labels.names.iter().map(|l| csv_field(l)).collect();
    let fmt_probs = |p: Option<&Vec<f32>>| match p {
        Some(p) => p.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(","),
        None => vec![""; labels.len()].join(","),
    };
    if timeline {
        writeln!(out, "path,status,start_seconds,end_seconds,level_dbfs,silent,{}", labels.join(","))?;
    } else {
        writeln!(out, "path,status,duration_seconds,windows,silent_windows,top_label,{},genre_tag,genre_tag_agrees", labels.join(","))?;
    }
    for r in results {
        let path = csv_field(&r.path.display().to_string());
        match &r.outcome {
            Err(e) => {
                let status = csv_field(&format!("error: {e}"));
                let empty = vec![""; labels.len() + if timeline { 4 } else { 6 }].join(",");
                writeln!(out, "{path},{status},{empty}")?;
            }
            Ok(a) if timeline => {
                for w in &a.windows {
                    writeln!(
                        out,
                        "{path},ok,{:.3},{:.3},{:.1},{},{}",
                        w.start_seconds,
                        w.end_seconds,
                        w.level_dbfs,
                        w.is_silent(),
                        fmt_probs(w.probabilities.as_ref())
                    )?;
                }
            }
            Ok(a) => {
                let s = &a.summary;
                let top = s
                    .probabilities
                    .as_ref()
                    .and_then(|p| ranked(p).first().map(|&i| csv_field(&model.labels.names[i])))
                    .unwrap_or_else(|| if s.too_short { String::new() } else { "silence".into() });
                let tag = tags.get(&r.path);
                let agrees = tag.zip(s.probabilities.as_ref()).and_then(|(t, p)| tag_agreement(model, p, t).1);
                writeln!(
                    out,
                    "{path},{},{:.3},{},{},{top},{},{},{}",
                    status(r),
                    s.duration_seconds,
                    s.windows,
                    s.silent_windows,
                    fmt_probs(s.probabilities.as_ref()),
                    csv_field(&tag.map(|t| t.join(";")).unwrap_or_default()),
                    agrees.map(|a| a.to_string()).unwrap_or_default()
                )?;
            }
        }
    }
    Ok(())
}
