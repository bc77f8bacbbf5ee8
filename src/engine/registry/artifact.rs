//! Where a version's artifact comes from and lives, what made it, and what serves it:
//! the engine's ONNX runtimes, or the framework's own workers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ModelError, WorkerSettings};
use crate::domain::{Framework, Version};
use crate::engine::runtime::python::{Pool, WorkerSpec};
use crate::engine::runtime::{self, Choice};
use crate::engine::serving::Serving;

pub(super) fn artifact(dir: &Path, model: &str, version: &str) -> PathBuf {
    dir.join(model).join(version).join("model.onnx")
}

/// The artifact a version's `deploymentUri` names (or the folder a bucket one was
/// `fetched` to) and what made it: the ONNX file itself, or the folder (or file) the
/// framework's workers load.
pub(super) fn source_of(
    version: &Version,
    fetched: Option<&Path>,
) -> Result<(PathBuf, Framework), ModelError> {
    let uri = version.deployment_uri.trim();
    let path = match fetched {
        Some(dir) => dir.to_owned(),
        None => PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri)),
    };
    if fetched.is_none() && uri.contains("://") && !uri.starts_with("file://") {
        return Err(ModelError::InvalidArgument(format!(
            "deploymentUri {uri:?}: give a path, a file:// URI, or a gs:// or s3:// folder"
        )));
    }
    if !path.exists() {
        return Err(ModelError::InvalidArgument(format!(
            "deploymentUri {uri:?}: {} does not exist; give the model's folder (a SavedModel, model.joblib, model.pkl, model.bst, model.onnx…) or the model file",
            path.display()
        )));
    }
    let files: Vec<String> = if path.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map_err(|e| {
                ModelError::InvalidArgument(format!(
                    "deploymentUri {uri:?}: cannot read {}: {e}",
                    path.display()
                ))
            })?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
    } else {
        path.file_name()
            .map(|n| vec![n.to_string_lossy().into_owned()])
            .unwrap_or_default()
    };
    let framework = if version.prediction_class.is_some() {
        Framework::Custom
    } else {
        let given = Framework::parse(&version.framework).map_err(ModelError::InvalidArgument)?;
        match Framework::detect(&files, given) {
            Ok(framework) => framework,
            // A file of another name is taken for ONNX, whose loader says what is wrong.
            Err(_) if given.is_none() && path.is_file() => Framework::Onnx,
            Err(e) => {
                return Err(ModelError::InvalidArgument(format!(
                    "deploymentUri {uri:?}: {e}"
                )));
            }
        }
    };
    if framework != Framework::Onnx || path.is_file() {
        return Ok((path, framework));
    }
    let file = if files.iter().any(|f| f == "model.onnx") {
        path.join("model.onnx")
    } else {
        let onnx: Vec<&String> = files.iter().filter(|f| f.ends_with(".onnx")).collect();
        match onnx[..] {
            [one] => path.join(one),
            _ => {
                return Err(ModelError::InvalidArgument(format!(
                    "deploymentUri {uri:?}: the folder holds several .onnx files and no model.onnx; name the file"
                )));
            }
        }
    };
    Ok((file, framework))
}

/// What serves a stored version.
pub(super) fn framework_of(version: &Version) -> Framework {
    if version.prediction_class.is_some() {
        return Framework::Custom;
    }
    Framework::parse(&version.framework)
        .ok()
        .flatten()
        .unwrap_or(Framework::Onnx)
}

/// How a version's workers start: its artifact in `<model>/<version>/model`, its
/// packages in `site`.
pub(super) fn worker_spec(
    dir: &Path,
    settings: &WorkerSettings,
    model: &str,
    version: &Version,
) -> WorkerSpec {
    let short = version.short_name();
    let home = dir.join(model).join(short);
    WorkerSpec {
        python: settings.python.clone(),
        script: settings.script.clone(),
        model_dir: home.join("model"),
        framework: framework_of(version),
        prediction_class: version.prediction_class.clone(),
        site: (!version.package_uris.is_empty()).then(|| home.join("site")),
        label: format!("model {model} version {short}"),
    }
}

/// The serving pool of a READY version: in the engine for ONNX, else workers.
pub(super) fn serving_for(
    dir: &Path,
    settings: &WorkerSettings,
    model: &str,
    version: &Version,
    default_max: u32,
    loaded: Option<runtime::LoadedModel>,
) -> Arc<Serving> {
    let bounds = version.replica_bounds(default_max);
    if framework_of(version).in_engine() {
        return Arc::new(Serving::new(
            artifact(dir, model, version.short_name()),
            version.inputs.clone(),
            version.outputs.clone(),
            bounds,
            version.idle_override(),
            choice(version),
            loaded,
        ));
    }
    let pool = Pool::new(
        worker_spec(dir, settings, model, version),
        bounds,
        version.idle_override().unwrap_or(settings.idle),
    );
    Arc::new(Serving::with_workers(
        pool,
        version.inputs.clone(),
        version.outputs.clone(),
        version.idle_override(),
    ))
}

/// The runtime a version asked for.
pub(super) fn choice(version: &Version) -> Choice {
    Choice::parse(version.requested_runtime.as_deref()).unwrap_or(Choice::Auto)
}
