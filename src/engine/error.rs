//! One error enum per layer; every message names the file or value and says what to do.

use std::path::PathBuf;

/// Reading audio files.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("'{path}': {reason}")]
    Missing { path: PathBuf, reason: String },
    #[error("cannot open '{path}': {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("'{path}' is empty (0 bytes): nothing to analyse")]
    Empty { path: PathBuf },
    #[error(
        "'{path}' is not audio in a supported format ({reason}); supported: WAV, FLAC, MP3, Ogg Vorbis, AIFF, AAC/M4A, CAF, MKV/WebM"
    )]
    UnsupportedFormat { path: PathBuf, reason: String },
    #[error("'{path}' has no audio track that can be decoded ({reason})")]
    NoAudioTrack { path: PathBuf, reason: String },
    #[error("'{path}' has sample rate {sample_rate_hz} Hz; supported are 8000 to 384000 Hz")]
    UnsupportedSampleRate { path: PathBuf, sample_rate_hz: u32 },
    #[error("'{path}' could not be decoded: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("'{path}' contains no audio samples (it decodes to 0 s)")]
    NoSamples { path: PathBuf },
    #[error("'{path}' is not a regular file but a {kind}: not opened, because reading it could wait forever; give the path of an audio file")]
    NotRegularFile { path: PathBuf, kind: &'static str },
    /// Only quick mode seeks, and it falls back to a streamed decode on this error.
    #[error("cannot seek in '{path}' to {seconds:.2} s: {reason}")]
    Unseekable { path: PathBuf, seconds: f64, reason: String },
}

/// One file's work ended abnormally; the batch isolated it so that the other files go on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FileFailure {
    #[error("'{path}' crashed the decoder or the analysis ({reason}); the file is probably damaged, the other files are not affected")]
    Panicked { path: PathBuf, reason: String },
    #[error(
        "'{path}': decoding made no progress for {limit_seconds} s and was given up (a damaged file, or a stalled disk or network share); GENRE_METER_STALL_SECONDS sets the limit"
    )]
    Stalled { path: PathBuf, limit_seconds: f64 },
}

/// Finding and loading the ONNX Runtime library.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "the ONNX Runtime library {wanted} was not found (looked in: {searched}). Fix: run `cargo xtask fetch-ort` in the Genre Meter source tree, or put {wanted} from the PyPI wheel onnxruntime=={version} (onnxruntime/capi/) into {install_dir}, or set GENRE_METER_ORT_LIB to its full path"
    )]
    NotFound { wanted: String, version: String, searched: String, install_dir: String },
    #[error(
        "the ONNX Runtime library at '{path}' could not be used: {reason}. Fix: install version {version} (PyPI wheel onnxruntime=={version}, file onnxruntime/capi/libonnxruntime.so.{version}), e.g. with `cargo xtask fetch-ort`"
    )]
    Unusable { path: PathBuf, reason: String, version: String },
    #[error("ONNX Runtime failed to start: {0}")]
    Environment(String),
}

/// Model manifests, weights and inference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model manifest '{path}' is invalid: {reason}")]
    InvalidManifest { path: PathBuf, reason: String },
    #[error("cannot read model file '{path}': {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "model file '{path}' has sha256 {actual}, but its manifest says {expected}: the file is damaged or belongs to another manifest; reinstall the model"
    )]
    Checksum { path: PathBuf, expected: String, actual: String },
    #[error(
        "no model named '{name}'. Available: {available}. Give a built-in or installed name, or the path of a manifest.toml or a model folder"
    )]
    UnknownModel { name: String, available: String },
    #[error("model '{name}' cannot be used: {hint}")]
    NotInstalled { name: String, hint: String },
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("ONNX Runtime could not load model '{model}': {reason}")]
    Load { model: String, reason: String },
    #[error("model '{model}' does not match its manifest: {reason}")]
    Mismatch { model: String, reason: String },
    #[error("inference with model '{model}' failed: {reason}")]
    Inference { model: String, reason: String },
}

/// Analysing one file: decoding or the model failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Isolated(#[from] FileFailure),
}
