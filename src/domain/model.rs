//! Models and versions in the shape of Cloud ML Engine API v1 (`projects.models`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::job::validate_label;

/// The lifecycle state of a version, as API v1 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionState {
    /// Not set (only in requests).
    #[default]
    Unknown,
    /// The artifact is being copied and loaded.
    Creating,
    /// Loaded and checked; it can serve.
    Ready,
    /// The artifact could not be copied or loaded; see `errorMessage`.
    Failed,
}

impl VersionState {
    /// The wire name, e.g. `READY`.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Unknown => "UNKNOWN",
            VersionState::Creating => "CREATING",
            VersionState::Ready => "READY",
            VersionState::Failed => "FAILED",
        }
    }
}

/// Replicas between a minimum and a maximum, following the load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AutoScaling {
    /// Replicas kept even when idle; 0 lets the version scale to zero.
    #[serde(default)]
    pub min_nodes: u32,
    /// Most replicas (default: one per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_nodes: Option<u32>,
    /// Seconds a replica may idle before it is removed (default: the platform's, e.g.
    /// the engine's `--replica-idle-secs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_seconds: Option<u32>,
}

/// A fixed number of replicas.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualScaling {
    /// Replicas, always.
    pub nodes: u32,
}

/// The name, element type and shape of a model input or output; `null` in `shape` is a
/// dimension of any size (usually the batch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TensorSpec {
    /// The tensor's name in the model.
    pub name: String,
    /// Element type, e.g. `float32`, `int64`.
    pub dtype: String,
    /// Dimensions; `null` for a dynamic one.
    pub shape: Vec<Option<u64>>,
}

impl TensorSpec {
    /// Shape as text, e.g. `[N, 4]`.
    pub fn shape_text(&self) -> String {
        let dims: Vec<String> = self
            .shape
            .iter()
            .map(|d| d.map_or_else(|| "N".to_owned(), |n| n.to_string()))
            .collect();
        format!("[{}]", dims.join(", "))
    }
}

/// A model version: one trained artifact that can serve predictions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Version {
    /// `projects/local/models/{model}/versions/{version}`; on create, the short name.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// What the user wrote about it.
    pub description: String,
    /// Where the artifact was taken from: a `model.onnx` file or a folder holding one.
    #[serde(default)]
    pub deployment_uri: String,
    /// What made the artifact: `TENSORFLOW`, `SCIKIT_LEARN`, `XGBOOST`, `LIGHTGBM` or
    /// `ONNX`; unset on create detects it from the files, as Cloud ML Engine did.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework: String,
    /// A custom prediction routine's source distributions (`.tar.gz`), installed for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_uris: Vec<String>,
    /// A custom prediction routine's class, `module.Class`, with `from_path(model_dir)`
    /// and `predict(instances, **kwargs)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_class: Option<String>,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Replicas that follow the load (the default: 0 to one per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<AutoScaling>,
    /// A fixed number of replicas instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_scaling: Option<ManualScaling>,
    /// Whether this version serves `…/models/{m}:predict` (output only).
    #[serde(default)]
    pub is_default: bool,
    /// State (output only).
    #[serde(default)]
    pub state: VersionState,
    /// Why it failed (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// When it was created (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    /// When it last served a prediction (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_use_time: Option<DateTime<Utc>>,
    /// The model's inputs (output only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<TensorSpec>,
    /// The model's outputs (output only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<TensorSpec>,
    /// Replicas loaded right now (output only).
    #[serde(default)]
    pub replicas: u32,
    /// Cloud ML Engine's runtime version, as scripts send it; kept and shown (the local
    /// engine's runtime serves every ONNX model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// Cloud ML Engine's Python version; kept and shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_version: Option<String>,
    /// Cloud ML Engine's machine type; kept and shown (replicas run on this machine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_type: Option<String>,
    /// The runtime that serves it (output): e.g. `onnxruntime 1.32.0` or `tract`. On
    /// create, the one to use, `onnxruntime` or `tract`; unset picks ONNX Runtime where
    /// the platform has it, else tract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The runtime the version was created asking for, when it asked for one (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_runtime: Option<String>,
    /// The share of each endpoint's traffic this version gets, where a platform routes
    /// through endpoints (Vertex AI; output only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<EndpointTraffic>,
    /// The platform's own id of the version when it differs from `name` (Vertex AI's
    /// version ids; output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_id: Option<String>,
    /// What a long-running change to the version is doing, e.g. "deploying to endpoint
    /// E: 40 s so far" (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
}

