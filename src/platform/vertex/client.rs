//! Authenticated JSON calls to Vertex AI, Cloud Logging and Cloud Monitoring, with
//! Google's error envelope turned into [`PlatformError`]s, a fresh token after a 401 and
//! backing off on 429 and 503.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::auth::TokenSource;
use crate::platform::PlatformError;

/// Attempts of one call when the API answers 429, 500 or 503.
const ATTEMPTS: u32 = 4;

/// How one send of a call turned out.
enum SendOutcome {
    Answered {
        status: StatusCode,
        text: String,
        retry_after: Option<Duration>,
    },
    /// No connection was made: nothing reached the API.
    Unreached(String),
    /// The call may have reached the API, but no whole answer came back.
    Unanswered(String),
}

/// What a call came back with: the answer's text, or what an unanswered create made.
enum Reply<T> {
    Text(String),
    Made(T),
}

/// The three Google APIs of one connection and its credentials.
pub(super) struct VertexHttp {
    client: reqwest::Client,
    /// E.g. `https://us-central1-aiplatform.googleapis.com`.
    pub aiplatform: String,
    /// E.g. `https://logging.googleapis.com`.
    pub logging: String,
    /// E.g. `https://monitoring.googleapis.com`.
    pub monitoring: String,
    pub project: String,
    pub region: String,
    /// Where tokens come from.
    pub tokens: std::sync::Arc<TokenSource>,
    /// How long to wait before the first retry (doubling after).
    pub first_backoff: Duration,
}

impl VertexHttp {
    /// Google's hosts for `region`, or `api_endpoint` for all three APIs.
    pub fn new(
        project: &str,
        region: &str,
        api_endpoint: Option<&str>,
        tokens: TokenSource,
    ) -> VertexHttp {
        let (aiplatform, logging, monitoring) = match api_endpoint {
            Some(base) => {
                let base = base.trim_end_matches('/').to_owned();
                (base.clone(), base.clone(), base)
            }
            None => (
                format!("https://{region}-aiplatform.googleapis.com"),
                "https://logging.googleapis.com".into(),
                "https://monitoring.googleapis.com".into(),
            ),
        };
        VertexHttp {
            client: client(Duration::from_secs(60)),
            aiplatform,
            logging,
            monitoring,
            project: project.to_owned(),
            region: region.to_owned(),
            tokens: std::sync::Arc::new(tokens),
            first_backoff: Duration::from_secs(1),
        }
    }

