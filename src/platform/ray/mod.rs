//! The client of a Ray cluster, over its REST APIs: the dashboard's Jobs API (jobs,
//! logs), its node and Serve APIs (resources, models), the Serve HTTP proxy (online
//! prediction) and the Prometheus text its nodes export (serving traffic).

mod artifact;
mod client;
mod jobs;
mod logs;
mod nodes;
mod package;
mod prometheus;
mod serve;
mod versions;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::{Platform, PlatformError, SnippetAuth};
use crate::domain::{
    Capabilities, ClusterSummary, Job, JobPage, LogPage, MetricsPage, Model, PredictionInput,
    ServingMetrics, Support, Version,
};
use client::RayHttp;
use jobs::RayJob;
pub(in crate::platform) use jobs::page;
use serve::{AppConfig, Cluster};

/// Why the form offers no tuning on Ray.
const RAY_TUNING: &str = "on a Ray cluster a study runs inside one job with Ray Tune (tune.Tuner in your entrypoint), which schedules its trials on the cluster itself";

/// Talks to one Ray cluster.
pub struct RayPlatform {
    http: Arc<RayHttp>,
    clock: jobs::ChangeClock,
    logs: logs::Logs,
    nodes: nodes::Nodes,
    traffic: prometheus::Traffic,
    /// Serve config changes are read-modify-write of the whole config: one at a time.
    serve_changes: tokio::sync::Mutex<()>,
}

impl RayPlatform {
    /// A client for the dashboard at `dashboard_url` and the Serve proxy at `serve_url`
    /// (default: the dashboard's host, port 8000), sending `token` when given.
    pub fn new(dashboard_url: &str, serve_url: Option<&str>, token: Option<String>) -> RayPlatform {
        let serve = serve_url.map_or_else(|| default_serve_url(dashboard_url), str::to_owned);
        RayPlatform {
            http: Arc::new(RayHttp::new(dashboard_url, &serve, token)),
            clock: jobs::ChangeClock::default(),
            logs: logs::Logs::default(),
            nodes: nodes::Nodes::default(),
            traffic: prometheus::Traffic::default(),
            serve_changes: tokio::sync::Mutex::new(()),
        }
    }

    async fn ray_job(&self, id: &str) -> Result<RayJob, PlatformError> {
        self.http
            .json(self.http.dashboard(Method::GET, &format!("/api/jobs/{id}")))
            .await
            .map_err(|e| match e {
                PlatformError::NotFound(_) => {
                    PlatformError::NotFound(format!("there is no job {id} on the Ray cluster"))
                }
                e => e,
            })
    }

    async fn upload_folder(&self, dir: &str, field: &str) -> Result<String, PlatformError> {
        let path = PathBuf::from(dir);
        let package = tokio::task::spawn_blocking(move || package::of_folder(&path))
            .await
            .map_err(|e| PlatformError::Protocol(e.to_string()))?
            .map_err(|e| PlatformError::Rejected {
                status: "INVALID_ARGUMENT".into(),
                message: format!("trainingInput.{field}: {e}"),
            })?;
        package::ensure_uploaded(&self.http, package).await
    }

