//! Models and their versions: kept in SQLite, mirrored in memory, each READY version
//! with its [`Serving`] pool. Artifacts live in `models/<model>/<version>/model.onnx`
//! under the data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::Utc;
use rusqlite::{Connection, params};

mod artifact;
mod open;
#[cfg(test)]
mod tests;

use self::artifact::{artifact, choice, framework_of, serving_for, source_of, worker_spec};
use super::runtime::python::WorkerSpec;
use super::runtime::{self, Choice, Loaded, Prepared};
use super::serving::Serving;
use crate::domain::{DefaultChange, Model, ServingMetrics, Version, VersionState};

/// The project part of resource names.
const PROJECT: &str = "projects/local";

/// Why a model or version operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{0}")]
    /// The request is wrong; the text says how.
    InvalidArgument(String),
    /// No such model or version.
    #[error("{0}")]
    NotFound(String),
    /// The name is taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// Not allowed in the current state.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The engine's database or files failed.
    #[error("the engine could not save models: {0}")]
    Storage(String),
}

impl From<rusqlite::Error> for ModelError {
    fn from(e: rusqlite::Error) -> ModelError {
        ModelError::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for ModelError {
    fn from(e: serde_json::Error) -> ModelError {
        ModelError::Storage(e.to_string())
    }
}

struct VersionEntry {
    version: Version,
    serving: Option<Arc<Serving>>,
}

struct ModelEntry {
    model: Model,
    default: Option<String>,
    /// By short name.
    versions: BTreeMap<String, VersionEntry>,
}

impl ModelEntry {
    fn version(&self, name: &str) -> Result<&VersionEntry, ModelError> {
        self.versions
            .get(name)
            .ok_or_else(|| no_version(self.model.short_name(), name))
    }
}

/// A version left CREATING: model, version and the file to load it from.
pub type Unfinished = (String, String, PathBuf);

/// How the engine starts the Python workers that serve what is not ONNX.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// The interpreter (`--python`), with the frameworks installed.
    pub python: String,
    /// Where the predictor was written.
    pub script: PathBuf,
    /// How long a replica idles before it goes (the engine's setting).
    pub idle: Duration,
}

/// Every model and version of the engine.
pub struct Registry {
    dir: PathBuf,
    default_max_replicas: u32,
    workers: WorkerSettings,
    conn: Mutex<Connection>,
    models: RwLock<BTreeMap<String, ModelEntry>>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS models (
        name TEXT PRIMARY KEY,
        body TEXT NOT NULL,
        default_version TEXT
    );
    CREATE TABLE IF NOT EXISTS versions (
        model TEXT NOT NULL,
        name TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (model, name)
    );
";

fn model_name(model: &str) -> String {
    format!("{PROJECT}/models/{model}")
}

fn version_name(model: &str, version: &str) -> String {
    format!("{PROJECT}/models/{model}/versions/{version}")
}

fn no_model(model: &str) -> ModelError {
    ModelError::NotFound(format!("there is no model named {model:?}"))
}

fn no_version(model: &str, version: &str) -> ModelError {
    ModelError::NotFound(format!("model {model:?} has no version named {version:?}"))
}

impl Registry {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, ModelEntry>> {
        self.models
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, ModelEntry>> {
        self.models
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn save_model(&self, entry: &ModelEntry) -> Result<(), ModelError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO models (name, body, default_version) VALUES (?1, ?2, ?3)",
            params![
                entry.model.short_name(),
                serde_json::to_string(&entry.model)?,
                entry.default
            ],
        )?;
        Ok(())
    }

    fn save_version(&self, model: &str, version: &Version) -> Result<(), ModelError> {
        self.conn().execute(
            "INSERT OR REPLACE INTO versions (model, name, body) VALUES (?1, ?2, ?3)",
            params![model, version.short_name(), serde_json::to_string(version)?],
        )?;
        Ok(())
    }

