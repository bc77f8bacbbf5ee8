//! What every handler checks first: the bearer token, the `{project}` of the path, the
//! query parameters it takes, and a JSON body.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};

use super::constants::PROJECT;
use super::error::ApiError;
use crate::domain::filter::parse_time;
use crate::engine::Engine;

/// Query parameters as a handler receives them.
pub type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

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

/// The `pageSize` parameter, within `(default, max)`.
pub fn page_size(
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
