//! Genre Meter: music-genre probabilities from audio, per window and for the whole piece.
//!
//! [`engine`] is the whole audio → probabilities path; the `genre-meter` command-line tool
//! and the plugin crate are thin shells over it.

pub mod engine;
pub mod train;
pub mod cache;
pub mod library;
pub mod playlist;
pub mod report;