    /// Creates a model; `name` in `model` is the short name.
    pub fn create_model(&self, mut model: Model) -> Result<Model, ModelError> {
        model
            .validate_creation()
            .map_err(ModelError::InvalidArgument)?;
        let short = model.short_name().to_owned();
        model.name = model_name(&short);
        model.create_time = Some(Utc::now());
        model.default_version = None;
        model.default_history.clear();
        let mut models = self.write();
        if models.contains_key(&short) {
            return Err(ModelError::AlreadyExists(format!(
                "a model named {short:?} already exists; choose another name"
            )));
        }
        let entry = ModelEntry {
            model,
            default: None,
            versions: BTreeMap::new(),
        };
        self.save_model(&entry)?;
        let shown = show_model(&entry);
        models.insert(short, entry);
        Ok(shown)
    }

    /// Every model, by name.
    pub fn list_models(&self) -> Vec<Model> {
        self.read().values().map(show_model).collect()
    }

    /// One model, with its default version.
    pub fn get_model(&self, model: &str) -> Result<Model, ModelError> {
        self.read()
            .get(model)
            .map(show_model)
            .ok_or_else(|| no_model(model))
    }

    /// Deletes a model that has no versions left.
    pub fn delete_model(&self, model: &str) -> Result<Model, ModelError> {
        let mut models = self.write();
        let entry = models.get(model).ok_or_else(|| no_model(model))?;
        if !entry.versions.is_empty() {
            let names: Vec<&str> = entry.versions.keys().map(String::as_str).collect();
            return Err(ModelError::FailedPrecondition(format!(
                "model {model:?} still has {} version(s) ({}); delete them first",
                names.len(),
                names.join(", ")
            )));
        }
        self.conn()
            .execute("DELETE FROM models WHERE name = ?1", params![model])?;
        let entry = models.remove(model).ok_or_else(|| no_model(model))?;
        let _ = std::fs::remove_dir_all(self.dir.join(model));
        Ok(show_model(&entry))
    }

    /// Checks a new version and records it CREATING. Answers the version and the file to
    /// copy in; [`Registry::finish_version`] completes it. `fetched` is where a bucket
    /// `deploymentUri` was fetched to.
    pub fn begin_version(
        &self,
        model: &str,
        mut version: Version,
        fetched: Option<&Path>,
    ) -> Result<(Version, PathBuf), ModelError> {
        version
            .validate_creation()
            .map_err(ModelError::InvalidArgument)?;
        let (source, framework) = source_of(&version, fetched)?;
        for package in &version.package_uris {
            if !Path::new(package).is_file() {
                return Err(ModelError::InvalidArgument(format!(
                    "packageUris: {package:?} is not a file; give local source distributions (.tar.gz)"
                )));
            }
        }
        if !framework.in_engine() && version.runtime.is_some() {
            return Err(ModelError::InvalidArgument(format!(
                "runtime picks an ONNX runtime; a {framework} model is served by its framework"
            )));
        }
        version.requested_runtime =
            match Choice::parse(version.runtime.as_deref()).map_err(ModelError::InvalidArgument)? {
                Choice::Auto => None,
                Choice::Tract => Some(runtime::TRACT.into()),
                Choice::OnnxRuntime => Some(runtime::ONNXRUNTIME.into()),
            };
        version.runtime = None;
        let short = version.short_name().to_owned();
        let mut models = self.write();
        let entry = models.get_mut(model).ok_or_else(|| no_model(model))?;
        if entry.versions.contains_key(&short) {
            return Err(ModelError::AlreadyExists(format!(
                "model {model:?} already has a version named {short:?}; choose another name"
            )));
        }
        version.name = version_name(model, &short);
        version.state = VersionState::Creating;
        version.framework = framework.api_name().into();
        version.create_time = Some(Utc::now());
        version.is_default = false;
        version.error_message = None;
        version.inputs.clear();
        version.outputs.clear();
        version.replicas = 0;
        version.last_use_time = None;
        self.save_version(model, &version)?;
        entry.versions.insert(
            short,
            VersionEntry {
                version: version.clone(),
                serving: None,
            },
        );
        Ok((version, source))
    }

