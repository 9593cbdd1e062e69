//! The user's music files themselves: reading and writing genre tags, and replacing a file
//! so that nothing is ever lost.

pub mod atomic;
pub mod tags;

use std::path::PathBuf;

pub use tags::{GenreTags, GenreUpdate, TagFormat, read_genre_tags, write_genre_tags};

/// Reading or changing a music file's tags.
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("'{path}' was left unchanged: {why}. Make it writable (e.g. `chmod u+w`) to tag it")]
    ReadOnly { path: PathBuf, why: String },
    #[error("'{path}': {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("'{path}': its tags cannot be read or written ({reason}); the file was left unchanged")]
    Tag { path: PathBuf, reason: String },
    #[error(
        "'{path}' is {what}: genre tags are written to MP3, WAV, AIFF (ID3v2), FLAC, Ogg Vorbis, Opus (Vorbis comments) and M4A (MP4 atoms)"
    )]
    Unsupported { path: PathBuf, what: String },
    /// The tag library panicked on this file (a damaged file); the batch goes on.
    #[error(transparent)]
    Isolated(#[from] crate::engine::FileFailure),
}
