//! The client of Google Cloud Vertex AI in one project and region, over REST: custom
//! jobs and batch prediction jobs, the Model Registry and endpoints (Vertex AI), job logs
//! (Cloud Logging) and job CPU and memory (Cloud Monitoring).

pub mod auth;
mod batch_jobs;
mod client;
mod collections;
mod jobs;
mod logs;
mod metrics;
mod models;
mod registry;
mod tuning_jobs;
mod uploads;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;

use super::{Platform, PlatformError, SnippetAuth};
use crate::domain::{
    Capabilities, Job, JobPage, LogPage, MetricsPage, Model, ServingMetrics, Support, Version,
};
pub use auth::TokenSource;
use batch_jobs::BatchPredictionJob;
use client::VertexHttp;
use collections::JobKind;
use jobs::{CustomJob, id_of};
use models::{Operation, VxModel};
use registry::Catalog;
use uploads::Upload;

/// Talks to Vertex AI in one project and region.
pub struct VertexPlatform {
    http: VertexHttp,
    logs: logs::Logs,
    metrics: metrics::Metrics,
    /// Jobs as last seen, by id.
    known: Mutex<HashMap<String, (JobKind, Job)>>,
    /// Models created in the console that have no version yet (Vertex AI makes a model
    /// with its first upload).
    pending_models: Mutex<BTreeSet<String>>,
    uploads: Mutex<Vec<Upload>>,
    /// The endpoint serving each model, as last seen.
    endpoint_of: Mutex<HashMap<String, String>>,
    /// Models, versions and endpoints as last read, reused for `catalog_poll` (the
    /// console syncs models every second; Vertex's read quota is per minute).
    catalog: Mutex<Catalog>,
    catalog_poll: Duration,
    /// Deployments under way, by (model, version): the endpoint and when it started.
    deploys: Mutex<HashMap<(String, String), (String, std::time::Instant)>>,
    op_poll: Duration,
    op_timeout: Duration,
}

impl VertexPlatform {
    /// A client for `project` in `region`, at Google's hosts or at `api_endpoint`.
    pub fn new(
        project: &str,
        region: &str,
        api_endpoint: Option<&str>,
        tokens: TokenSource,
    ) -> VertexPlatform {
        VertexPlatform {
            http: VertexHttp::new(project, region, api_endpoint, tokens),
            logs: logs::Logs::default(),
            metrics: metrics::Metrics::default(),
            known: Mutex::default(),
            pending_models: Mutex::default(),
            uploads: Mutex::default(),
            endpoint_of: Mutex::default(),
            catalog: Mutex::default(),
            catalog_poll: Duration::from_secs(10),
            deploys: Mutex::default(),
            op_poll: Duration::from_secs(2),
            op_timeout: Duration::from_secs(30 * 60),
        }
    }

    /// Polls logs, metrics and operations every `every` instead of at the quota-friendly
    /// defaults (for emulators and tests), with logs read until `every` × 4 after a job
    /// ends.
    pub fn with_polling(mut self, every: Duration) -> VertexPlatform {
        self.logs.min_poll = every;
        self.logs.lag = every * 4;
        self.metrics.min_poll = every;
        self.catalog_poll = every;
        self.op_poll = every;
        self.http.first_backoff = every;
        self
    }

    /// Gives up on each call's answer after `timeout` instead of 60 s (for emulators and
    /// tests).
    pub fn with_request_timeout(mut self, timeout: Duration) -> VertexPlatform {
        self.http.set_request_timeout(timeout);
        self
    }

    fn parent(&self) -> String {
        self.http.parent()
    }

    fn model_name(&self, model: &str) -> String {
        format!("{}/models/{model}", self.parent())
    }
}

