//! Model catalogue (built-in and installed models) and ONNX inference.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};

use super::error::ModelError;
use super::manifest::Manifest;
use super::runtime;

/// A model compiled into the binary.
pub struct BuiltinModel {
    pub folder: &'static str,
    pub manifest: &'static str,
    pub onnx: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_models.rs"));

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "msd-musicnn";

/// Where a model's files come from.
#[derive(Debug, Clone)]
pub enum ModelOrigin {
    BuiltIn,
    /// A folder holding `manifest.toml` and the ONNX file.
    Folder(PathBuf),
}

/// A model that can be loaded: its manifest and where its weights are.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub manifest: Manifest,
    pub origin: ModelOrigin,
}

/// Folder for models a user installs or trains (`<data dir>/models/<name>/manifest.toml`).
pub fn user_models_dir() -> PathBuf {
    runtime::data_dir().join("models")
}

fn builtin_entries() -> Vec<ModelEntry> {
    BUILTIN_MODELS
        .iter()
        .map(|b| {
            let origin = PathBuf::from(format!("<built-in>/{}/manifest.toml", b.folder));
            let manifest = Manifest::parse(b.manifest, &origin).expect("built-in manifests are tested");
            ModelEntry { manifest, origin: ModelOrigin::BuiltIn }
        })
        .collect()
}

/// Built-in models, then installed ones. Installed folders with a broken manifest are
/// returned as errors so that a listing can say what is wrong with them.
pub fn catalogue() -> (Vec<ModelEntry>, Vec<ModelError>) {
    let mut entries = builtin_entries();
    let mut problems = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(user_models_dir())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        match ModelEntry::from_folder(&dir) {
            Ok(e) if entries.iter().any(|b| b.manifest.name == e.manifest.name) => {
                problems.push(ModelError::InvalidManifest {
                    path: dir.join("manifest.toml"),
                    reason: format!("name '{}' is already taken by another model; rename it", e.manifest.name),
                });
            }
            Ok(e) => entries.push(e),
            Err(e) => problems.push(e),
        }
    }
    (entries, problems)
}

