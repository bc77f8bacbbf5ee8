//! The engine's HTTP API: the Cloud ML Engine v1 dialect (see `DESIGN.md`), bearer-token
//! auth on everything but `/healthz`, and errors in Google's JSON shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::models_api as m;
use super::runner::EngineError;
use super::{Engine, joblog};
use crate::domain::filter::parse_time;
use crate::domain::{Filter, Job, JobPage, LogPage, MetricsPage};

/// The one project the local engine serves.
pub const PROJECT: &str = "local";
/// Jobs per page when `pageSize` is not given, and the most allowed.
pub const JOBS_PAGE: (usize, usize) = (100, 1000);
/// Largest prediction request body (images come as base64); other calls take 2 MB.
pub const MAX_BODY: usize = 32 << 20;
/// The one path that needs no token.
pub const HEALTH_PATH: &str = "/healthz";
/// Log entries per page when `pageSize` is not given, and the most allowed.
pub const LOGS_PAGE: (usize, usize) = (1000, 10_000);

/// Google's JSON error shape: `{"error": {"code", "message", "status"}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorStatus,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorStatus {
    /// The HTTP status code.
    pub code: u16,
    /// What went wrong and what to do about it.
    pub message: String,
    /// The canonical status name, e.g. `INVALID_ARGUMENT`.
    pub status: String,
}

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    code: StatusCode,
    status: &'static str,
    message: String,
}

impl ApiError {
    /// An error with any code and canonical status.
    pub fn new(code: StatusCode, status: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status,
            message: message.into(),
        }
    }

    /// 400 INVALID_ARGUMENT.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ARGUMENT", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 500 INTERNAL.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorStatus {
                code: self.code.as_u16(),
                message: self.message,
                status: self.status.to_owned(),
            },
        };
        (self.code, Json(body)).into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        let message = e.to_string();
        match e {
            EngineError::InvalidArgument(_) => ApiError::invalid(message),
            EngineError::NotFound(_) => ApiError::not_found(message),
            EngineError::AlreadyExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "ALREADY_EXISTS", message)
            }
            EngineError::FailedPrecondition(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", message)
            }
            EngineError::Store(_) | EngineError::Io { .. } => ApiError::internal(message),
        }
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;
/// Query parameters as a handler receives them.
pub type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// Serves the API on `listener` until the process ends.
pub async fn serve(engine: Arc<Engine>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let api = super::fast_predict::Api::new(engine.clone(), router(engine.clone()));
    super::http_server::serve(&engine, api, listener).await
}

/// Every route of the API. The bearer token is checked before the router sees a request
/// ([`super::fast_predict::Api`]), so the routes take it as given.
fn router(engine: Arc<Engine>) -> Router {
    let jobs = "/v1/projects/{project}/jobs";
    let models = "/v1/projects/{project}/models";
    let authed = Router::new()
        .route("/openapi.json", get(openapi_json))
        .route(jobs, post(create_job).get(list_jobs))
        .route(&format!("{jobs}/{{job}}"), get(get_job).post(job_action))
        .route(&format!("{jobs}/{{job}}/logs"), get(job_logs))
        .route(&format!("{jobs}/{{job}}/metrics"), get(job_metrics))
        .route(models, post(m::create_model).get(m::list_models))
        .route(
            &format!("{models}/{{model}}"),
            get(m::get_model)
                .delete(m::delete_model)
                .post(m::model_action)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            &format!("{models}/{{model}}/versions"),
            post(m::create_version).get(m::list_versions),
        )
        .route(
            &format!("{models}/{{model}}/versions/{{version}}"),
            get(m::get_version)
                .delete(m::delete_version)
                .post(m::version_action)
                .layer(DefaultBodyLimit::max(MAX_BODY)),
        )
        .route(
            &format!("{models}/{{model}}/versions/{{version}}/metrics"),
            get(m::version_metrics),
        )
        .route(
            "/v1/projects/{project}/operations",
            get(super::operations::list_operations),
        )
        .route(
            "/v1/projects/{project}/operations/{operation}",
            get(super::operations::get_operation).post(super::operations::operation_action),
        )
        .route("/v1/projects/{project}/runtimes", get(m::list_runtimes))
        .route("/v2/entries:list", post(super::logging_api::list_entries));
    Router::new()
        .route(HEALTH_PATH, get(healthz))
        .merge(authed)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(engine)
}

