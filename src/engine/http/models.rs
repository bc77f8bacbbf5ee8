//! The API of models, versions and online prediction (`projects.models` of Cloud ML
//! Engine v1).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::constants::MAX_BODY;
use super::error::{ApiError, ErrorBody};
use super::extract::{Params, check_project, json_body, project_path, query, since_param};
use crate::domain::{Model, ModelPage, ServingMetrics, ServingRuntimes, Version, VersionPage};
use crate::engine::Engine;
use crate::engine::operations::Operation;
use crate::engine::registry::ModelError;
use crate::engine::serving::PredictError;

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> ApiError {
        let message = e.to_string();
        match e {
            ModelError::InvalidArgument(_) => ApiError::invalid(message),
            ModelError::NotFound(_) => ApiError::not_found(message),
            ModelError::AlreadyExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "ALREADY_EXISTS", message)
            }
            ModelError::FailedPrecondition(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "FAILED_PRECONDITION", message)
            }
            ModelError::Storage(_) => ApiError::internal(message),
        }
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;
type ModelPath = Result<Path<(String, String)>, PathRejection>;
type VersionPath = Result<Path<(String, String, String)>, PathRejection>;

fn model_path(path: ModelPath) -> Result<String, ApiError> {
    let Path((project, model)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)?;
    Ok(model)
}

fn version_path(path: VersionPath) -> Result<(String, String), ApiError> {
    let Path((project, model, version)) = path.map_err(|e| ApiError::invalid(e.body_text()))?;
    check_project(&project)?;
    Ok((model, version))
}

