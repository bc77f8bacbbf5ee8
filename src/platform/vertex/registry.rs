//! The Model Registry and endpoints as this client keeps them: what was last read (so the
//! console's 1 s sync stays inside the read quota), deployments under way,
//! and moving an endpoint's traffic to a version.

use std::collections::{BTreeMap, HashMap};

use reqwest::Method;
use serde_json::json;

use super::jobs::id_of;
use super::models::{self, Endpoint, Operation, VxModel};
use super::{VertexPlatform, lock};

use crate::platform::PlatformError;

/// What was last read of the Model Registry and endpoints, and when.
#[derive(Default)]
pub(super) struct Catalog {
    pub(super) models: Option<(std::time::Instant, Vec<VxModel>)>,
    pub(super) versions: HashMap<String, (std::time::Instant, Vec<VxModel>)>,
    pub(super) endpoints: Option<(std::time::Instant, Vec<Endpoint>)>,
}

impl VertexPlatform {
    /// Forgets what was read of models and endpoints, before and after a change.
    pub(super) fn invalidate(&self) {
        *lock(&self.catalog) = Catalog::default();
    }

    pub(super) fn fresh<T: Clone>(&self, entry: Option<&(std::time::Instant, T)>) -> Option<T> {
        let busy = !lock(&self.uploads).is_empty() || !lock(&self.deploys).is_empty();
        let poll = if busy {
            self.op_poll.min(self.catalog_poll)
        } else {
            self.catalog_poll
        };
        entry
            .filter(|(at, _)| at.elapsed() < poll)
            .map(|(_, value)| value.clone())
    }

    pub(super) async fn endpoints(&self) -> Result<Vec<Endpoint>, PlatformError> {
        if let Some(cached) = self.fresh(lock(&self.catalog).endpoints.as_ref()) {
            return Ok(cached);
        }
        let url = self.http.ai(&format!("{}/endpoints", self.parent()));
        let endpoints: Vec<Endpoint> = self
            .http
            .list_all("list endpoints", &url, "endpoints", None)
            .await?;
        lock(&self.catalog).endpoints = Some((std::time::Instant::now(), endpoints.clone()));
        let mut serving = lock(&self.endpoint_of);
        for endpoint in &endpoints {
            for deployed in &endpoint.deployed_models {
                let model = id_of(deployed.model.split('@').next().unwrap_or_default());
                serving
                    .entry(model.to_owned())
                    .or_insert_with(|| id_of(&endpoint.name).to_owned());
            }
        }
        Ok(endpoints)
    }

    pub(super) async fn vx_versions(&self, model: &str) -> Result<Vec<VxModel>, PlatformError> {
        if let Some(cached) = self.fresh(lock(&self.catalog).versions.get(model)) {
            return Ok(cached);
        }
        let url = self
            .http
            .ai(&format!("{}:listVersions", self.model_name(model)));
        let what = format!("list the versions of {model}");
        let versions: Vec<VxModel> = self.http.list_all(&what, &url, "models", None).await?;
        lock(&self.catalog).versions.insert(
            model.to_owned(),
            (std::time::Instant::now(), versions.clone()),
        );
        Ok(versions)
    }

    /// The Vertex version a console version name (alias or id) names.
    pub(super) async fn find_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<VxModel, PlatformError> {
        self.vx_versions(model)
            .await?
            .into_iter()
            .find(|v| v.version_id == version || v.version_aliases.iter().any(|a| a == version))
            .ok_or_else(|| {
                PlatformError::NotFound(format!("the model {model} has no version {version}"))
            })
    }

    /// Moves all of `endpoint`'s traffic to version `version_id` of `model`, deploying it
    /// first (on the machines the model's current deployment uses) when it is not there.
    pub(super) async fn route_all_traffic(
        &self,
        endpoint: &Endpoint,
        model: &str,
        (version, version_id): (&str, &str),
    ) -> Result<(), PlatformError> {
        let target = endpoint
            .deployed_models
            .iter()
            .find(|d| d.serves(model) && d.model_version_id == version_id);
        let mut split: BTreeMap<String, i32> = endpoint
            .deployed_models
            .iter()
            .map(|d| (d.id.clone(), 0))
            .collect();
        let url = self.http.ai(&endpoint.name);
        match target {
            Some(deployed) => {
                split.insert(deployed.id.clone(), 100);
                let _: Endpoint = self
                    .http
                    .call(
                        &format!("move the traffic of endpoint {}", id_of(&endpoint.name)),
                        Method::PATCH,
                        &url,
                        &[("updateMask", "traffic_split".to_owned())],
                        Some(&json!({ "trafficSplit": split })),
                    )
                    .await?;
            }
            None => {
                let like = endpoint
                    .deployed_models
                    .iter()
                    .find(|d| d.serves(model))
                    .or(endpoint.deployed_models.first());
                let mut deployed = json!({
                    "model": format!("{}@{version_id}", self.model_name(model)),
                    "displayName": format!("{model}@{version_id}"),
                });
                match like {
                    Some(d) if d.dedicated_resources.is_some() => {
                        deployed["dedicatedResources"] =
                            d.dedicated_resources.clone().unwrap_or_default();
                    }
                    Some(d) if d.automatic_resources.is_some() => {
                        deployed["automaticResources"] =
                            d.automatic_resources.clone().unwrap_or_default();
                    }
                    _ => {
                        deployed["dedicatedResources"] = json!({
                            "machineSpec": {"machineType": "n1-standard-2"},
                            "minReplicaCount": 1,
                            "maxReplicaCount": 1,
                        });
                    }
                }
                split.insert("0".into(), 100);
                let what = format!(
                    "deploy {model}@{version_id} to endpoint {}",
                    id_of(&endpoint.name)
                );
                let body = json!({ "deployedModel": deployed, "trafficSplit": split });
                let op: Operation = self
                    .http
                    .create(&what, &format!("{url}:deployModel"), &body, || {
                        self.find_deployment(&url, model, version_id)
                    })
                    .await?;
                let key = (model.to_owned(), version.to_owned());
                let shown = if endpoint.display_name.is_empty() {
                    id_of(&endpoint.name).to_owned()
                } else {
                    endpoint.display_name.clone()
                };
                lock(&self.deploys).insert(key.clone(), (shown, std::time::Instant::now()));
                let done = models::wait(&self.http, &what, op, self.op_poll, self.op_timeout).await;
                lock(&self.deploys).remove(&key);
                done?;
            }
        }
        Ok(())
    }

    /// A deployment of `version_id` of `model` on the endpoint at `url`, as a finished
    /// operation, when a deployModel whose answer was lost made one.
    async fn find_deployment(
        &self,
        url: &str,
        model: &str,
        version_id: &str,
    ) -> Result<Option<Operation>, PlatformError> {
        let endpoint: Endpoint = self
            .http
            .call(
                "look for the deployment just asked for",
                Method::GET,
                url,
                &[],
                None::<&()>,
            )
            .await?;
        let deployed = endpoint
            .deployed_models
            .iter()
            .any(|d| d.serves(model) && d.model_version_id == version_id);
        Ok(deployed.then(|| Operation {
            done: true,
            ..Operation::default()
        }))
    }
}
