//! An in-process fake of Vertex AI, Cloud Logging, Cloud Monitoring and Google's OAuth
//! token endpoint on 127.0.0.1, with state: custom jobs go through their states on a
//! clock, logs and CPU/memory points appear as they run, uploads and deployments are
//! long-running operations, aliases move and traffic splits sum to 100. Every API call
//! and answer is recorded so tests can check them against Google's discovery documents.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

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
    batch: bool,
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

fn model_id(v: &Value) -> &str {
    v["name"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
}

/// True when `name` is the version's id or one of its aliases.
fn names_version(v: &Value, name: &str) -> bool {
    v["versionId"] == name
        || v["versionAliases"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == name))
}

fn remove_alias(v: &mut Value, alias: &str) {
    if let Some(list) = v["versionAliases"].as_array_mut() {
        list.retain(|a| a != alias);
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

fn token(s: &mut State, config: &FakeConfig, body: &[u8]) -> (u16, Value) {
    // Google's token endpoint takes a form or JSON (google-cloud-auth sends JSON).
    let form: HashMap<String, String> = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect(),
        _ => form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
    };
    let grant = form.get("grant_type").cloned().unwrap_or_default();
    s.token_requests.push(grant.clone());
    let ok = match grant.as_str() {
        "refresh_token" => form
            .get("refresh_token")
            .is_some_and(|r| s.refresh_tokens.contains(r)),
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            form.get("assertion").is_some_and(|a| verify_jwt(s, a))
        }
        _ => false,
    };
    if !ok {
        return (
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        );
    }
    s.next_id += 1;
    let access = format!("ya29.fake-{}", s.next_id);
    s.tokens
        .insert(access.clone(), Instant::now() + config.token_lifetime);
    (
        200,
        json!({"access_token": access, "expires_in": config.token_lifetime.as_secs(), "token_type": "Bearer", "scope": "https://www.googleapis.com/auth/cloud-platform"}),
    )
}

/// Checks a self-signed service-account JWT (AIP-4111): RS256 by a known account's
/// key, not expired, for the cloud-platform scope.
fn verify_jwt(s: &State, jwt: &str) -> bool {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts.as_slice() else {
        return false;
    };
    let decode = |p: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .ok()
    };
    let (Some(claims_bytes), Some(sig), Some(header_bytes)) =
        (decode(claims), decode(signature), decode(header))
    else {
        return false;
    };
    let Ok(claims_json) = serde_json::from_slice::<Value>(&claims_bytes) else {
        return false;
    };
    let Ok(header_json) = serde_json::from_slice::<Value>(&header_bytes) else {
        return false;
    };
    if header_json["alg"] != "RS256" {
        return false;
    }
    let Some(key) = claims_json["iss"]
        .as_str()
        .and_then(|iss| s.accounts.get(iss))
    else {
        return false;
    };
    let exp = claims_json["exp"].as_i64().unwrap_or(0);
    let scoped = claims_json["scope"]
        .as_str()
        .is_some_and(|sc| sc.contains("cloud-platform"))
        || claims_json["aud"].as_str().is_some_and(|a| !a.is_empty());
    let signed = format!("{header}.{claims}");
    let verified = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        key,
    )
    .verify(signed.as_bytes(), &sig)
    .is_ok();
    verified && scoped && exp > Utc::now().timestamp()
}

fn authorize(s: &mut State, config: &FakeConfig, headers: &HeaderMap) -> Result<(), (u16, Value)> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = match bearer {
        None => config.allow_anonymous,
        Some(token) if token.matches('.').count() == 2 => verify_jwt(s, token),
        Some(token) => s.tokens.get(token).is_some_and(|exp| Instant::now() < *exp),
    };
    if ok {
        Ok(())
    } else {
        s.rejected_tokens += 1;
        Err(error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ))
    }
}