/// Creates a model: a named group of versions.
#[utoipa::path(post, path = "/v1/projects/{project}/models", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    request_body = Model,
    responses(
        (status = 200, description = "The new model", body = Model),
        (status = 400, description = "Malformed model", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn create_model(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Model> {
    project_path(path)?;
    let model: Model = json_body(body, "Model")?;
    Ok(Json(engine.registry().create_model(model)?))
}

/// Lists every model, by name, each with its default version.
#[utoipa::path(get, path = "/v1/projects/{project}/models", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    responses((status = 200, description = "Every model", body = ModelPage)))]
pub async fn list_models(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
    params: Params,
) -> ApiResult<ModelPage> {
    project_path(path)?;
    query(params, &["pageSize", "pageToken"])?;
    Ok(Json(ModelPage {
        models: engine.registry().list_models(),
        next_page_token: None,
    }))
}

/// Gets a model.
#[utoipa::path(get, path = "/v1/projects/{project}/models/{model}", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name")),
    responses((status = 200, description = "The model", body = Model), (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn get_model(State(engine): State<Arc<Engine>>, path: ModelPath) -> ApiResult<Model> {
    let model = model_path(path)?;
    Ok(Json(engine.registry().get_model(&model)?))
}

/// The runtimes the engine serves models with (ONNX Runtime: its version and library),
/// and how to get ONNX Runtime when it is missing.
#[utoipa::path(get, path = "/v1/projects/{project}/runtimes", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    responses((status = 200, description = "The runtimes, the default first", body = ServingRuntimes)))]
pub async fn list_runtimes(
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<ServingRuntimes> {
    project_path(path)?;
    Ok(Json(crate::engine::runtime::serving_runtimes()))
}

/// The engine's machine: its cores, GPUs (and how many jobs hold), CPU load and memory,
/// for the console's status strip.
#[utoipa::path(get, path = "/v1/projects/{project}/machine", tag = "jobs", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`")),
    responses((status = 200, description = "The machine's size and load", body = crate::domain::ClusterSummary)))]
pub async fn machine(
    State(engine): State<Arc<Engine>>,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<crate::domain::ClusterSummary> {
    project_path(path)?;
    let engine = engine.clone();
    let summary = tokio::task::spawn_blocking(move || engine.machine_summary())
        .await
        .unwrap_or_default();
    Ok(Json(summary))
}

/// Deletes a model that has no versions; answers the (finished) operation.
#[utoipa::path(delete, path = "/v1/projects/{project}/models/{model}", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The delete's operation, done", body = Operation),
        (status = 400, description = "The model still has versions", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn delete_model(
    State(engine): State<Arc<Engine>>,
    path: ModelPath,
) -> ApiResult<Operation> {
    let model = model_path(path)?;
    let deleted = engine.registry().delete_model(&model)?;
    Ok(Json(engine.operations().deleted(
        "DELETE_MODEL",
        deleted.short_name(),
        None,
    )))
}

/// Online prediction with the model's default version: `POST …/models/{model}:predict`.
#[utoipa::path(post, path = "/v1/projects/{project}/models/{model}:predict", tag = "prediction", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name")),
    request_body(content = serde_json::Value, description = "`{\"instances\": [...]}`: number arrays, or objects keyed by input name; `{\"b64\": \"...\"}` for bytes"),
    responses(
        (status = 200, description = "`{\"predictions\": [...]}`, one per instance", body = serde_json::Value),
        (status = 400, description = "A bad instance, named by its index", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn model_action(
    State(engine): State<Arc<Engine>>,
    path: ModelPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let target = match model_path(path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match target.rsplit_once(':') {
        Some((model, "predict")) => predict(&engine, model, None, body).await,
        _ => ApiError::not_found(format!(
            "no such model action: POST …/models/{target}; the action is POST …/models/{{model}}:predict"
        ))
        .into_response(),
    }
}

async fn predict(
    engine: &Engine,
    model: &str,
    version: Option<&str>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match body {
        Ok(body) => answer_prediction(engine, model, version, &body).await,
        Err(e) => unreadable_body(e.body_text()).into_response(),
    }
}

/// The answer when a prediction body could not be read (too large, or cut off).
pub fn unreadable_body(e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid(format!(
        "the request body could not be read (at most {} MiB): {e}",
        MAX_BODY >> 20
    ))
}

/// Answers a prediction request for `model` (its default version, or `version`).
pub async fn answer_prediction(
    engine: &Engine,
    model: &str,
    version: Option<&str>,
    body: &[u8],
) -> Response {
    let serving = match engine.registry().serving(model, version) {
        Ok(s) => s,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match serving.predict(body).await {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(PredictError::BadRequest(m)) => ApiError::invalid(m).into_response(),
        Err(PredictError::Failed(m)) => ApiError::internal(m).into_response(),
    }
}

/// Creates a version from `deploymentUri` (a `model.onnx` file or a folder holding one).
/// Answers the version CREATING; it turns READY or FAILED once loaded.
#[utoipa::path(post, path = "/v1/projects/{project}/models/{model}/versions", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name")),
    request_body = Version,
    responses(
        (status = 200, description = "The creation's operation: done once the version is READY (its response) or FAILED (its error)", body = Operation),
        (status = 400, description = "Malformed version or missing artifact", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)))]
pub async fn create_version(
    State(engine): State<Arc<Engine>>,
    path: ModelPath,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Operation> {
    let model = model_path(path)?;
    let version: Version = json_body(body, "Version")?;
    let staged = engine.stage_artifact(&version.deployment_uri).await?;
    let created = engine.create_version(&model, version, staged)?;
    Ok(Json(engine.operations().creation(&model, &created)))
}

/// Lists a model's versions.
#[utoipa::path(get, path = "/v1/projects/{project}/models/{model}/versions", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name")),
    responses((status = 200, description = "The versions", body = VersionPage), (status = 404, description = "No such model", body = ErrorBody)))]
pub async fn list_versions(
    State(engine): State<Arc<Engine>>,
    path: ModelPath,
    params: Params,
) -> ApiResult<VersionPage> {
    let model = model_path(path)?;
    query(params, &["pageSize", "pageToken"])?;
    Ok(Json(VersionPage {
        versions: engine.registry().list_versions(&model)?,
        next_page_token: None,
    }))
}

/// Gets a version.
#[utoipa::path(get, path = "/v1/projects/{project}/models/{model}/versions/{version}", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version name")),
    responses((status = 200, description = "The version", body = Version), (status = 404, description = "No such version", body = ErrorBody)))]
pub async fn get_version(
    State(engine): State<Arc<Engine>>,
    path: VersionPath,
) -> ApiResult<Version> {
    let (model, version) = version_path(path)?;
    Ok(Json(engine.registry().get_version(&model, &version)?))
}

/// Deletes a version; the default one only when it is the model's last.
#[utoipa::path(delete, path = "/v1/projects/{project}/models/{model}/versions/{version}", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version name")),
    responses(
        (status = 200, description = "The delete's operation, done", body = Operation),
        (status = 400, description = "It is the default and the model has others", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody)))]
pub async fn delete_version(
    State(engine): State<Arc<Engine>>,
    path: VersionPath,
) -> ApiResult<Operation> {
    let (model, version) = version_path(path)?;
    let deleted = engine.registry().delete_version(&model, &version)?;
    Ok(Json(engine.operations().deleted(
        "DELETE_VERSION",
        &model,
        Some(deleted),
    )))
}

/// `…/versions/{version}:setDefault` makes a READY version the default, at once;
/// `…/versions/{version}:predict` predicts with that very version.
#[utoipa::path(post, path = "/v1/projects/{project}/models/{model}/versions/{version}:setDefault", tag = "models", security(("bearer" = [])),
    params(("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version name, then `:setDefault` or `:predict`")),
    responses(
        (status = 200, description = "The version, now the default (or predictions, for `:predict`)", body = Version),
        (status = 400, description = "The version is not READY, or a bad instance", body = ErrorBody),
        (status = 404, description = "No such version", body = ErrorBody)))]
pub async fn version_action(
    State(engine): State<Arc<Engine>>,
    path: VersionPath,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (model, target) = match version_path(path) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match target.rsplit_once(':') {
        Some((version, "predict")) => predict(&engine, &model, Some(version), body).await,
        Some((version, "setDefault")) => match engine.registry().set_default(&model, version) {
            Ok(v) => Json(v).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        },
        _ => ApiError::not_found(format!(
            "no such version action: POST …/versions/{target}; the actions are :setDefault and :predict"
        ))
        .into_response(),
    }
}

/// A version's serving metrics: totals, and per second requests, errors, latency p50 and
/// p99, and replicas (the last hour).
#[utoipa::path(get, path = "/v1/projects/{project}/models/{model}/versions/{version}/metrics", tag = "models", security(("bearer" = [])),
    params(
        ("project" = String, Path, description = "Always `local`"), ("model" = String, Path, description = "Model name"), ("version" = String, Path, description = "Version name"),
        ("since" = Option<String>, Query, description = "Only samples after this time (RFC 3339)")),
    responses((status = 200, description = "Serving metrics", body = ServingMetrics), (status = 404, description = "No such version", body = ErrorBody)))]
pub async fn version_metrics(
    State(engine): State<Arc<Engine>>,
    path: VersionPath,
    params: Params,
) -> ApiResult<ServingMetrics> {
    let (model, version) = version_path(path)?;
    let params = query(params, &["since"])?;
    let since = since_param(&params)?;
    Ok(Json(engine.registry().metrics(&model, &version, since)?))
}
