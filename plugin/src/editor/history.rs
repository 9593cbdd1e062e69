//! The history strip: one slice per analysis window, coloured by its strongest label and
//! shaded by its probability; silence is dark. Newest on the right.

use egui::{Align2, FontId, Rect, Sense, Ui, pos2, vec2};

use super::palette;
use crate::meter::{HISTORY_SILENT, MeterSnapshot, StatusText};

const STRIP_HEIGHT: f32 = 26.0;

pub fn strip(ui: &mut Ui, snap: &MeterSnapshot, text: &StatusText, minutes: f32) {
    ui.label(format!("History, last {minutes:.0} min (newest right)"));
    let (rect, response) = ui.allocate_exact_size(vec2(ui.available_width(), STRIP_HEIGHT), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, palette::TRACK);
    let hop = snap.hop_seconds.max(0.1);
    let slots = ((minutes * 60.0 / hop).round() as usize).max(1);
    let width = rect.width() / slots as f32;
    let count = snap.history_len.min(slots);
    let first = snap.history_len - count;
    for (k, idx) in (first..snap.history_len).enumerate() {
        let x = rect.right() - (count - k) as f32 * width;
        let slice = Rect::from_min_max(pos2(x, rect.top()), pos2(x + width.max(1.0), rect.bottom()));
        let label = snap.history_label[idx];
        let colour = if label == HISTORY_SILENT {
            palette::SILENCE
        } else {
            palette::label_colour(label as usize, snap.history_confidence[idx] as f32 / 255.0)
        };
        painter.rect_filled(slice, 0.0, colour);
    }
    if let Some(pos) = response.hover_pos() {
        let from_right = ((rect.right() - pos.x) / width).floor() as usize;
        if from_right < count {
            let idx = snap.history_len - 1 - from_right;
            let label = snap.history_label[idx];
            let what = if label == HISTORY_SILENT {
                "silence".to_string()
            } else {
                let name = text.labels.get(label as usize).map_or("?", String::as_str);
                format!("{name} {:.0} %", snap.history_confidence[idx] as f32 / 2.55)
            };
            let ago = (from_right as f32 + 1.0) * hop;
            painter.text(
                rect.center(),
                Align2::CENTER_CENTER,
                format!("{ago:.0} s ago: {what}"),
                FontId::proportional(13.0),
                ui.visuals().strong_text_color(),
            );
        }
    }
}
