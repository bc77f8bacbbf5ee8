//! The operations resource: long-running version changes, as gcloud waits on them.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde_json::Value;

use super::error::{ApiError, ErrorBody};
use super::extract::{Params, check_project, project_path, query};
use crate::engine::Engine;
use crate::engine::operations::{Operation, OperationPage};

type OperationPath = Result<Path<(String, String)>, PathRejection>;

fn operation_path(path: OperationPath) -> Result<String, ApiError> {
    let Path((project, id)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)?;
    Ok(id)
}

/// Gets a long-running operation.
#[utoipa::path(get, path = "/v1/projects/{project}/operations/{operation}", tag = "operations", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("operation" = String, Path, description = "The operation's id")),
    responses((status = 200, description = "The operation as it is now", body = Operation), (status = 404, description = "No such operation", body = ErrorBody)))]
pub async fn get_operation(
    State(engine): State<Arc<Engine>>,
    path: OperationPath,
    params: Params,
) -> Result<Json<Operation>, ApiError> {
    let id = operation_path(path)?;
    query(params, &[])?;
    Ok(Json(engine.operations().get(&engine, &id)?))
}

/// Lists operations, newest first (`filter` takes `done=true` or `done=false`).
#[utoipa::path(get, path = "/v1/projects/{project}/operations", tag = "operations", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    responses((status = 200, description = "The operations", body = OperationPage)))]
pub async fn list_operations(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> Result<Json<OperationPage>, ApiError> {
    project_path(path)?;
    let params = query(params, &["filter", "pageSize", "pageToken"])?;
    let done = match params.get("filter").map(|f| f.replace(' ', "")) {
        None => None,
        Some(f) if f.is_empty() => None,
        Some(f) if f == "done=true" => Some(true),
        Some(f) if f == "done=false" => Some(false),
        Some(f) => {
            return Err(ApiError::invalid(format!(
                "filter {f:?}: operations filter on done=true or done=false"
            )));
        }
    };
    let operations = engine
        .operations()
        .list(&engine)
        .into_iter()
        .filter(|op| done.is_none_or(|d| op.done == d))
        .collect();
    Ok(Json(OperationPage {
        operations,
        next_page_token: None,
    }))
}

/// Cancels an operation: `POST …/operations/{operation}:cancel`.
#[utoipa::path(post, path = "/v1/projects/{project}/operations/{operation}:cancel", tag = "operations", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("operation" = String, Path, description = "The operation's id")),
    responses((status = 200, description = "Cancelled (or already done)", body = serde_json::Value), (status = 404, description = "No such operation", body = ErrorBody)))]
pub async fn operation_action(
    State(engine): State<Arc<Engine>>,
    path: OperationPath,
    params: Params,
) -> Result<Json<Value>, ApiError> {
    let target = operation_path(path)?;
    query(params, &[])?;
    match target.rsplit_once(':') {
        Some((id, "cancel")) => {
            engine.operations().cancel(&engine, id)?;
            Ok(Json(serde_json::json!({})))
        }
        _ => Err(ApiError::not_found(format!(
            "no such operation action: POST …/operations/{target}; the action is :cancel"
        ))),
    }
}