    /// The Serve proxy's host and port for a config that does not say yet.
    fn default_http_options(&self) -> serde_json::Value {
        let rest = self
            .http
            .serve
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default();
        let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "8000"));
        let port: u16 = port.parse().unwrap_or(8000);
        // The proxy listens where the user reaches it, and nowhere else: on every
        // interface (0.0.0.0) only when the Serve URL says so.
        let host = match host.trim_matches(['[', ']']) {
            "" | "localhost" => "127.0.0.1",
            named => named,
        };
        serde_json::json!({"host": host, "port": port})
    }

    async fn write(
        &self,
        cluster: &Cluster,
        changed: Option<&AppConfig>,
        removed: Option<&str>,
    ) -> Result<(), PlatformError> {
        let config = cluster.config_with(changed, removed, self.default_http_options())?;
        serve::put(&self.http, &config).await
    }

    /// A batch prediction job: the serving module's batch mode on the version's model.
    async fn submit_batch(&self, job: &Job, input: &PredictionInput) -> Result<Job, PlatformError> {
        let cluster = Cluster::read(&self.http).await?;
        let (model, version) = input.model_and_version().map_err(invalid)?;
        let app = cluster.ours(&model)?;
        let version = match version {
            Some(v) => v,
            None => app
                .router_config()
                .default_version
                .ok_or_else(|| PlatformError::Rejected {
                    status: "FAILED_PRECONDITION".into(),
                    message: format!("the model {model} has no default version"),
                })?,
        };
        let args = app.args.versions.get(&version).ok_or_else(|| {
            PlatformError::NotFound(format!("the model {model} has no version {version}"))
        })?;
        let mut argv = vec![
            "python".to_owned(),
            "mlconsole_serve.py".into(),
            "batch".into(),
            "--module".into(),
            args.module.clone(),
            "--output".into(),
            input.output_path.clone(),
        ];
        if !args.framework.is_empty() {
            argv.extend(["--framework".into(), args.framework.clone()]);
        }
        argv.extend(input.input_paths.iter().cloned());
        let mut pinned = input.clone();
        pinned.model_name = None;
        pinned.version_name = Some(format!("{model}/versions/{version}"));
        let mut metadata = job.labels.clone();
        metadata.insert(
            jobs::META_PREDICTION.into(),
            serde_json::to_string(&pinned).unwrap_or_default(),
        );
        let body = serde_json::json!({
            "entrypoint": jobs::shell_join(&argv),
            "submission_id": job.job_id,
            "runtime_env": {"working_dir": app.runtime_env.working_dir, "py_modules": [args.package]},
            "metadata": metadata,
        });
        self.http
            .send(self.http.dashboard(Method::POST, "/api/jobs/").json(&body))
            .await?;
        self.get_job(&job.job_id).await
    }

    /// The version `version` of `model` as the cluster has it.
    async fn version(&self, model: &str, version: &str) -> Result<Version, PlatformError> {
        self.list_versions(model)
            .await?
            .into_iter()
            .find(|v| v.name == version)
            .ok_or_else(|| {
                PlatformError::NotFound(format!("the model {model} has no version {version}"))
            })
    }
}

fn invalid(message: String) -> PlatformError {
    PlatformError::Rejected {
        status: "INVALID_ARGUMENT".into(),
        message,
    }
}

/// `http://host:8265` → `http://host:8000`.
fn default_serve_url(dashboard: &str) -> String {
    let dashboard = dashboard.trim_end_matches('/');
    let (scheme, rest) = dashboard.split_once("://").unwrap_or(("http", dashboard));
    let host = rest.split('/').next().unwrap_or(rest);
    let host = match host.rsplit_once(':') {
        Some((h, _)) => h,
        None => host,
    };
    format!("{scheme}://{host}:8000")
}

#[derive(Deserialize)]
struct RayVersion {
    ray_version: String,
}

