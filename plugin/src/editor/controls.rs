//! Model choice and display options.

use std::sync::PoisonError;

use nice_plug::prelude::*;
use egui::{self, Ui};
use nice_plug_egui::widgets::ParamSlider;

use crate::meter::StatusText;
use crate::params::{BarOrder, GenreMeterParams};

pub fn controls(ui: &mut Ui, params: &GenreMeterParams, setter: &ParamSetter, text: &StatusText) {
    ui.horizontal_wrapped(|ui| {
        let current = params.model_name.read().unwrap_or_else(PoisonError::into_inner).clone();
        let title = text
            .catalogue
            .iter()
            .find(|(name, _)| *name == current)
            .map_or(current.clone(), |(_, title)| title.clone());
        ui.label("Model");
        egui::ComboBox::from_id_salt("model").selected_text(title).show_ui(ui, |ui| {
            for (name, title) in &text.catalogue {
                if ui.selectable_label(*name == current, title).clicked() && *name != current {
                    // Read by the worker, which loads the model and restarts the meter.
                    *params.model_name.write().unwrap_or_else(PoisonError::into_inner) = name.clone();
                }
            }
        });
        ui.label("Response");
        ui.add(ParamSlider::for_param(&params.response_seconds, setter).with_width(90.0));
        ui.label("Hop");
        ui.add(ParamSlider::for_param(&params.hop_seconds, setter).with_width(90.0));
    });
    ui.horizontal_wrapped(|ui| {
        let mut sorted = params.bar_order.value() == BarOrder::Sorted;
        if ui.checkbox(&mut sorted, "Strongest first").changed() {
            let order = if sorted { BarOrder::Sorted } else { BarOrder::Fixed };
            setter.begin_set_parameter(&params.bar_order);
            setter.set_parameter(&params.bar_order, order);
            setter.end_set_parameter(&params.bar_order);
        }
        let mut all = params.show_all_labels.value();
        if ui.checkbox(&mut all, "All labels").on_hover_text("Show every model label, not only genres").changed() {
            setter.begin_set_parameter(&params.show_all_labels);
            setter.set_parameter(&params.show_all_labels, all);
            setter.end_set_parameter(&params.show_all_labels);
        }
        ui.label("History");
        ui.add(ParamSlider::for_param(&params.history_minutes, setter).with_width(90.0));
    });
}
