//! The hot path of online prediction: `POST …/models/{m}:predict` and
//! `…/versions/{v}:predict` are recognised before axum's router and answered with the
//! same token check and the same handler, without the router's per-request layers
//! (on a tiny model those cost ~15% of the throughput). Every other request, and any
//! predict path that is not plainly spelled (escapes, odd characters), goes to the
//! router, which answers it in full.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use tower_service::Service;

use super::Engine;
use super::api::{MAX_BODY, authorize, check_project};
use super::models_api::{answer_prediction, unreadable_body};

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
        if request.method() == Method::POST
            && let Some(target) = PredictTarget::parse(request.uri().path())
        {
            let engine = self.engine.clone();
            return Box::pin(async move { Ok(predict(&engine, target, request).await) });
        }
        Box::pin(self.router.call(request))
    }
}

async fn predict(engine: &Engine, target: PredictTarget, request: Request) -> Response {
    if let Err(e) = authorize(engine, request.headers()) {
        return e.into_response();
    }
    let (head, body) = request.into_parts();
    let (project, model, version) = target.parts(head.uri.path());
    if let Err(e) = check_project(project) {
        return e.into_response();
    }
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => answer_prediction(engine, model, version, &body).await,
        Err(e) => unreadable_body(e).into_response(),
    }
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
