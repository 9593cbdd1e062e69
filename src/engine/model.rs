//! Model catalogue (built-in and installed models) and ONNX inference.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::TensorRef;
use sha2::{Digest, Sha256};

use super::error::ModelError;
use super::manifest::{Manifest, ManifestFile};
use super::runtime;

/// A model compiled into the binary.
pub struct BuiltinModel {
    pub folder: &'static str,
    pub manifest: &'static str,
    pub onnx: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtin_models.rs"));

/// The model used when none is named.
pub const DEFAULT_MODEL: &str = "gtzan10";

/// Where a model's files come from.
#[derive(Debug, Clone)]
pub enum ModelOrigin {
    BuiltIn,
    /// A folder holding `manifest.toml` and the ONNX file.
    Folder(PathBuf),
}

/// A model that can be loaded: its manifest, where its weights are and, for a head, the
/// backbone whose embedding it reads; for an ensemble, its members (in the manifest's order).
#[derive(Debug, Clone)]
pub struct ModelEntry {
    pub manifest: Manifest,
    pub origin: ModelOrigin,
    pub backbone: Option<Box<ModelEntry>>,
    pub members: Vec<ModelEntry>,
}

/// Folder for models a user installs or trains (`<data dir>/models/<name>/manifest.toml`).
pub fn user_models_dir() -> PathBuf {
    runtime::data_dir().join("models")
}

struct Unresolved {
    file: ManifestFile,
    origin: ModelOrigin,
    manifest_path: PathBuf,
}

fn builtin_unresolved() -> Vec<Unresolved> {
    BUILTIN_MODELS
        .iter()
        .map(|b| {
            let manifest_path = PathBuf::from(format!("<built-in>/{}/manifest.toml", b.folder));
            let file = ManifestFile::parse(b.manifest, &manifest_path).expect("built-in manifests are tested");
            Unresolved { file, origin: ModelOrigin::BuiltIn, manifest_path }
        })
        .collect()
}

fn read_folder(dir: &Path) -> Result<Unresolved, ModelError> {
    let manifest_path = dir.join("manifest.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|source| ModelError::Read { path: manifest_path.clone(), source })?;
    let file = ManifestFile::parse(&text, &manifest_path)?;
    Ok(Unresolved { file, origin: ModelOrigin::Folder(dir.to_path_buf()), manifest_path })
}

/// Resolves full models first, then heads onto them, then ensembles onto both; built-in
/// models (full and heads) before installed ones, so that an installed model cannot take a
/// built-in model's name.
fn resolve_all(raw: Vec<Unresolved>, problems: &mut Vec<ModelError>, optional: &mut Vec<ModelError>) -> Vec<ModelEntry> {
    let is_head = |u: &Unresolved| u.file.backbone.is_some();
    let is_ensemble = |u: &Unresolved| u.file.ensemble.is_some();
    let is_builtin = |u: &Unresolved| matches!(u.origin, ModelOrigin::BuiltIn);
    let mut raw = raw;
    // Stable: built-in full, built-in heads, installed full, installed heads, then ensembles
    // (whose members may be installed ones), built-in first.
    raw.sort_by_key(|u| (is_ensemble(u), !is_builtin(u), is_head(u)));
    let mut entries: Vec<ModelEntry> = Vec::new();
    fn add(entry: ModelEntry, path: &Path, entries: &mut Vec<ModelEntry>, problems: &mut Vec<ModelError>) {
        if entries.iter().any(|e| e.manifest.name == entry.manifest.name) {
            problems.push(ModelError::InvalidManifest {
                path: path.to_path_buf(),
                reason: format!("name '{}' is already taken by another model; rename it", entry.manifest.name),
            });
        } else {
            entries.push(entry);
        }
    }
    for u in raw {
        let path = u.manifest_path.clone();
        if is_ensemble(&u) {
            let builtin = is_builtin(&u);
            match attach_members(u, &entries) {
                Ok(entry) => add(entry, &path, &mut entries, problems),
                // A built-in ensemble whose member the user has not made is an option, not a fault.
                Err(e @ ModelError::NotInstalled { .. }) if builtin => optional.push(e),
                Err(e) => problems.push(e),
            }
        } else if is_head(&u) {
            match attach_backbone(u, &entries) {
                Ok(entry) => add(entry, &path, &mut entries, problems),
                Err(e) => problems.push(e),
            }
        } else {
            let manifest = u.file.resolve(None).expect("full models have a front-end");
            add(ModelEntry { manifest, origin: u.origin, backbone: None, members: Vec::new() }, &path, &mut entries, problems);
        }
    }
    entries
}

fn attach_backbone(u: Unresolved, full_models: &[ModelEntry]) -> Result<ModelEntry, ModelError> {
    let wanted = u.file.backbone.clone().expect("a head names its backbone");
    let backbone = full_models.iter().find(|e| e.manifest.name == wanted && e.backbone.is_none()).ok_or_else(|| {
        ModelError::NotInstalled {
            name: u.file.name.clone(),
            hint: format!("it is a head on backbone '{wanted}'. {}", missing_model_hint(&wanted)),
        }
    })?;
    let manifest = u.file.resolve(Some(&backbone.manifest.frontend)).expect("front-end given");
    Ok(ModelEntry { manifest, origin: u.origin, backbone: Some(Box::new(backbone.clone())), members: Vec::new() })
}

/// An ensemble's members, found among `models` (full models and heads), with the same labels
/// as the ensemble; its `sha256` becomes a digest of the members' weights and mix.
fn attach_members(u: Unresolved, models: &[ModelEntry]) -> Result<ModelEntry, ModelError> {
    let spec = u.file.ensemble.clone().expect("an ensemble has [ensemble]");
    let bad = |reason: String| ModelError::InvalidManifest { path: u.manifest_path.clone(), reason };
    let mut members = Vec::new();
    let mut digest = Sha256::new();
    for m in &spec.members {
        let Some(found) = models.iter().find(|e| e.manifest.name == m.model && e.members.is_empty()) else {
            let hint = m.install_hint.clone().unwrap_or_else(|| missing_model_hint(&m.model));
            return Err(ModelError::NotInstalled {
                name: u.file.name.clone(),
                hint: format!("it is an ensemble with member '{}', which is missing: {hint}", m.model),
            });
        };
        if found.manifest.labels.names != u.file.labels.names {
            return Err(bad(format!(
                "member '{}' gives the labels [{}], the ensemble lists [{}]: members must give the same labels in the same order",
                m.model,
                found.manifest.labels.names.join(", "),
                u.file.labels.names.join(", ")
            )));
        }
        let mut part = Some(found);
        while let Some(p) = part {
            digest.update(p.manifest.name.as_bytes());
            digest.update([0]);
            digest.update(p.manifest.sha256.as_bytes());
            part = p.backbone.as_deref();
        }
        digest.update(m.weight.to_le_bytes());
        digest.update(m.hop_seconds.unwrap_or(0.0).to_le_bytes());
        members.push(found.clone());
    }
    digest.update(spec.temperature.to_le_bytes());
    let mut manifest = u.file.resolve(Some(&members[0].manifest.frontend)).expect("front-end given");
    manifest.sha256 = hex(&digest.finalize());
    Ok(ModelEntry { manifest, origin: u.origin, backbone: None, members })
}

/// What to do about a model that is not installed.
fn missing_model_hint(name: &str) -> String {
    if name == super::yamnet::NAME {
        super::yamnet::install_hint()
    } else {
        format!("'{name}' is not installed: put its model folder into {}", user_models_dir().display())
    }
}

/// Built-in models, then installed ones. Installed folders with a broken manifest (or a head
/// whose backbone is missing) are returned as errors so that a listing can say what is wrong.
pub fn catalogue() -> (Vec<ModelEntry>, Vec<ModelError>) {
    let (entries, problems, _) = catalogue_with_options();
    (entries, problems)
}

/// Built-in models that need a model the user has not installed (an ensemble with a member
/// on YAMNet), each as the error that says what to install.
pub fn optional_unavailable() -> Vec<ModelError> {
    catalogue_with_options().2
}

fn catalogue_with_options() -> (Vec<ModelEntry>, Vec<ModelError>, Vec<ModelError>) {
    let mut raw = builtin_unresolved();
    let mut problems = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(user_models_dir())
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.join("manifest.toml").is_file()).collect())
        .unwrap_or_default();
    dirs.sort();
    for dir in dirs {
        match read_folder(&dir) {
            Ok(u) => raw.push(u),
            Err(e) => problems.push(e),
        }
    }
    let mut optional = Vec::new();
    let entries = resolve_all(raw, &mut problems, &mut optional);
    (entries, problems, optional)
}