    /// Gives up on a call's answer after `timeout` (60 s unless changed).
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.client = client(timeout);
    }

    /// `projects/P/locations/R`.
    pub fn parent(&self) -> String {
        format!("projects/{}/locations/{}", self.project, self.region)
    }

    /// `{aiplatform}/v1/{name}` for a resource name or collection.
    pub fn ai(&self, name: &str) -> String {
        format!("{}/v1/{name}", self.aiplatform)
    }

    /// Sends a call and parses its JSON answer; `what` names it in messages, e.g.
    /// "list custom jobs".
    pub async fn call<T: DeserializeOwned>(
        &self,
        what: &str,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<T, PlatformError> {
        let text = self.call_text(what, method, url, query, body).await?;
        let text = if text.trim().is_empty() { "{}" } else { &text };
        serde_json::from_str(text).map_err(|e| PlatformError::Protocol(format!("{what}: {e}")))
    }

    /// Every page of a list call, with a server-side `filter` when given; `field` is the
    /// list's key in each page.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        what: &str,
        url: &str,
        field: &str,
        filter: Option<&str>,
    ) -> Result<Vec<T>, PlatformError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("pageSize", "100".to_owned())];
            if let Some(f) = filter {
                query.push(("filter", f.to_owned()));
            }
            if let Some(t) = &token {
                query.push(("pageToken", t.clone()));
            }
            let mut page: serde_json::Value = self
                .call(what, Method::GET, url, &query, None::<&()>)
                .await?;
            if let Some(list) = page.get_mut(field).map(serde_json::Value::take) {
                let list: Vec<T> = serde_json::from_value(list)
                    .map_err(|e| PlatformError::Protocol(format!("{what}: {e}")))?;
                items.extend(list);
            }
            match page
                .get("nextPageToken")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            {
                Some(next) => token = Some(next.to_owned()),
                None => return Ok(items),
            }
        }
    }

    /// Sends a call; answers the body of a 2xx response. A call that may have reached
    /// the API without an answer (a timeout, a 500, a 503) is sent again: for reads and
    /// for changes that come out the same when made twice. A call that creates
    /// something goes through [`VertexHttp::create`] instead.
    pub async fn call_text(
        &self,
        what: &str,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<String, PlatformError> {
        let unsure = |_: String| async { Ok(None::<std::convert::Infallible>) };
        match self.send(what, method, url, query, body, unsure).await? {
            Reply::Text(text) => Ok(text),
            Reply::Made(never) => match never {},
        }
    }

    /// POSTs a call that creates something billable (a job, an upload, a deployment).
    /// It is never sent twice blindly: when it may have gone through without an answer
    /// (a timeout, a 500 or 503), `find` looks for what it would have made (by a label
    /// the caller set) and that is answered; only when nothing was made is it sent
    /// again. Refusals that come before anything is made (no connection, 401, 429) are
    /// retried as other calls are.
    pub async fn create<T, F, Fut>(
        &self,
        what: &str,
        url: &str,
        body: &(impl Serialize + Sync),
        find: F,
    ) -> Result<T, PlatformError>
    where
        T: DeserializeOwned,
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, PlatformError>>,
    {
        let unsure = |why: String| self.look_for(what, &find, why);
        match self
            .send(what, Method::POST, url, &[], Some(body), unsure)
            .await?
        {
            Reply::Made(made) => Ok(made),
            Reply::Text(text) => {
                let text = if text.trim().is_empty() { "{}" } else { &text };
                serde_json::from_str(text)
                    .map_err(|e| PlatformError::Protocol(format!("{what}: {e}")))
            }
        }
    }

    /// Sends a call, retrying what is safe to retry: no connection, a 401 once with a
    /// fresh token, 429 after the asked wait. When the call may have gone through
    /// without an answer (a timeout, a cut-off answer, a 500 or 503), `unsure` says
    /// whether it made something (then that is answered) before it is sent again.
    async fn send<T, F, Fut>(
        &self,
        what: &str,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + Sync)>,
        unsure: F,
    ) -> Result<Reply<T>, PlatformError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, PlatformError>>,
    {
        let mut backoff = self.first_backoff;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (status, text, retry_after) = match self
                .send_once(method.clone(), url, query, body)
                .await?
            {
                SendOutcome::Answered {
                    status,
                    text,
                    retry_after,
                } => (status, text, retry_after),
                SendOutcome::Unreached(e) | SendOutcome::Unanswered(e) if attempt >= ATTEMPTS => {
                    return Err(PlatformError::Unreachable {
                        address: host_of(url),
                        detail: e,
                    });
                }
                SendOutcome::Unreached(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
                SendOutcome::Unanswered(e) => {
                    if let Some(made) = unsure(e).await? {
                        return Ok(Reply::Made(made));
                    }
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            };
            if status.is_success() {
                return Ok(Reply::Text(text));
            }
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                // The token may have expired or been revoked since it was cached.
                refreshed = true;
                self.tokens.refused().await;
                continue;
            }
            let maybe_made = matches!(status.as_u16(), 500 | 503);
            if maybe_made && let Some(made) = unsure(format!("HTTP {status}")).await? {
                return Ok(Reply::Made(made));
            }
            if (maybe_made || status.as_u16() == 429) && attempt < ATTEMPTS {
                tokio::time::sleep(retry_after.unwrap_or(backoff).min(Duration::from_secs(30)))
                    .await;
                backoff *= 2;
                continue;
            }
            return Err(self.error(what, status, &text));
        }
    }

    /// What an unanswered create made, if anything; when that cannot be told, an error
    /// that says the call may have gone through (rather than risk making it twice).
    async fn look_for<T, F, Fut>(
        &self,
        what: &str,
        find: &F,
        why: String,
    ) -> Result<Option<T>, PlatformError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, PlatformError>>,
    {
        tracing::warn!(
            "{what}: no answer ({why}); looking for what it made before sending it again"
        );
        find().await.map_err(|e| {
            PlatformError::Server(format!(
                "{what} got no answer ({why}) and whether it went through cannot be told ({e}); look in the list before trying again"
            ))
        })
    }

    /// Sends a call once.
    async fn send_once(
        &self,
        method: Method,
        url: &str,
        query: &[(&str, String)],
        body: Option<&(impl Serialize + Sync)>,
    ) -> Result<SendOutcome, PlatformError> {
        let headers = self.tokens.headers().await?;
        let mut request = self.client.request(method, url).headers(headers);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Ok(SendOutcome::Unreached(e.to_string())),
            Err(e) if e.is_timeout() => return Ok(SendOutcome::Unanswered(e.to_string())),
            Err(e) => {
                return Err(PlatformError::Unreachable {
                    address: host_of(url),
                    detail: e.to_string(),
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .map(Duration::from_secs);
        match response.text().await {
            Ok(text) => Ok(SendOutcome::Answered {
                status,
                text,
                retry_after,
            }),
            // The answer was cut off: the call went through, or not.
            Err(e) => Ok(SendOutcome::Unanswered(e.to_string())),
        }
    }

    /// Google's error envelope as a [`PlatformError`].
    fn error(&self, what: &str, status: StatusCode, text: &str) -> PlatformError {
        let envelope: Option<serde_json::Value> = serde_json::from_str(text).ok();
        let error = envelope.as_ref().and_then(|v| v.get("error"));
        let message = error
            .and_then(|e| e.get("message")?.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let line = text.lines().next().unwrap_or_default().trim();
                if line.is_empty() {
                    format!("HTTP {status}")
                } else {
                    line.chars().take(300).collect()
                }
            });
        let name = error
            .and_then(|e| e.get("status")?.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| canonical(status).to_owned());
        match status.as_u16() {
            401 => PlatformError::Unauthenticated(format!(
                "Google refused {} for {what}: {message}; {}",
                self.tokens.what(),
                self.tokens.sign_in_hint()
            )),
            403 => PlatformError::Rejected {
                status: "PERMISSION_DENIED".into(),
                message: format!(
                    "no permission for {what} in project {} ({}): {message}",
                    self.project,
                    self.tokens.what()
                ),
            },
            404 => PlatformError::NotFound(format!("{what}: {message}")),
            500..=599 if name != "FAILED_PRECONDITION" => {
                PlatformError::Server(format!("{what}: {message} ({name})"))
            }
            _ => PlatformError::Rejected {
                status: name,
                message: format!("{what}: {message}"),
            },
        }
    }
}

/// The HTTP client of a connection.
fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(timeout)
        .user_agent(concat!("mlconsole/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// A label value that names one create call, so that its result can be found again.
pub fn request_label() -> String {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The label key [`request_label`] values go under.
pub const REQUEST_LABEL: &str = "mlconsole-request";

/// The canonical status name of an HTTP status Google answers with.
fn canonical(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

fn host_of(url: &str) -> String {
    let rest = url.split("://").nth(1).unwrap_or(url);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

/// JSON int64 the way Google writes it (a string), read from a string or a number.
pub(super) mod int64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes a string.
    pub fn serialize<S: Serializer>(value: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads a string or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Number(i64),
        }
        Ok(match Option::<Either>::deserialize(d)? {
            None => None,
            Some(Either::Number(n)) => Some(n),
            Some(Either::Text(t)) => Some(t.parse().map_err(serde::de::Error::custom)?),
        })
    }
}