/// Checks the request's bearer token against the engine's.
pub fn authorize(engine: &Engine, headers: &header::HeaderMap) -> Result<(), ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match presented {
        Some(token) if same_secret(token.trim().as_bytes(), engine.token().as_bytes()) => Ok(()),
        _ => {
            let token_file = engine.config().data_dir.join("token");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                format!(
                    "missing or wrong bearer token: send 'Authorization: Bearer <token>' with the token in {}",
                    token_file.display()
                ),
            ))
        }
    }
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn unknown_route(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such API path: {} {}; see /openapi.json for the API",
        request.method(),
        request.uri().path()
    ))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "UNIMPLEMENTED",
        format!(
            "{} is not supported on {}",
            request.method(),
            request.uri().path()
        ),
    )
}

/// Health check; needs no token.
#[utoipa::path(get, path = "/healthz", tag = "engine",
    responses((status = 200, description = "The engine is up", body = serde_json::Value)))]
pub async fn healthz() -> Json<serde_json::Value> {
    let runtimes: Vec<String> = super::runtime::serving_runtimes()
        .runtimes
        .iter()
        .map(crate::domain::ServingRuntime::label)
        .collect();
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "runtimes": runtimes,
    }))
}

/// This API's OpenAPI 3 description.
#[utoipa::path(get, path = "/openapi.json", tag = "engine", security(("bearer" = [])),
    responses((status = 200, description = "OpenAPI 3 document", body = serde_json::Value)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(super::openapi::document())
}

/// Checks the `{project}` of a path.
pub fn project_path(path: Result<Path<String>, PathRejection>) -> Result<(), ApiError> {
    let Path(project) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)
}

/// Checks that `project` is the one the engine serves.
pub fn check_project(project: &str) -> Result<(), ApiError> {
    if project == PROJECT {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "project {project:?} not found; the local engine serves the project {PROJECT:?}"
        )))
    }
}

fn job_path(path: Result<Path<(String, String)>, PathRejection>) -> Result<String, ApiError> {
    let Path((project, job)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)?;
    Ok(job)
}

/// The query parameters, refusing any not in `allowed`.
pub fn query(params: Params, allowed: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::invalid(e.body_text()))?;
    if let Some(unknown) = params.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::invalid(format!(
            "unknown query parameter {unknown:?}; this call takes {}",
            allowed.join(", ")
        )));
    }
    Ok(params)
}

/// A JSON request body of type `what`, with errors that say what was expected.
pub fn json_body<T: serde::de::DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<T, ApiError> {
    let body = body.map_err(|e| ApiError::invalid(e.body_text()))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(format!(
            "the request body is empty; send a {what} as JSON"
        )));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::invalid(format!("the request body is not a valid {what}: {e}")))
}

/// The `since` query parameter: only samples after this time.
pub fn since_param(
    params: &HashMap<String, String>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    params
        .get("since")
        .map(|text| {
            parse_time(text).ok_or_else(|| {
                ApiError::invalid(format!(
                    "since must be a time such as 2026-11-24T10:00:00Z, not {text:?}"
                ))
            })
        })
        .transpose()
}

fn page_size(
    params: &HashMap<String, String>,
    (default, max): (usize, usize),
) -> Result<usize, ApiError> {
    match params.get("pageSize") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(0) => Ok(default),
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::invalid(format!(
                "pageSize must be a whole number from 1 to {max}, not {text:?}"
            ))),
        },
    }
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
            super::system_params::snippet(filter_text)
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
    let samples = engine
        .store()
        .samples(&id, since)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Json(MetricsPage {
        samples,
        ..MetricsPage::default()
    }))
}
