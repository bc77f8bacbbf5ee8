//! Models on Ray Serve: one application per model (`name` = `route_prefix` = model), one
//! `version-<v>` deployment per version, a `router` in front whose `user_config` holds
//! the default. The cluster's Serve config is declarative and whole: every change reads
//! it, changes one application of mlconsole's, and writes every application back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::client::RayHttp;
use super::package;
use crate::domain::{AutoScaling, DefaultChange, Model, TensorSpec, Version, VersionState};
use crate::platform::PlatformError;

/// How mlconsole's applications are built (the module it uploads).
pub(super) const IMPORT_PATH: &str = "mlconsole_serve:build_app";
/// The serving module, shipped with the console.
pub(super) const SERVE_CODE: &str = include_str!("../../../assets/ray/mlconsole_serve.py");
/// The framework predictor the replicas of non-ONNX versions load their model with.
const PREDICTOR_CODE: &str = include_str!("../../../assets/python/mlconsole_predictor.py");
/// The default idle time before Serve removes a replica (the local engine's default).
const DEFAULT_IDLE_SECONDS: u32 = 300;
/// CPUs a replica reserves: models are small and a single-node cluster has few.
const REPLICA_CPUS: f64 = 0.1;

/// `GET /api/serve/applications/`.
#[derive(Debug, Deserialize)]
pub(super) struct ServeStatus {
    #[serde(default)]
    pub applications: BTreeMap<String, AppStatus>,
    #[serde(default)]
    pub http_options: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AppStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub deployed_app_config: Option<Value>,
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentStatus>,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeploymentStatus {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub replicas: Vec<ReplicaStatus>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReplicaStatus {
    #[serde(default)]
    pub state: String,
}

/// An application of mlconsole's, as written in the Serve config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct AppConfig {
    pub name: String,
    pub route_prefix: String,
    pub import_path: String,
    pub runtime_env: RuntimeEnv,
    pub args: AppArgs,
    #[serde(default)]
    pub deployments: Vec<DeploymentConfig>,
    /// What else Serve keeps in the config, written back as it was.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RuntimeEnv {
    pub working_dir: String,
    #[serde(default)]
    pub py_modules: Vec<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The model's facts, kept in the application's `args`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AppArgs {
    #[serde(default)]
    pub versions: BTreeMap<String, VersionArgs>,
    #[serde(default)]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A version's facts; `module` is the py_modules package holding its `model.onnx`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct VersionArgs {
    pub module: String,
    pub package: String,
    #[serde(default)]
    pub deployment_uri: String,
    #[serde(default)]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub inputs: Vec<TensorSpec>,
    #[serde(default)]
    pub outputs: Vec<TensorSpec>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub auto_scaling: Option<AutoScaling>,
    /// What made the artifact when it is not ONNX (`TENSORFLOW`, `SCIKIT_LEARN`…): the
    /// replica loads `<module>/model` with the framework.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub framework: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DeploymentConfig {
    pub name: String,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The router's `user_config`: the default and when each version became it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct RouterConfig {
    #[serde(default)]
    pub default_version: Option<String>,
    #[serde(default)]
    pub history: Vec<DefaultChange>,
}

impl AppConfig {
    /// A new model's application: the router alone.
    pub(super) fn new(name: &str, code_uri: String, model: &Model) -> AppConfig {
        let mut router = Map::new();
        router.insert("max_ongoing_requests".into(), json!(100));
        router.insert(
            "ray_actor_options".into(),
            json!({"num_cpus": REPLICA_CPUS}),
        );
        router.insert(
            "user_config".into(),
            serde_json::to_value(RouterConfig::default()).unwrap_or(Value::Null),
        );
        AppConfig {
            name: name.to_owned(),
            route_prefix: format!("/{name}"),
            import_path: IMPORT_PATH.into(),
            runtime_env: RuntimeEnv {
                working_dir: code_uri,
                py_modules: Vec::new(),
                other: Map::new(),
            },
            args: AppArgs {
                versions: BTreeMap::new(),
                create_time: Some(Utc::now()),
                description: model.description.clone(),
                labels: model.labels.clone(),
            },
            deployments: vec![DeploymentConfig {
                name: "router".into(),
                other: router,
            }],
            other: Map::new(),
        }
    }

    fn router(&mut self) -> &mut DeploymentConfig {
        if !self.deployments.iter().any(|d| d.name == "router") {
            self.deployments.push(DeploymentConfig {
                name: "router".into(),
                other: Map::new(),
            });
        }
        let at = self
            .deployments
            .iter()
            .position(|d| d.name == "router")
            .unwrap_or(0);
        &mut self.deployments[at]
    }

    /// The default and its history.
    pub(super) fn router_config(&self) -> RouterConfig {
        self.deployments
            .iter()
            .find(|d| d.name == "router")
            .and_then(|d| d.other.get("user_config"))
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// Makes `version` the default (traffic moves without restarting a replica).
    pub(super) fn set_default(&mut self, version: &str) {
        let mut config = self.router_config();
        config.default_version = Some(version.to_owned());
        config.history.push(DefaultChange {
            version: version.to_owned(),
            time: Utc::now(),
        });
        let value = serde_json::to_value(config).unwrap_or(Value::Null);
        self.router().other.insert("user_config".into(), value);
    }

    /// Adds a version served from `package` (its `module` holds `model.onnx`).
    pub(super) fn add_version(&mut self, name: &str, args: VersionArgs) {
        let (min, max) = (
            args.auto_scaling.map_or(0, |a| a.min_nodes),
            args.auto_scaling
                .and_then(|a| a.max_nodes)
                .unwrap_or(2)
                .max(1),
        );
        let idle = args
            .auto_scaling
            .and_then(|a| a.idle_seconds)
            .unwrap_or(DEFAULT_IDLE_SECONDS);
        self.runtime_env.py_modules.push(args.package.clone());
        self.args.versions.insert(name.to_owned(), args);
        let mut deployment = Map::new();
        deployment.insert("max_ongoing_requests".into(), json!(32));
        deployment.insert(
            "ray_actor_options".into(),
            json!({"num_cpus": REPLICA_CPUS}),
        );
        // Set from the start: adding an autoscaling block later restarts the application.
        deployment.insert(
            "autoscaling_config".into(),
            json!({
                "min_replicas": min,
                "initial_replicas": min.max(1),
                "max_replicas": max.max(min).max(1),
                "target_ongoing_requests": 2,
                "upscale_delay_s": 0,
                "downscale_delay_s": idle,
                "downscale_to_zero_delay_s": idle,
                "metrics_interval_s": 1,
                "look_back_period_s": 2,
            }),
        );
        self.deployments.push(DeploymentConfig {
            name: deployment_name(name),
            other: deployment,
        });
    }

    /// Removes a version and its model package.
    pub(super) fn remove_version(&mut self, name: &str) {
        if let Some(args) = self.args.versions.remove(name) {
            self.runtime_env.py_modules.retain(|p| *p != args.package);
        }
        let deployment = deployment_name(name);
        self.deployments.retain(|d| d.name != deployment);
    }
}

/// The deployment serving a version.
pub(super) fn deployment_name(version: &str) -> String {
    format!("version-{version}")
}

/// The application config of every app Serve runs, by name, and whether it is ours.
pub(super) struct Cluster {
    pub status: ServeStatus,
}

impl Cluster {
    /// Reads the cluster's Serve status.
    pub(super) async fn read(http: &RayHttp) -> Result<Cluster, PlatformError> {
        let status = http
            .json(http.dashboard(Method::GET, "/api/serve/applications/"))
            .await?;
        Ok(Cluster { status })
    }

    /// mlconsole's application `name`, or why not.
    pub(super) fn ours(&self, name: &str) -> Result<AppConfig, PlatformError> {
        let app = self.status.applications.get(name).ok_or_else(|| {
            PlatformError::NotFound(format!("there is no model {name} on the cluster"))
        })?;
        parse_ours(app).ok_or_else(|| foreign(name))
    }

    /// Every application of mlconsole's, with its status.
    pub(super) fn models(&self) -> Vec<(AppConfig, &AppStatus)> {
        self.status
            .applications
            .values()
            .filter_map(|app| parse_ours(app).map(|config| (config, app)))
            .collect()
    }

    /// Whether an application called `name` exists, and if so whether it is ours.
    pub(super) fn exists(&self, name: &str) -> Option<bool> {
        self.status
            .applications
            .get(name)
            .map(|app| parse_ours(app).is_some())
    }

    /// The full config to PUT with `changed` in place of (or beside) its namesake and
    /// `removed` left out; every other application exactly as deployed (one being
    /// deleted is left out too).
    pub(super) fn config_with(
        &self,
        changed: Option<&AppConfig>,
        removed: Option<&str>,
        default_http: Value,
    ) -> Result<Value, PlatformError> {
        let mut apps = Vec::new();
        for (name, app) in &self.status.applications {
            if Some(name.as_str()) == removed || changed.is_some_and(|c| &c.name == name) {
                continue;
            }
            match &app.deployed_app_config {
                Some(config) => apps.push(config.clone()),
                // Going already (its config cleared by the PUT that removed it): leaving
                // it out is what that PUT asked for.
                None if app.status == "DELETING" => {}
                None => {
                    return Err(PlatformError::Rejected {
                        status: "FAILED_PRECONDITION".into(),
                        message: format!(
                            "the Serve application {name} has no config to keep (it was not deployed declaratively); mlconsole will not rewrite the Serve config and lose it"
                        ),
                    });
                }
            }
        }
        if let Some(changed) = changed {
            apps.push(
                serde_json::to_value(changed)
                    .map_err(|e| PlatformError::Protocol(e.to_string()))?,
            );
        }
        let http_options = self
            .status
            .http_options
            .as_ref()
            .and_then(|o| {
                Some(json!({"host": o.get("host")?.clone(), "port": o.get("port")?.clone()}))
            })
            .unwrap_or(default_http);
        Ok(json!({"http_options": http_options, "applications": apps}))
    }
}

fn parse_ours(app: &AppStatus) -> Option<AppConfig> {
    let config = app.deployed_app_config.as_ref()?;
    if config.get("import_path").and_then(Value::as_str) != Some(IMPORT_PATH) {
        return None;
    }
    serde_json::from_value(config.clone()).ok()
}

fn foreign(name: &str) -> PlatformError {
    PlatformError::Rejected {
        status: "FAILED_PRECONDITION".into(),
        message: format!(
            "the Serve application {name} was not created by mlconsole; mlconsole leaves it as it is"
        ),
    }
}

/// Writes the whole Serve config.
pub(super) async fn put(http: &RayHttp, config: &Value) -> Result<(), PlatformError> {
    http.send(
        http.dashboard(Method::PUT, "/api/serve/applications/")
            .json(config),
    )
    .await
    .map(|_| ())
}

/// The code package every application of mlconsole's runs, uploaded when missing.
pub(super) async fn code_package(http: &RayHttp) -> Result<String, PlatformError> {
    let package = package::of_files(&[
        ("mlconsole_serve.py", SERVE_CODE.as_bytes()),
        ("mlconsole_predictor.py", PREDICTOR_CODE.as_bytes()),
    ])
    .map_err(PlatformError::Protocol)?;
    package::ensure_uploaded(http, package).await
}

/// The console's model for an application.
pub(super) fn to_model(config: &AppConfig, status: &AppStatus) -> Model {
    let router = config.router_config();
    let default_version = router.default_version.as_ref().and_then(|v| {
        to_versions(config, status)
            .into_iter()
            .find(|x| &x.name == v)
    });
    Model {
        name: config.name.clone(),
        description: config.args.description.clone(),
        labels: config.args.labels.clone(),
        default_version,
        create_time: config.args.create_time,
        default_history: router.history,
        ..Model::default()
    }
}

/// The console's versions of an application, with their state from Serve's.
pub(super) fn to_versions(config: &AppConfig, status: &AppStatus) -> Vec<Version> {
    let default = config.router_config().default_version;
    config
        .args
        .versions
        .iter()
        .map(|(name, args)| {
            let deployment = status.deployments.get(&deployment_name(name));
            let (state, error_message) = match deployment {
                Some(d) => match d.status.as_str() {
                    "HEALTHY" | "UPSCALING" | "DOWNSCALING" => (VersionState::Ready, None),
                    "UPDATING" => (VersionState::Creating, None),
                    "UNHEALTHY" | "DEPLOY_FAILED" => (
                        VersionState::Failed,
                        Some(first_nonempty(&d.message, &status.message)),
                    ),
                    _ => (VersionState::Unknown, None),
                },
                None if status.status == "DEPLOY_FAILED" => {
                    (VersionState::Failed, Some(status.message.clone()))
                }
                None => (VersionState::Creating, None),
            };
            let replicas = deployment.map_or(0, |d| {
                d.replicas.iter().filter(|r| r.state == "RUNNING").count() as u32
            });
            Version {
                name: name.clone(),
                description: args.description.clone(),
                deployment_uri: args.deployment_uri.clone(),
                framework: if args.framework.is_empty() {
                    "ONNX".into()
                } else {
                    args.framework.clone()
                },
                labels: args.labels.clone(),
                auto_scaling: args.auto_scaling,
                manual_scaling: None,
                is_default: default.as_deref() == Some(name.as_str()),
                state,
                error_message,
                create_time: args.create_time,
                last_use_time: None,
                inputs: args.inputs.clone(),
                outputs: args.outputs.clone(),
                replicas,
                ..Version::default()
            }
        })
        .collect()
}

fn first_nonempty(a: &str, b: &str) -> String {
    let text = if a.trim().is_empty() { b } else { a };
    super::client::readable_line(text.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn status_with(apps: &Value) -> ServeStatus {
        serde_json::from_value(json!({
            "applications": apps,
            "http_options": {"host": "127.0.0.1", "port": 8123, "keep_alive_timeout_s": 90}
        }))
        .unwrap()
    }

    #[test]
    fn a_change_keeps_every_other_application_and_refuses_foreign_ones() {
        let mut ours = AppConfig::new("iris", "gcs://code.zip".into(), &Model::default());
        ours.add_version(
            "v1",
            VersionArgs {
                module: "mlc_iris_v1_ab".into(),
                package: "gcs://v1.zip".into(),
                deployment_uri: "/m/v1.onnx".into(),
                create_time: None,
                inputs: Vec::new(),
                outputs: Vec::new(),
                description: String::new(),
                labels: BTreeMap::new(),
                auto_scaling: Some(AutoScaling {
                    min_nodes: 0,
                    max_nodes: Some(3),
                    idle_seconds: Some(5),
                }),
                framework: String::new(),
            },
        );
        ours.set_default("v1");
        let theirs = json!({"name": "shop", "route_prefix": "/shop", "import_path": "shop:app", "args": {"x": 1}});
        let cluster = Cluster {
            status: status_with(&json!({
                "iris": {"status": "RUNNING", "deployed_app_config": serde_json::to_value(&ours).unwrap(),
                         "deployments": {"router": {"status": "HEALTHY", "replicas": []},
                                         "version-v1": {"status": "HEALTHY", "replicas": [{"state": "RUNNING"}, {"state": "STARTING"}]}}},
                "shop": {"status": "RUNNING", "deployed_app_config": theirs.clone()},
            })),
        };
        let read_back = cluster.ours("iris").unwrap();
        assert_eq!(read_back, ours);
        assert!(
            matches!(cluster.ours("shop"), Err(PlatformError::Rejected { message, .. }) if message.contains("not created by mlconsole"))
        );
        assert_eq!(cluster.exists("shop"), Some(false));
        let mut changed = read_back.clone();
        changed.remove_version("v1");
        let body = cluster
            .config_with(
                Some(&changed),
                None,
                json!({"host": "0.0.0.0", "port": 8000}),
            )
            .unwrap();
        let apps = body["applications"].as_array().unwrap();
        assert_eq!(apps.len(), 2);
        assert!(
            apps.contains(&theirs),
            "the other application is kept as it was"
        );
        assert_eq!(
            body["http_options"],
            json!({"host": "127.0.0.1", "port": 8123})
        );
        let iris = apps.iter().find(|a| a["name"] == "iris").unwrap();
        assert!(
            iris["runtime_env"]["py_modules"]
                .as_array()
                .unwrap()
                .is_empty()
        );

        let (model, app) = cluster.models().pop().unwrap();
        let versions = to_versions(&model, app);
        assert_eq!(versions[0].state, VersionState::Ready);
        assert_eq!(versions[0].replicas, 1);
        assert!(versions[0].is_default);
        let listed = to_model(&model, app);
        assert_eq!(listed.default_version.unwrap().name, "v1");
        assert_eq!(listed.default_history.len(), 1);
        let v1 = model
            .deployments
            .iter()
            .find(|d| d.name == "version-v1")
            .unwrap();
        assert_eq!(v1.other["autoscaling_config"]["min_replicas"], 0);
        assert_eq!(
            v1.other["autoscaling_config"]["downscale_to_zero_delay_s"],
            5
        );
    }
}