    /// Copies the artifact into the store and loads it, or readies what the framework's
    /// workers need (blocking: run off the async workers). The error is for `errorMessage`.
    pub fn import_artifact(
        &self,
        model: &str,
        version: &str,
        source: &Path,
    ) -> Result<Prepared, String> {
        let stored = self
            .read()
            .get(model)
            .and_then(|m| m.versions.get(version))
            .map(|v| v.version.clone())
            .ok_or_else(|| format!("version {version:?} of model {model:?} was deleted"))?;
        if framework_of(&stored).in_engine() {
            let target = artifact(&self.dir, model, version);
            if source != target {
                let parent = target.parent().unwrap_or(&self.dir);
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
                let partial = target.with_extension("onnx.partial");
                std::fs::copy(source, &partial)
                    .and_then(|_| std::fs::rename(&partial, &target))
                    .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
            }
            return runtime::load(&target, choice(&stored)).map(Prepared::Onnx);
        }
        let home = self.dir.join(model).join(version);
        let spec = worker_spec(&self.dir, &self.workers, model, &stored);
        super::artifacts::copy_in(source, &spec.model_dir)?;
        if let Some(site) = &spec.site {
            super::artifacts::install_packages(
                &self.workers.python,
                &stored.package_uris,
                &home.join("packages"),
                site,
            )?;
        }
        Ok(Prepared::Workers(spec))
    }

    /// Where a version's artifact is kept.
    pub fn artifact_path(&self, model: &str, version: &str) -> PathBuf {
        artifact(&self.dir, model, version)
    }

    /// How a version's framework workers start, when it is not served in the engine.
    pub fn worker_spec(&self, model: &str, version: &str) -> Option<WorkerSpec> {
        let models = self.read();
        let v = models.get(model)?.versions.get(version)?;
        (!framework_of(&v.version).in_engine())
            .then(|| worker_spec(&self.dir, &self.workers, model, &v.version))
    }

    /// Records the outcome of loading a CREATING version: READY (and default, if the
    /// model has none) or FAILED. Answers the serving pool to warm up.
    pub fn finish_version(
        &self,
        model: &str,
        version: &str,
        loaded: Result<Loaded, String>,
    ) -> Result<Option<Arc<Serving>>, ModelError> {
        let mut models = self.write();
        let Some(entry) = models.get_mut(model) else {
            return Ok(None);
        };
        let Some(v) = entry.versions.get_mut(version) else {
            return Ok(None);
        };
        let serving = match loaded {
            Ok(Loaded::Onnx(loaded)) => {
                v.version.state = VersionState::Ready;
                v.version.inputs = loaded.inputs.clone();
                v.version.outputs = loaded.outputs.clone();
                v.version.runtime = Some(loaded.runtime.clone());
                if let Some(note) = &loaded.note {
                    tracing::warn!(
                        "version {version} of model {model} ({}): {note}",
                        loaded.runtime
                    );
                }
                let serving = serving_for(
                    &self.dir,
                    &self.workers,
                    model,
                    &v.version,
                    self.default_max_replicas,
                    Some(loaded),
                );
                v.serving = Some(serving.clone());
                Some(serving)
            }
            Ok(Loaded::Workers { worker, ready }) => {
                v.version.state = VersionState::Ready;
                v.version.inputs = ready.inputs.clone();
                v.version.outputs = ready.outputs.clone();
                v.version.runtime = Some(ready.runtime.clone());
                if !ready.framework.is_empty() {
                    v.version.framework = ready.framework.clone();
                }
                let serving = serving_for(
                    &self.dir,
                    &self.workers,
                    model,
                    &v.version,
                    self.default_max_replicas,
                    None,
                );
                if let Some(pool) = serving.workers() {
                    pool.adopt(*worker, ready);
                }
                v.serving = Some(serving.clone());
                Some(serving)
            }
            Err(message) => {
                v.version.state = VersionState::Failed;
                v.version.error_message = Some(message);
                None
            }
        };
        let saved = v.version.clone();
        self.save_version(model, &saved)?;
        self.default_first_ready(entry)?;
        Ok(serving)
    }

