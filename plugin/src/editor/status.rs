//! Headline (top genre and confidence), whole-piece verdict with its buttons, and the
//! status line.

use std::sync::atomic::Ordering;

use egui::{self, Color32, RichText, Ui};

use super::palette;
use crate::meter::{MeterSnapshot, MeterStatus, StatusText};

/// Labels a tag list holds at most.
const TAGS_MAX: usize = 5;
/// Least whole-piece probability a label needs to become a tag.
const TAG_THRESHOLD: f32 = 0.1;

/// Why the analysis is held, if it is (see `transport.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Analysing,
    Bypassed,
    TransportStopped,
}

pub fn headline(ui: &mut Ui, snap: &MeterSnapshot, text: &StatusText, shown: &[usize], model_ready: bool, gate: Gate) {
    ui.horizontal(|ui| {
        ui.heading("Genre Meter");
        ui.separator();
        let big = |s: String, c: Color32| RichText::new(s).size(22.0).strong().color(c);
        if gate == Gate::Bypassed {
            ui.label(big("Bypassed".into(), Color32::LIGHT_YELLOW)).on_hover_text("Not analysing; audio passes untouched");
        } else if gate == Gate::TransportStopped {
            ui.label(big("Paused".into(), Color32::LIGHT_YELLOW))
                .on_hover_text("Only while playing: waiting for the host's transport to play");
        } else if !model_ready {
            ui.label(big("Meter off".into(), Color32::LIGHT_RED));
        } else if snap.sequence == 0 || snap.verdict_windows + snap.verdict_silent_windows == 0 && snap.silent {
            ui.label(big("Waiting for audio".into(), Color32::GRAY));
        } else if snap.silent {
            ui.label(big("Silence".into(), Color32::GRAY));
        } else if let Some(&top) = shown.iter().max_by(|&&a, &&b| snap.smoothed[a].total_cmp(&snap.smoothed[b])) {
            let name = text.labels.get(top).map_or("?", String::as_str);
            ui.label(big(name.to_string(), palette::label_colour(top, 1.0)));
            ui.label(RichText::new(format!("{:.0} %", snap.smoothed[top] * 100.0)).size(18.0));
        }
    });
}

/// The strongest whole-piece labels, strongest first.
fn verdict_ranking(snap: &MeterSnapshot, shown: &[usize]) -> Vec<usize> {
    let mut ranked = shown.to_vec();
    ranked.sort_by(|&a, &b| snap.verdict[b].total_cmp(&snap.verdict[a]));
    ranked
}

/// The verdict as tags: the strongest labels above a threshold, comma-separated.
pub fn verdict_tags(snap: &MeterSnapshot, text: &StatusText, shown: &[usize]) -> String {
    verdict_ranking(snap, shown)
        .into_iter()
        .filter(|&i| snap.verdict[i] >= TAG_THRESHOLD)
        .take(TAGS_MAX)
        .filter_map(|i| text.labels.get(i).cloned())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn verdict(ui: &mut Ui, snap: &MeterSnapshot, status: &MeterStatus, text: &StatusText, shown: &[usize]) {
    ui.horizontal_wrapped(|ui| {
        let total = snap.analysed_seconds.round() as u64;
        let (minutes, seconds) = (total / 60, total % 60);
        ui.strong(format!("Whole piece ({minutes}:{seconds:02}, {} windows, {} silent):",
            snap.verdict_windows, snap.verdict_silent_windows));
        if snap.verdict_windows == 0 {
            ui.label("nothing but silence yet");
        } else {
            for i in verdict_ranking(snap, shown).into_iter().take(TAGS_MAX) {
                let name = text.labels.get(i).map_or("?", String::as_str);
                ui.label(RichText::new(format!("{name} {:.0} %", snap.verdict[i] * 100.0))
                    .color(palette::label_colour(i, 1.0)));
            }
        }
    });
    ui.horizontal(|ui| {
        if ui.button("Reset").on_hover_text("Forget the whole-piece verdict, history and timeline").clicked() {
            status.reset_requested.store(true, Ordering::Release);
        }
        let tags = verdict_tags(snap, text, shown);
        if ui.add_enabled(!tags.is_empty(), egui::Button::new("Copy tags"))
            .on_hover_text(format!("Copy \"{tags}\" to the clipboard"))
            .clicked()
        {
            ui.ctx().copy_text(tags);
        }
        if ui.button("Export timeline")
            .on_hover_text(format!("Write CSV and JSON to {}", crate::worker::export_dir().display()))
            .clicked()
        {
            status.export_requested.store(true, Ordering::Release);
        }
    });
}

pub fn status_line(ui: &mut Ui, status: &MeterStatus, text: &StatusText) {
    let rate = status.sample_rate_hz.load(Ordering::Relaxed);
    let inference_ms = status.inference_ms.load(Ordering::Relaxed);
    let cpu = status.worker_cpu_share.load(Ordering::Relaxed) * 100.0;
    let dropped = status.dropped_samples.load(Ordering::Relaxed);
    // One label, so that it wraps by words at any width instead of running off the edge.
    let model = if text.model_name.is_empty() { "-" } else { &text.model_name };
    let rate = if rate == 0 { "inactive".to_string() } else { format!("{:.1} kHz", rate as f32 / 1000.0) };
    let line = format!(
        "{model} · {rate} · inference {inference_ms:.1} ms/window · worker CPU {cpu:.1} % · dropped {dropped} samples"
    );
    let line = RichText::new(line).small();
    ui.add(egui::Label::new(if dropped > 0 { line.color(Color32::YELLOW) } else { line }).wrap())
        .on_hover_text(&text.model_title);
    if !text.error.is_empty() {
        ui.add(egui::Label::new(RichText::new(&text.error).color(Color32::LIGHT_RED)).wrap());
    }
    if !text.notice.is_empty() {
        ui.add(egui::Label::new(RichText::new(&text.notice).small()).wrap());
    }
}
