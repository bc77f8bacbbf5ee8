//! The engine's HTTP service. The hot path of online prediction, `POST …/models/{m}:predict`
//! and `…/versions/{v}:predict` without a query, is recognised before axum's router and
//! answered with the same token check and the same handler, without the router's
//! per-request layers (on a tiny model those cost ~15% of the throughput). Every other
//! request, and any predict path that is not plainly spelled (escapes, odd characters),
//! goes to the router, with Google's system parameters taken off its query and honoured
//! on its answer ([`super::system_params`]).
//!
//! The bearer token is checked first, from the headers alone: nothing of a caller
//! without it is parsed or kept. Its body is read and thrown away (up to the size limit,
//! within the body timeout) before the 401 is sent, and an accepted request's body is read
//! in full before anything is answered: a client that reuses its connection (httplib2,
//! which Google's Python client uses) would otherwise lose the connection, and its next
//! request, when an early answer closed it while the body was still being sent.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_service::Service;

use super::body::{self, BodyError};
use super::constants::{HEALTH_PATH, MAX_BODY};
use super::error::ApiError;
use super::extract::{authorize, check_project};
use super::models::{answer_prediction, unreadable_body};
use crate::engine::{Engine, system_params};

/// The engine's HTTP service: the predict fast path in front of the router.
#[derive(Clone)]
pub struct Api {
    engine: Arc<Engine>,
    router: Router,
}

impl Api {
    /// Serves `router`, taking predictions for `engine` first.
    pub fn new(engine: Arc<Engine>, router: Router) -> Api {
        Api { engine, router }
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl Service<Request> for Api {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Answer {
        if request.uri().path() != HEALTH_PATH
            && let Err(refusal) = authorize(&self.engine, request.headers())
        {
            let engine = self.engine.clone();
            return Box::pin(
                async move { Ok(refuse(&engine, request.into_body(), refusal).await) },
            );
        }
        if request.method() == Method::POST
            && request.uri().query().is_none()
            && let Some(target) = PredictTarget::parse(request.uri().path())
        {
            let engine = self.engine.clone();
            return Box::pin(async move { Ok(predict(&engine, target, request).await) });
        }
        let (engine, router) = (self.engine.clone(), self.router.clone());
        Box::pin(async move { Ok(route(&engine, router, request).await) })
    }
}

/// The answer to a request without the right token, once its body has been drained.
async fn refuse(engine: &Engine, body: Body, refusal: ApiError) -> Response {
    let limits = &engine.config().http;
    let answer = refusal.into_response();
    if body::drain_body(body, MAX_BODY, limits.body_timeout).await {
        answer
    } else {
        body::closing(answer)
    }
}

/// The whole body, or the answer to give when it cannot be read (the connection is
/// then closed: what is left of the body is not read).
async fn read_body(engine: &Engine, body: Body) -> Result<bytes::Bytes, Response> {
    let timeout = engine.config().http.body_timeout;
    body::read_body(body, MAX_BODY, timeout).await.map_err(|e| {
        let answer = match e {
            BodyError::TooSlow(limit) => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "DEADLINE_EXCEEDED",
                format!(
                    "the request body did not arrive within {} s; send it at once",
                    limit.as_secs()
                ),
            ),
            BodyError::Unreadable(e) => unreadable_body(e),
        };
        body::closing(answer.into_response())
    })
}

async fn predict(engine: &Engine, target: PredictTarget, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let body = match read_body(engine, body).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let (project, model, version) = target.parts(head.uri.path());
    if let Err(e) = check_project(project) {
        return e.into_response();
    }
    answer_prediction(engine, model, version, &body).await
}

/// Any other call: through the router, without Google's system parameters, its answer
/// shaped as they ask.
async fn route(engine: &Engine, mut router: Router, request: Request) -> Response {
    let (mut head, body) = request.into_parts();
    let body = if head.uri.path() == HEALTH_PATH {
        // Open to callers without the token: whatever they send along is not kept.
        let limits = &engine.config().http;
        if !body::drain_body(body, MAX_BODY, limits.body_timeout).await {
            let refusal = unreadable_body("the health check takes no body");
            return body::closing(refusal.into_response());
        }
        bytes::Bytes::new()
    } else {
        match read_body(engine, body).await {
            Ok(body) => body,
            Err(answer) => return answer,
        }
    };
    let asked = match system_params::take(&head.uri) {
        Ok((uri, asked)) => {
            head.uri = uri;
            asked
        }
        Err(e) => return e.into_response(),
    };
    let answer = match router
        .call(Request::from_parts(head, Body::from(body)))
        .await
    {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    system_params::shape(answer, &asked).await
}

/// Where a plainly spelled predict path puts its names, as byte ranges of the path.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PredictTarget {
    project: (usize, usize),
    model: (usize, usize),
    version: Option<(usize, usize)>,
}

impl PredictTarget {
    /// `/v1/projects/{p}/models/{m}:predict` or `…/models/{m}/versions/{v}:predict`
    /// with names of letters, digits, `_`, `-` and `.` only.
    fn parse(path: &str) -> Option<PredictTarget> {
        let rest = path
            .strip_prefix("/v1/projects/")?
            .strip_suffix(":predict")?;
        let mut parts = rest.split('/');
        let project = parts.next()?;
        let (Some("models"), Some(model)) = (parts.next(), parts.next()) else {
            return None;
        };
        let version = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => None,
            (Some("versions"), Some(version), None) => Some(version),
            _ => return None,
        };
        let plain = |name: &str| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        };
        if !plain(project) || !plain(model) || !version.is_none_or(plain) {
            return None;
        }
        let range = |name: &str| {
            let start = name.as_ptr() as usize - path.as_ptr() as usize;
            (start, start + name.len())
        };
        Some(PredictTarget {
            project: range(project),
            model: range(model),
            version: version.map(range),
        })
    }

    /// Project, model and version, read back from the path that was parsed.
    fn parts<'a>(&self, path: &'a str) -> (&'a str, &'a str, Option<&'a str>) {
        let get = |(a, b): (usize, usize)| path.get(a..b).unwrap_or_default();
        (get(self.project), get(self.model), self.version.map(get))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(path: &str) -> Option<(&str, &str, Option<&str>)> {
        PredictTarget::parse(path).map(|t| t.parts(path))
    }

    #[test]
    fn recognises_plain_predict_paths_only() {
        assert_eq!(
            parts("/v1/projects/local/models/iris:predict"),
            Some(("local", "iris", None))
        );
        assert_eq!(
            parts("/v1/projects/local/models/iris/versions/v_2:predict"),
            Some(("local", "iris", Some("v_2")))
        );
        assert_eq!(
            parts("/v1/projects/other/models/iris:predict"),
            Some(("other", "iris", None))
        );
        for other in [
            "/v1/projects/local/models/iris",
            "/v1/projects/local/models/iris:setDefault",
            "/v1/projects/local/models/ir%69s:predict",
            "/v1/projects/local/models/:predict",
            "/v1/projects/local/models/iris/versions:predict",
            "/v1/projects/local/models/iris/versions/v1/x:predict",
            "/v1/projects/local/jobs/iris:predict",
            "/v1/projects//models/iris:predict",
            "/v2/projects/local/models/iris:predict",
        ] {
            assert_eq!(parts(other), None, "{other}");
        }
    }
}