    /// Gives a model without a default its first version: the earliest created that did
    /// not fail, once it is READY. Cloud ML Engine makes a model's first version its
    /// default, so two versions created back to back make the first one the default,
    /// whichever loads first.
    fn default_first_ready(&self, entry: &mut ModelEntry) -> Result<(), ModelError> {
        if entry.default.is_some() {
            return Ok(());
        }
        let first = entry
            .versions
            .iter()
            .filter(|(_, v)| v.version.state != VersionState::Failed)
            .min_by_key(|(name, v)| (v.version.create_time, *name));
        let Some((name, v)) = first else {
            return Ok(());
        };
        if v.version.state == VersionState::Ready && v.serving.is_some() {
            let name = name.clone();
            set_default(entry, &name);
            self.save_model(entry)?;
        }
        Ok(())
    }

    /// A model's versions, by name.
    pub fn list_versions(&self, model: &str) -> Result<Vec<Version>, ModelError> {
        let models = self.read();
        let entry = models.get(model).ok_or_else(|| no_model(model))?;
        Ok(entry
            .versions
            .values()
            .map(|v| show_version(entry, v))
            .collect())
    }

    /// One version of a model, as the API shows it.
    pub fn get_version(&self, model: &str, version: &str) -> Result<Version, ModelError> {
        let models = self.read();
        let entry = models.get(model).ok_or_else(|| no_model(model))?;
        let v = entry.version(version)?;
        Ok(show_version(entry, v))
    }

    /// Deletes a version; the default only when it is the model's last.
    pub fn delete_version(&self, model: &str, version: &str) -> Result<Version, ModelError> {
        let mut models = self.write();
        let entry = models.get_mut(model).ok_or_else(|| no_model(model))?;
        if !entry.versions.contains_key(version) {
            return Err(no_version(model, version));
        }
        if entry.default.as_deref() == Some(version) && entry.versions.len() > 1 {
            return Err(ModelError::FailedPrecondition(format!(
                "version {version:?} is the default of model {model:?}; make another version the default before deleting it"
            )));
        }
        let clears_default = entry.default.as_deref() == Some(version);
        {
            // The row and the model's default go together or not at all.
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            tx.execute(
                "DELETE FROM versions WHERE model = ?1 AND name = ?2",
                params![model, version],
            )?;
            if clears_default {
                tx.execute(
                    "UPDATE models SET default_version = NULL WHERE name = ?1",
                    params![model],
                )?;
            }
            tx.commit()?;
        }
        let removed = entry
            .versions
            .remove(version)
            .ok_or_else(|| no_version(model, version))?;
        stop_workers(&removed);
        let shown = show_version(entry, &removed);
        if clears_default {
            entry.default = None;
        }
        // A first version deleted while loading hands the default to the next one.
        self.default_first_ready(entry)?;
        let _ = std::fs::remove_dir_all(self.dir.join(model).join(version));
        Ok(shown)
    }

    /// Makes a READY version the model's default; new requests go to it at once.
    pub fn set_default(&self, model: &str, version: &str) -> Result<Version, ModelError> {
        let mut models = self.write();
        let entry = models.get_mut(model).ok_or_else(|| no_model(model))?;
        let v = entry.version(version)?;
        if v.version.state != VersionState::Ready {
            return Err(ModelError::FailedPrecondition(format!(
                "version {version:?} is {}; only a READY version can be the default",
                v.version.state.as_str()
            )));
        }
        if entry.default.as_deref() != Some(version) {
            let old = entry.default.clone();
            set_default(entry, version);
            if let Err(e) = self.save_model(entry) {
                entry.default = old;
                entry.model.default_history.pop();
                return Err(e);
            }
        }
        let v = entry.version(version)?;
        Ok(show_version(entry, v))
    }

