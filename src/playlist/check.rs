//! Checking playlist entries against a station's format: does the genre fit, is there dead
//! air inside the track, does the genre change half way, can the file be read at all.

use std::path::PathBuf;

use serde::Serialize;

use super::silence::{LevelProfile, SilenceGap, dead_air};
use crate::engine::{FileAnalysis, Manifest};

/// What a playlist must be.
#[derive(Debug, Clone)]
pub struct FormatRules {
    /// Indices (into the model's labels) of the genres the format expects.
    pub expected: Vec<usize>,
    /// The expected genres' summed probability must reach this share (0-1).
    pub min_share: f32,
    /// Silence inside a track longer than this is dead air.
    pub max_silence_seconds: f64,
    /// Blocks quieter than this (dBFS) are silence.
    pub silence_threshold_dbfs: f32,
    /// A genre must hold at least this long to count as a segment of its own.
    pub min_segment_seconds: f64,
}

/// Why an entry did not pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "flag", rename_all = "kebab-case")]
pub enum Flag {
    /// The expected genres' share is below the minimum, or the top genre is not expected.
    OffFormat { top_genre: String, top_probability: f32, expected_share: f32 },
    /// Silence inside the track.
    DeadAir { gaps: Vec<SilenceGap> },
    /// The genre changes inside the track.
    GenreChange { segments: Vec<GenreSegment> },
    /// The file is not there.
    Missing { reason: String },
    /// The file is there but cannot be decoded or analysed.
    Unreadable { reason: String },
    /// A URL: streams are not fetched.
    NotCheckable { url: String },
    /// Every window was silent: there is nothing to classify.
    AllSilent,
}

impl Flag {
    /// Short name used in tables, CSV and the report.
    pub fn name(&self) -> &'static str {
        match self {
            Flag::OffFormat { .. } => "off-format",
            Flag::DeadAir { .. } => "dead-air",
            Flag::GenreChange { .. } => "genre-change",
            Flag::Missing { .. } => "missing",
            Flag::Unreadable { .. } => "unreadable",
            Flag::NotCheckable { .. } => "not-checkable",
            Flag::AllSilent => "all-silent",
        }
    }

    /// One line for a person.
    pub fn describe(&self) -> String {
        match self {
            Flag::OffFormat { top_genre, top_probability, expected_share } => format!(
                "off-format: top genre {top_genre} ({:.0} %), expected genres {:.0} %",
                top_probability * 100.0,
                expected_share * 100.0
            ),
            Flag::DeadAir { gaps } => format!(
                "dead air: {}",
                gaps.iter()
                    .map(|g| format!("{:.1} s at {}", g.seconds(), clock(g.start_seconds)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Flag::GenreChange { segments } => format!(
                "genre changes: {}",
                segments
                    .iter()
                    .map(|s| format!("{} {}-{}", s.genre, clock(s.start_seconds), clock(s.end_seconds)))
                    .collect::<Vec<_>>()
                    .join(" → ")
            ),
            Flag::Missing { reason } => format!("missing: {reason}"),
            Flag::Unreadable { reason } => format!("unreadable: {reason}"),
            Flag::NotCheckable { url } => format!("not checkable (URL): {url}"),
            Flag::AllSilent => "all silent: nothing to classify".to_string(),
        }
    }
}

/// `m:ss.s`.
pub fn clock(seconds: f64) -> String {
    let m = (seconds / 60.0).floor();
    format!("{}:{:04.1}", m as u64, seconds - m * 60.0)
}

/// A stretch of the track with one genre on top.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenreSegment {
    pub genre: String,
    pub start_seconds: f64,
    pub end_seconds: f64,
}

/// One window of the timeline strip: which genre was on top and how strongly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineCell {
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// Label index of the top genre; `None` for a silent window.
    pub label: Option<usize>,
    pub probability: f32,
}

/// The verdict on one entry.
#[derive(Debug, Clone, Serialize)]
pub struct EntryCheck {
    pub playlist: PathBuf,
    /// 1-based position in the playlist.
    pub position: usize,
    /// The path or URL as resolved.
    pub location: String,
    pub title: Option<String>,
    pub pass: bool,
    pub flags: Vec<Flag>,
    pub duration_seconds: Option<f64>,
    pub top_genre: Option<String>,
    pub top_probability: Option<f32>,
    pub expected_share: Option<f32>,
    /// The whole-track genre probabilities (model label order), when analysed.
    #[serde(skip)]
    pub probabilities: Option<Vec<f32>>,
    #[serde(skip)]
    pub timeline: Vec<TimelineCell>,
}

impl EntryCheck {
    /// An entry that could not be analysed (missing, unreadable, URL).
    pub fn failed(playlist: PathBuf, position: usize, location: String, title: Option<String>, flag: Flag) -> Self {
        Self {
            playlist,
            position,
            location,
            title,
            pass: false,
            flags: vec![flag],
            duration_seconds: None,
            top_genre: None,
            top_probability: None,
            expected_share: None,
            probabilities: None,
            timeline: Vec::new(),
        }
    }
}

