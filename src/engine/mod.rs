//! The analysis engine: decode → resample → log-mel → model → aggregation.
//!
//! Knows nothing of the plugin framework, the editor or the CLI.

pub mod analysis;
pub mod batch;
pub mod decode;
pub mod error;
pub mod isolation;
pub mod logmel;
pub mod manifest;
pub mod model;
pub mod quick;
pub mod resample;
pub mod runtime;
pub mod yamnet;

pub use analysis::{AnalysisSettings, Analyzer, FileAnalysis, TrackPool, TrackSummary, WindowPrediction, analyze_file};
pub use error::{AnalysisError, DecodeError, FileFailure, ModelError, RuntimeError};
pub use manifest::{FrontendConfig, Manifest};
pub use model::{DEFAULT_MODEL, LoadedModel, ModelEntry, ModelOrigin};
