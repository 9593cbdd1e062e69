//! The plugin's label colours (`plugin/src/editor/palette.rs`), as sRGB bytes for HTML/SVG:
//! hue by the golden ratio, saturation 0.62, value 0.35-0.95 by strength, converted the way
//! egui converts its (linear) HSV. `tests/report.rs` checks that both give the same colours.

/// The history strip's colour for silence.
pub const SILENCE_RGB: [u8; 3] = [40, 42, 46];

/// Colour of label `index`; `strength` (0-1) fades it towards the background.
pub fn label_rgb(index: usize, strength: f32) -> [u8; 3] {
    const GOLDEN: f32 = 0.618_034;
    let hue = (index as f32 * GOLDEN).fract();
    let value = 0.35 + 0.6 * strength.clamp(0.0, 1.0);
    rgb_from_hsv(hue, 0.62, value).map(gamma_u8_from_linear)
}

pub fn css(rgb: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2])
}

fn rgb_from_hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let h = (h.fract() + 1.0).fract();
    let f = h * 6.0 - (h * 6.0).floor();
    let p = v * (1.0 - s);
    let q = v * (1.0 - f * s);
    let t = v * (1.0 - (1.0 - f) * s);
    match (h * 6.0).floor() as i32 % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

fn gamma_u8_from_linear(l: f32) -> u8 {
    let round = |x: f32| (x + 0.5) as u8;
    if l <= 0.0 {
        0
    } else if l <= 0.003_130_8 {
        round(3294.6 * l)
    } else if l <= 1.0 {
        round(269.025 * l.powf(1.0 / 2.4) - 14.025)
    } else {
        255
    }
}
