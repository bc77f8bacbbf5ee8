//! `POST /v1/projects/local/jobs:searchLogs`: one query over the logs of every job (or
//! the jobs named), newest first, a page of jobs at a time with the matches grouped by
//! job and their context lines. A page answers within about 200 ms or once it holds
//! `maxMatches` matches; `nextPageToken` goes on from there.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};

use super::error::{ApiError, ErrorBody};
use super::extract::{json_body, project_path};
use super::logging::every_job;
use crate::domain::log_search::{LogSearchPage, LogSearchRequest};
use crate::engine::Engine;
use crate::engine::log_search::{Needle, search_page};

/// How long one page searches before it answers what it found.
const PAGE_BUDGET: Duration = Duration::from_millis(200);
/// Matches per page when `maxMatches` is 0.
const DEFAULT_MATCHES: u32 = 200;

/// Searches the jobs' logs for a line of text.
#[utoipa::path(post, path = "/v1/projects/{project}/jobs:searchLogs", tag = "jobs", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    request_body = LogSearchRequest,
    responses(
        (status = 200, description = "The jobs searched in this page that matched", body = LogSearchPage),
        (status = 400, description = "An empty or too long query, too many lines of context or matches, or a page token not given by this search", body = ErrorBody),
        (status = 404, description = "A job named is not here", body = ErrorBody)))]
pub async fn search_logs(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<LogSearchPage>, ApiError> {
    project_path(path)?;
    let request: LogSearchRequest = json_body(body, "LogSearchRequest")?;
    request.check().map_err(ApiError::invalid)?;
    let needle = Needle::new(&request.query).map_err(ApiError::invalid)?;
    let max_matches = match request.max_matches {
        0 => DEFAULT_MATCHES,
        n => n,
    };
    let ids = if request.job_ids.is_empty() {
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || every_job(&engine))
            .await
            .map_err(|e| ApiError::internal(format!("listing jobs failed: {e}")))?
    } else {
        if let Some(missing) = request
            .job_ids
            .iter()
            .find(|id| engine.store().get(id).is_none())
        {
            return Err(ApiError::not_found(format!(
                "jobIds: there is no job named {missing:?}"
            )));
        }
        request.job_ids.clone()
    };
    let start = match request.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => resume_at(token, &ids).ok_or_else(|| {
            ApiError::invalid(format!(
                "pageToken {token:?} was not given by this search; pass nextPageToken from the previous page"
            ))
        })?,
    };
    let dirs: Vec<(String, std::path::PathBuf)> = ids
        .into_iter()
        .map(|id| {
            let dir = engine.job_state_dir(&id);
            (id, dir)
        })
        .collect();
    let context = request.context_lines as usize;
    let page = tokio::task::spawn_blocking(move || {
        let page = search_page(
            &dirs,
            start,
            &needle,
            max_matches as usize,
            context,
            PAGE_BUDGET,
        );
        LogSearchPage {
            jobs: page.jobs,
            searched_jobs: page.next as u64,
            total_jobs: dirs.len() as u64,
            next_page_token: dirs
                .get(page.next)
                .map(|(id, _)| format!("{}:{id}", page.next)),
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("searching the logs failed: {e}")))?;
    Ok(Json(page))
}

/// Where a page token says to go on: at its job (found again if jobs were added before
/// it since), else at its position.
fn resume_at(token: &str, ids: &[String]) -> Option<usize> {
    let (index, id) = token.split_once(':')?;
    let index: usize = index.parse().ok()?;
    if ids.get(index).is_some_and(|i| i == id) {
        return Some(index);
    }
    ids.iter()
        .position(|i| i == id)
        .or((index <= ids.len()).then_some(index))
}
