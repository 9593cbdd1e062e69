//! Loaded models shared by every plugin instance in the process: the ONNX Runtime
//! environment is process-wide anyway, and one `LoadedModel` serves several analysers.
//!
//! Touched only by worker threads (loading takes tens of milliseconds and may read files),
//! never by the audio or GUI threads.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use genre_meter::engine::model::{self, LoadedModel, ModelEntry};
use genre_meter::engine::ModelError;

/// Models in use, by name and location. Weak, so the last instance using a model frees it.
static LOADED: Mutex<Vec<(String, Weak<LoadedModel>)>> = Mutex::new(Vec::new());

/// The model named `name` (built-in, installed, or a folder path), loaded once per process.
pub fn shared_model(name: &str) -> Result<Arc<LoadedModel>, ModelError> {
    let entry = model::resolve(name)?;
    let key = format!("{}@{}", entry.manifest.name, entry.location());
    // Held while loading, so that instances starting together load a model only once.
    let mut loaded = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
    loaded.retain(|(_, weak)| weak.strong_count() > 0);
    if let Some(model) = loaded.iter().find(|(k, _)| *k == key).and_then(|(_, w)| w.upgrade()) {
        return Ok(model);
    }
    let model = Arc::new(entry.load()?);
    loaded.push((key, Arc::downgrade(&model)));
    Ok(model)
}

/// Names and titles of the models that can be chosen, and the problems of broken ones.
pub fn choices() -> (Vec<(String, String)>, Vec<String>) {
    let (entries, problems) = model::catalogue();
    let names = entries.iter().map(|e: &ModelEntry| (e.manifest.name.clone(), e.manifest.title().to_string()));
    (names.collect(), problems.iter().map(ToString::to_string).collect())
}
