//! The platforms the console can drive, behind one trait: the embedded local engine,
//! Ray clusters and Google Cloud Vertex AI, shaped by what the console needs rather than
//! by any one server's URLs.

pub mod connect;
pub mod local;
pub mod ray;
pub mod vertex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    Capabilities, ClusterSummary, Job, JobPage, LogPage, MetricsPage, Model, ServingMetrics,
    ServingRuntimes, Version,
};

pub use local::LocalPlatform;
pub use ray::RayPlatform;
pub use vertex::VertexPlatform;

/// Why a platform call failed, worded for the person at the console.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    /// Nothing answered at the platform's address.
    #[error("cannot reach {address}: {detail}")]
    Unreachable {
        /// Where the platform was expected.
        address: String,
        /// What the network said.
        detail: String,
    },
    /// The credentials were missing or refused.
    #[error("not signed in: {0}")]
    Unauthenticated(String),
    /// The job (or other resource) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The platform turned the request down; `status` is its canonical name.
    #[error("{message}")]
    Rejected {
        /// E.g. `INVALID_ARGUMENT`, `ALREADY_EXISTS`, `FAILED_PRECONDITION`.
        status: String,
        /// The platform's explanation.
        message: String,
    },
    /// The platform failed on its side.
    #[error("the platform failed: {0}")]
    Server(String),
    /// The answer could not be understood.
    #[error("unexpected answer from the platform: {0}")]
    Protocol(String),
}

/// How a copied prediction snippet authenticates, without holding the secret itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnippetAuth {
    /// The endpoint takes no credentials.
    None,
    /// `Authorization: Bearer` with the content of this file, read when the snippet runs.
    TokenFile(std::path::PathBuf),
    /// `Authorization: Bearer` with the output of this shell command.
    TokenCommand(String),
}

/// Lines of one job's log a search reads through a platform's log API at most.
const MAX_LINES_READ: usize = 1_000_000;

/// A search across logs for a platform without a log index: each job's log read through
/// [`Platform::read_logs`] a page at a time and scanned (its first `MAX_LINES_READ`).
pub async fn search_by_reading<P: Platform + ?Sized>(
    platform: &P,
    request: &crate::domain::log_search::LogSearchRequest,
) -> Result<crate::domain::log_search::LogSearchPage, PlatformError> {
    use crate::domain::log_search::{
        JOBS_PER_PAGE, JobMatches, LogFinder, LogSearchPage, MAX_UNINDEXED_JOBS,
    };
    request.check().map_err(|message| PlatformError::Rejected {
        status: "INVALID_ARGUMENT".into(),
        message,
    })?;
    let ids: Vec<String> = if request.job_ids.is_empty() {
        platform
            .list_jobs("", MAX_UNINDEXED_JOBS, None)
            .await?
            .jobs
            .into_iter()
            .map(|j| j.job_id)
            .collect()
    } else {
        request.job_ids.clone()
    };
    let start: usize = request
        .page_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0)
        .min(ids.len());
    let end = (start + JOBS_PER_PAGE).min(ids.len());
    let context = request.context_lines as usize;
    let mut jobs = Vec::new();
    for id in &ids[start..end] {
        // A page at a time: only the context around matches is kept, however long the log.
        let mut finder = LogFinder::new(&request.query, context, 50);
        let (mut after, mut read) = (0, 0);
        loop {
            let page = platform.read_logs(id, after, 10_000).await?;
            let got = page.entries.len();
            after = page.next_after;
            read += got;
            finder.feed(&page.entries);
            if got == 0 || page.complete || read >= MAX_LINES_READ {
                break;
            }
        }
        let (matches, total) = finder.finish();
        if total > 0 {
            jobs.push(JobMatches {
                job_id: id.clone(),
                matches,
                total,
            });
        }
    }
    Ok(LogSearchPage {
        jobs,
        searched_jobs: end as u64,
        total_jobs: ids.len() as u64,
        next_page_token: (end < ids.len()).then(|| end.to_string()),
    })
}

