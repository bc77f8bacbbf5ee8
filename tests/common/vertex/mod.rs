//! An in-process fake of Vertex AI, Cloud Logging, Cloud Monitoring and Google's OAuth
//! token endpoint on 127.0.0.1, with state: custom jobs go through their states on a
//! clock, logs and CPU/memory points appear as they run, uploads and deployments are
//! long-running operations, aliases move and traffic splits sum to 100. Every API call
//! and answer is recorded so tests can check them against Google's discovery documents.

mod auth;
mod endpoints;
mod jobs;
mod logging;
mod models;
mod monitoring;
mod operations;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use self::auth::*;
use self::jobs::*;
use self::logging::*;
use self::models::*;
use self::monitoring::*;
use self::operations::*;

/// One recorded API call.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub status: u16,
    pub response: Value,
}

/// How the fake behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub project: String,
    pub region: String,
    /// A job is PENDING this long, then RUNNING for `run_for`.
    pub pending_for: Duration,
    pub run_for: Duration,
    /// Operations finish after this long.
    pub op_delay: Duration,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Calls without credentials are served (as gcloud's `auth/disable_credentials`).
    pub allow_anonymous: bool,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            project: "mlc-test-project".into(),
            region: "us-central1".into(),
            pending_for: Duration::from_millis(300),
            run_for: Duration::from_millis(1500),
            op_delay: Duration::from_millis(300),
            token_lifetime: Duration::from_secs(3600),
            allow_anonymous: false,
        }
    }
}

struct FakeJob {
    value: Value,
    created: Instant,
    created_at: DateTime<Utc>,
    cancelled: Option<Instant>,
    fail: bool,
    /// Its collection: `customJobs`, `batchPredictionJobs` or `hyperparameterTuningJobs`.
    kind: String,
}

enum Effect {
    Upload(Value),
    Deploy {
        endpoint: String,
        deployed: Value,
        split: BTreeMap<String, i64>,
    },
    DeleteVersion {
        model: String,
        version: String,
    },
    DeleteModel(String),
}

struct FakeOp {
    name: String,
    due: Instant,
    effect: Option<Effect>,
    error: Option<Value>,
    response: Option<Value>,
    metadata: Value,
}

#[derive(Default)]
struct State {
    jobs: Vec<FakeJob>,
    /// Every model version.
    versions: Vec<Value>,
    endpoints: Vec<Value>,
    ops: Vec<FakeOp>,
    next_id: u64,
    tokens: HashMap<String, Instant>,
    refresh_tokens: Vec<String>,
    /// Service accounts whose self-signed JWTs are accepted: email → RSA public key.
    accounts: HashMap<String, Vec<u8>>,
    denied: Option<String>,
    /// Cloud Logging reads answered 429 before one is served.
    throttled: usize,
    /// Creates (jobs, uploads, deployments) carried out but answered only after this
    /// long, so that the client gives up waiting: how many, and how late.
    stalled_creates: (usize, Duration),
    records: Vec<Recorded>,
    token_requests: Vec<String>,
    rejected_tokens: usize,
}

/// The running fake.
pub struct FakeGoogle {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub config: FakeConfig,
    state: Arc<Mutex<State>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A service-account key file the fake trusts.
pub struct ServiceAccountKey {
    pub email: String,
    pub json: String,
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn error(code: u16, status: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"error": {"code": code, "message": message, "status": status}}),
    )
}

