//! Model choice, display and transport options. Every row is laid out in the width the
//! panel has, so nothing runs past the right edge from the minimum size up (egui cannot
//! wrap a slider with its value box, so their widths are computed here).

use std::sync::PoisonError;

use egui::{self, Layout, Ui, vec2};
use nice_plug::prelude::*;
use nice_plug_egui::widgets::ParamSlider;

use crate::meter::StatusText;
use crate::params::{BarOrder, GenreMeterParams};

/// Room kept for a slider's value box ("3.00 s", "10 min") and its spacing.
const VALUE_BOX_WIDTH: f32 = 64.0;
/// Room for a slider's label.
const LABEL_WIDTH: f32 = 62.0;

/// Narrowest a slider cell gets; as many cells as fit share a row.
const CELL_MIN_WIDTH: f32 = 190.0;

pub fn controls(ui: &mut Ui, params: &GenreMeterParams, setter: &ParamSetter, text: &StatusText) {
    let width = ui.available_width();
    let spacing = ui.spacing().item_spacing.x;
    let per_row = ((width + spacing) / (CELL_MIN_WIDTH + spacing)).floor().clamp(1.0, 3.0);
    let cell = ((width - (per_row - 1.0) * spacing) / per_row).floor();
    let height = ui.spacing().interact_size.y;
    // Cells of known width wrap like single widgets do.
    ui.horizontal_wrapped(|ui| {
        let model_width = if per_row >= 3.0 { 2.0 * cell + spacing } else { width };
        ui.allocate_ui_with_layout(vec2(model_width, height), Layout::left_to_right(egui::Align::Center), |ui| {
            ui.set_width(model_width);
            model_choice(ui, params, text, model_width);
        });
        slider_cell(ui, cell, "Response", &params.response_seconds, setter);
        slider_cell(ui, cell, "Hop", &params.hop_seconds, setter);
        slider_cell(ui, cell, "History", &params.history_minutes, setter);
        let mut sorted = params.bar_order.value() == BarOrder::Sorted;
        if ui.checkbox(&mut sorted, "Strongest first").changed() {
            let order = if sorted { BarOrder::Sorted } else { BarOrder::Fixed };
            set(setter, &params.bar_order, order);
        }
        toggle(ui, setter, &params.show_all_labels, "All labels", "Show every model label, not only genres");
        toggle(ui, setter, &params.only_while_playing, "Only while playing", "Analyse only while the host's transport plays");
        toggle(
            ui,
            setter,
            &params.reset_at_song_start,
            "Reset at song start",
            "Forget the whole-piece verdict when playback starts at the song's start",
        );
        toggle(ui, setter, &params.bypass, "Bypass", "Stop analysing (audio always passes untouched)");
    });
}

fn model_choice(ui: &mut Ui, params: &GenreMeterParams, text: &StatusText, width: f32) {
    let current = params.model_name.read().unwrap_or_else(PoisonError::into_inner).clone();
    let title = text
        .catalogue
        .iter()
        .find(|(name, _)| *name == current)
        .map_or(current.clone(), |(_, title)| title.clone());
    ui.add_sized(vec2(LABEL_WIDTH, ui.spacing().interact_size.y), egui::Label::new("Model"));
    let spacing = ui.spacing().item_spacing.x;
    egui::ComboBox::from_id_salt("model")
        .width((width - LABEL_WIDTH - 2.0 * spacing - ui.spacing().icon_width).max(80.0))
        .truncate()
        .selected_text(title)
        .show_ui(ui, |ui| {
            for (name, title) in &text.catalogue {
                if ui.selectable_label(*name == current, title).clicked() && *name != current {
                    // Read by the worker, which loads the model and restarts the meter.
                    *params.model_name.write().unwrap_or_else(PoisonError::into_inner) = name.clone();
                }
            }
        });
}

/// A label and a parameter slider in exactly `width` points.
fn slider_cell<P: Param>(ui: &mut Ui, width: f32, label: &str, param: &P, setter: &ParamSetter) {
    let height = ui.spacing().interact_size.y;
    ui.allocate_ui_with_layout(vec2(width, height), Layout::left_to_right(egui::Align::Center), |ui| {
        ui.set_width(width);
        ui.add_sized(vec2(LABEL_WIDTH, height), egui::Label::new(label).truncate());
        let slider = (width - LABEL_WIDTH - VALUE_BOX_WIDTH - 2.0 * ui.spacing().item_spacing.x).max(24.0);
        ui.add(ParamSlider::for_param(param, setter).with_width(slider));
    });
}

fn toggle(ui: &mut Ui, setter: &ParamSetter, param: &BoolParam, label: &str, hover: &str) {
    let mut on = param.value();
    if ui.checkbox(&mut on, label).on_hover_text(hover).changed() {
        set(setter, param, on);
    }
}

fn set<P: Param>(setter: &ParamSetter, param: &P, value: P::Plain) {
    setter.begin_set_parameter(param);
    setter.set_parameter(param, value);
    setter.end_set_parameter(param);
}
