//! The platforms the console can drive, behind one trait: the embedded local engine now;
//! Google Cloud Vertex AI and Ray clusters later, shaped by what the console needs rather
//! than by any one server's URLs.

pub mod local;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{Job, JobPage, LogPage, ResourceSample};

pub use local::LocalPlatform;

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

/// What the console asks of a platform that runs training jobs.
#[async_trait]
pub trait Platform: Send + Sync {
    /// A short description for the status bar, e.g. "local engine at http://127.0.0.1:8471".
    fn describe(&self) -> String;
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
    /// One job.
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
    /// Resource samples taken after `since`.
    async fn read_metrics(
        &self,
        id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ResourceSample>, PlatformError>;
}