/// How much of one endpoint's traffic a version gets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointTraffic {
    /// The endpoint's id.
    pub endpoint: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// The endpoint's display name, when the platform has one.
    pub endpoint_name: String,
    /// Percent of its requests, 0–100.
    pub percent: u32,
}

impl Version {
    /// The short name: the last part of `name`.
    pub fn short_name(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// Fewest and most replicas this version asks for, given the machine's default maximum.
    pub fn replica_bounds(&self, default_max: u32) -> (u32, u32) {
        if let Some(manual) = self.manual_scaling {
            return (manual.nodes, manual.nodes);
        }
        let auto = self.auto_scaling.unwrap_or_default();
        let max = auto
            .max_nodes
            .unwrap_or(default_max)
            .max(auto.min_nodes)
            .max(1);
        (auto.min_nodes, max)
    }

    /// How long a replica may idle before it is removed, when the version says.
    pub fn idle_override(&self) -> Option<std::time::Duration> {
        self.auto_scaling
            .and_then(|a| a.idle_seconds)
            .map(|s| std::time::Duration::from_secs(u64::from(s)))
    }

    /// Checks a version to create; the message names the field.
    pub fn validate_creation(&self) -> Result<(), String> {
        validate_resource_name("version name", short(&self.name))?;
        if self.deployment_uri.trim().is_empty() {
            return Err(
                "deploymentUri is required: the model's folder (a SavedModel, model.joblib, model.pkl, model.bst, model.onnx…) or the model file".into(),
            );
        }
        let framework = super::Framework::parse(&self.framework)?;
        if self.prediction_class.is_some() {
            if self.package_uris.is_empty() {
                return Err("predictionClass needs packageUris: the source distributions (.tar.gz) that hold it".into());
            }
            if framework.is_some() {
                return Err("give predictionClass or framework, not both: a custom prediction routine loads the model itself".into());
            }
        } else if !self.package_uris.is_empty() {
            return Err(
                "packageUris are for a custom prediction routine: give its predictionClass too"
                    .into(),
            );
        }
        if self.auto_scaling.is_some() && self.manual_scaling.is_some() {
            return Err("give autoScaling or manualScaling, not both".into());
        }
        if let Some(manual) = self.manual_scaling
            && manual.nodes == 0
        {
            return Err("manualScaling.nodes must be at least 1".into());
        }
        if let Some(AutoScaling {
            min_nodes,
            max_nodes: Some(max),
            ..
        }) = self.auto_scaling
            && (max == 0 || max < min_nodes)
        {
            return Err(format!(
                "autoScaling.maxNodes ({max}) must be at least 1 and at least minNodes ({min_nodes})"
            ));
        }
        for (key, value) in &self.labels {
            validate_label(key, value)?;
        }
        Ok(())
    }
}

/// When a version became the default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DefaultChange {
    /// The version's short name.
    pub version: String,
    /// When it became the default.
    pub time: DateTime<Utc>,
}

/// A model: a named group of versions, one of which is the default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Model {
    /// `projects/local/models/{model}`; on create, the short name.
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    /// What the user wrote about it.
    pub description: String,
    /// Free-form labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The version that serves `…/models/{m}:predict` (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_version: Option<Version>,
    /// When it was created (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    /// Which version was default when, oldest first (output only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_history: Vec<DefaultChange>,
    /// Regions to serve in, as Cloud ML Engine takes them; kept and shown (the local
    /// engine serves on this machine).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
    /// Cloud ML Engine's request logging switch; kept and shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online_prediction_logging: bool,
    /// Cloud ML Engine's console logging switch; kept and shown.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online_prediction_console_logging: bool,
}