/// Finds a model by name (built-in or installed) or by the path of a folder or manifest.
pub fn resolve(spec: &str) -> Result<ModelEntry, ModelError> {
    let path = Path::new(spec);
    if path.exists() {
        let dir = if path.is_dir() { path } else { path.parent().unwrap_or(Path::new(".")) };
        return ModelEntry::from_folder(dir);
    }
    let (entries, mut problems, optional) = catalogue_with_options();
    problems.extend(optional);
    if let Some(e) = entries.iter().find(|e| e.manifest.name == spec) {
        return Ok(e.clone());
    }
    // A model that exists but cannot be used: say why, not just "unknown".
    let names_it = |p: &ModelError| match p {
        ModelError::NotInstalled { name, .. } => name == spec,
        other => other.to_string().contains(&format!("/{spec}/")),
    };
    if let Some(p) = problems.into_iter().find(names_it) {
        return Err(p);
    }
    if spec == super::yamnet::NAME {
        return Err(ModelError::NotInstalled { name: spec.to_string(), hint: super::yamnet::install_hint() });
    }
    Err(ModelError::UnknownModel {
        name: spec.to_string(),
        available: entries.iter().map(|e| e.manifest.name.as_str()).collect::<Vec<_>>().join(", "),
    })
}

impl ModelEntry {
    /// A model folder anywhere on disk (a head's backbone is looked up in the catalogue).
    pub fn from_folder(dir: &Path) -> Result<Self, ModelError> {
        let u = read_folder(dir)?;
        if u.file.backbone.is_none() && u.file.ensemble.is_none() {
            let manifest = u.file.resolve(None).expect("full models have a front-end");
            return Ok(Self { manifest, origin: u.origin, backbone: None, members: Vec::new() });
        }
        let (entries, _) = catalogue();
        if u.file.ensemble.is_some() { attach_members(u, &entries) } else { attach_backbone(u, &entries) }
    }