impl FakeGoogle {
    /// Starts the fake on a random loopback port, on a thread and runtime of its own (so
    /// sync kittest tests and async tests can both use it).
    pub fn start(config: FakeConfig) -> FakeGoogle {
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            ..State::default()
        }));
        let shared = (state.clone(), config.clone());
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let (state, config) = shared.clone();
                        async move {
                            let late_by = stall(&state, &method, &uri);
                            let answer = handle(&state, &config, &method, &uri, &headers, &body);
                            if let Some(late_by) = late_by {
                                tokio::time::sleep(late_by).await;
                            }
                            answer
                        }
                    },
                );
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let address = address_rx.recv().unwrap();
        FakeGoogle {
            base: format!("http://{address}"),
            config,
            state,
            _stop: stop_tx,
        }
    }

    /// An `authorized_user` credentials file refreshing at this fake's token endpoint.
    pub fn authorized_user_json(&self) -> String {
        let refresh = format!("1//fake-refresh-{}", self.next_id());
        self.state
            .lock()
            .unwrap()
            .refresh_tokens
            .push(refresh.clone());
        json!({
            "type": "authorized_user",
            "client_id": "764086051850-fake.apps.googleusercontent.com",
            "client_secret": "fake-secret",
            "refresh_token": refresh,
            "token_uri": format!("{}/token", self.base),
            "account": "dev@example.com",
        })
        .to_string()
    }

    /// A new service account with an RSA key the fake trusts, as a key file.
    pub fn service_account(&self, name: &str) -> ServiceAccountKey {
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        let email = format!("{name}@{}.iam.gserviceaccount.com", self.config.project);
        self.state
            .lock()
            .unwrap()
            .accounts
            .insert(email.clone(), public);
        let json = json!({
            "type": "service_account",
            "project_id": self.config.project,
            "private_key_id": format!("key-{}", self.next_id()),
            "private_key": pem("PRIVATE KEY", pkcs8.as_ref()),
            "client_email": email,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": format!("{}/token", self.base),
        })
        .to_string();
        ServiceAccountKey { email, json }
    }

    /// Trusts a service account's key again (after [`FakeGoogle::revoke_all`]).
    pub fn trust(&self, key: &ServiceAccountKey) {
        let value: Value = serde_json::from_str(&key.json).unwrap();
        let pem = value["private_key"].as_str().unwrap();
        let der: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(der)
            .unwrap();
        let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        self.state
            .lock()
            .unwrap()
            .accounts
            .insert(key.email.clone(), public);
    }

    fn next_id(&self) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        s.next_id
    }

    /// Every API call so far.
    pub fn records(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().records.clone()
    }

    /// The grant types asked of the token endpoint so far.
    pub fn token_requests(&self) -> Vec<String> {
        self.state.lock().unwrap().token_requests.clone()
    }

    /// True when this fake takes `token`: one it issued, or a JWT signed by a service
    /// account key it trusts.
    pub fn accepts(&self, token: &str) -> bool {
        let s = self.state.lock().unwrap();
        if token.matches('.').count() == 2 {
            auth::verify_jwt(&s, token)
        } else {
            s.tokens.contains_key(token)
        }
    }

    /// How many calls were refused for an expired or unknown token.
    pub fn rejected_tokens(&self) -> usize {
        self.state.lock().unwrap().rejected_tokens
    }

    /// Revokes every token and refresh token (as a password change does).
    pub fn revoke_all(&self) {
        let mut s = self.state.lock().unwrap();
        s.tokens.clear();
        s.refresh_tokens.clear();
        s.accounts.clear();
    }

    /// Answers the next `n` Cloud Logging reads with 429 (the read quota).
    pub fn stall_creates(&self, n: usize, late_by: Duration) {
        self.state.lock().unwrap().stalled_creates = (n, late_by);
    }

    /// How many jobs (custom and batch) the fake holds.
    pub fn job_count(&self) -> usize {
        self.state.lock().unwrap().jobs.len()
    }

    pub fn throttle_logging(&self, n: usize) {
        self.state.lock().unwrap().throttled = n;
    }

    /// Answers every API call with 403 for `permission` (None lifts it).
    pub fn deny(&self, permission: Option<&str>) {
        self.state.lock().unwrap().denied = permission.map(str::to_owned);
    }

    /// Adds a model version directly (as if uploaded long ago); answers its version id.
    pub fn seed_version(&self, model: &str, alias: &str, default: bool) -> String {
        let mut s = self.state.lock().unwrap();
        let parent = format!(
            "projects/{}/locations/{}",
            self.config.project, self.config.region
        );
        let id = (s.versions.iter().filter(|v| model_id(v) == model).count() + 1).to_string();
        if default {
            for v in s.versions.iter_mut().filter(|v| model_id(v) == model) {
                remove_alias(v, "default");
            }
        }
        let mut aliases = vec![json!(alias)];
        if default {
            aliases.insert(0, json!("default"));
        }
        let now = stamp(Utc::now());
        s.versions.push(json!({
            "name": format!("{parent}/models/{model}"),
            "displayName": model,
            "versionId": id,
            "versionAliases": aliases,
            "versionCreateTime": now,
            "versionUpdateTime": now,
            "createTime": now,
            "updateTime": now,
            "artifactUri": format!("gs://mlc-test-bucket/{model}/{alias}"),
            "containerSpec": {"imageUri": "us-docker.pkg.dev/vertex-ai/prediction/sklearn-cpu.1-5:latest"},
        }));
        id
    }

    /// Adds an endpoint serving `model` version `version_id` with all its traffic;
    /// answers the endpoint id.
    pub fn seed_endpoint(&self, display: &str, model: &str, version_id: &str) -> String {
        let id = self.next_id().to_string();
        let deployed = self.next_id().to_string();
        let parent = format!(
            "projects/{}/locations/{}",
            self.config.project, self.config.region
        );
        self.state.lock().unwrap().endpoints.push(json!({
            "name": format!("{parent}/endpoints/{id}"),
            "displayName": display,
            "deployedModels": [{
                "id": deployed,
                "model": format!("{parent}/models/{model}"),
                "modelVersionId": version_id,
                "displayName": format!("{model}-{version_id}"),
                "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-2"}, "minReplicaCount": 1, "maxReplicaCount": 2},
                "createTime": stamp(Utc::now()),
            }],
            "trafficSplit": {deployed: 100},
            "createTime": stamp(Utc::now()),
            "updateTime": stamp(Utc::now()),
        }));
        id
    }

    /// The endpoint's traffic split as model version id → percent.
    pub fn traffic_by_version(&self, endpoint: &str) -> BTreeMap<String, i64> {
        let s = self.state.lock().unwrap();
        let e = s
            .endpoints
            .iter()
            .find(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{endpoint}"))
            })
            .unwrap();
        let mut out = BTreeMap::new();
        for d in e["deployedModels"].as_array().unwrap() {
            let pct = e["trafficSplit"][d["id"].as_str().unwrap()]
                .as_i64()
                .unwrap_or(0);
            out.insert(d["modelVersionId"].as_str().unwrap().to_owned(), pct);
        }
        out
    }

    /// The aliases of each version of `model`, by version id.
    pub fn aliases(&self, model: &str) -> BTreeMap<String, Vec<String>> {
        let s = self.state.lock().unwrap();
        s.versions
            .iter()
            .filter(|v| model_id(v) == model)
            .map(|v| {
                (
                    v["versionId"].as_str().unwrap().to_owned(),
                    v["versionAliases"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| a.as_str().unwrap().to_owned())
                        .collect(),
                )
            })
            .collect()
    }
}