#[async_trait]
impl Platform for RayPlatform {
    fn describe(&self) -> String {
        format!("Ray cluster at {}", self.http.dashboard)
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            log_severity: Support::No("Ray clusters don't report per-line severity"),
            log_timestamps: Support::No(
                "Ray doesn't timestamp log lines; the times shown are when the console received them",
            ),
            local_job_dirs: Support::Yes,
            resource_samples: Support::Yes,
            serving_metrics: Support::Yes,
            batch_prediction: Support::Yes,
            sample_job: Support::No("the sample job runs on the local engine"),
            model_files: Support::Yes,
            tuning: Support::No(RAY_TUNING),
        }
    }

    async fn check_connection(&self) -> Result<(), PlatformError> {
        let version: RayVersion = self
            .http
            .json(self.http.dashboard(Method::GET, "/api/version"))
            .await?;
        if version.ray_version.is_empty() {
            return Err(PlatformError::Protocol(
                "the dashboard did not say its Ray version".into(),
            ));
        }
        Ok(())
    }

    async fn submit_job(&self, job: &Job) -> Result<Job, PlatformError> {
        job.validate_submission().map_err(|e| invalid(e.message))?;
        if let Some(prediction) = &job.prediction_input {
            return self.submit_batch(job, prediction).await;
        }
        let input = job.training_input.clone().unwrap_or_default();
        if input.hyperparameters.is_some() {
            return Err(invalid(format!(
                "trainingInput.hyperparameters: {RAY_TUNING}"
            )));
        }
        if input.names_machines() {
            return Err(invalid(
                "trainingInput.masterType, masterConfig and workerCount name Vertex AI machines; a Ray job reserves CPUs, GPUs and memory instead".into(),
            ));
        }
        let working_dir = match &input.working_dir {
            Some(dir) if dir.contains("://") => Some(dir.clone()),
            Some(dir) => Some(self.upload_folder(dir, "workingDir").await?),
            None => None,
        };
        let mut py_modules = Vec::new();
        for uri in &input.package_uris {
            py_modules.push(if uri.contains("://") {
                uri.clone()
            } else {
                self.upload_folder(uri, "packageUris").await?
            });
        }
        let body = jobs::submission(job, &input, working_dir, &py_modules);
        self.http
            .send(self.http.dashboard(Method::POST, "/api/jobs/").json(&body))
            .await?;
        self.get_job(&job.job_id).await
    }

    async fn list_jobs(
        &self,
        filter: &str,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<JobPage, PlatformError> {
        let listed: Vec<RayJob> = self
            .http
            .json(self.http.dashboard(Method::GET, "/api/jobs/"))
            .await?;
        jobs::page(self.clock.jobs(listed), filter, page_size, page_token)
    }

    async fn get_job(&self, id: &str) -> Result<Job, PlatformError> {
        let ray = self.ray_job(id).await?;
        self.clock
            .jobs(vec![ray])
            .pop()
            .ok_or_else(|| PlatformError::NotFound(format!("{id} is not a submitted job")))
    }

    async fn cancel_job(&self, id: &str) -> Result<Job, PlatformError> {
        self.http
            .send(
                self.http
                    .dashboard(Method::POST, &format!("/api/jobs/{id}/stop")),
            )
            .await?;
        self.get_job(id).await
    }

    async fn read_logs(
        &self,
        id: &str,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError> {
        self.logs.read(&self.http, id, after, page_size)
    }

    async fn read_metrics(
        &self,
        id: &str,
        _since: Option<DateTime<Utc>>,
    ) -> Result<MetricsPage, PlatformError> {
        let ray = self.ray_job(id).await?;
        self.nodes.sample(&self.http, &ray).await
    }

    async fn cluster_summary(&self) -> Result<Option<ClusterSummary>, PlatformError> {
        self.nodes.summary(&self.http).await.map(Some)
    }

    async fn list_models(&self) -> Result<Vec<Model>, PlatformError> {
        let cluster = Cluster::read(&self.http).await?;
        Ok(cluster
            .models()
            .iter()
            .map(|(config, status)| serve::to_model(config, status))
            .collect())
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<Version>, PlatformError> {
        let cluster = Cluster::read(&self.http).await?;
        let app = cluster.ours(model)?;
        let status = cluster
            .status
            .applications
            .get(model)
            .ok_or_else(|| PlatformError::NotFound(format!("there is no model {model}")))?;
        Ok(serve::to_versions(&app, status))
    }

    async fn create_model(&self, model: &Model) -> Result<Model, PlatformError> {
        model.validate_creation().map_err(invalid)?;
        let name = model.short_name().to_owned();
        let _one_at_a_time = self.serve_changes.lock().await;
        let cluster = Cluster::read(&self.http).await?;
        match cluster.exists(&name) {
            Some(true) => {
                return Err(PlatformError::Rejected {
                    status: "ALREADY_EXISTS".into(),
                    message: format!("the model {name} already exists"),
                });
            }
            Some(false) => {
                return Err(PlatformError::Rejected {
                    status: "ALREADY_EXISTS".into(),
                    message: format!(
                        "a Serve application called {name} exists that mlconsole did not create; mlconsole leaves it alone, so pick another name"
                    ),
                });
            }
            None => {}
        }
        let code = serve::code_package(&self.http).await?;
        let app = AppConfig::new(&name, code, model);
        self.write(&cluster, Some(&app), None).await?;
        Ok(Model {
            name,
            description: model.description.clone(),
            labels: model.labels.clone(),
            default_version: None,
            create_time: app.args.create_time,
            ..Model::default()
        })
    }

    async fn delete_model(&self, model: &str) -> Result<Model, PlatformError> {
        let _one_at_a_time = self.serve_changes.lock().await;
        let cluster = Cluster::read(&self.http).await?;
        let app = cluster.ours(model)?;
        if !app.args.versions.is_empty() {
            return Err(PlatformError::Rejected {
                status: "FAILED_PRECONDITION".into(),
                message: format!("the model {model} still has versions; delete them first"),
            });
        }
        self.write(&cluster, None, Some(model)).await?;
        Ok(Model {
            name: model.to_owned(),
            ..Model::default()
        })
    }

    async fn create_version(
        &self,
        model: &str,
        version: &Version,
    ) -> Result<Version, PlatformError> {
        self.add_version(model, version).await
    }

    async fn delete_version(&self, model: &str, version: &str) -> Result<Version, PlatformError> {
        let _one_at_a_time = self.serve_changes.lock().await;
        let cluster = Cluster::read(&self.http).await?;
        let mut app = cluster.ours(model)?;
        if !app.args.versions.contains_key(version) {
            return Err(PlatformError::NotFound(format!(
                "the model {model} has no version {version}"
            )));
        }
        let is_default = app.router_config().default_version.as_deref() == Some(version);
        if is_default && app.args.versions.len() > 1 {
            return Err(PlatformError::Rejected {
                status: "FAILED_PRECONDITION".into(),
                message: format!(
                    "{version} is the default of {model}; make another version the default first"
                ),
            });
        }
        app.remove_version(version);
        if is_default {
            let mut router = app.router_config();
            router.default_version = None;
            if let Some(d) = app.deployments.iter_mut().find(|d| d.name == "router") {
                d.other.insert(
                    "user_config".into(),
                    serde_json::to_value(router).unwrap_or_default(),
                );
            }
        }
        self.write(&cluster, Some(&app), None).await?;
        Ok(Version {
            name: version.to_owned(),
            ..Version::default()
        })
    }

    async fn set_default_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Version, PlatformError> {
        {
            let _one_at_a_time = self.serve_changes.lock().await;
            let cluster = Cluster::read(&self.http).await?;
            let mut app = cluster.ours(model)?;
            if !app.args.versions.contains_key(version) {
                return Err(PlatformError::NotFound(format!(
                    "the model {model} has no version {version}"
                )));
            }
            app.set_default(version);
            self.write(&cluster, Some(&app), None).await?;
        }
        self.version(model, version).await
    }

    fn resubmit_command(&self, job: &Job, new_id: &str) -> Result<String, String> {
        jobs::submit_command(job, new_id, &self.http.dashboard, self.http.token.is_some())
    }

    fn predict_url(&self, model: &str, version: Option<&str>) -> String {
        match version {
            Some(v) => format!("{}/{model}/versions/{v}", self.http.serve),
            None => format!("{}/{model}", self.http.serve),
        }
    }

    fn snippet_auth(&self) -> SnippetAuth {
        // The Serve proxy takes no credentials (only the dashboard does).
        SnippetAuth::None
    }

    async fn predict(
        &self,
        model: &str,
        version: Option<&str>,
        body: String,
    ) -> Result<String, PlatformError> {
        let path = match version {
            Some(v) => format!("/{model}/versions/{v}"),
            None => format!("/{model}"),
        };
        let request = self
            .http
            .serve(Method::POST, &path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        let response = request
            .send()
            .await
            .map_err(|e| PlatformError::Unreachable {
                address: format!("the Serve proxy at {}", self.http.serve),
                detail: e.to_string(),
            })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| PlatformError::Protocol(e.to_string()))?;
        if status.is_success() {
            return Ok(text);
        }
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| client::readable_line(text.as_bytes()));
        Err(match status.as_u16() {
            404 => PlatformError::NotFound(message),
            400 => invalid(message),
            503 => PlatformError::Rejected {
                status: "UNAVAILABLE".into(),
                message,
            },
            _ => PlatformError::Server(message),
        })
    }

    async fn version_metrics(
        &self,
        model: &str,
        version: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<ServingMetrics, PlatformError> {
        self.traffic
            .metrics(&self.http, model, &serve::deployment_name(version), since)
            .await
    }
}

#[cfg(test)]
mod tests;