impl Model {
    /// The short name: the last part of `name`.
    pub fn short_name(&self) -> &str {
        short(&self.name)
    }

    /// Checks a model to create; the message names the field.
    pub fn validate_creation(&self) -> Result<(), String> {
        validate_resource_name("model name", short(&self.name))?;
        for (key, value) in &self.labels {
            validate_label(key, value)?;
        }
        Ok(())
    }
}

/// A page of models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelPage {
    /// The models, by name.
    #[serde(default)]
    pub models: Vec<Model>,
    /// Absent: the local engine lists every model at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A page of versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionPage {
    /// The versions, oldest first.
    #[serde(default)]
    pub versions: Vec<Version>,
    /// Absent: the local engine lists every version at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A runtime a platform serves models with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingRuntime {
    /// What a version's `runtime` asks for it by: `onnxruntime`, `tract`.
    pub name: String,
    /// Its version, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The shared library it was loaded from (ONNX Runtime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// How the library was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_by: Option<String>,
    /// Whether versions that ask for no runtime get this one.
    #[serde(default)]
    pub default: bool,
}

impl ServingRuntime {
    /// e.g. `onnxruntime 1.32.0`.
    pub fn label(&self) -> String {
        match &self.version {
            Some(version) => format!("{} {version}", self.name),
            None => self.name.clone(),
        }
    }
}

/// The runtimes a platform serves with, and what is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingRuntimes {
    /// The runtimes, the default first.
    pub runtimes: Vec<ServingRuntime>,
    /// A runtime the platform could have but lacks: why, and how to get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

/// One second of a version's serving.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingSample {
    /// End of the second.
    pub time: DateTime<Utc>,
    /// Predict requests answered in that second.
    pub requests: u64,
    /// Of those, answered with an error.
    pub errors: u64,
    /// Median latency in milliseconds (0 without requests).
    pub latency_p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub latency_p99_ms: f64,
    /// Replicas serving now (0 when scaled to zero).
    pub replicas: u32,
}

/// A version's serving over time: one sample a second, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServingMetrics {
    /// Requests answered since the engine started.
    pub total_requests: u64,
    /// Errors since the engine started.
    pub total_errors: u64,
    /// Samples, oldest first (the last hour).
    pub samples: Vec<ServingSample>,
}

/// Longest model or version name accepted.
pub const MAX_NAME_LEN: usize = 128;

fn short(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Checks a model or version name: a letter first, then letters, digits or underscores.
pub fn validate_resource_name(what: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} is required"));
    }
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME_LEN
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{what} {name:?} is not valid: start with a letter, then use only letters, digits and underscores (at most {MAX_NAME_LEN})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_googles_rules() {
        assert!(validate_resource_name("model name", "iris_v2").is_ok());
        assert!(validate_resource_name("model name", "2iris").is_err());
        assert!(validate_resource_name("model name", "iris-v2").is_err());
        assert!(validate_resource_name("model name", "").is_err());
    }

    #[test]
    fn replica_bounds_follow_scaling() {
        let mut v = Version::default();
        assert_eq!(v.replica_bounds(2), (0, 2));
        v.auto_scaling = Some(AutoScaling {
            min_nodes: 1,
            max_nodes: Some(4),
            idle_seconds: None,
        });
        assert_eq!(v.replica_bounds(2), (1, 4));
        v.auto_scaling = None;
        v.manual_scaling = Some(ManualScaling { nodes: 3 });
        assert_eq!(v.replica_bounds(2), (3, 3));
    }

    #[test]
    fn creation_checks_name_uri_and_scaling() {
        let mut v = Version {
            name: "v1".into(),
            deployment_uri: "/tmp/model.onnx".into(),
            ..Version::default()
        };
        assert!(v.validate_creation().is_ok());
        v.auto_scaling = Some(AutoScaling {
            min_nodes: 3,
            max_nodes: Some(1),
            idle_seconds: None,
        });
        assert!(v.validate_creation().unwrap_err().contains("maxNodes"));
        v.auto_scaling = None;
        v.deployment_uri = " ".into();
        assert!(v.validate_creation().unwrap_err().contains("deploymentUri"));
    }
}