    /// The serving pool of a version, or of the model's default when `version` is `None`.
    pub fn serving(&self, model: &str, version: Option<&str>) -> Result<Arc<Serving>, ModelError> {
        let models = self.read();
        let entry = models.get(model).ok_or_else(|| no_model(model))?;
        let name = match version {
            Some(v) => v,
            None => entry.default.as_deref().ok_or_else(|| {
                ModelError::FailedPrecondition(format!(
                    "model {model:?} has no default version yet; create a version and wait until it is READY"
                ))
            })?,
        };
        let v = entry.version(name)?;
        v.serving.clone().ok_or_else(|| {
            ModelError::FailedPrecondition(format!(
                "version {name:?} of model {model:?} is {}{}; it cannot serve predictions",
                v.version.state.as_str(),
                v.version
                    .error_message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ))
        })
    }

    /// A version's serving metrics.
    pub fn metrics(
        &self,
        model: &str,
        version: &str,
        since: Option<chrono::DateTime<Utc>>,
    ) -> Result<ServingMetrics, ModelError> {
        let models = self.read();
        let entry = models.get(model).ok_or_else(|| no_model(model))?;
        let v = entry.version(version)?;
        Ok(v.serving
            .as_ref()
            .map(|s| s.metrics(since))
            .unwrap_or_default())
    }

    /// The READY version a batch prediction names: `model` (its default) or
    /// `model/versions/v`, either optionally under `projects/local/models/`.
    pub fn resolve_batch(
        &self,
        input: &crate::domain::PredictionInput,
    ) -> Result<(String, String), ModelError> {
        let (model, version) = input
            .model_and_version()
            .map_err(ModelError::InvalidArgument)?;
        let models = self.read();
        let entry = models.get(&model).ok_or_else(|| no_model(&model))?;
        let version = match version {
            Some(v) => v,
            None => entry.default.clone().ok_or_else(|| {
                ModelError::FailedPrecondition(format!("model {model:?} has no default version"))
            })?,
        };
        let v = entry.version(&version)?;
        if v.version.state != VersionState::Ready {
            return Err(ModelError::FailedPrecondition(format!(
                "version {version:?} of model {model:?} is {}; batch prediction needs a READY version",
                v.version.state.as_str()
            )));
        }
        Ok((model, version))
    }

    /// Every serving pool, for the once-a-second tick.
    pub fn all_serving(&self) -> Vec<Arc<Serving>> {
        self.read()
            .values()
            .flat_map(|m| m.versions.values())
            .filter_map(|v| v.serving.clone())
            .collect()
    }
}

/// A deleted version's framework workers end.
fn stop_workers(entry: &VersionEntry) {
    if let Some(pool) = entry.serving.as_ref().and_then(|s| s.workers()) {
        pool.stop();
    }
}

fn set_default(entry: &mut ModelEntry, version: &str) {
    entry.default = Some(version.to_owned());
    entry.model.default_history.push(DefaultChange {
        version: version.to_owned(),
        time: Utc::now(),
    });
}

fn show_model(entry: &ModelEntry) -> Model {
    let mut model = entry.model.clone();
    model.default_version = entry
        .default
        .as_ref()
        .and_then(|d| entry.versions.get(d))
        .map(|v| show_version(entry, v));
    model
}

fn show_version(entry: &ModelEntry, v: &VersionEntry) -> Version {
    let mut version = v.version.clone();
    version.is_default = entry.default.as_deref() == Some(version.short_name());
    if let Some(serving) = &v.serving {
        version.replicas = serving.replicas();
        version.last_use_time = serving.last_use();
        if let Some(runtime) = serving.runtime() {
            version.runtime = Some(runtime);
        }
    }
    version
}
