//! Table, JSON and CSV renderings of analysis results.

use std::io::{self, Write};

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

pub fn table(out: &mut impl Write, results: &[FileResult], model: &Manifest, top: Top, timeline: bool) -> io::Result<()> {
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
            None => writeln!(out, "  silence: no window was loud enough to classify")?,
            Some(p) => {
                if !model.labels.genres.is_empty() {
                    let best_genre = ranked(p).into_iter().find(|&i| is_genre(model, i));
                    if let Some(g) = best_genre {
                        writeln!(out, "  top genre: {} ({:.3})", model.labels.names[g], p[g])?;
                    }
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

/// One file's JSON object (an element of `files` in `--format json`, a line of `jsonl`).
pub fn file_json(r: &FileResult, model: &Manifest, top: Top, timeline: bool) -> Value {
    match &r.outcome {
            Err(e) => json!({ "path": r.path, "ok": false, "error": e.to_string() }),
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
                if timeline {
                    v["timeline"] = Value::Array(a.windows.iter().map(|w| window_json(model, w)).collect());
                }
                v
            }
    }
}

pub fn json(out: &mut impl Write, results: &[FileResult], model: &Manifest, top: Top, timeline: bool) -> io::Result<()> {
    let files: Vec<Value> = results.iter().map(|r| file_json(r, model, top, timeline)).collect();
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

pub fn csv(out: &mut impl Write, results: &[FileResult], model: &Manifest, timeline: bool) -> io::Result<()> {
    let labels: Vec<String> = model.labels.names.iter().map(|l| csv_field(l)).collect();
    let fmt_probs = |p: Option<&Vec<f32>>| match p {
        Some(p) => p.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(","),
        None => vec![""; labels.len()].join(","),
    };
    if timeline {
        writeln!(out, "path,status,start_seconds,end_seconds,level_dbfs,silent,{}", labels.join(","))?;
    } else {
        writeln!(out, "path,status,duration_seconds,windows,silent_windows,top_label,{}", labels.join(","))?;
    }
    for r in results {
        let path = csv_field(&r.path.display().to_string());
        match &r.outcome {
            Err(e) => {
                let status = csv_field(&format!("error: {e}"));
                let empty = vec![""; labels.len() + 4].join(",");
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
                    .unwrap_or_else(|| "silence".into());
                writeln!(
                    out,
                    "{path},ok,{:.3},{},{},{top},{}",
                    s.duration_seconds,
                    s.windows,
                    s.silent_windows,
                    fmt_probs(s.probabilities.as_ref())
                )?;
            }
        }
    }
    Ok(())
}
