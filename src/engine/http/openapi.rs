//! The engine's own routes: the health check, and its OpenAPI 3 description generated
//! from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use axum::Json;

use super::{error, jobs, log_search, logging, models, operations};
use crate::domain;
use crate::engine::operations as ops;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mlconsole local engine",
        description = "Training jobs, logs, resource samples, models, versions and online prediction in the Cloud ML Engine v1 dialect, \
            long-running operations, and a subset of Cloud Logging v2 (entries:list) over the jobs' logs. \
            Google's system parameters (alt=json, prettyPrint, fields, $.xgafv, quotaUser, key) are taken on every call. \
            Every call but /healthz needs 'Authorization: Bearer <token>' (the token is in the \
            engine's data directory). Errors use Google's JSON shape."
    ),
    paths(
        healthz,
        openapi_json,
        jobs::create_job,
        jobs::list_jobs,
        jobs::get_job,
        jobs::job_action,
        jobs::job_logs,
        jobs::job_metrics,
        models::create_model,
        models::list_models,
        models::get_model,
        models::delete_model,
        models::model_action,
        models::create_version,
        models::list_versions,
        models::get_version,
        models::delete_version,
        models::version_action,
        models::version_metrics,
        models::list_runtimes,
        models::machine,
        operations::get_operation,
        operations::list_operations,
        operations::operation_action,
        logging::list_entries,
        log_search::search_logs,
    ),
    components(schemas(
        domain::log_search::LogSearchRequest,
        domain::log_search::LogSearchPage,
        domain::log_search::JobMatches,
        domain::log_search::LogMatch,
        domain::Job,
        domain::JobState,
        domain::TrainingInput,
        domain::EntrypointResources,
        domain::ReplicaConfig,
        domain::AcceleratorConfig,
        domain::EndpointTraffic,
        domain::PredictionInput,
        domain::Invocation,
        domain::JobPage,
        domain::LogEntry,
        domain::LogPage,
        domain::Severity,
        domain::LogStream,
        domain::ResourceSample,
        domain::ReplicaSeries,
        domain::MetricsPage,
        domain::Model,
        domain::ModelPage,
        domain::Version,
        domain::VersionPage,
        domain::VersionState,
        domain::AutoScaling,
        domain::ManualScaling,
        domain::TensorSpec,
        domain::DefaultChange,
        domain::ServingMetrics,
        domain::ServingSample,
        domain::ServingRuntime,
        domain::ServingRuntimes,
        error::ErrorBody,
        error::ErrorStatus,
        ops::Operation,
        ops::OperationMetadata,
        ops::OperationError,
        ops::OperationPage,
        logging::ListLogEntriesRequest,
        logging::ListLogEntriesResponse,
        logging::LoggingEntry,
        logging::MonitoredResource,
    )),
    modifiers(&BearerToken)
)]
struct EngineApi;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document of the engine's API.
pub fn document() -> utoipa::openapi::OpenApi {
    EngineApi::openapi()
}

/// Health check; needs no token.
#[utoipa::path(get, path = "/healthz", tag = "engine",
    responses((status = 200, description = "The engine is up", body = serde_json::Value)))]
pub async fn healthz() -> Json<serde_json::Value> {
    let runtimes: Vec<String> = crate::engine::runtime::serving_runtimes()
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
    Json(document())
}
