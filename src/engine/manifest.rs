//! A model is data plus a manifest: the manifest says which front-end feeds it, which ONNX
//! inputs and outputs to use and what its labels mean. Adding a model means adding files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::ModelError;

/// What a model's probability output means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputActivation {
    /// Independent per-label probabilities (multi-label tags); they need not sum to one.
    Sigmoid,
    /// One distribution over mutually exclusive labels.
    Softmax,
}

/// How a head turns the windows of a piece into its whole-piece probabilities.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The mean of the per-window probabilities (a window-level classifier).
    #[default]
    MeanProbabilities,
    /// The model applied to the mean of the windows' backbone embeddings (a track-level
    /// head, trained on such means). A single window is the mean of itself, so per-window
    /// probabilities are the head on that window. Heads only.
    MeanEmbedding,
}

fn is_mean_probabilities(p: &Pooling) -> bool {
    *p == Pooling::MeanProbabilities
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MelScale {
    Slaney,
    Htk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MelNorm {
    /// Each triangle scaled to unit area (librosa `norm='slaney'`).
    Slaney,
    /// Triangles peak at one.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogCompression {
    /// `log10(log_multiplier * x + log_offset)` (musicnn).
    Log10Scaled,
    /// `ln(x + log_offset)` (YAMNet).
    NaturalOffset,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowKind {
    HannPeriodic,
}

/// How one analysis frame is cut from the signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// librosa: a frame is `n_fft` samples with the `win_length` window centred in it.
    #[default]
    Librosa,
    /// TensorFlow `tf.signal.stft`: a frame is `win_length` samples, windowed from its
    /// start and zero-padded at the end to `n_fft`; frames start at `t * hop_length` and a
    /// partial last frame is dropped (YAMNet). Needs `center = false`.
    Tensorflow,
}

/// How audio at another rate is brought to `sample_rate_hz`: as the model's own pipeline
/// did, because the 7-8 kHz band a resampler keeps or removes moves a model's outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResamplerKind {
    /// resampy 0.4.3's `kaiser_best` windowed sinc as `librosa.load(sr=...)` runs it
    /// (musicnn), which is also resampy's default (YAMNet's inference example). -3 dB at
    /// ~0.91 of the lower Nyquist frequency. The default: both reference pipelines use it.
    #[default]
    KaiserBest,
    /// rubato's FFT resampler, flat to close to the Nyquist frequency (the engine's method
    /// before models declared theirs).
    Fft,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PadMode {
    Reflect,
    Constant,
}

/// Every parameter of the log-mel front-end; nothing of it is hard-coded in the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontendConfig {
    pub kind: String,
    pub sample_rate_hz: u32,
    /// How other input rates are converted to `sample_rate_hz` ("kaiser-best" unless given).
    /// Always written out, so that caches keyed on the front-end see a change of method.
    #[serde(default)]
    pub resampler: ResamplerKind,
    pub n_fft: usize,
    pub win_length: usize,
    pub hop_length: usize,
    pub window: WindowKind,
    /// How a frame is cut (librosa unless given).
    #[serde(default, skip_serializing_if = "is_librosa")]
    pub framing: Framing,
    /// Centred frames: frame `t` is centred on sample `t * hop_length`.
    pub center: bool,
    pub pad_mode: PadMode,
    /// 1.0 = magnitude, 2.0 = power.
    pub power: f32,
    pub n_mels: usize,
    pub f_min_hz: f32,
    pub f_max_hz: f32,
    pub mel_scale: MelScale,
    pub mel_norm: MelNorm,
    pub log: LogCompression,
    #[serde(default = "one")]
    pub log_multiplier: f32,
    #[serde(default)]
    pub log_offset: f32,
    /// Frames in one model input patch.
    pub patch_frames: usize,
}

fn one() -> f32 {
    1.0
}

fn is_librosa(f: &Framing) -> bool {
    *f == Framing::Librosa
}

impl FrontendConfig {
    /// Samples one frame reads from the signal.
    pub fn frame_length(&self) -> usize {
        match self.framing {
            Framing::Librosa => self.n_fft,
            Framing::Tensorflow => self.win_length,
        }
    }

    /// Seconds between two frames.
    pub fn frame_seconds(&self) -> f64 {
        self.hop_length as f64 / self.sample_rate_hz as f64
    }

    /// Seconds of audio one patch covers.
    pub fn patch_seconds(&self) -> f64 {
        self.patch_frames as f64 * self.frame_seconds()
    }

    fn validate(&self, manifest: &Path) -> Result<(), ModelError> {
        let bad = |field: &str, value: String, why: &str| ModelError::InvalidManifest {
            path: manifest.to_path_buf(),
            reason: format!("frontend.{field} = {value}: {why}"),
        };
        if self.kind != "log-mel" {
            return Err(bad("kind", format!("{:?}", self.kind), "only \"log-mel\" is supported"));
        }
        if !(8_000..=384_000).contains(&self.sample_rate_hz) {
            return Err(bad("sample_rate_hz", self.sample_rate_hz.to_string(), "must be 8000..=384000"));
        }
        if self.n_fft < 16 || self.win_length == 0 || self.win_length > self.n_fft {
            return Err(bad(
                "win_length",
                self.win_length.to_string(),
                "must be between 1 and n_fft (n_fft at least 16)",
            ));
        }
        if self.hop_length == 0 || self.n_mels == 0 || self.patch_frames == 0 {
            return Err(bad("hop_length/n_mels/patch_frames", "0".into(), "must be positive"));
        }
        let nyquist = self.sample_rate_hz as f32 / 2.0;
        if !(self.f_min_hz >= 0.0 && self.f_min_hz < self.f_max_hz && self.f_max_hz <= nyquist) {
            return Err(bad(
                "f_max_hz",
                format!("{} (f_min_hz {})", self.f_max_hz, self.f_min_hz),
                "need 0 <= f_min_hz < f_max_hz <= sample_rate_hz / 2",
            ));
        }
        if self.framing == Framing::Tensorflow && self.center {
            return Err(bad("center", "true".into(), "framing = \"tensorflow\" cuts frames from the start: set center = false"));
        }
        if !(self.power == 1.0 || self.power == 2.0) {
            return Err(bad("power", self.power.to_string(), "must be 1.0 or 2.0"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output holding per-label probabilities, shape [batch, labels].
    pub probabilities: String,
    /// Output holding the embedding a head is trained on, shape [batch, embedding_dim].
    #[serde(default)]
    pub embedding: Option<String>,
    #[serde(default)]
    pub embedding_dim: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// Label of each probability, in the model's output order.
    pub names: Vec<String>,
    /// The labels that are music genres (the rest are moods, eras, instruments ...).
    #[serde(default)]
    pub genres: Vec<String>,
}

/// One model of an ensemble and its share of the mix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleMember {
    /// A built-in or installed model (full or head; not another ensemble).
    pub model: String,
    /// Its weight in the mix of probabilities (the weights are normalised to sum to one).
    pub weight: f32,
    /// Seconds between this member's windows. The first member's windows are the ensemble's
    /// (its hop is the analysis hop); the others use this, or their patch length if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hop_seconds: Option<f64>,
    /// What to tell a user who has not got this member (e.g. how to train it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
}

/// An ensemble: models analysing the same audio, their probabilities mixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleSpec {
    /// At least two; the first one's windows are the ensemble's windows.
    pub members: Vec<EnsembleMember>,
    /// The mix `p` is sharpened to `p^(1/T)`, renormalised (softmax models; 1 = unchanged).
    #[serde(default = "one")]
    pub temperature: f32,
}

/// `manifest.toml` as written on disk. A head names its `backbone` and has no `[frontend]`;
/// an ensemble has an `[ensemble]` table and neither ONNX file nor `[frontend]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub onnx: PathBuf,
    #[serde(default)]
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub licence: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// For a head: the model whose embedding it reads (its input is that embedding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<String>,
    pub output_activation: OutputActivation,
    /// Whole-piece pooling (`mean-probabilities` unless given).
    #[serde(default, skip_serializing_if = "is_mean_probabilities")]
    pub pooling: Pooling,
    #[serde(default)]
    pub input: InputSpec,
    #[serde(default)]
    pub outputs: OutputSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleSpec>,
    pub labels: Labels,
    /// Free-form facts about how the model was trained (data, settings, held-out scores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<toml::Table>,
}

/// A model's manifest with its front-end resolved (a head's comes from its backbone).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// The ONNX file, relative to the manifest's folder.
    pub onnx: PathBuf,
    /// Lowercase hex sha256 of the ONNX file; checked before the file is used. For an
    /// ensemble, a digest of its members' names, sha256s and mix (it has no file).
    pub sha256: String,
    pub licence: Option<String>,
    pub source: Option<String>,
    pub backbone: Option<String>,
    pub output_activation: OutputActivation,
    pub pooling: Pooling,
    pub input: InputSpec,
    pub outputs: OutputSpec,
    /// For an ensemble: its first member's (whose windows are the ensemble's).
    pub frontend: FrontendConfig,
    pub labels: Labels,
    pub training: Option<toml::Table>,
    pub ensemble: Option<EnsembleSpec>,
}

impl ManifestFile {
    /// Parses and checks a manifest; `origin` names it in error messages.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let file: ManifestFile = toml::from_str(text).map_err(|e| ModelError::InvalidManifest {
            path: origin.to_path_buf(),
            reason: e.to_string(),
        })?;
        file.validate(origin)?;
        Ok(file)
    }

    fn validate(&self, origin: &Path) -> Result<(), ModelError> {
        let bad = |reason: String| ModelError::InvalidManifest { path: origin.to_path_buf(), reason };
        if let Some(ensemble) = &self.ensemble {
            return self.validate_ensemble(ensemble, origin);
        }
        // Optional in the file only because an ensemble has none of them.
        if self.onnx.as_os_str().is_empty() {
            return Err(bad("missing field `onnx`: name the model's ONNX file (only an [ensemble] has none)".into()));
        }
        if self.input.name.is_empty() {
            return Err(bad("missing field `input`: give [input] name = the ONNX graph's input (only an [ensemble] has none)".into()));
        }
        if self.outputs.probabilities.is_empty() {
            return Err(bad(
                "missing field `outputs`: give [outputs] probabilities = the ONNX graph's output (only an [ensemble] has none)".into(),
            ));
        }
        match (&self.frontend, &self.backbone) {
            (Some(fe), None) => fe.validate(origin)?,
            (None, Some(_)) => {}
            (Some(_), Some(b)) => {
                return Err(bad(format!("a head (backbone = '{b}') takes its front-end from the backbone: remove [frontend]")));
            }
            (None, None) => return Err(bad("no [frontend] table: a model needs one (or `backbone = \"...\"` for a head)".into())),
        }
        if self.pooling == Pooling::MeanEmbedding && self.backbone.is_none() {
            return Err(bad(
                "pooling = \"mean-embedding\" applies a head to the mean of its backbone's embeddings: it needs `backbone = \"...\"`".into(),
            ));
        }
        if self.labels.names.is_empty() {
            return Err(bad("labels.names is empty: list the label of every model output".into()));
        }
        if let Some(g) = self.labels.genres.iter().find(|g| !self.labels.names.contains(g)) {
            return Err(bad(format!("labels.genres names '{g}', which is not in labels.names")));
        }
        let hex = self.sha256.len() == 64 && self.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex {
            return Err(bad(format!(
                "sha256 = {:?} is not 64 hex digits; put the output of `sha256sum {}` there",
                self.sha256,
                self.onnx.display()
            )));
        }
        Ok(())
    }

    fn validate_ensemble(&self, ensemble: &EnsembleSpec, origin: &Path) -> Result<(), ModelError> {
        let bad = |reason: String| ModelError::InvalidManifest { path: origin.to_path_buf(), reason };
        if self.frontend.is_some() || self.backbone.is_some() || !self.onnx.as_os_str().is_empty() {
            return Err(bad(
                "an [ensemble] runs its members' models: remove onnx, backbone and [frontend] (the members bring theirs)".into(),
            ));
        }
        if self.pooling != Pooling::MeanProbabilities {
            return Err(bad("an [ensemble] pools each member as that member's manifest says: remove `pooling`".into()));
        }
        if ensemble.members.len() < 2 {
            return Err(bad(format!("ensemble.members lists {} model(s): an ensemble needs at least two", ensemble.members.len())));
        }
        for m in &ensemble.members {
            if !(m.weight.is_finite() && m.weight > 0.0) {
                return Err(bad(format!("ensemble member '{}' has weight {}: give a positive number", m.model, m.weight)));
            }
            if let Some(h) = m.hop_seconds
                && !(h.is_finite() && h > 0.0)
            {
                return Err(bad(format!("ensemble member '{}' has hop_seconds {h}: give a positive number of seconds", m.model)));
            }
        }
        let t = ensemble.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(bad(format!("ensemble.temperature = {t}: give a positive number (1 leaves the mix unchanged)")));
        }
        if t != 1.0 && self.output_activation != OutputActivation::Softmax {
            return Err(bad("ensemble.temperature applies to a softmax distribution: set output_activation = \"softmax\" or remove it".into()));
        }
        if self.labels.names.is_empty() {
            return Err(bad("labels.names is empty: list the label of every model output".into()));
        }
        if let Some(g) = self.labels.genres.iter().find(|g| !self.labels.names.contains(g)) {
            return Err(bad(format!("labels.genres names '{g}', which is not in labels.names")));
        }
        Ok(())
    }

    /// The resolved manifest, given the front-end (the model's own, or its backbone's, or an
    /// ensemble's first member's).
    pub fn resolve(self, backbone_frontend: Option<&FrontendConfig>) -> Option<Manifest> {
        let frontend = self.frontend.or_else(|| backbone_frontend.cloned())?;
        Some(Manifest {
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            onnx: self.onnx,
            sha256: self.sha256,
            licence: self.licence,
            source: self.source,
            backbone: self.backbone,
            output_activation: self.output_activation,
            pooling: self.pooling,
            input: self.input,
            outputs: self.outputs,
            frontend,
            labels: self.labels,
            training: self.training,
            ensemble: self.ensemble,
        })
    }
}

impl Manifest {
    /// Parses a full model's manifest (one with its own `[frontend]`).
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ModelError> {
        let file = ManifestFile::parse(text, origin)?;
        let what = match (&file.backbone, &file.ensemble) {
            (Some(b), _) => format!("it is a head on '{b}'"),
            _ => "it is an ensemble".to_string(),
        };
        file.resolve(None).ok_or_else(|| ModelError::InvalidManifest {
            path: origin.to_path_buf(),
            reason: format!("{what}; load it through the model catalogue"),
        })
    }

    pub fn title(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }

    /// Index of each genre label in `labels.names`.
    pub fn genre_indices(&self) -> Vec<usize> {
        self.labels
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| self.labels.genres.contains(n))
            .map(|(i, _)| i)
            .collect()
    }
}