/// Applies the effects of operations that are due.
fn advance(s: &mut State, config: &FakeConfig) {
    let now = Instant::now();
    let mut effects = Vec::new();
    for op in s.ops.iter_mut().filter(|o| o.due <= now) {
        if let Some(effect) = op.effect.take() {
            effects.push((op.name.clone(), effect));
        }
    }
    for (name, effect) in effects {
        let response = match effect {
            Effect::Upload(version) => {
                let model = version["name"].as_str().unwrap_or_default().to_owned();
                let id = version["versionId"].as_str().unwrap_or_default().to_owned();
                if version["versionAliases"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == "default"))
                {
                    let m = model_id(&version).to_owned();
                    for v in s.versions.iter_mut().filter(|v| model_id(v) == m) {
                        remove_alias(v, "default");
                    }
                }
                s.versions.push(version);
                json!({"@type": "type.googleapis.com/google.cloud.aiplatform.v1.UploadModelResponse", "model": model, "modelVersionId": id})
            }
            Effect::Deploy {
                endpoint,
                mut deployed,
                split,
            } => {
                s.next_id += 1;
                let id = s.next_id.to_string();
                deployed["id"] = json!(id);
                let e = s
                    .endpoints
                    .iter_mut()
                    .find(|e| e["name"] == endpoint)
                    .unwrap();
                e["deployedModels"]
                    .as_array_mut()
                    .unwrap()
                    .push(deployed.clone());
                let split: BTreeMap<String, i64> = split
                    .into_iter()
                    .map(|(k, v)| (if k == "0" { id.clone() } else { k }, v))
                    .collect();
                e["trafficSplit"] = json!(split);
                json!({"@type": "type.googleapis.com/google.cloud.aiplatform.v1.DeployModelResponse", "deployedModel": deployed})
            }
            Effect::DeleteVersion { model, version } => {
                s.versions
                    .retain(|v| !(model_id(v) == model && v["versionId"] == version.as_str()));
                json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
            }
            Effect::DeleteModel(model) => {
                s.versions.retain(|v| model_id(v) != model);
                json!({"@type": "type.googleapis.com/google.protobuf.Empty"})
            }
        };
        if let Some(op) = s.ops.iter_mut().find(|o| o.name == name) {
            op.response = Some(response);
        }
    }
    let _ = config;
}

fn op_json(op: &FakeOp) -> Value {
    let done = Instant::now() >= op.due;
    let mut v = json!({"name": op.name, "metadata": op.metadata, "done": done});
    if done {
        match &op.error {
            Some(e) => v["error"] = e.clone(),
            None => v["response"] = op.response.clone().unwrap_or(json!({})),
        }
    }
    v
}

fn job_view(job: &FakeJob, config: &FakeConfig) -> Value {
    let mut v = job.value.clone();
    let age = job.created.elapsed();
    let at = |d: Duration| job.created_at + chrono::Duration::from_std(d).unwrap();
    let running_from = config.pending_for;
    let ends = config.pending_for + config.run_for;
    let (state, start, end, update) = match job.cancelled {
        Some(c) => {
            let since = c.duration_since(job.created);
            let started = (since >= running_from).then(|| at(running_from));
            if age < since + Duration::from_millis(300) {
                ("JOB_STATE_CANCELLING", started, None, at(since))
            } else {
                let end = at(since + Duration::from_millis(300));
                ("JOB_STATE_CANCELLED", started, Some(end), end)
            }
        }
        None if age < running_from => ("JOB_STATE_PENDING", None, None, job.created_at),
        None if age < ends => (
            "JOB_STATE_RUNNING",
            Some(at(running_from)),
            None,
            at(running_from),
        ),
        None if job.fail => (
            "JOB_STATE_FAILED",
            Some(at(running_from)),
            Some(at(ends)),
            at(ends),
        ),
        None => (
            "JOB_STATE_SUCCEEDED",
            Some(at(running_from)),
            Some(at(ends)),
            at(ends),
        ),
    };
    v["state"] = json!(state);
    v["createTime"] = json!(stamp(job.created_at));
    v["updateTime"] = json!(stamp(update));
    if let Some(t) = start {
        v["startTime"] = json!(stamp(t));
    }
    if let Some(t) = end {
        v["endTime"] = json!(stamp(t));
    }
    if state == "JOB_STATE_FAILED" {
        v["error"] = json!({"code": 3, "message": "The replica workerpool0-0 exited with a non-zero status of 1. To find out more about why your job exited please check the logs: https://console.cloud.google.com/logs/viewer?project=mlc-test-project&resource=ml_job%2Fjob_id%2F1"});
    }
    if state == "JOB_STATE_CANCELLED" {
        v["error"] = json!({"code": 1, "message": "CANCELED"});
    }
    if job.batch && state == "JOB_STATE_SUCCEEDED" {
        v["completionStats"] =
            json!({"successfulCount": "3", "failedCount": "0", "incompleteCount": "0"});
        v["outputInfo"] = json!({"gcsOutputDirectory": format!("{}/prediction-1", v["outputConfig"]["gcsDestination"]["outputUriPrefix"].as_str().unwrap_or_default())});
    }
    v
}