/// How late to answer this call, when it is a create the test asked to stall.
fn stall(state: &Mutex<State>, method: &Method, uri: &Uri) -> Option<Duration> {
    let path = uri.path();
    let create = method == Method::POST
        && (path.ends_with("/customJobs")
            || path.ends_with("/batchPredictionJobs")
            || path.ends_with("/models:upload")
            || path.ends_with(":deployModel"));
    let mut s = state.lock().unwrap();
    let (left, late_by) = s.stalled_creates;
    (create && left > 0).then(|| {
        s.stalled_creates.0 -= 1;
        late_by
    })
}

fn handle(
    state: &Mutex<State>,
    config: &FakeConfig,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let mut s = state.lock().unwrap();
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    if path == "/token" {
        let (status, value) = token(&mut s, config, body);
        return (StatusCode::from_u16(status).unwrap(), axum::Json(value)).into_response();
    }
    let body_json: Option<Value> = if body.is_empty() {
        None
    } else {
        serde_json::from_slice(body).ok()
    };
    let (status, response) = match authorize(&mut s, config, headers) {
        Err(e) => e,
        Ok(()) => match &s.denied {
            Some(permission) => error(
                403,
                "PERMISSION_DENIED",
                &format!(
                    "Permission '{permission}' denied on resource '//aiplatform.googleapis.com/projects/{}/locations/{}' (or it may not exist).",
                    config.project, config.region
                ),
            ),
            None if path == "/v2/entries:list" && s.throttled > 0 => {
                s.throttled -= 1;
                error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute' of service 'logging.googleapis.com'.",
                )
            }
            None => {
                advance(&mut s, config);
                route(&mut s, config, method, &path, &query, body_json.as_ref())
            }
        },
    };
    s.records.push(Recorded {
        method: method.to_string(),
        path,
        query,
        body: body_json,
        status,
        response: response.clone(),
    });
    (StatusCode::from_u16(status).unwrap(), axum::Json(response)).into_response()
}

fn page(items: &[Value], key: &str, query: &[(String, String)]) -> Value {
    let size: usize = param(query, "pageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let start: usize = param(query, "pageToken")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end = (start + size).min(items.len());
    let mut v = json!({});
    if end > start {
        v[key] = json!(items[start..end]);
    }
    if end < items.len() {
        v["nextPageToken"] = json!(end.to_string());
    }
    v
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn route(
    s: &mut State,
    config: &FakeConfig,
    method: &Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> (u16, Value) {
    let parent = format!("projects/{}/locations/{}", config.project, config.region);
    let Some(rest) = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/v2/"))
        .or_else(|| path.strip_prefix("/v3/"))
    else {
        return error(404, "NOT_FOUND", "no such API");
    };
    if path == "/v2/entries:list" && method == Method::POST {
        return entries_list(s, config, body);
    }
    if path.starts_with("/v3/") && path.ends_with("/timeSeries") && method == Method::GET {
        return time_series(s, config, query);
    }
    let Some(rest) = rest.strip_prefix(&format!("{parent}/")) else {
        return error(
            404,
            "NOT_FOUND",
            &format!("{path}: unknown project or location"),
        );
    };
    let (resource, verb) = match rest.rsplit_once(':') {
        Some((r, v)) if !v.contains('/') => (r, Some(v)),
        _ => (rest, None),
    };
    let parts: Vec<&str> = resource.split('/').collect();
    let call = Call {
        method,
        parent: &parent,
        resource,
        parts: &parts,
        verb,
        query,
        body,
    };
    jobs::route(s, config, &call)
        .or_else(|| models::route(s, config, &call))
        .or_else(|| endpoints::route(s, config, &call))
        .or_else(|| operations::route(s, config, &call))
        .unwrap_or_else(|| {
            error(
                404,
                "NOT_FOUND",
                &format!("the fake does not serve {method} {path}"),
            )
        })
}

/// A call to a resource under the project and location, taken apart.
pub(super) struct Call<'a> {
    method: &'a Method,
    parent: &'a str,
    resource: &'a str,
    parts: &'a [&'a str],
    verb: Option<&'a str>,
    query: &'a [(String, String)],
    body: Option<&'a Value>,
}
