//! The jobs resource: submit, list (filtered, paged), get, cancel, and a job's log and
//! resource samples.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};

use super::error::{ApiError, ErrorBody};
use super::extract::{
    Params, check_project, json_body, page_size, project_path, query, since_param,
};
use crate::domain::{Filter, Job, JobPage, LogPage, MetricsPage};
use crate::engine::{Engine, joblog};

/// Jobs per page when `pageSize` is not given, and the most allowed.
pub const JOBS_PAGE: (usize, usize) = (100, 1000);
/// Log entries per page when `pageSize` is not given, and the most allowed.
pub const LOGS_PAGE: (usize, usize) = (1000, 10_000);

type ApiResult<T> = Result<Json<T>, ApiError>;

fn job_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<String, ApiError> {
    let Path((project, job)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)?;
    Ok(job)
}

fn existing_job(engine: &Engine, id: &str) -> Result<Job, ApiError> {
    engine
        .store()
        .get(id)
        .map(|r| r.job.clone())
        .ok_or_else(|| ApiError::not_found(format!("there is no job named {id:?}")))
}

/// Submits a training job; it starts when a slot is free.
#[utoipa::path(post, path = "/v1/projects/{project}/jobs", tag = "jobs", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    request_body = Job,
    responses(
        (status = 200, description = "The job as queued", body = Job),
        (status = 400, description = "Malformed job", body = ErrorBody),
        (status = 409, description = "The jobId is taken", body = ErrorBody)))]
pub async fn create_job(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Job> {
    project_path(path)?;
    let job: Job = json_body(body, "Job")?;
    Ok(Json(engine.submit(job)?))
}

/// Lists jobs, newest first, optionally filtered.
#[utoipa::path(get, path = "/v1/projects/{project}/jobs", tag = "jobs", security(("bearer" = [])),
    params(
        ("project" = String, Path, description = "Always `local`"),
        ("filter" = Option<String>, Query, description = "gcloud filter, e.g. `state=RUNNING AND labels.team=vision`"),
        ("pageSize" = Option<usize>, Query, description = "Jobs per page, 1 to 1000 (default 100)"),
        ("pageToken" = Option<String>, Query, description = "`nextPageToken` of the previous page")),
    responses(
        (status = 200, description = "A page of jobs", body = JobPage),
        (status = 400, description = "Malformed filter or page parameters", body = ErrorBody)))]
pub async fn list_jobs(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult<JobPage> {
    project_path(path)?;
    let params = query(params, &["filter", "pageSize", "pageToken"])?;
    let filter_text = params.get("filter").map_or("", String::as_str);
    let filter = Filter::parse::<Job>(filter_text).map_err(|e| {
        ApiError::invalid(format!(
            "invalid filter {}: {e}",
            crate::engine::system_params::snippet(filter_text)
        ))
    })?;
    let size = page_size(&params, JOBS_PAGE)?;
    let before = match params.get("pageToken").filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => Some(token.parse::<i64>().map_err(|_| {
            ApiError::invalid(format!(
                "pageToken {token:?} was not given out by this engine; pass nextPageToken from the previous page"
            ))
        })?),
    };
    let listed = tokio::task::spawn_blocking(move || engine.store().list(&filter, size, before))
        .await
        .map_err(|e| ApiError::internal(format!("listing jobs failed: {e}")))?;
    let (jobs, next) = listed;
    Ok(Json(JobPage {
        jobs,
        next_page_token: next.map(|seq| seq.to_string()),
    }))
}

/// Gets one job.
#[utoipa::path(get, path = "/v1/projects/{project}/jobs/{job}", tag = "jobs", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("job" = String, Path, description = "The jobId")),
    responses((status = 200, description = "The job", body = Job), (status = 404, description = "No such job", body = ErrorBody)))]
pub async fn get_job(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Job> {
    let id = job_path(path)?;
    Ok(Json(existing_job(&engine, &id)?))
}

/// Cancels a job: a queued one at once; a running one gets SIGTERM, then SIGKILL after
/// the grace period. Answers the job as it is after the request.
#[utoipa::path(post, path = "/v1/projects/{project}/jobs/{job}:cancel", tag = "jobs", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("job" = String, Path, description = "The jobId")),
    responses(
        (status = 200, description = "The job, CANCELLING or CANCELLED", body = Job),
        (status = 400, description = "The job has already finished", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody)))]
pub async fn job_action(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Job> {
    let target = job_path(path)?;
    match target.rsplit_once(':') {
        Some((id, "cancel")) => Ok(Json(engine.cancel(id)?)),
        _ => Err(ApiError::not_found(format!(
            "no such job action: POST …/jobs/{target}; the job action is POST …/jobs/{{jobId}}:cancel"
        ))),
    }
}

/// Reads a job's log entries after a position, in order.
#[utoipa::path(get, path = "/v1/projects/{project}/jobs/{job}/logs", tag = "jobs", security(("bearer" = [])),
    params(
        ("project" = String, Path, description = "Always `local`"),
        ("job" = String, Path, description = "The jobId"),
        ("after" = Option<u64>, Query, description = "Return entries with seq greater than this (default 0)"),
        ("pageSize" = Option<usize>, Query, description = "Entries per page, 1 to 10000 (default 1000)")),
    responses(
        (status = 200, description = "Entries and where to continue", body = LogPage),
        (status = 400, description = "Malformed parameters", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody)))]
pub async fn job_logs(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult<LogPage> {
    let id = job_path(path)?;
    let params = query(params, &["after", "pageSize"])?;
    let finished = existing_job(&engine, &id)?.state.is_finished();
    let after = match params.get("after") {
        None => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::invalid(format!(
                "after must be a log position (a whole number ≥ 0), not {text:?}"
            ))
        })?,
    };
    let size = page_size(&params, LOGS_PAGE)?;
    let dir = engine.job_state_dir(&id);
    let read = tokio::task::spawn_blocking(move || {
        let entries = joblog::read_entries(&dir, after, size)?;
        let count = joblog::entry_count(&dir)?;
        Ok::<_, std::io::Error>((entries, count))
    })
    .await
    .map_err(|e| ApiError::internal(format!("reading the log failed: {e}")))?;
    let (entries, count) =
        read.map_err(|e| ApiError::internal(format!("reading the log of {id:?} failed: {e}")))?;
    let next_after = entries.last().map_or(after, |e| e.seq);
    Ok(Json(LogPage {
        complete: finished && next_after >= count,
        entries,
        next_after,
    }))
}

/// Reads a job's CPU and memory samples (one a second while it runs).
#[utoipa::path(get, path = "/v1/projects/{project}/jobs/{job}/metrics", tag = "jobs", security(("bearer" = [])),
    params(
        ("project" = String, Path, description = "Always `local`"),
        ("job" = String, Path, description = "The jobId"),
        ("since" = Option<String>, Query, description = "Only samples after this time (RFC 3339)")),
    responses(
        (status = 200, description = "Samples, oldest first", body = MetricsPage),
        (status = 400, description = "Malformed time", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody)))]
pub async fn job_metrics(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<(String, String)>, PathRejection>,
    params: Params,
) -> ApiResult<MetricsPage> {
    let id = job_path(path)?;
    let params = query(params, &["since"])?;
    existing_job(&engine, &id)?;
    let since = since_param(&params)?;
    let store = engine.store();
    let samples = store
        .samples(&id, since)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let devices = store
        .device_series(&id, since)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(MetricsPage {
        samples,
        devices,
        ..MetricsPage::default()
    }))
}