    /// Short description of where the model lives.
    pub fn location(&self) -> String {
        match &self.origin {
            ModelOrigin::BuiltIn => "built-in".to_string(),
            ModelOrigin::Folder(dir) => dir.display().to_string(),
        }
    }

    fn onnx_bytes(&self) -> Result<(std::borrow::Cow<'static, [u8]>, PathBuf), ModelError> {
        let (bytes, path): (std::borrow::Cow<'static, [u8]>, PathBuf) = match &self.origin {
            ModelOrigin::BuiltIn => {
                let b = BUILTIN_MODELS
                    .iter()
                    .find(|b| ManifestFile::parse(b.manifest, Path::new("")).is_ok_and(|m| m.name == self.manifest.name))
                    .expect("built-in entry comes from BUILTIN_MODELS");
                (b.onnx.into(), PathBuf::from(format!("<built-in>/{}/{}", b.folder, self.manifest.onnx.display())))
            }
            ModelOrigin::Folder(dir) => {
                let path = dir.join(&self.manifest.onnx);
                let bytes = std::fs::read(&path).map_err(|source| ModelError::Read { path: path.clone(), source })?;
                (bytes.into(), path)
            }
        };
        let actual = hex(&Sha256::digest(&bytes));
        if actual != self.manifest.sha256.to_ascii_lowercase() {
            return Err(ModelError::Checksum { path, expected: self.manifest.sha256.clone(), actual });
        }
        Ok((bytes, path))
    }

