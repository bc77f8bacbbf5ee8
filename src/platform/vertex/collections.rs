//! Which collection a job id is in (`customJobs`, `batchPredictionJobs` or
//! `hyperparameterTuningJobs`: the console lists them as one), fetching a job from any,
//! and creating batch prediction and tuning jobs.

use reqwest::Method;

use super::batch_jobs::{self, BatchPredictionJob};
use super::jobs::{self, CustomJob};
use super::tuning_jobs::{self, TuningJob};
use super::{VertexPlatform, client, invalid, lock};
use crate::domain::{Job, PredictionInput};
use crate::platform::PlatformError;

/// Which collection a job id belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JobKind {
    Custom,
    Batch,
    Tuning,
}

impl JobKind {
    pub(super) fn collection(self) -> &'static str {
        match self {
            JobKind::Custom => "customJobs",
            JobKind::Batch => "batchPredictionJobs",
            JobKind::Tuning => "hyperparameterTuningJobs",
        }
    }
}

impl VertexPlatform {
    pub(super) fn remember(&self, kind: JobKind, job: &Job) {
        lock(&self.known).insert(job.job_id.clone(), (kind, job.clone()));
    }

    pub(super) async fn fetch_job(&self, id: &str) -> Result<(JobKind, Job), PlatformError> {
        let kinds = match lock(&self.known).get(id) {
            Some((kind, _)) => vec![*kind],
            None => vec![JobKind::Custom, JobKind::Batch, JobKind::Tuning],
        };
        for kind in kinds {
            let url = self
                .http
                .ai(&format!("{}/{}/{id}", self.parent(), kind.collection()));
            let job = match kind {
                JobKind::Custom => self
                    .http
                    .call::<CustomJob>("get the custom job", Method::GET, &url, &[], None::<&()>)
                    .await
                    .map(|c| jobs::from_custom_job(&c)),
                JobKind::Batch => self
                    .http
                    .call::<BatchPredictionJob>(
                        "get the batch prediction job",
                        Method::GET,
                        &url,
                        &[],
                        None::<&()>,
                    )
                    .await
                    .map(|b| batch_jobs::from_batch_job(&b)),
                JobKind::Tuning => self
                    .http
                    .call::<TuningJob>(
                        "get the hyperparameter tuning job",
                        Method::GET,
                        &url,
                        &[],
                        None::<&()>,
                    )
                    .await
                    .map(|t| tuning_jobs::from_tuning_job(&t)),
            };
            match job {
                Ok(job) => {
                    self.remember(kind, &job);
                    return Ok((kind, job));
                }
                Err(PlatformError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(PlatformError::NotFound(format!(
            "there is no job {id} in {}",
            self.parent()
        )))
    }

    pub(super) async fn submit_batch(
        &self,
        job: &Job,
        input: &PredictionInput,
    ) -> Result<Job, PlatformError> {
        let model = match input.model_and_version().map_err(invalid)? {
            (m, Some(v)) => {
                let version = self.find_version(&m, &v).await?;
                format!("{}@{}", self.model_name(&m), version.version_id)
            }
            (m, None) => self.model_name(&m),
        };
        let mut body = batch_jobs::batch_job_for(job, input, model).map_err(invalid)?;
        let request = client::request_label();
        body.labels
            .insert(client::REQUEST_LABEL.into(), request.clone());
        let url = self
            .http
            .ai(&format!("{}/batchPredictionJobs", self.parent()));
        let created: BatchPredictionJob = self
            .http
            .create("create the batch prediction job", &url, &body, || {
                self.find_created(&url, "batchPredictionJobs", &request)
            })
            .await?;
        let job = batch_jobs::from_batch_job(&created);
        self.remember(JobKind::Batch, &job);
        Ok(job)
    }

    /// The job of collection `url` that a create labelled `request` made, if any.
    /// Creates a hyperparameter tuning job for a console job with a study.
    pub(super) async fn submit_tuning(
        &self,
        job: &Job,
        input: &crate::domain::TrainingInput,
        spec: &crate::domain::HyperparameterSpec,
    ) -> Result<Job, PlatformError> {
        let mut body = tuning_jobs::tuning_job_for(job, input, spec).map_err(invalid)?;
        let request = client::request_label();
        body.labels
            .insert(client::REQUEST_LABEL.into(), request.clone());
        let url = self
            .http
            .ai(&format!("{}/hyperparameterTuningJobs", self.parent()));
        let created: TuningJob = self
            .http
            .create("create the hyperparameter tuning job", &url, &body, || {
                self.find_created(&url, "hyperparameterTuningJobs", &request)
            })
            .await?;
        let job = tuning_jobs::from_tuning_job(&created);
        self.remember(JobKind::Tuning, &job);
        Ok(job)
    }

    pub(super) async fn find_created<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        field: &str,
        request: &str,
    ) -> Result<Option<T>, PlatformError> {
        let filter = format!("labels.{}=\"{request}\"", client::REQUEST_LABEL);
        let found: Vec<T> = self
            .http
            .list_all("look for the job just created", url, field, Some(&filter))
            .await?;
        Ok(found.into_iter().next())
    }
}
