//! The editor (nice-plug-egui): live bars, top genre, history strip, whole-piece verdict,
//! controls and a status line. It reads the worker's snapshot and never touches the engine.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, create_egui_editor};
use triple_buffer::Output;

use crate::meter::{MeterSnapshot, MeterStatus, StatusText};
use crate::params::GenreMeterParams;

mod bars;
mod controls;
mod history;
mod palette;
mod status;

/// *Copy tags*' text, for the tests (`plugin/tests/actions.rs`).
pub use status::verdict_tags;

/// Size the editor opens with, logical pixels.
pub const DEFAULT_SIZE: (u32, u32) = (720, 560);
/// Smallest size at which everything stays readable.
pub const MIN_SIZE: (f32, f32) = (420.0, 440.0);

pub fn default_state() -> Arc<EguiEditorState> {
    EguiEditorState::from_size(LogicalSize::new(DEFAULT_SIZE.0 as f32, DEFAULT_SIZE.1 as f32), 1.0)
}

pub fn create(
    params: Arc<GenreMeterParams>,
    status: Arc<MeterStatus>,
    meter: Arc<Mutex<Output<MeterSnapshot>>>,
    state: Arc<EguiEditorState>,
) -> Option<EguiEditor<MeterEditor>> {
    let settings = EguiNiceSettings::new().with_tile("Genre Meter").with_resize_hint(
        ResizeHint::resizable().with_min_logical_size(LogicalSize::new(MIN_SIZE.0, MIN_SIZE.1)),
    );
    let app = MeterEditor {
        params,
        status,
        meter,
        gui: None,
        snapshot: Box::default(),
        text: StatusText::default(),
    };
    create_egui_editor(state, Default::default(), settings, app)
}

/// What the editor window holds between frames.
pub struct MeterEditor {
    params: Arc<GenreMeterParams>,
    status: Arc<MeterStatus>,
    meter: Arc<Mutex<Output<MeterSnapshot>>>,
    gui: Option<nice_plug::context::gui::GuiContext>,
    /// Copy of the latest snapshot (read once per frame).
    snapshot: Box<MeterSnapshot>,
    /// Copy of the worker's status text (refreshed when not contended).
    text: StatusText,
}

/// The labels the meter shows, in the model's order.
fn shown_labels(params: &GenreMeterParams, text: &StatusText, label_count: usize) -> Vec<usize> {
    let all = params.show_all_labels.value();
    let shown: Vec<usize> = if all { (0..text.labels.len()).collect() } else { text.genre_indices.clone() };
    shown.into_iter().filter(|&i| i < label_count).collect()
}

impl NiceEguiApp for MeterEditor {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        gui: nice_plug::context::gui::GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        egui_ctx.set_visuals(egui::Visuals::dark());
        self.gui = Some(gui);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        {
            let mut output = self.meter.lock().unwrap_or_else(PoisonError::into_inner);
            (*self.snapshot).clone_from(output.read());
        }
        if let Ok(text) = self.status.text.try_lock() {
            self.text.clone_from(&text);
        }
        let Some(gui) = self.gui.clone() else { return };
        let setter = gui.param_setter();
        let snap = &*self.snapshot;
        let shown = shown_labels(&self.params, &self.text, snap.label_count);

        let gate = if self.params.bypass.value() {
            status::Gate::Bypassed
        } else if self.params.only_while_playing.value() && !self.status.gate.host_playing() {
            status::Gate::TransportStopped
        } else {
            status::Gate::Analysing
        };
        egui::Panel::top("headline").show(ui, |ui| {
            status::headline(ui, snap, &self.text, &shown, self.status.model_ready.load(Ordering::Acquire), gate);
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            status::status_line(ui, &self.status, &self.text);
        });
        egui::Panel::bottom("controls").show(ui, |ui| {
            controls::controls(ui, &self.params, &setter, &self.text);
        });
        egui::Panel::bottom("verdict").show(ui, |ui| {
            status::verdict(ui, snap, &self.status, &self.text, &shown);
        });
        egui::Panel::bottom("history").show(ui, |ui| {
            let minutes = self.params.history_minutes.value() as f32;
            history::strip(ui, snap, &self.text, minutes);
        });
        egui::CentralPanel::default().show(ui, |ui| {
            let order = self.params.bar_order.value();
            bars::bars(ui, snap, &self.text, &shown, order);
        });
        ui.ctx().request_repaint_after(Duration::from_millis(100));
    }
}
