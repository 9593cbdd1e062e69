//! The plugin's parameters and persisted fields.
//!
//! Nothing here reaches the audio itself: audio always passes through untouched, so no
//! automation of these can glitch it. The worker reads them between analysis windows.

use std::sync::{Arc, RwLock};

use nice_plug::prelude::*;
use serde::{Deserialize, Serialize};

/// Shortest and longest response time of the live meter (the smoothing time constant).
pub const RESPONSE_SECONDS_RANGE: (f32, f32) = (0.0, 30.0);
/// Range of the analysis hop: the time between the starts of two analysis windows.
pub const HOP_SECONDS_RANGE: (f32, f32) = (0.5, 3.0);
/// Default hop; the worker caps it at the model's window (`worker::window_hop`), so the
/// default gives windows side by side: musicnn's 2.99 s as musicnn itself analyses, YAMNet's
/// 0.96 s. musicnn costs ~38 ms a window on one core here, so a 1 s hop would take ~4 % of
/// a core, the default ~1.3 %; the response-time smoothing hides the coarser steps.
pub const DEFAULT_HOP_SECONDS: f32 = 3.0;

#[derive(Params)]
pub struct GenreMeterParams {
    /// The host's bypass (CLAP/VST3 bypass flag). Audio passes bit for bit either way;
    /// bypassed, nothing is analysed and the meter says so.
    #[id = "bypass"]
    pub bypass: BoolParam,
    /// Analyse only while the host's transport plays (a host that reports no transport, such
    /// as the standalone app on a live input without JACK transport, counts as playing).
    #[id = "only_playing"]
    pub only_while_playing: BoolParam,
    /// Forget the whole-piece verdict when playback starts at the song's start, so that the
    /// verdict is the song's, not the noodling between takes.
    #[id = "reset_at_start"]
    pub reset_at_song_start: BoolParam,
    /// Time constant of the live bars' exponential smoothing; 0 shows every window as is.
    #[id = "response"]
    pub response_seconds: FloatParam,
    /// Seconds between the starts of two analysis windows. Changing it restarts the stream
    /// (the whole-piece verdict is kept).
    #[id = "hop"]
    pub hop_seconds: FloatParam,
    /// Order of the bars: the model's label order, or strongest first.
    #[id = "order"]
    pub bar_order: EnumParam<BarOrder>,
    /// Show every label of the model, not only its genres.
    #[id = "all_labels"]
    pub show_all_labels: BoolParam,
    /// Span of the history strip.
    #[id = "history"]
    pub history_minutes: IntParam,

    /// Name of the model (built-in or installed), chosen in the editor. Written by the editor
    /// and by the host's state restore (main thread); read by the worker between windows.
    #[persist = "model"]
    pub model_name: Arc<RwLock<String>>,
    /// The whole-piece verdict since the last reset. Written by the worker after each window
    /// and when a stream ends; read by the host's state save (main thread) and, on
    /// activation, by the next worker, which carries the average on.
    #[persist = "verdict"]
    pub verdict: Arc<RwLock<Verdict>>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum BarOrder {
    #[id = "fixed"]
    #[name = "Fixed"]
    Fixed,
    #[id = "sorted"]
    #[name = "Strongest first"]
    Sorted,
}

/// Whole-piece result over the non-silent windows since the last reset, pooled as the
/// model's manifest says (the engine's `TrackPool`), as the CLI's `probabilities` for a file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Model that produced it; a verdict of another model is discarded, not mixed.
    pub model: String,
    /// Labels of `probabilities`, in the model's output order.
    pub labels: Vec<String>,
    /// Whole-piece probability per label; empty while no window was classified.
    pub probabilities: Vec<f32>,
    /// For a track-level head (`pooling = "mean-embedding"`): the mean window embedding the
    /// verdict is the head of, so that a reopened project carries on pooling.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pooled_features: Vec<f32>,
    /// Classified (non-silent) windows.
    pub windows: u64,
    pub silent_windows: u64,
    /// Seconds of host audio analysed.
    pub analysed_seconds: f64,
    /// Host samples the audio thread had to drop because the worker fell behind.
    pub dropped_samples: u64,
}

impl Default for GenreMeterParams {
    fn default() -> Self {
        Self {
            bypass: BoolParam::new("Bypass", false)
                .make_bypass()
                .with_value_to_string(formatters::v2s_bool_bypass())
                .with_string_to_value(formatters::s2v_bool_bypass()),
            only_while_playing: BoolParam::new("Only while playing", false),
            reset_at_song_start: BoolParam::new("Reset at song start", true),
            response_seconds: FloatParam::new(
                "Response time",
                4.0,
                FloatRange::Skewed {
                    min: RESPONSE_SECONDS_RANGE.0,
                    max: RESPONSE_SECONDS_RANGE.1,
                    factor: FloatRange::skew_factor(-1.5),
                },
            )
            .with_unit(" s")
            .with_step_size(0.1)
            .with_value_to_string(formatters::v2s_f32_rounded(1)),
            hop_seconds: FloatParam::new(
                "Analysis hop",
                DEFAULT_HOP_SECONDS,
                FloatRange::Linear { min: HOP_SECONDS_RANGE.0, max: HOP_SECONDS_RANGE.1 },
            )
            .with_unit(" s")
            .with_step_size(0.25)
            .with_value_to_string(formatters::v2s_f32_rounded(2)),
            bar_order: EnumParam::new("Bar order", BarOrder::Fixed),
            show_all_labels: BoolParam::new("Show all labels", false),
            history_minutes: IntParam::new("History", 2, IntRange::Linear { min: 1, max: 10 })
                .with_unit(" min"),
            model_name: Arc::new(RwLock::new(crate::standalone::initial_model())),
            verdict: Arc::new(RwLock::new(Verdict::default())),
        }
    }
}