/// Finds a model by name (built-in or installed) or by the path of a folder or manifest.
pub fn resolve(spec: &str) -> Result<ModelEntry, ModelError> {
    let path = Path::new(spec);
    if path.exists() {
        let dir = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
        return ModelEntry::from_folder(dir);
    }
    let (entries, _) = catalogue();
    entries.iter().find(|e| e.manifest.name == spec).cloned().ok_or_else(|| ModelError::UnknownModel {
        name: spec.to_string(),
        available: entries.iter().map(|e| e.manifest.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

impl ModelEntry {
    pub fn from_folder(dir: &Path) -> Result<Self, ModelError> {
        let path = dir.join("manifest.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Read { path: path.clone(), source })?;
        let manifest = Manifest::parse(&text, &path)?;
        Ok(Self { manifest, origin: ModelOrigin::Folder(dir.to_path_buf()) })
    }

    /// Short description of where the model lives.
    pub fn location(&self) -> String {
        match &self.origin {
            ModelOrigin::BuiltIn => "built-in".to_string(),
            ModelOrigin::Folder(dir) => dir.display().to_string(),
        }
    }

    fn onnx_bytes(&self) -> Result<(std::borrow::Cow<'static, [u8]>, PathBuf), ModelError> {
        match &self.origin {
            ModelOrigin::BuiltIn => {
                let b = BUILTIN_MODELS
                    .iter()
                    .find(|b| Manifest::parse(b.manifest, Path::new("")).is_ok_and(|m| m.name == self.manifest.name))
                    .expect("built-in entry comes from BUILTIN_MODELS");
                Ok((b.onnx.into(), PathBuf::from(format!("<built-in>/{}/{}", b.folder, self.manifest.onnx.display()))))
            }
            ModelOrigin::Folder(dir) => {
                let path = dir.join(&self.manifest.onnx);
                let bytes = std::fs::read(&path).map_err(|source| ModelError::Read { path: path.clone(), source })?;
                Ok((bytes.into(), path))
            }
        }
    }

    /// Checks the weights against the manifest's sha256 and opens an inference session.
    pub fn load(&self) -> Result<LoadedModel, ModelError> {
        let (bytes, path) = self.onnx_bytes()?;
        let actual = hex(&Sha256::digest(&bytes));
        if actual != self.manifest.sha256.to_ascii_lowercase() {
            return Err(ModelError::Checksum { path, expected: self.manifest.sha256.clone(), actual });
        }
        let env = runtime::environment()?;
        let name = self.manifest.name.clone();
        let load_err = |e: ort::Error| ModelError::Load { model: name.clone(), reason: e.to_string() };
        let session = Session::builder(env)
            .map_err(load_err)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .and_then(|b| b.with_intra_threads(1))
            .and_then(|b| b.with_inter_threads(1))
            .and_then(|b| b.with_parallel_execution(false))
            .and_then(|b| b.with_intra_op_spinning(false))
            .and_then(|b| b.with_inter_op_spinning(false))
            .map_err(|e| load_err(e.into()))?
            .commit_from_memory(&bytes)
            .map_err(load_err)?;
        let model = LoadedModel { manifest: self.manifest.clone(), session: Mutex::new(session) };
        model.check_against_manifest()?;
        Ok(model)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Output of one inference call over a batch of patches.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// `[batch][labels]` row-major probabilities.
    pub probabilities: Vec<f32>,
    /// `[batch][embedding_dim]` row-major, when the model has an embedding output.
    pub embeddings: Vec<f32>,
}

/// An ONNX session plus its manifest. The session sits behind a mutex so that one loaded
/// model can serve several analysers (plugin instances) without copying its weights.
pub struct LoadedModel {
    manifest: Manifest,
    session: Mutex<Session>,
}

impl LoadedModel {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn labels(&self) -> &[String] {
        &self.manifest.labels.names
    }

    /// Floats in one input patch (`patch_frames * n_mels`).
    pub fn patch_len(&self) -> usize {
        self.manifest.frontend.patch_frames * self.manifest.frontend.n_mels
    }

    fn check_against_manifest(&self) -> Result<(), ModelError> {
        let mismatch = |reason: String| ModelError::Mismatch { model: self.manifest.name.clone(), reason };
        {
            let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
            let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
            if !inputs.contains(&self.manifest.input.name.as_str()) {
                return Err(mismatch(format!(
                    "manifest input '{}' is not an input of the ONNX graph (inputs: {})",
                    self.manifest.input.name,
                    inputs.join(", ")
                )));
            }
            let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            let wanted =
                std::iter::once(&self.manifest.outputs.probabilities).chain(self.manifest.outputs.embedding.as_ref());
            for w in wanted {
                if !outputs.contains(&w.as_str()) {
                    return Err(mismatch(format!(
                        "manifest output '{w}' is not an output of the ONNX graph (outputs: {})",
                        outputs.join(", ")
                    )));
                }
            }
        }
        // A warm-up run also checks the shapes the manifest promises.
        let out = self.infer(&vec![0.0; self.patch_len()], 1)?;
        if out.probabilities.len() != self.labels().len() {
            return Err(mismatch(format!(
                "the graph gives {} probabilities per patch, the manifest lists {} labels",
                out.probabilities.len(),
                self.labels().len()
            )));
        }
        if let Some(dim) = self.manifest.outputs.embedding_dim
            && out.embeddings.len() != dim
        {
            return Err(mismatch(format!(
                "the graph's embedding has {} values, the manifest says embedding_dim = {dim}",
                out.embeddings.len()
            )));
        }
        Ok(())
    }

    /// Runs `batch` patches (`batch * patch_len()` floats, `[batch][frames][mels]`).
    pub fn infer(&self, patches: &[f32], batch: usize) -> Result<Inference, ModelError> {
        let fe = &self.manifest.frontend;
        debug_assert_eq!(patches.len(), batch * self.patch_len());
        let err = |e: ort::Error| ModelError::Inference { model: self.manifest.name.clone(), reason: e.to_string() };
        let input = TensorRef::from_array_view(([batch, fe.patch_frames, fe.n_mels], patches)).map_err(err)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(ort::inputs![self.manifest.input.name.as_str() => input]).map_err(err)?;
        let extract = |name: &str| -> Result<Vec<f32>, ModelError> {
            let value = outputs.get(name).ok_or_else(|| ModelError::Inference {
                model: self.manifest.name.clone(),
                reason: format!("output '{name}' missing"),
            })?;
            let (_, data) = value.try_extract_tensor::<f32>().map_err(err)?;
            Ok(data.to_vec())
        };
        let probabilities = extract(&self.manifest.outputs.probabilities)?;
        let embeddings = match &self.manifest.outputs.embedding {
            Some(name) => extract(name)?,
            None => Vec::new(),
        };
        Ok(Inference { probabilities, embeddings })
    }
}