/// The log lines a job has written by now: (timestamp, severity, text, stream).
fn job_log(
    job: &FakeJob,
    config: &FakeConfig,
) -> Vec<(DateTime<Utc>, &'static str, String, &'static str)> {
    let at = |d: Duration| job.created_at + chrono::Duration::from_std(d).unwrap();
    let mut lines = vec![(
        at(Duration::ZERO),
        "INFO",
        "Waiting for job to be provisioned.".to_owned(),
        "stdout",
    )];
    let start = config.pending_for;
    let stop = job
        .cancelled
        .map(|c| c.duration_since(job.created))
        .unwrap_or(start + config.run_for);
    lines.push((at(start), "INFO", "Job is running.".into(), "stdout"));
    for epoch in 1..=5u32 {
        let t = start + config.run_for * epoch / 6;
        if t >= stop {
            break;
        }
        let severity = if epoch == 3 { "WARNING" } else { "INFO" };
        lines.push((
            at(t),
            severity,
            format!("epoch {epoch}/5 loss={:.3}", 1.0 / f64::from(epoch)),
            "stderr",
        ));
    }
    if job.cancelled.is_some() {
        lines.push((at(stop), "INFO", "Job was cancelled.".into(), "stdout"));
    } else if job.fail {
        lines.push((
            at(stop),
            "ERROR",
            "ValueError: the training data has no rows".into(),
            "stderr",
        ));
        lines.push((
            at(stop),
            "ERROR",
            "The replica workerpool0-0 exited with a non-zero status of 1.".into(),
            "stdout",
        ));
    } else {
        lines.push((
            at(stop),
            "INFO",
            "Job completed successfully.".into(),
            "stdout",
        ));
    }
    let now = Utc::now();
    lines.retain(|(t, ..)| *t <= now);
    lines
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

/// `update_time>="T"` style terms of a list filter, applied to a job's JSON.
fn matches_filter(job: &Value, filter: Option<&str>) -> bool {
    let Some(filter) = filter else { return true };
    // The AIP-160 forms the client sends: time comparisons, `state=` (alone or an OR
    // group in parentheses), `display_name=` and `labels.KEY=`; others pass.
    let equal = regex::Regex::new(r#"^(state|display_name|labels\.[\w-]+)="([^"]*)"$"#).unwrap();
    let time = regex::Regex::new(r#"^(update_time|create_time)(>=|>|<=|<|=)"([^"]+)"$"#).unwrap();
    filter.split(" AND ").all(|term| {
        let term = term.trim();
        if let Some(group) = term.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            return group
                .split(" OR ")
                .any(|alt| matches_filter(job, Some(alt)));
        }
        if let Some(caps) = equal.captures(term) {
            let have = match &caps[1] {
                "state" => job["state"].as_str(),
                "display_name" => job["displayName"].as_str(),
                label => job["labels"][label.trim_start_matches("labels.")].as_str(),
            };
            return have == Some(&caps[2]);
        }
        let Some(caps) = time.captures(term) else {
            return true;
        };
        let field = if &caps[1] == "update_time" {
            "updateTime"
        } else {
            "createTime"
        };
        let (Some(have), Ok(want)) = (
            job[field]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
            DateTime::parse_from_rfc3339(&caps[3]),
        ) else {
            return false;
        };
        match &caps[2] {
            ">=" => have >= want,
            ">" => have > want,
            "<=" => have <= want,
            "<" => have < want,
            _ => have == want,
        }
    })
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
    match (method.as_str(), parts.as_slice(), verb) {
        ("POST", [kind @ ("customJobs" | "batchPredictionJobs")], None) => {
            let Some(body) = body else {
                return error(400, "INVALID_ARGUMENT", "empty body");
            };
            if body["displayName"].as_str().unwrap_or_default().is_empty() {
                return error(400, "INVALID_ARGUMENT", "display_name is required");
            }
            s.next_id += 1;
            let id = s.next_id;
            let mut value = body.clone();
            value["name"] = json!(format!("{parent}/{kind}/{id}"));
            let fail = body.to_string().contains("--fail");
            let job = FakeJob {
                value,
                created: Instant::now(),
                created_at: Utc::now(),
                cancelled: None,
                fail,
                batch: *kind == "batchPredictionJobs",
            };
            let view = job_view(&job, config);
            s.jobs.push(job);
            (200, view)
        }
        ("GET", [kind @ ("customJobs" | "batchPredictionJobs")], None) => {
            let batch = *kind == "batchPredictionJobs";
            let filter = param(query, "filter");
            let mut items: Vec<Value> = s
                .jobs
                .iter()
                .filter(|j| j.batch == batch)
                .map(|j| job_view(j, config))
                .filter(|v| matches_filter(v, filter))
                .collect();
            items.reverse();
            (200, page(&items, kind, query))
        }
        ("GET", [kind @ ("customJobs" | "batchPredictionJobs"), id], None) => {
            let name = format!("{parent}/{kind}/{id}");
            match s.jobs.iter().find(|j| j.value["name"] == name.as_str()) {
                Some(job) => (200, job_view(job, config)),
                None => error(
                    404,
                    "NOT_FOUND",
                    &format!("The CustomJob \"{name}\" does not exist."),
                ),
            }
        }
        ("POST", [kind @ ("customJobs" | "batchPredictionJobs"), id], Some("cancel")) => {
            let name = format!("{parent}/{kind}/{id}");
            let Some(job) = s.jobs.iter_mut().find(|j| j.value["name"] == name.as_str()) else {
                return error(404, "NOT_FOUND", "no such job");
            };
            let state = job_view(job, config)["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if matches!(
                state.as_str(),
                "JOB_STATE_SUCCEEDED" | "JOB_STATE_FAILED" | "JOB_STATE_CANCELLED"
            ) {
                return error(
                    400,
                    "FAILED_PRECONDITION",
                    &format!("Cannot cancel the job {name} in state {state}."),
                );
            }
            job.cancelled = Some(Instant::now());
            (200, json!({}))
        }
        ("GET", ["models"], None) => {
            let mut items: Vec<Value> = s
                .versions
                .iter()
                .filter(|v| {
                    v["versionAliases"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "default"))
                })
                .cloned()
                .collect();
            items.sort_by(|a, b| model_id(a).cmp(model_id(b)));
            (200, page(&items, "models", query))
        }
        ("GET", ["models", m], verb) if verb.is_none() || verb == Some("listVersions") => {
            let (model, version) = m.split_once('@').map_or((*m, None), |(a, b)| (a, Some(b)));
            let versions: Vec<Value> = s
                .versions
                .iter()
                .filter(|v| model_id(v) == model)
                .cloned()
                .collect();
            if versions.is_empty() {
                return error(
                    404,
                    "NOT_FOUND",
                    &format!("The Model \"{parent}/models/{model}\" does not exist."),
                );
            }
            if verb == Some("listVersions") {
                return (200, page(&versions, "models", query));
            }
            let want = version.unwrap_or("default");
            match versions.iter().find(|v| names_version(v, want)) {
                Some(v) => (200, v.clone()),
                None => error(
                    404,
                    "NOT_FOUND",
                    &format!("The Model version \"{m}\" does not exist."),
                ),
            }
        }
        ("POST", ["models"], Some("upload")) => upload(s, config, &parent, body),
        ("POST", ["models", m], Some("mergeVersionAliases")) => {
            let Some((model, version)) = m.split_once('@') else {
                return error(400, "INVALID_ARGUMENT", "give a version: models/M@VERSION");
            };
            let wanted: Vec<String> = body
                .and_then(|b| b["versionAliases"].as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let Some(index) = s
                .versions
                .iter()
                .position(|v| model_id(v) == model && names_version(v, version))
            else {
                return error(404, "NOT_FOUND", "no such model version");
            };
            for alias in &wanted {
                if let Some(removed) = alias.strip_prefix('-') {
                    if removed == "default" {
                        return error(
                            400,
                            "INVALID_ARGUMENT",
                            "The default alias cannot be removed; move it to another version.",
                        );
                    }
                    remove_alias(&mut s.versions[index], removed);
                } else {
                    for v in s.versions.iter_mut().filter(|v| model_id(v) == model) {
                        remove_alias(v, alias);
                    }
                    s.versions[index]["versionAliases"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!(alias));
                }
            }
            s.versions[index]["versionUpdateTime"] = json!(stamp(Utc::now()));
            (200, s.versions[index].clone())
        }
        ("DELETE", ["models", m], None) => {
            let (model, version) = m.split_once('@').map_or((*m, None), |(a, b)| (a, Some(b)));
            let deployed = |vid: Option<&str>| {
                s.endpoints.iter().any(|e| {
                    e["deployedModels"].as_array().unwrap().iter().any(|d| {
                        d["model"]
                            .as_str()
                            .unwrap_or_default()
                            .split('@')
                            .next()
                            .unwrap_or_default()
                            .ends_with(&format!("/models/{model}"))
                            && vid.is_none_or(|v| d["modelVersionId"] == v)
                    })
                })
            };
            let effect = match version {
                Some(v) => {
                    let Some(found) = s
                        .versions
                        .iter()
                        .find(|x| model_id(x) == model && names_version(x, v))
                    else {
                        return error(404, "NOT_FOUND", "no such model version");
                    };
                    let vid = found["versionId"].as_str().unwrap_or_default().to_owned();
                    let is_default = found["versionAliases"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "default"));
                    let count = s.versions.iter().filter(|x| model_id(x) == model).count();
                    if is_default && count > 1 {
                        return error(
                            400,
                            "FAILED_PRECONDITION",
                            "The default version of a model cannot be deleted; move the default alias first.",
                        );
                    }
                    if deployed(Some(&vid)) {
                        return error(
                            400,
                            "FAILED_PRECONDITION",
                            "The model version is deployed to an endpoint; undeploy it first.",
                        );
                    }
                    Effect::DeleteVersion {
                        model: model.to_owned(),
                        version: vid,
                    }
                }
                None => {
                    if deployed(None) {
                        return error(
                            400,
                            "FAILED_PRECONDITION",
                            "The model is deployed to an endpoint; undeploy it first.",
                        );
                    }
                    Effect::DeleteModel(model.to_owned())
                }
            };
            let name = new_op(
                s,
                config,
                &format!("{parent}/models/{model}"),
                Some(effect),
                "DeleteOperationMetadata",
            );
            (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
        }
        ("GET", ["endpoints"], None) => (200, page(&s.endpoints, "endpoints", query)),
        ("GET", ["endpoints", e], None) => match find_endpoint(s, &parent, e) {
            Some(i) => (200, s.endpoints[i].clone()),
            None => error(
                404,
                "NOT_FOUND",
                &format!("The Endpoint \"{parent}/endpoints/{e}\" does not exist."),
            ),
        },
        ("PATCH", ["endpoints", e], None) => {
            let Some(i) = find_endpoint(s, &parent, e) else {
                return error(404, "NOT_FOUND", "no such endpoint");
            };
            if param(query, "updateMask") != Some("traffic_split") {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "this fake updates traffic_split only",
                );
            }
            let split: BTreeMap<String, i64> = body
                .and_then(|b| serde_json::from_value(b["trafficSplit"].clone()).ok())
                .unwrap_or_default();
            if let Err(e) = check_split(&s.endpoints[i], &split, false) {
                return e;
            }
            s.endpoints[i]["trafficSplit"] = json!(split);
            s.endpoints[i]["updateTime"] = json!(stamp(Utc::now()));
            (200, s.endpoints[i].clone())
        }
        ("POST", ["endpoints", e], Some("deployModel")) => {
            let Some(i) = find_endpoint(s, &parent, e) else {
                return error(404, "NOT_FOUND", "no such endpoint");
            };
            let Some(body) = body else {
                return error(400, "INVALID_ARGUMENT", "empty body");
            };
            let mut deployed = body["deployedModel"].clone();
            let model_ref = deployed["model"].as_str().unwrap_or_default().to_owned();
            let (model_name, version) = model_ref
                .split_once('@')
                .map_or((model_ref.as_str(), None), |(a, b)| (a, Some(b)));
            let model = model_name.rsplit('/').next().unwrap_or_default();
            let Some(found) = s
                .versions
                .iter()
                .find(|x| model_id(x) == model && version.is_none_or(|v| x["versionId"] == v))
            else {
                return error(
                    404,
                    "NOT_FOUND",
                    &format!("Model {model_ref} does not exist."),
                );
            };
            deployed["modelVersionId"] = found["versionId"].clone();
            deployed["createTime"] = json!(stamp(Utc::now()));
            let split: BTreeMap<String, i64> =
                serde_json::from_value(body["trafficSplit"].clone()).unwrap_or_default();
            if let Err(e) = check_split(&s.endpoints[i], &split, true) {
                return e;
            }
            let endpoint = s.endpoints[i]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let name = new_op(
                s,
                config,
                &endpoint,
                Some(Effect::Deploy {
                    endpoint: endpoint.clone(),
                    deployed,
                    split,
                }),
                "DeployModelOperationMetadata",
            );
            (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
        }
        ("POST", ["endpoints", e], Some("predict")) => {
            let Some(i) = find_endpoint(s, &parent, e) else {
                return error(404, "NOT_FOUND", "no such endpoint");
            };
            let Some(instances) = body.and_then(|b| b["instances"].as_array()) else {
                return error(400, "INVALID_ARGUMENT", "instances is required");
            };
            let endpoint = &s.endpoints[i];
            let split: BTreeMap<String, i64> =
                serde_json::from_value(endpoint["trafficSplit"].clone()).unwrap_or_default();
            let Some((deployed_id, _)) = split.iter().max_by_key(|(_, v)| **v) else {
                return error(
                    400,
                    "FAILED_PRECONDITION",
                    "the endpoint has no deployed model",
                );
            };
            let deployed = endpoint["deployedModels"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["id"] == deployed_id.as_str())
                .unwrap();
            let version: f64 = deployed["modelVersionId"]
                .as_str()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0.0);
            let predictions: Vec<Value> = instances
                .iter()
                .map(|row| {
                    json!(
                        row.as_array()
                            .map_or(0.0, |r| r.iter().filter_map(Value::as_f64).sum::<f64>())
                            * version
                    )
                })
                .collect();
            (
                200,
                json!({
                    "predictions": predictions,
                    "deployedModelId": deployed_id,
                    "model": deployed["model"].as_str().unwrap_or_default().split('@').next().unwrap_or_default(),
                    "modelVersionId": deployed["modelVersionId"],
                    "modelDisplayName": deployed["displayName"],
                }),
            )
        }
        ("GET", [.., "operations", _], None) => match s
            .ops
            .iter()
            .find(|o| o.name == format!("{parent}/{resource}"))
        {
            Some(op) => (200, op_json(op)),
            None => error(
                404,
                "NOT_FOUND",
                &format!("Operation {resource} does not exist."),
            ),
        },
        _ => error(
            404,
            "NOT_FOUND",
            &format!("the fake does not serve {method} {path}"),
        ),
    }
}

fn find_endpoint(s: &State, parent: &str, id: &str) -> Option<usize> {
    let name = format!("{parent}/endpoints/{id}");
    s.endpoints.iter().position(|e| e["name"] == name.as_str())
}

fn check_split(
    endpoint: &Value,
    split: &BTreeMap<String, i64>,
    deploying: bool,
) -> Result<(), (u16, Value)> {
    let known: Vec<&str> = endpoint["deployedModels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["id"].as_str())
        .collect();
    for key in split.keys() {
        if !(known.contains(&key.as_str()) || deploying && key == "0") {
            return Err(error(
                400,
                "INVALID_ARGUMENT",
                &format!("DeployedModel ID(s) [{key}] do not exist on the endpoint."),
            ));
        }
    }
    let sum: i64 = split.values().sum();
    if sum != 100 {
        return Err(error(
            400,
            "INVALID_ARGUMENT",
            &format!("The traffic split must sum to 100, got {sum}."),
        ));
    }
    Ok(())
}

fn new_op(
    s: &mut State,
    config: &FakeConfig,
    under: &str,
    effect: Option<Effect>,
    metadata: &str,
) -> String {
    s.next_id += 1;
    let name = format!("{under}/operations/{}", s.next_id);
    s.ops.push(FakeOp {
        name: name.clone(),
        due: Instant::now() + config.op_delay,
        effect,
        error: None,
        response: None,
        metadata: json!({
            "@type": format!("type.googleapis.com/google.cloud.aiplatform.v1.{metadata}"),
            "genericMetadata": {"createTime": stamp(Utc::now()), "updateTime": stamp(Utc::now())},
        }),
    });
    name
}

fn upload(s: &mut State, config: &FakeConfig, parent: &str, body: Option<&Value>) -> (u16, Value) {
    let Some(body) = body else {
        return error(400, "INVALID_ARGUMENT", "empty body");
    };
    let model = &body["model"];
    if model["containerSpec"]["imageUri"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "model.container_spec.image_uri is required",
        );
    }
    let artifact = model["artifactUri"].as_str().unwrap_or_default().to_owned();
    let id = match (body["parentModel"].as_str(), body["modelId"].as_str()) {
        (Some(p), _) => {
            let id = p.rsplit('/').next().unwrap_or_default().to_owned();
            if !s.versions.iter().any(|v| model_id(v) == id) {
                return error(
                    404,
                    "NOT_FOUND",
                    &format!("Parent model {p} does not exist."),
                );
            }
            id
        }
        (None, Some(id)) => {
            if s.versions.iter().any(|v| model_id(v) == id) {
                return error(
                    409,
                    "ALREADY_EXISTS",
                    &format!("Model {id} already exists."),
                );
            }
            id.to_owned()
        }
        (None, None) => {
            s.next_id += 1;
            s.next_id.to_string()
        }
    };
    let version_id = (s
        .versions
        .iter()
        .filter(|v| model_id(v) == id)
        .map(|v| {
            v["versionId"]
                .as_str()
                .unwrap_or("0")
                .parse::<u64>()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
        + 1)
    .to_string();
    let now = stamp(Utc::now());
    let mut version = model.clone();
    version["name"] = json!(format!("{parent}/models/{id}"));
    version["versionId"] = json!(version_id);
    version["versionCreateTime"] = json!(now);
    version["versionUpdateTime"] = json!(now);
    version["createTime"] = json!(now);
    version["updateTime"] = json!(now);
    if version["versionAliases"]
        .as_array()
        .is_none_or(|a| a.is_empty())
        && version_id == "1"
    {
        version["versionAliases"] = json!(["default"]);
    }
    if version_id == "1"
        && !version["versionAliases"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "default")
    {
        version["versionAliases"]
            .as_array_mut()
            .unwrap()
            .insert(0, json!("default"));
    }
    let broken = artifact.contains("broken");
    let name = new_op(
        s,
        config,
        &format!("{parent}/models/{id}"),
        (!broken).then_some(Effect::Upload(version)),
        "UploadModelOperationMetadata",
    );
    if broken {
        let op = s.ops.iter_mut().find(|o| o.name == name).unwrap();
        op.error = Some(
            json!({"code": 3, "message": format!("Model directory {artifact} is expected to contain exactly one of: [saved_model.pb, saved_model.pbtxt, model.joblib, model.pkl, model.bst].")}),
        );
    }
    (200, op_json(s.ops.iter().find(|o| o.name == name).unwrap()))
}

fn entries_list(s: &State, config: &FakeConfig, body: Option<&Value>) -> (u16, Value) {
    let Some(body) = body else {
        return error(400, "INVALID_ARGUMENT", "empty body");
    };
    let filter = body["filter"].as_str().unwrap_or_default();
    let job_id = regex::Regex::new(r#"resource\.labels\.job_id="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned());
    let bound = regex::Regex::new(r#"timestamp(>=|>)"([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| {
            (
                c[1].to_owned(),
                DateTime::parse_from_rfc3339(&c[2]).map(|t| t.with_timezone(&Utc)),
            )
        });
    let mut entries = Vec::new();
    for job in &s.jobs {
        let id = job.value["name"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if job_id.as_deref().is_some_and(|j| j != id) || job.batch {
            continue;
        }
        for (n, (time, severity, text, stream)) in job_log(job, config).into_iter().enumerate() {
            match &bound {
                Some((op, Ok(t))) if op == ">=" && time < *t => continue,
                Some((op, Ok(t))) if op == ">" && time <= *t => continue,
                Some((_, Err(_))) => {
                    return error(400, "INVALID_ARGUMENT", "bad timestamp in filter");
                }
                _ => {}
            }
            entries.push(json!({
                "logName": format!("projects/{}/logs/workerpool0-0", config.project).replace("workerpool0-0", if stream == "stderr" { "stderr" } else { "stdout" }),
                "resource": {"type": "ml_job", "labels": {"job_id": id, "project_id": config.project, "task_name": "workerpool0-0"}},
                "textPayload": text,
                "timestamp": time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "receiveTimestamp": time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "severity": severity,
                "insertId": format!("{id}-{n}"),
                "labels": {"ml.googleapis.com/task_name": "workerpool0-0"},
            }));
        }
    }
    if body["orderBy"] == "timestamp desc" {
        entries.reverse();
    }
    let query = vec![
        (
            "pageSize".to_owned(),
            body["pageSize"].as_u64().unwrap_or(50).to_string(),
        ),
        (
            "pageToken".to_owned(),
            body["pageToken"].as_str().unwrap_or("0").to_owned(),
        ),
    ];
    (200, page(&entries, "entries", &query))
}

fn time_series(s: &State, config: &FakeConfig, query: &[(String, String)]) -> (u16, Value) {
    let filter = param(query, "filter").unwrap_or_default();
    let metric = regex::Regex::new(r#"metric\.type="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned())
        .unwrap_or_default();
    let job_id = regex::Regex::new(r#"resource\.labels\.job_id="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned());
    if param(query, "interval.endTime").is_none() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Field interval.end_time had an invalid value: the interval is required.",
        );
    }
    let mut series = Vec::new();
    for job in s.jobs.iter().filter(|j| !j.batch) {
        let id = job.value["name"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if job_id.as_deref().is_some_and(|j| j != id) {
            continue;
        }
        let pools = job.value["jobSpec"]["workerPoolSpecs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let replicas: Vec<String> = pools
            .iter()
            .enumerate()
            .flat_map(|(p, pool)| {
                let n: usize = pool["replicaCount"]
                    .as_str()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                (0..n).map(move |r| format!("workerpool{p}-{r}"))
            })
            .collect();
        let start = job.created_at + chrono::Duration::from_std(config.pending_for).unwrap();
        let end = job.created_at
            + chrono::Duration::from_std(config.pending_for + config.run_for).unwrap();
        for (r, replica) in replicas.iter().enumerate() {
            let mut points = Vec::new();
            let mut t = start + chrono::Duration::milliseconds(100);
            while t <= end.min(Utc::now()) {
                let value = if metric.ends_with("cpu/utilization") {
                    0.5 + 0.1 * r as f64
                } else {
                    0.25
                };
                points.push(json!({"interval": {"startTime": stamp(t), "endTime": stamp(t)}, "value": {"doubleValue": value}}));
                t += chrono::Duration::milliseconds(200);
            }
            points.reverse();
            if points.is_empty() {
                continue;
            }
            series.push(json!({
                "metric": {"type": metric, "labels": {}},
                "resource": {"type": "cloudml_job", "labels": {"job_id": id, "project_id": config.project, "task_name": replica}},
                "metricKind": "GAUGE",
                "valueType": "DOUBLE",
                "points": points,
            }));
        }
    }
    (200, page(&series, "timeSeries", query))
}
