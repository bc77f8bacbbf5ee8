//! Vertex AI's Model Registry and endpoints in the REST shape (the fields used), the
//! long-running operations they answer with, and their mapping onto the console's models
//! and versions.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::VertexHttp;
use super::jobs::{Status, id_of};
use crate::domain::{AutoScaling, EndpointTraffic, Model, Version, VersionState};
use crate::platform::PlatformError;

/// `GoogleCloudAiplatformV1Model` (one version of a model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VxModel {
    /// `projects/P/locations/R/models/M` (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The model's name as shown.
    pub display_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// `1`, `2`, … (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version_id: String,
    /// E.g. `["default", "v2"]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub version_aliases: Vec<String>,
    /// Free text about this version.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_create_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    /// The `gs://` folder of the artifact.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub artifact_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_spec: Option<ModelContainer>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// `GoogleCloudAiplatformV1ModelContainerSpec` (the image).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModelContainer {
    /// E.g. `us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest`.
    pub image_uri: String,
}

/// `GoogleCloudAiplatformV1Endpoint` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    /// `projects/P/locations/R/endpoints/E`.
    pub name: String,
    pub display_name: String,
    /// What it serves (output only).
    pub deployed_models: Vec<DeployedModel>,
    /// Deployed model id → percent of traffic.
    pub traffic_split: BTreeMap<String, i32>,
}

/// `GoogleCloudAiplatformV1DeployedModel` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeployedModel {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// `projects/P/locations/R/models/M` or `…/models/M@VERSION`.
    pub model: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub model_version_id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_resources: Option<serde_json::Value>,
    /// Or Google-managed machines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automatic_resources: Option<serde_json::Value>,
}

impl DeployedModel {
    /// True when it serves a version of `model` (a model id).
    pub fn serves(&self, model: &str) -> bool {
        let base = self.model.split('@').next().unwrap_or_default();
        id_of(base) == model
    }
}

/// `GoogleLongrunningOperation`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Operation {
    /// `projects/P/locations/R/…/operations/O`.
    pub name: String,
    /// True once finished.
    pub done: bool,
    /// Why it failed.
    pub error: Option<Status>,
    /// What it made.
    pub response: Option<serde_json::Value>,
    pub metadata: Option<serde_json::Value>,
}

/// Polls an operation until it is done (at most `timeout`); its error as a
/// [`PlatformError`].
pub async fn wait(
    http: &VertexHttp,
    what: &str,
    mut op: Operation,
    poll: Duration,
    timeout: Duration,
) -> Result<Operation, PlatformError> {
    let started = Instant::now();
    while !op.done {
        if started.elapsed() > timeout {
            return Err(PlatformError::Server(format!(
                "{what} is still running after {} s (operation {}); it goes on in Vertex AI",
                timeout.as_secs(),
                op.name
            )));
        }
        tokio::time::sleep(poll).await;
        op = http
            .call(what, Method::GET, &http.ai(&op.name), &[], None::<&()>)
            .await?;
    }
    match &op.error {
        Some(error) => Err(PlatformError::Rejected {
            status: super::jobs::code_name(error.code).to_owned(),
            message: format!("{what} failed: {}", error.message),
        }),
        None => Ok(op),
    }
}

/// The console's name of a version: its first alias other than `default`, else its id.
pub fn version_name(model: &VxModel) -> String {
    model
        .version_aliases
        .iter()
        .find(|a| *a != "default")
        .cloned()
        .unwrap_or_else(|| model.version_id.clone())
}

/// The framework a prebuilt prediction image serves.
pub fn framework_of(image: &str) -> &'static str {
    let name = image.rsplit('/').next().unwrap_or(image);
    if name.starts_with("sklearn") {
        "SCIKIT_LEARN"
    } else if name.starts_with("xgboost") {
        "XGBOOST"
    } else if name.starts_with("tf") {
        "TENSORFLOW"
    } else if name.starts_with("pytorch") {
        "PYTORCH"
    } else {
        "CUSTOM_CONTAINER"
    }
}

/// Google's prebuilt prediction image for a framework (scikit-learn when unsaid).
pub fn prebuilt_image(framework: &str) -> &'static str {
    match framework.to_ascii_uppercase().as_str() {
        "XGBOOST" => "us-docker.pkg.dev/vertex-ai/prediction/xgboost-cpu.2-1:latest",
        "TENSORFLOW" => "us-docker.pkg.dev/vertex-ai/prediction/tf2-cpu.2-15:latest",
        "PYTORCH" => "us-docker.pkg.dev/vertex-ai/prediction/pytorch-cpu.2-4:latest",
        _ => "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest",
    }
}

