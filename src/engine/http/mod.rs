//! The engine's HTTP API: the Cloud ML Engine v1 dialect (see `DESIGN.md`), bearer-token
//! auth on everything but `/healthz`, and errors in Google's JSON shape. The router is
//! here; each resource's handlers are in a file of their own, sharing `error` (Google's
//! error shape) and `extract` (auth, project, query and body checks).

pub mod body;
pub mod constants;
pub mod error;
pub mod extract;
pub mod front;
pub mod jobs;
pub mod log_search;
pub mod logging;
pub mod models;
pub mod openapi;
pub mod operations;
pub mod server;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::StatusCode;
use axum::routing::{get, post};

pub use self::constants::{HEALTH_PATH, MAX_BODY, PROJECT};
use self::error::ApiError;
use self::models as m;
use super::Engine;

/// Serves the API on `listener` until the process ends.
pub async fn serve(engine: Arc<Engine>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let api = front::Api::new(engine.clone(), router(engine.clone()));
    server::serve(&engine, api, listener).await
}

/// Every route of the API. The bearer token is checked before the router sees a request
/// ([`front::Api`]), so the routes take it as given.
fn router(engine: Arc<Engine>) -> Router {
    let jobs = "/v1/projects/{project}/jobs";
    let models = "/v1/projects/{project}/models";
    let authed = Router::new()
        .route("/openapi.json", get(openapi::openapi_json))
        .route(jobs, post(jobs::create_job).get(jobs::list_jobs))
        .route(&format!("{jobs}:searchLogs"), post(log_search::search_logs))
        .route(
            &format!("{jobs}/{{job}}"),
            get(jobs::get_job).post(jobs::job_action),
        )
        .route(&format!("{jobs}/{{job}}/logs"), get(jobs::job_logs))
        .route(&format!("{jobs}/{{job}}/metrics"), get(jobs::job_metrics))
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
            get(operations::list_operations),
        )
        .route(
            "/v1/projects/{project}/operations/{operation}",
            get(operations::get_operation).post(operations::operation_action),
        )
        .route("/v1/projects/{project}/runtimes", get(m::list_runtimes))
        .route("/v1/projects/{project}/machine", get(m::machine))
        .route("/v2/entries:list", post(logging::list_entries));
    Router::new()
        .route(HEALTH_PATH, get(openapi::healthz))
        .merge(authed)
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(engine)
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