/// What the console asks of a platform that runs training jobs.
#[async_trait]
pub trait Platform: Send + Sync {
    /// A short description for the status bar, e.g. "local engine at http://127.0.0.1:8471".
    fn describe(&self) -> String;
    /// What this platform can do; tabs explain what it cannot.
    fn capabilities(&self) -> Capabilities;
    /// Succeeds when the platform answers and accepts the credentials.
    async fn check_connection(&self) -> Result<(), PlatformError>;
    /// Submits a job; returns it as accepted.
    async fn submit_job(&self, job: &Job) -> Result<Job, PlatformError>;
    /// One page of jobs matching a gcloud-style `filter`, newest first.
    async fn list_jobs(
        &self,
        filter: &str,
        page_size: usize,
        page_token: Option<&str>,
    ) -> Result<JobPage, PlatformError>;
    /// One job by its id on this platform.
    async fn get_job(&self, id: &str) -> Result<Job, PlatformError>;
    /// Asks for a job to be cancelled; returns it as it is then.
    async fn cancel_job(&self, id: &str) -> Result<Job, PlatformError>;
    /// Log entries after position `after`, at most `page_size`.
    async fn read_logs(
        &self,
        id: &str,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError>;
    /// Resource samples taken after `since`, and why some are missing if it knows.
    async fn read_metrics(
        &self,
        id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<MetricsPage, PlatformError>;
    /// One page of a search across the logs of many jobs. The local engine searches its
    /// own index; by default the jobs named (or the newest 100) have their logs read
    /// whole, [`JOBS_PER_PAGE`](crate::domain::log_search::JOBS_PER_PAGE) a page.
    async fn search_logs(
        &self,
        request: &crate::domain::log_search::LogSearchRequest,
    ) -> Result<crate::domain::log_search::LogSearchPage, PlatformError> {
        search_by_reading(self, request).await
    }
    /// The cluster's size and load, for platforms that are clusters.
    async fn cluster_summary(&self) -> Result<Option<ClusterSummary>, PlatformError> {
        Ok(None)
    }
    /// Tokens that open the platform's Cloud Storage buckets (its jobs' `gs://` dirs),
    /// where it has its own credentials.
    fn bucket_token(&self) -> Option<std::sync::Arc<dyn crate::buckets::BucketToken>> {
        None
    }
    /// The runtimes the platform serves models with, where it says.
    async fn serving_runtimes(&self) -> Result<Option<ServingRuntimes>, PlatformError> {
        Ok(None)
    }
    /// The shell command that submits `job` again as `new_id` with the platform's own
    /// tool: curl to the local engine's REST API, `ray job submit`, `gcloud ai
    /// custom-jobs create`.
    fn resubmit_command(&self, job: &Job, new_id: &str) -> Result<String, String> {
        let _ = (job, new_id);
        Err("this platform has no command line that re-creates a job".into())
    }
    /// The shell command that creates a copy of `version` of `model` named `new_name`
    /// with the platform's own tool (`gcloud ai-platform versions create` on the local
    /// engine).
    fn version_command(
        &self,
        model: &str,
        version: &Version,
        new_name: &str,
    ) -> Result<String, String> {
        let _ = (model, version, new_name);
        Err("this platform has no command line that creates a version".into())
    }
    /// Every model, each with its default version.
    async fn list_models(&self) -> Result<Vec<Model>, PlatformError>;
    /// A model's versions.
    async fn list_versions(&self, model: &str) -> Result<Vec<Version>, PlatformError>;
    /// Creates a model (its `name` is the short name).
    async fn create_model(&self, model: &Model) -> Result<Model, PlatformError>;
    /// Deletes a model without versions.
    async fn delete_model(&self, model: &str) -> Result<Model, PlatformError>;
    /// Creates a version from its `deploymentUri`; it is CREATING until loaded.
    async fn create_version(
        &self,
        model: &str,
        version: &Version,
    ) -> Result<Version, PlatformError>;
    /// Deletes a version.
    async fn delete_version(&self, model: &str, version: &str) -> Result<Version, PlatformError>;
    /// Makes a version the model's default.
    async fn set_default_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Version, PlatformError>;
    /// The URL online predictions go to (the default version when `version` is `None`).
    fn predict_url(&self, model: &str, version: Option<&str>) -> String;
    /// How a snippet sending to [`Platform::predict_url`] authenticates.
    fn snippet_auth(&self) -> SnippetAuth;
    /// Sends a prediction request body; answers the response body.
    async fn predict(
        &self,
        model: &str,
        version: Option<&str>,
        body: String,
    ) -> Result<String, PlatformError>;
    /// A version's serving metrics after `since`.
    async fn version_metrics(
        &self,
        model: &str,
        version: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<ServingMetrics, PlatformError>;
}