/// The genre labels of a model (all labels when it marks none).
pub fn genre_indices(model: &Manifest) -> Vec<usize> {
    let g = model.genre_indices();
    if g.is_empty() { (0..model.labels.names.len()).collect() } else { g }
}

fn top_of(p: &[f32], genres: &[usize]) -> Option<usize> {
    genres.iter().copied().max_by(|&a, &b| p[a].total_cmp(&p[b]))
}

/// The top genre of each window, with silent windows as `None`.
pub fn timeline(analysis: &FileAnalysis, model: &Manifest) -> Vec<TimelineCell> {
    let genres = genre_indices(model);
    analysis
        .windows
        .iter()
        .map(|w| {
            let top = w.probabilities.as_ref().and_then(|p| top_of(p, &genres).map(|i| (i, p[i])));
            TimelineCell {
                start_seconds: w.start_seconds,
                end_seconds: w.end_seconds,
                label: top.map(|t| t.0),
                probability: top.map_or(0.0, |t| t.1),
            }
        })
        .collect()
}

/// Genre segments: runs of windows with the same top genre (boundaries half way between
/// window centres), then segments shorter than `min_seconds` merged into their longer
/// neighbour, shortest first, so that a brief wobble is not a change.
pub fn genre_segments(cells: &[TimelineCell], model: &Manifest, duration_seconds: f64, min_seconds: f64) -> Vec<GenreSegment> {
    let labelled: Vec<(f64, usize)> = cells
        .iter()
        .filter_map(|c| c.label.map(|l| ((c.start_seconds + c.end_seconds) / 2.0, l)))
        .collect();
    let mut segs: Vec<(f64, f64, usize)> = Vec::new();
    for (k, &(centre, label)) in labelled.iter().enumerate() {
        let start = if k == 0 { 0.0 } else { (labelled[k - 1].0 + centre) / 2.0 };
        match segs.last_mut() {
            Some(last) if last.2 == label => {}
            _ => {
                if let Some(last) = segs.last_mut() {
                    last.1 = start;
                }
                segs.push((start, duration_seconds, label));
            }
        }
    }
    while segs.len() > 1 {
        let (i, shortest) = segs
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.1 - s.0))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("segments");
        if shortest >= min_seconds {
            break;
        }
        let left = i.checked_sub(1).map(|j| segs[j].1 - segs[j].0);
        let right = segs.get(i + 1).map(|s| s.1 - s.0);
        let into_left = match (left, right) {
            (Some(l), Some(r)) => l >= r,
            (Some(_), None) => true,
            _ => false,
        };
        let s = segs.remove(i);
        if into_left {
            segs[i - 1].1 = s.1;
        } else {
            segs[i].0 = s.0;
        }
        // Neighbours that now touch with the same genre become one.
        let mut k = 1;
        while k < segs.len() {
            if segs[k].2 == segs[k - 1].2 {
                segs[k - 1].1 = segs[k].1;
                segs.remove(k);
            } else {
                k += 1;
            }
        }
    }
    segs.into_iter()
        .map(|(a, b, l)| GenreSegment { genre: model.labels.names[l].clone(), start_seconds: a, end_seconds: b })
        .collect()
}

/// Judges one analysed entry.
pub fn judge(
    mut entry: EntryCheck,
    analysis: &FileAnalysis,
    levels: Option<&LevelProfile>,
    model: &Manifest,
    rules: &FormatRules,
) -> EntryCheck {
    entry.flags.clear();
    entry.duration_seconds = Some(analysis.summary.duration_seconds);
    entry.timeline = timeline(analysis, model);
    let genres = genre_indices(model);
    match &analysis.summary.probabilities {
        None => entry.flags.push(Flag::AllSilent),
        Some(p) => {
            let top = top_of(p, &genres).expect("a model has labels");
            let share: f32 = rules.expected.iter().map(|&i| p[i]).sum();
            entry.top_genre = Some(model.labels.names[top].clone());
            entry.top_probability = Some(p[top]);
            entry.expected_share = Some(share);
            entry.probabilities = Some(p.clone());
            if share < rules.min_share || !rules.expected.contains(&top) {
                entry.flags.push(Flag::OffFormat {
                    top_genre: model.labels.names[top].clone(),
                    top_probability: p[top],
                    expected_share: share,
                });
            }
        }
    }
    if let Some(levels) = levels {
        let gaps = dead_air(levels, rules.silence_threshold_dbfs, rules.max_silence_seconds);
        if !gaps.is_empty() {
            entry.flags.push(Flag::DeadAir { gaps });
        }
    }
    let segments = genre_segments(&entry.timeline, model, analysis.summary.duration_seconds, rules.min_segment_seconds);
    if segments.len() > 1 {
        entry.flags.push(Flag::GenreChange { segments });
    }
    entry.pass = entry.flags.is_empty();
    entry
}
