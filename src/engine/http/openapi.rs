//! The engine's OpenAPI 3 description, generated from the handlers and types.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{api, logging_api, models_api, operations};
use crate::domain;

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
        api::healthz,
        api::openapi_json,
        api::create_job,
        api::list_jobs,
        api::get_job,
        api::job_action,
        api::job_logs,
        api::job_metrics,
        models_api::create_model,
        models_api::list_models,
        models_api::get_model,
        models_api::delete_model,
        models_api::model_action,
        models_api::create_version,
        models_api::list_versions,
        models_api::get_version,
        models_api::delete_version,
        models_api::version_action,
        models_api::version_metrics,
        models_api::list_runtimes,
        operations::get_operation,
        operations::list_operations,
        operations::operation_action,
        logging_api::list_entries,
    ),
    components(schemas(
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
        api::ErrorBody,
        api::ErrorStatus,
        operations::Operation,
        operations::OperationMetadata,
        operations::OperationError,
        operations::OperationPage,
        logging_api::ListLogEntriesRequest,
        logging_api::ListLogEntriesResponse,
        logging_api::LoggingEntry,
        logging_api::MonitoredResource,
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
