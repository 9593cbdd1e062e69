//! One bar per shown label, in the model's order or strongest first.

use egui::{self, Align2, FontId, Rect, Sense, Ui, vec2};

use super::palette;
use crate::meter::{MeterSnapshot, StatusText};
use crate::params::BarOrder;

const MIN_ROW_HEIGHT: f32 = 16.0;
const MAX_ROW_HEIGHT: f32 = 30.0;

pub fn bars(ui: &mut Ui, snap: &MeterSnapshot, text: &StatusText, shown: &[usize], order: BarOrder) {
    if shown.is_empty() {
        ui.centered_and_justified(|ui| ui.label("No model loaded: see the status line below."));
        return;
    }
    let mut rows: Vec<usize> = shown.to_vec();
    if order == BarOrder::Sorted {
        rows.sort_by(|&a, &b| snap.smoothed[b].total_cmp(&snap.smoothed[a]));
    }
    let available = ui.available_size();
    // Rows touch (no item spacing), so that all of them fit whenever the panel holds
    // MIN_ROW_HEIGHT per row; below that the list scrolls.
    ui.spacing_mut().item_spacing.y = 0.0;
    let row_height = (available.y / rows.len() as f32).floor().clamp(MIN_ROW_HEIGHT, MAX_ROW_HEIGHT);
    let font = FontId::proportional((row_height * 0.62).clamp(10.0, 16.0));
    let label_width = (available.x * 0.28).clamp(70.0, 180.0);
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        for &i in &rows {
            let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), row_height), Sense::hover());
            let painter = ui.painter_at(rect);
            let p = snap.smoothed[i].clamp(0.0, 1.0);
            let name = text.labels.get(i).map_or("?", String::as_str);
            painter.text(
                rect.left_center() + vec2(4.0, 0.0),
                Align2::LEFT_CENTER,
                name,
                font.clone(),
                ui.visuals().text_color(),
            );
            let track = Rect::from_min_max(
                rect.left_top() + vec2(label_width, 2.0),
                rect.right_bottom() - vec2(52.0, 2.0),
            );
            painter.rect_filled(track, 2.0, palette::TRACK);
            let colour = if snap.silent { palette::SILENCE } else { palette::label_colour(i, 1.0) };
            let mut fill = track;
            fill.set_width(track.width() * p);
            painter.rect_filled(fill, 2.0, colour);
            painter.text(
                rect.right_center() - vec2(4.0, 0.0),
                Align2::RIGHT_CENTER,
                format!("{:.0} %", p * 100.0),
                font.clone(),
                ui.visuals().text_color(),
            );
        }
    });
}