    fn session(&self) -> Result<Session, ModelError> {
        let (bytes, _) = self.onnx_bytes()?;
        let env = runtime::environment()?;
        let name = self.manifest.name.clone();
        let load_err = |e: ort::Error| ModelError::Load { model: name.clone(), reason: e.to_string() };
        let builder = Session::builder(env).map_err(load_err)?;
        runtime::SessionTuning::from_env()
            .apply(builder)
            .map_err(load_err)?
            .with_inter_threads(1)
            .and_then(|b| b.with_parallel_execution(false))
            .and_then(|b| b.with_intra_op_spinning(false))
            .and_then(|b| b.with_inter_op_spinning(false))
            .map_err(|e| load_err(e.into()))?
            .commit_from_memory(&bytes)
            .map_err(load_err)
    }

    /// Checks the weights against the manifests' sha256 and opens the inference session(s).
    pub fn load(&self) -> Result<LoadedModel, ModelError> {
        if let Some(spec) = &self.manifest.ensemble {
            let total: f32 = spec.members.iter().map(|m| m.weight).sum();
            let members = self
                .members
                .iter()
                .zip(&spec.members)
                .map(|(entry, m)| {
                    Ok(LoadedMember { model: Arc::new(entry.load()?), weight: m.weight / total, hop_seconds: m.hop_seconds })
                })
                .collect::<Result<Vec<_>, ModelError>>()?;
            return Ok(LoadedModel { manifest: self.manifest.clone(), backbone: None, head: None, members });
        }
        let model = match &self.backbone {
            None => LoadedModel {
                manifest: self.manifest.clone(),
                backbone: Some(Stage::new(self.session()?, &self.manifest)),
                head: None,
                members: Vec::new(),
            },
            Some(backbone) => {
                let embedding = backbone.manifest.outputs.embedding.clone().ok_or_else(|| ModelError::Mismatch {
                    model: self.manifest.name.clone(),
                    reason: format!("backbone '{}' has no embedding output in its manifest", backbone.manifest.name),
                })?;
                let mut backbone_stage = Stage::new(backbone.session()?, &backbone.manifest);
                backbone_stage.outputs = vec![embedding, backbone.manifest.outputs.probabilities.clone()];
                LoadedModel {
                    manifest: self.manifest.clone(),
                    backbone: Some(backbone_stage),
                    head: Some(Stage::new(self.session()?, &self.manifest)),
                    members: Vec::new(),
                }
            }
        };
        model.check_against_manifest()?;
        Ok(model)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One ONNX session and the tensor names it is run with.
struct Stage {
    session: Mutex<Session>,
    input: String,
    /// Outputs read, in order: `[probabilities, embedding?]` for a model used alone,
    /// `[embedding, probabilities]` for a backbone under a head.
    outputs: Vec<String>,
}

impl Stage {
    fn new(session: Session, manifest: &Manifest) -> Self {
        let mut outputs = vec![manifest.outputs.probabilities.clone()];
        outputs.extend(manifest.outputs.embedding.clone());
        Self { session: Mutex::new(session), input: manifest.input.name.clone(), outputs }
    }

    fn check_names(&self, model: &str) -> Result<(), ModelError> {
        let mismatch = |reason: String| ModelError::Mismatch { model: model.to_string(), reason };
        let session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let inputs: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
        if !inputs.contains(&self.input.as_str()) {
            return Err(mismatch(format!(
                "manifest input '{}' is not an input of the ONNX graph (inputs: {})",
                self.input,
                inputs.join(", ")
            )));
        }
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if let Some(w) = self.outputs.iter().find(|w| !outputs.contains(&w.as_str())) {
            return Err(mismatch(format!(
                "manifest output '{w}' is not an output of the ONNX graph (outputs: {})",
                outputs.join(", ")
            )));
        }
        Ok(())
    }

    /// Runs the stage on `[shape]` input; returns the outputs in `self.outputs` order.
    fn run(&self, model: &str, shape: &[usize], data: &[f32]) -> Result<Vec<Vec<f32>>, ModelError> {
        let err = |e: ort::Error| ModelError::Inference { model: model.to_string(), reason: e.to_string() };
        let input = TensorRef::from_array_view((shape.to_vec(), data)).map_err(err)?;
        let mut session = self.session.lock().unwrap_or_else(|p| p.into_inner());
        let outputs = session.run(ort::inputs![self.input.as_str() => input]).map_err(err)?;
        self.outputs
            .iter()
            .map(|name| {
                let value = outputs.get(name).ok_or_else(|| ModelError::Inference {
                    model: model.to_string(),
                    reason: format!("output '{name}' missing"),
                })?;
                let (_, data) = value.try_extract_tensor::<f32>().map_err(err)?;
                Ok(data.to_vec())
            })
            .collect()
    }
}

/// Output of one inference call over a batch of patches.
#[derive(Debug, Clone, Default)]
pub struct Inference {
    /// `[batch][labels]` row-major probabilities.
    pub probabilities: Vec<f32>,
    /// `[batch][embedding_dim]` row-major, when the model has an embedding output.
    pub embeddings: Vec<f32>,
}

/// A model ready for inference: one session, or a backbone session feeding a head session, or
/// (an ensemble) its loaded members. Sessions sit behind mutexes so that one loaded model can
/// serve several analysers (plugin instances) without copying its weights.
pub struct LoadedModel {
    manifest: Manifest,
    /// `None` for an ensemble.
    backbone: Option<Stage>,
    head: Option<Stage>,
    members: Vec<LoadedMember>,
}

/// One model of a loaded ensemble.
pub struct LoadedMember {
    pub model: Arc<LoadedModel>,
    /// Its share of the mix; the members' shares sum to one.
    pub weight: f32,
    /// Seconds between its windows (members after the first), `None`: its patch length.
    pub hop_seconds: Option<f64>,
}

impl LoadedModel {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn labels(&self) -> &[String] {
        &self.manifest.labels.names
    }

    /// An ensemble's members (empty for any other model).
    pub fn members(&self) -> &[LoadedMember] {
        &self.members
    }

    /// The temperature an ensemble's mix is sharpened with (1 for other models).
    pub fn ensemble_temperature(&self) -> f32 {
        self.manifest.ensemble.as_ref().map_or(1.0, |e| e.temperature)
    }

    /// Floats in one input patch (`patch_frames * n_mels`).
    pub fn patch_len(&self) -> usize {
        self.manifest.frontend.patch_frames * self.manifest.frontend.n_mels
    }

    fn check_against_manifest(&self) -> Result<(), ModelError> {
        let name = &self.manifest.name;
        let Some(backbone) = &self.backbone else {
            return Ok(()); // an ensemble: its members checked themselves, and their labels
        };
        backbone.check_names(name)?;
        if let Some(head) = &self.head {
            head.check_names(name)?;
        }
        let mismatch = |reason: String| ModelError::Mismatch { model: name.clone(), reason };
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

    /// For a head: its probabilities for `batch` backbone embeddings (`[batch][dim]`), the
    /// second half of [`LoadedModel::infer`]. `None` for a model without a head.
    pub fn classify_embeddings(&self, embeddings: &[f32], batch: usize) -> Option<Result<Vec<f32>, ModelError>> {
        let head = self.head.as_ref()?;
        let dim = embeddings.len() / batch.max(1);
        Some(head.run(&self.manifest.name, &[batch, dim], embeddings).map(|mut o| o.swap_remove(0)))
    }

    /// Runs `batch` patches (`batch * patch_len()` floats, `[batch][frames][mels]`).
    pub fn infer(&self, patches: &[f32], batch: usize) -> Result<Inference, ModelError> {
        let fe = &self.manifest.frontend;
        debug_assert_eq!(patches.len(), batch * self.patch_len());
        let name = &self.manifest.name;
        let Some(backbone) = &self.backbone else {
            return Err(ModelError::Mismatch {
                model: name.clone(),
                reason: "an ensemble has no patch input of its own: its members are run by the analyser".into(),
            });
        };
        let mut outs = backbone.run(name, &[batch, fe.patch_frames, fe.n_mels], patches)?.into_iter();
        match &self.head {
            None => {
                let probabilities = outs.next().unwrap_or_default();
                let embeddings = outs.next().unwrap_or_default();
                Ok(Inference { probabilities, embeddings })
            }
            Some(head) => {
                let embeddings = outs.next().unwrap_or_default();
                let dim = embeddings.len() / batch.max(1);
                let probabilities = head.run(name, &[batch, dim], &embeddings)?.into_iter().next().unwrap_or_default();
                Ok(Inference { probabilities, embeddings })
            }
        }
    }
}
