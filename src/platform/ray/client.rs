//! HTTP to a Ray cluster: the dashboard (Jobs, logs, nodes, Serve config, packages) and
//! the Serve proxy, with the token on every call and Ray's plain-text errors turned into
//! one readable line.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;

use crate::platform::PlatformError;

/// What Ray is told the client is: not a browser (Ray refuses changes from browsers).
pub(super) const USER_AGENT: &str = concat!("mlconsole/", env!("CARGO_PKG_VERSION"));

/// The dashboard and Serve proxy addresses, the token, and the HTTP client.
pub(super) struct RayHttp {
    pub dashboard: String,
    pub serve: String,
    pub token: Option<String>,
    http: reqwest::Client,
}

impl RayHttp {
    pub(super) fn new(dashboard: &str, serve: &str, token: Option<String>) -> RayHttp {
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        RayHttp {
            dashboard: dashboard.trim_end_matches('/').to_owned(),
            serve: serve.trim_end_matches('/').to_owned(),
            token,
            http,
        }
    }

    /// A request to the dashboard at `path` (which starts with `/`).
    pub(super) fn dashboard(&self, method: Method, path: &str) -> RequestBuilder {
        self.with_token(
            self.http
                .request(method, format!("{}{path}", self.dashboard)),
        )
    }

    /// A request to the Serve proxy at `path`.
    pub(super) fn serve(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.serve))
    }

    /// A request to an absolute URL (a metrics target).
    pub(super) fn absolute(&self, url: &str) -> RequestBuilder {
        self.http.get(url).timeout(Duration::from_secs(10))
    }

    fn with_token(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends and reads the whole answer; a failure status becomes a [`PlatformError`].
    pub(super) async fn send(
        &self,
        request: RequestBuilder,
    ) -> Result<bytes::Bytes, PlatformError> {
        let (status, body) = self.send_any(request).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(error_of(status, &body))
        }
    }

    /// Sends and reads the answer whatever its status.
    pub(super) async fn send_any(
        &self,
        request: RequestBuilder,
    ) -> Result<(StatusCode, bytes::Bytes), PlatformError> {
        let response = request
            .send()
            .await
            .map_err(|e| PlatformError::Unreachable {
                address: format!("the Ray cluster at {}", self.dashboard),
                detail: network_detail(&e),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| PlatformError::Protocol(e.to_string()))?;
        Ok((status, body))
    }

    /// Sends and parses a JSON answer.
    pub(super) async fn json<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
    ) -> Result<T, PlatformError> {
        let body = self.send(request).await?;
        serde_json::from_slice(&body).map_err(|e| {
            PlatformError::Protocol(format!(
                "{e} in {}",
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ))
        })
    }
}

fn network_detail(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// The line of a Ray error body that says what went wrong: the last line of a Python
/// traceback, or the whole text when short.
pub(super) fn readable_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .map(str::trim)
        .rev()
        .find(|l| l.chars().any(char::is_alphanumeric) && !l.starts_with("During handling"))
        .unwrap_or("")
        .to_owned();
    let line = line
        .strip_prefix("Traceback (most recent call last):")
        .unwrap_or(&line);
    let line: String = line.chars().take(400).collect();
    if line.is_empty() {
        "no message".into()
    } else {
        line
    }
}

/// A platform error for a failed answer from the dashboard.
pub(super) fn error_of(status: StatusCode, body: &[u8]) -> PlatformError {
    let line = readable_line(body);
    match status {
        StatusCode::UNAUTHORIZED => PlatformError::Unauthenticated(format!(
            "the Ray cluster wants a token ({line}); give it in the connection (`ray get-auth-token`)"
        )),
        StatusCode::FORBIDDEN => PlatformError::Unauthenticated(format!(
            "the Ray cluster refused the token ({line}); edit the connection and give the current one"
        )),
        StatusCode::NOT_FOUND => PlatformError::NotFound(line),
        StatusCode::BAD_REQUEST => PlatformError::Rejected {
            status: "INVALID_ARGUMENT".into(),
            message: line,
        },
        _ if line.contains("already exists") => PlatformError::Rejected {
            status: "ALREADY_EXISTS".into(),
            message: line,
        },
        _ if line.contains("non-terminal state") => PlatformError::Rejected {
            status: "FAILED_PRECONDITION".into(),
            message: line,
        },
        _ if line.contains("ClientConnectorError") || line.contains("Cannot connect to host") => {
            PlatformError::Server(format!(
                "a node or its agent of the Ray cluster is down ({line}); retry when it is back"
            ))
        }
        s if s.is_server_error() => PlatformError::Server(line),
        _ => PlatformError::Rejected {
            status: status.as_str().to_owned(),
            message: line,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracebacks_become_their_last_line() {
        let body = b"Traceback (most recent call last):\n  File \"x.py\", line 3, in f\n    raise ValueError(...)\nValueError: Job with submission_id a already exists. Please use a different submission_id.\n.\n";
        let e = error_of(StatusCode::INTERNAL_SERVER_ERROR, body);
        assert!(
            matches!(&e, PlatformError::Rejected { status, message } if status == "ALREADY_EXISTS" && message.starts_with("ValueError: Job with")),
            "{e:?}"
        );
        let e = error_of(
            StatusCode::UNAUTHORIZED,
            b"Unauthorized: Missing authentication token",
        );
        assert!(
            matches!(e, PlatformError::Unauthenticated(m) if m.contains("Missing authentication token"))
        );
        let e = error_of(StatusCode::NOT_FOUND, b"Job nope does not exist");
        assert_eq!(e, PlatformError::NotFound("Job nope does not exist".into()));
        assert_eq!(readable_line(b"\n\n"), "no message");
    }
}