fn invalid(message: String) -> PlatformError {
    PlatformError::Rejected {
        status: "INVALID_ARGUMENT".into(),
        message,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl Platform for VertexPlatform {
    fn describe(&self) -> String {
        format!(
            "Vertex AI, project {} in {}",
            self.http.project, self.http.region
        )
    }

    fn bucket_token(&self) -> Option<Arc<dyn crate::buckets::BucketToken>> {
        Some(self.http.tokens.clone())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            log_severity: Support::Yes,
            log_timestamps: Support::Yes,
            local_job_dirs: Support::No(
                "Vertex AI jobs write to Cloud Storage (gs://): Scalars reads it; opening it as a folder or deploying from it needs a copy on this machine",
            ),
            resource_samples: Support::Yes,
            serving_metrics: Support::No(
                "Vertex AI keeps endpoint traffic in Cloud Monitoring (aiplatform.googleapis.com/prediction/online/*); the console does not chart it yet",
            ),
            batch_prediction: Support::Yes,
            sample_job: Support::No("the sample job runs on the local engine"),
            model_files: Support::No(
                "Vertex AI uploads a version from Cloud Storage: give the gs:// folder of the trained artifact (model.joblib, model.pkl, model.bst or saved_model.pb)",
            ),
            tuning: Support::Yes,
        }
    }

    async fn check_connection(&self) -> Result<(), PlatformError> {
        let url = self.http.ai(&format!("{}/customJobs", self.parent()));
        let _: serde_json::Value = self
            .http
            .call(
                "list custom jobs",
                Method::GET,
                &url,
                &[("pageSize", "1".to_owned())],
                None::<&()>,
            )
            .await?;
        Ok(())
    }

    async fn submit_job(&self, job: &Job) -> Result<Job, PlatformError> {
        job.validate_submission().map_err(|e| invalid(e.message))?;
        if let Some(prediction) = &job.prediction_input {
            return self.submit_batch(job, prediction).await;
        }
        let input = job.training_input.clone().unwrap_or_default();
        if let Some(spec) = &input.hyperparameters {
            return self.submit_tuning(job, &input, spec).await;
        }
        let mut body = jobs::custom_job_for(job, &input).map_err(invalid)?;
        let request = client::request_label();
        body.labels
            .insert(client::REQUEST_LABEL.into(), request.clone());
        let url = self.http.ai(&format!("{}/customJobs", self.parent()));
        let created: CustomJob = self
            .http
            .create("create the custom job", &url, &body, || {
                self.find_created(&url, "customJobs", &request)
            })
            .await?;
        let job = jobs::from_custom_job(&created);
        self.remember(JobKind::Custom, &job);
        Ok(job)
    }

    async fn list_jobs(
        &self,
        filter: &str,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<JobPage, PlatformError> {
        let server = jobs::server_filter(filter);
        let url = |kind: JobKind| {
            self.http
                .ai(&format!("{}/{}", self.parent(), kind.collection()))
        };
        let custom: Vec<CustomJob> = self
            .http
            .list_all(
                "list custom jobs",
                &url(JobKind::Custom),
                "customJobs",
                server.as_deref(),
            )
            .await?;
        let batch: Vec<BatchPredictionJob> = self
            .http
            .list_all(
                "list batch prediction jobs",
                &url(JobKind::Batch),
                "batchPredictionJobs",
                server.as_deref(),
            )
            .await?;
        let tuning: Vec<tuning_jobs::TuningJob> = self
            .http
            .list_all(
                "list hyperparameter tuning jobs",
                &url(JobKind::Tuning),
                "hyperparameterTuningJobs",
                server.as_deref(),
            )
            .await?;
        let listed = custom
            .iter()
            .map(|c| (JobKind::Custom, jobs::from_custom_job(c)))
            .chain(
                batch
                    .iter()
                    .map(|b| (JobKind::Batch, batch_jobs::from_batch_job(b))),
            )
            .chain(
                tuning
                    .iter()
                    .map(|t| (JobKind::Tuning, tuning_jobs::from_tuning_job(t))),
            );
        let mut all = Vec::with_capacity(custom.len() + batch.len() + tuning.len());
        for (kind, job) in listed {
            self.remember(kind, &job);
            all.push(job);
        }
        super::ray::page(all, filter, page_size, page_token)
    }

    async fn get_job(&self, id: &str) -> Result<Job, PlatformError> {
        self.fetch_job(id).await.map(|(_, job)| job)
    }

    async fn cancel_job(&self, id: &str) -> Result<Job, PlatformError> {
        let (kind, _) = self.fetch_job(id).await?;
        let url = self.http.ai(&format!(
            "{}/{}/{id}:cancel",
            self.parent(),
            kind.collection()
        ));
        let _: serde_json::Value = self
            .http
            .call("cancel the job", Method::POST, &url, &[], Some(&json!({})))
            .await?;
        self.get_job(id).await
    }

    async fn read_logs(
        &self,
        id: &str,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError> {
        let known = lock(&self.known).get(id).map(|(_, j)| j.clone());
        let job = match known {
            Some(job) => job,
            None => self.get_job(id).await?,
        };
        let ended = job.state.is_finished().then_some(job.end_time).flatten();
        self.logs
            .read(&self.http, id, ended, after, page_size)
            .await
    }

    async fn read_metrics(
        &self,
        id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<MetricsPage, PlatformError> {
        let known = lock(&self.known).get(id).cloned();
        let (kind, job) = match known {
            Some(k) => k,
            None => self.fetch_job(id).await?,
        };
        if kind == JobKind::Batch {
            return Ok(MetricsPage {
                note: Some("Vertex AI reports no CPU and memory for batch prediction jobs".into()),
                ..MetricsPage::default()
            });
        }
        self.metrics.read(&self.http, &job, since).await
    }

    async fn list_models(&self) -> Result<Vec<Model>, PlatformError> {
        let url = self.http.ai(&format!("{}/models", self.parent()));
        let cached = self.fresh(lock(&self.catalog).models.as_ref());
        let listed: Vec<VxModel> = match cached {
            Some(listed) => listed,
            None => {
                let listed: Vec<VxModel> = self
                    .http
                    .list_all("list models", &url, "models", None)
                    .await?;
                lock(&self.catalog).models = Some((std::time::Instant::now(), listed.clone()));
                listed
            }
        };
        let endpoints = self.endpoints().await?;
        let mut models: Vec<Model> = listed
            .iter()
            .map(|m| models::to_model(m, &endpoints))
            .collect();
        let mut pending = lock(&self.pending_models);
        pending.retain(|p| !models.iter().any(|m| &m.name == p));
        for name in pending.iter() {
            models.push(Model {
                name: name.clone(),
                ..Model::default()
            });
        }
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    async fn list_versions(&self, model: &str) -> Result<Vec<Version>, PlatformError> {
        let uploading = lock(&self.uploads).iter().any(|u| u.model == model);
        // Uploads first: one that has just finished makes the listing below fresh.
        let upload_rows = self.upload_rows(model).await;
        let mut versions: Vec<Version> = if lock(&self.pending_models).contains(model) {
            Vec::new()
        } else {
            let listed = match self.vx_versions(model).await {
                // A model's first version makes the model: until its upload is done,
                // Vertex AI does not know the model yet.
                Err(PlatformError::NotFound(_)) if uploading => Vec::new(),
                other => other?,
            };
            let endpoints = self.endpoints().await?;
            listed
                .iter()
                .map(|v| models::to_version(v, &endpoints))
                .collect()
        };
        for v in &mut versions {
            if let Some((endpoint, since)) =
                lock(&self.deploys).get(&(model.to_owned(), v.name.clone()))
            {
                v.progress = Some(format!(
                    "deploying to endpoint {endpoint}: {} s so far (Vertex AI takes minutes)",
                    since.elapsed().as_secs()
                ));
            }
        }
        versions.extend(upload_rows);
        Ok(versions)
    }

    async fn create_model(&self, model: &Model) -> Result<Model, PlatformError> {
        let name = model.short_name().to_owned();
        models::check_model_id(&name).map_err(invalid)?;
        let url = self.http.ai(&self.model_name(&name));
        let exists = self
            .http
            .call::<VxModel>("look up the model", Method::GET, &url, &[], None::<&()>)
            .await;
        match exists {
            Ok(_) => {
                return Err(PlatformError::Rejected {
                    status: "ALREADY_EXISTS".into(),
                    message: format!("the model {name} already exists"),
                });
            }
            Err(PlatformError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        lock(&self.pending_models).insert(name.clone());
        Ok(Model {
            name,
            description: model.description.clone(),
            labels: model.labels.clone(),
            ..Model::default()
        })
    }

    async fn delete_model(&self, model: &str) -> Result<Model, PlatformError> {
        if lock(&self.pending_models).remove(model) {
            return Ok(Model {
                name: model.to_owned(),
                ..Model::default()
            });
        }
        let what = format!("delete the model {model}");
        let op: Operation = self
            .http
            .call(
                &what,
                Method::DELETE,
                &self.http.ai(&self.model_name(model)),
                &[],
                None::<&()>,
            )
            .await?;
        let done = models::wait(&self.http, &what, op, self.op_poll, self.op_timeout).await;
        self.invalidate();
        done?;
        lock(&self.uploads).retain(|u| u.model != model);
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
        self.upload_version(model, version).await
    }

    async fn delete_version(&self, model: &str, version: &str) -> Result<Version, PlatformError> {
        self.remove_version(model, version).await
    }

    async fn set_default_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Version, PlatformError> {
        self.invalidate();
        let target = self.find_version(model, version).await?;
        let url = self.http.ai(&format!(
            "{}@{}:mergeVersionAliases",
            self.model_name(model),
            target.version_id
        ));
        let _: VxModel = self
            .http
            .call(
                &format!("make {version} the default of {model}"),
                Method::POST,
                &url,
                &[],
                Some(&json!({"versionAliases": ["default"]})),
            )
            .await?;
        self.invalidate();
        for endpoint in self.endpoints().await? {
            if endpoint.deployed_models.iter().any(|d| d.serves(model)) {
                let routed = self
                    .route_all_traffic(&endpoint, model, (version, &target.version_id))
                    .await;
                self.invalidate();
                routed?;
            }
        }
        let endpoints = self.endpoints().await?;
        let updated = self.find_version(model, version).await?;
        Ok(models::to_version(&updated, &endpoints))
    }

    fn resubmit_command(&self, job: &Job, new_id: &str) -> Result<String, String> {
        // A display name need not be unique on Vertex AI: the copy keeps it.
        let name = job
            .display_name
            .clone()
            .unwrap_or_else(|| new_id.to_owned());
        let (project, region) = (&self.http.project, &self.http.region);
        if let Some(input) = &job.prediction_input {
            let model = match input.model_and_version()? {
                // A listed job names the version by its id, which `model@id` takes.
                (m, Some(v)) => format!("{}@{v}", self.model_name(&m)),
                (m, None) => self.model_name(&m),
            };
            let url = self
                .http
                .ai(&format!("{}/batchPredictionJobs", self.parent()));
            return batch_jobs::create_command(job, &name, model, &url);
        }
        if job.study().is_some() {
            return tuning_jobs::create_command(job, &name, project, region);
        }
        jobs::create_command(job, &name, project, region)
    }

    fn version_command(
        &self,
        model: &str,
        version: &Version,
        new_name: &str,
    ) -> Result<String, String> {
        uploads::upload_command(
            (&self.http.project, &self.http.region),
            (model, &self.model_name(model)),
            version,
            new_name,
        )
    }

    fn predict_url(&self, model: &str, _version: Option<&str>) -> String {
        let endpoint = lock(&self.endpoint_of)
            .get(model)
            .cloned()
            .unwrap_or_else(|| "ENDPOINT_ID".into());
        format!(
            "{}/v1/{}/endpoints/{endpoint}:predict",
            self.http.aiplatform,
            self.parent()
        )
    }

    fn snippet_auth(&self) -> SnippetAuth {
        SnippetAuth::TokenCommand("gcloud auth print-access-token".into())
    }

    async fn predict(
        &self,
        model: &str,
        version: Option<&str>,
        body: String,
    ) -> Result<String, PlatformError> {
        let endpoints = self.endpoints().await?;
        let endpoint = endpoints
            .iter()
            .find(|e| e.deployed_models.iter().any(|d| d.serves(model)))
            .ok_or_else(|| PlatformError::Rejected {
                status: "FAILED_PRECONDITION".into(),
                message: format!(
                    "the model {model} is not deployed to an endpoint in {}; deploy it (e.g. `gcloud ai endpoints deploy-model`) to predict online",
                    self.http.region
                ),
            })?;
        if let Some(version) = version {
            let target = self.find_version(model, version).await?;
            let all_to_it = endpoint.deployed_models.iter().any(|d| {
                d.serves(model)
                    && d.model_version_id == target.version_id
                    && endpoint.traffic_split.get(&d.id) == Some(&100)
            });
            if !all_to_it {
                return Err(PlatformError::Rejected {
                    status: "FAILED_PRECONDITION".into(),
                    message: format!(
                        "Vertex AI sends each request where endpoint {} routes it, not to a chosen version; make {version} the default to send all traffic to it, or predict on the default",
                        id_of(&endpoint.name)
                    ),
                });
            }
        }
        let body: serde_json::Value = serde_json::from_str(&body)
            .map_err(|e| invalid(format!("the request is not JSON: {e}")))?;
        let url = format!("{}:predict", self.http.ai(&endpoint.name));
        let answer: serde_json::Value = self
            .http
            .call(
                &format!("predict with {model}"),
                Method::POST,
                &url,
                &[],
                Some(&body),
            )
            .await?;
        Ok(answer.to_string())
    }

    async fn version_metrics(
        &self,
        _model: &str,
        _version: &str,
        _since: Option<DateTime<Utc>>,
    ) -> Result<ServingMetrics, PlatformError> {
        Ok(ServingMetrics::default())
    }
}
