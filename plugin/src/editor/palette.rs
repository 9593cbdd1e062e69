//! Colours: one per label, stable across sessions and spread around the hue circle.

use egui::{Color32, ecolor::Hsva};

pub const SILENCE: Color32 = Color32::from_rgb(40, 42, 46);
pub const TRACK: Color32 = Color32::from_rgb(30, 32, 36);

/// Colour of label `index`; `strength` (0-1) fades it towards the background.
pub fn label_colour(index: usize, strength: f32) -> Color32 {
    const GOLDEN: f32 = 0.618_034;
    let hue = (index as f32 * GOLDEN).fract();
    let value = 0.35 + 0.6 * strength.clamp(0.0, 1.0);
    Hsva::new(hue, 0.62, value, 1.0).into()
}
