//! The history strip: one slice per analysis window, coloured by its strongest label and
//! shaded by its probability; silence is dark. Newest on the right; the strip spans the
//! *History* parameter and scrolls (drag, wheel or scroll bar) back over every window kept.

use std::ops::Range;

use egui::{Align2, FontId, Rect, Sense, Ui, pos2, vec2};

use super::palette;
use crate::meter::{HISTORY_SILENT, MeterSnapshot, StatusText};

const STRIP_HEIGHT: f32 = 26.0;

/// The history entries (indices) whose slices overlap `[from_x, to_x)`, for `len` entries
/// laid out right-aligned in `content_width` with `slot_width` each.
pub fn visible_entries(len: usize, content_width: f32, slot_width: f32, from_x: f32, to_x: f32) -> Range<usize> {
    // Entry k spans [left + k * slot, left + (k + 1) * slot), left = content_width - len * slot.
    let left = content_width - len as f32 * slot_width;
    let first = ((from_x - left) / slot_width).floor().max(0.0) as usize;
    let end = ((to_x - left) / slot_width).ceil().max(0.0) as usize;
    first.min(len)..end.min(len)
}

pub fn strip(ui: &mut Ui, snap: &MeterSnapshot, text: &StatusText, minutes: f32) {
    let hop = snap.hop_seconds.max(0.1);
    let kept_seconds = (snap.history_len as f32 * hop).round() as u64;
    ui.add(
        egui::Label::new(format!(
            "History, {minutes:.0} min ({}:{:02} kept, drag to go back)",
            kept_seconds / 60,
            kept_seconds % 60
        ))
        .truncate(),
    )
    .on_hover_text("Newest on the right; drag, scroll or use the scroll bar to go back over every window kept");
    let width = ui.available_width();
    let slots = ((minutes * 60.0 / hop).round() as usize).max(1);
    let slot_width = width / slots as f32;
    let content_width = (snap.history_len as f32 * slot_width).max(width);
    egui::ScrollArea::horizontal()
        .id_salt("history")
        .stick_to_right(true)
        .auto_shrink([false, true])
        .show_viewport(ui, |ui, viewport| {
            let (rect, response) = ui.allocate_exact_size(vec2(content_width, STRIP_HEIGHT), Sense::hover());
            let visible = Rect::from_min_max(
                pos2(rect.left() + viewport.left(), rect.top()),
                pos2(rect.left() + viewport.right(), rect.bottom()),
            );
            let painter = ui.painter_at(visible);
            painter.rect_filled(visible, 2.0, palette::TRACK);
            let len = snap.history_len;
            let left = rect.right() - len as f32 * slot_width;
            for idx in visible_entries(len, content_width, slot_width, viewport.left(), viewport.right()) {
                let x = left + idx as f32 * slot_width;
                let slice = Rect::from_min_max(pos2(x, rect.top()), pos2(x + slot_width.max(1.0), rect.bottom()));
                let label = snap.history_label[idx];
                let colour = if label == HISTORY_SILENT {
                    palette::SILENCE
                } else {
                    palette::label_colour(label as usize, snap.history_confidence[idx] as f32 / 255.0)
                };
                painter.rect_filled(slice, 0.0, colour);
            }
            if let Some(pos) = response.hover_pos() {
                let k = ((pos.x - left) / slot_width).floor();
                if k >= 0.0 && (k as usize) < len {
                    let idx = k as usize;
                    let label = snap.history_label[idx];
                    let what = if label == HISTORY_SILENT {
                        "silence".to_string()
                    } else {
                        let name = text.labels.get(label as usize).map_or("?", String::as_str);
                        format!("{name} {:.0} %", snap.history_confidence[idx] as f32 / 2.55)
                    };
                    let ago = (len - idx) as f32 * hop;
                    painter.text(
                        visible.center(),
                        Align2::CENTER_CENTER,
                        format!("{ago:.0} s ago: {what}"),
                        FontId::proportional(13.0),
                        ui.visuals().strong_text_color(),
                    );
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::visible_entries;

    #[test]
    fn the_visible_part_of_a_long_history_is_found_at_either_end_and_in_between() {
        // 1000 entries of 2 points in a 400-point strip: content 2000 points.
        assert_eq!(visible_entries(1000, 2000.0, 2.0, 1600.0, 2000.0), 800..1000, "newest");
        assert_eq!(visible_entries(1000, 2000.0, 2.0, 0.0, 400.0), 0..200, "scrolled back to the oldest");
        assert_eq!(visible_entries(1000, 2000.0, 2.0, 1001.0, 1401.0), 500..701, "in between");
        // Fewer entries than the strip holds: right-aligned, the left part empty.
        assert_eq!(visible_entries(10, 400.0, 2.0, 0.0, 400.0), 0..10);
        assert_eq!(visible_entries(10, 400.0, 2.0, 0.0, 300.0), 0..0);
    }
}