/// The console's version for one Vertex model version, with the traffic each endpoint
/// sends it.
pub fn to_version(model: &VxModel, endpoints: &[Endpoint]) -> Version {
    let id = id_of(&model.name);
    let mut traffic = Vec::new();
    let mut machine_type = None;
    let mut replicas = 0;
    let mut auto_scaling = None;
    for endpoint in endpoints {
        for deployed in &endpoint.deployed_models {
            if deployed.serves(id) && deployed.model_version_id == model.version_id {
                traffic.push(EndpointTraffic {
                    endpoint: id_of(&endpoint.name).to_owned(),
                    endpoint_name: endpoint.display_name.clone(),
                    percent: endpoint
                        .traffic_split
                        .get(&deployed.id)
                        .copied()
                        .unwrap_or(0)
                        .clamp(0, 100) as u32,
                });
                if let Some(resources) = &deployed.dedicated_resources {
                    machine_type = resources
                        .pointer("/machineSpec/machineType")
                        .and_then(|m| m.as_str())
                        .map(str::to_owned);
                    let count = |key: &str| {
                        resources
                            .get(key)
                            .and_then(serde_json::Value::as_u64)
                            .map(|n| n as u32)
                    };
                    replicas = count("minReplicaCount").unwrap_or(1);
                    auto_scaling = Some(AutoScaling {
                        min_nodes: replicas,
                        max_nodes: count("maxReplicaCount"),
                        idle_seconds: None,
                    });
                }
            }
        }
    }
    let image = model
        .container_spec
        .as_ref()
        .map(|c| c.image_uri.clone())
        .unwrap_or_default();
    Version {
        name: version_name(model),
        description: model.version_description.clone(),
        deployment_uri: model.artifact_uri.clone(),
        framework: framework_of(&image).into(),
        labels: users_labels(&model.labels),
        is_default: model.version_aliases.iter().any(|a| a == "default"),
        state: VersionState::Ready,
        create_time: model.version_create_time.or(model.create_time),
        machine_type,
        replicas,
        auto_scaling,
        runtime: Some(image).filter(|i| !i.is_empty()),
        traffic,
        platform_id: Some(model.version_id.clone()),
        ..Version::default()
    }
}

/// A resource's labels without the one the console sets to find its creates again.
pub fn users_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut labels = labels.clone();
    labels.remove(super::client::REQUEST_LABEL);
    labels
}

/// The console's model for a listed Vertex model (its default version).
pub fn to_model(model: &VxModel, endpoints: &[Endpoint]) -> Model {
    Model {
        name: id_of(&model.name).to_owned(),
        description: model.description.clone(),
        labels: users_labels(&model.labels),
        default_version: model
            .version_aliases
            .iter()
            .any(|a| a == "default")
            .then(|| to_version(model, endpoints)),
        create_time: model.create_time,
        regions: Vec::new(),
        ..Model::default()
    }
}

/// Checks a name Vertex takes as a version alias: a lowercase letter, then lowercase
/// letters, digits or hyphens.
pub fn check_alias(name: &str) -> Result<(), String> {
    let ok = name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name != "default";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "version name {name:?}: Vertex AI names versions by alias: a lowercase letter, then lowercase letters, digits or hyphens (e.g. v2)"
        ))
    }
}

/// Checks a model id Vertex accepts: lowercase letters, digits, `_` and `-`, not
/// starting with a digit or hyphen, at most 63.
pub fn check_model_id(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "model name {name:?}: Vertex AI model ids are lowercase letters, digits, _ and - (a letter first), at most 63"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_show_their_alias_and_the_traffic_they_get() {
        let model: VxModel = serde_json::from_value(serde_json::json!({
            "name": "projects/p/locations/us-central1/models/iris",
            "versionId": "2",
            "versionAliases": ["default", "v2"],
            "artifactUri": "gs://b/iris/2",
            "containerSpec": {"imageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest"},
            "somethingNew": true
        }))
        .unwrap();
        let endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "name": "projects/p/locations/us-central1/endpoints/77",
            "displayName": "iris-ep",
            "deployedModels": [
                {"id": "111", "model": "projects/p/locations/us-central1/models/iris", "modelVersionId": "1"},
                {"id": "222", "model": "projects/p/locations/us-central1/models/iris@2", "modelVersionId": "2",
                 "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-2"}, "minReplicaCount": 1}}
            ],
            "trafficSplit": {"111": 10, "222": 90}
        }))
        .unwrap();
        let v = to_version(&model, &[endpoint]);
        assert_eq!(v.name, "v2");
        assert!(v.is_default);
        assert_eq!(v.framework, "SCIKIT_LEARN");
        assert_eq!(v.machine_type.as_deref(), Some("n1-standard-2"));
        assert_eq!(v.traffic.len(), 1);
        assert_eq!(v.traffic[0].percent, 90);
        assert_eq!(v.traffic[0].endpoint, "77");
    }

    #[test]
    fn names_vertex_refuses_are_caught_before_sending() {
        assert!(check_alias("v2").is_ok());
        assert!(check_alias("V2").unwrap_err().contains("lowercase"));
        assert!(check_alias("default").is_err());
        assert!(check_model_id("iris_model").is_ok());
        assert!(check_model_id("Iris").is_err());
    }
}
