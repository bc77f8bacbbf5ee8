//! Google's own clients against a real engine: the real `gcloud ai-platform` (set up
//! exactly as the README's "Use gcloud with the local engine" says) and Google's Python
//! API client; plus the system parameters, Cloud Logging's `entries:list`, and a client
//! that reuses its connection across a rejected POST.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{TestEngine, command_job, python_job};
use mlconsole::domain::JobState;
use mlconsole::platform::Platform;
use serde_json::{Value, json};

/// A gcloud configuration of its own, made by running the README's set-up lines with the
/// test engine's address and token in place of the defaults.
struct Gcloud {
    config: tempfile::TempDir,
}

/// The shell lines of the README's "Use gcloud with the local engine" block.
fn readme_setup() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### Use gcloud with the local engine")
        .nth(1)
        .expect("the README has the gcloud section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the section has a sh block");
    block
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

impl Gcloud {
    fn for_engine(engine: &TestEngine) -> Gcloud {
        let config = tempfile::tempdir().unwrap();
        let lines = readme_setup();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("export CLOUDSDK_CONFIG="))
        );
        for line in &lines {
            if line.starts_with("export ") {
                continue; // CLOUDSDK_CONFIG: the test's own dir below
            }
            let line = line
                .replace("http://127.0.0.1:8471/", &format!("{}/", engine.base))
                .replace(
                    "~/.local/share/mlconsole/token",
                    &engine.data_dir.join("token").display().to_string(),
                );
            let out = Command::new("sh")
                .arg("-c")
                .arg(&line)
                .env("CLOUDSDK_CONFIG", config.path())
                .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
                .output()
                .unwrap_or_else(|e| panic!("cannot run {line:?}: {e}"));
            assert!(
                out.status.success(),
                "the README's line {line:?} failed (is gcloud installed? .ci/run installs google-cloud-cli): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Gcloud { config }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("gcloud")
            .args(args)
            .env("CLOUDSDK_CONFIG", self.config.path())
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .output()
            .expect("gcloud runs")
    }

    /// Runs and checks success; answers stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "gcloud {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--format=json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gcloud_describes_lists_streams_logs_and_cancels_jobs() {
    let engine = TestEngine::start(&[]);
    let gcloud = Gcloud::for_engine(&engine);
    let mut lines = python_job(
        "twenty_lines",
        "for i in range(20): print(f'line {i}', flush=True)",
    );
    lines.labels.insert("team".into(), "vision".into());
    engine.platform.submit_job(&lines).await.unwrap();
    engine
        .platform
        .submit_job(&command_job("other_team", &["true"]))
        .await
        .unwrap();
    engine.wait_finished("twenty_lines").await;
    engine.wait_finished("other_team").await;

    let described = gcloud.json(&["ai-platform", "jobs", "describe", "twenty_lines"]);
    assert_eq!(described["jobId"], "twenty_lines");
    assert_eq!(described["state"], "SUCCEEDED");
    let listed = gcloud.json(&[
        "ai-platform",
        "jobs",
        "list",
        "--filter=labels.team=vision",
        "--limit=5",
    ]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["jobId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["twenty_lines"]);

    // A finished job: every line, in order, and the command returns.
    let out = gcloud.ok(&[
        "ai-platform",
        "jobs",
        "stream-logs",
        "twenty_lines",
        "--polling-interval=1",
    ]);
    let printed: Vec<usize> = (0..20)
        .map(|i| {
            out.find(&format!("\tline {i}\n"))
                .unwrap_or_else(|| panic!("line {i} missing: {out}"))
        })
        .collect();
    assert!(printed.windows(2).all(|w| w[0] < w[1]), "in order: {out}");
    assert!(out.contains("Job exited with code 0."), "{out}");

    // A running job: followed until it ends.
    let slow = python_job(
        "still_running",
        "import time\nfor i in range(12):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.5)",
    );
    engine.platform.submit_job(&slow).await.unwrap();
    engine
        .wait_job("still_running", Duration::from_secs(30), |j| {
            j.state == JobState::Running
        })
        .await;
    let started = Instant::now();
    let out = gcloud.ok(&[
        "ai-platform",
        "jobs",
        "stream-logs",
        "still_running",
        "--polling-interval=1",
    ]);
    let job = engine.platform.get_job("still_running").await.unwrap();
    assert!(
        job.state.is_finished(),
        "stream-logs returned when the job ended"
    );
    for i in 0..12 {
        assert!(
            out.contains(&format!("\ttick {i}\n")),
            "tick {i} missing: {out}"
        );
    }
    eprintln!(
        "stream-logs of a running job returned {:?} after it started",
        started.elapsed()
    );

    engine
        .platform
        .submit_job(&command_job("cancel_me", &["sleep", "300"]))
        .await
        .unwrap();
    engine
        .wait_job("cancel_me", Duration::from_secs(30), |j| {
            j.state == JobState::Running
        })
        .await;
    gcloud.ok(&["ai-platform", "jobs", "cancel", "cancel_me"]);
    let cancelled = engine.wait_finished("cancel_me").await;
    assert_eq!(cancelled.state, JobState::Cancelled);
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

async fn version_ready(engine: &TestEngine, model: &str, version: &str) {
    engine
        .platform
        .create_version(
            model,
            &mlconsole::domain::Version {
                name: version.into(),
                deployment_uri: fixture(if version == "v1" {
                    "iris_logreg.onnx"
                } else {
                    "iris_forest.onnx"
                })
                .display()
                .to_string(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine
        .platform
        .list_versions(model)
        .await
        .unwrap()
        .iter()
        .any(|v| v.state != mlconsole::domain::VersionState::Ready)
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn gcloud_drives_models_versions_and_predictions() {
    let engine = TestEngine::start(&[]);
    let gcloud = Gcloud::for_engine(&engine);
    gcloud.ok(&["ai-platform", "models", "create", "iris"]);
    let models = gcloud.json(&["ai-platform", "models", "list"]);
    assert_eq!(models[0]["name"], "projects/local/models/iris");
    let model = gcloud.json(&["ai-platform", "models", "describe", "iris"]);
    assert_eq!(model["name"], "projects/local/models/iris");
    version_ready(&engine, "iris", "v1").await;
    version_ready(&engine, "iris", "v2").await;
    let versions = gcloud.json(&["ai-platform", "versions", "list", "--model=iris"]);
    assert_eq!(versions.as_array().unwrap().len(), 2);
    let v2 = gcloud.json(&["ai-platform", "versions", "describe", "v2", "--model=iris"]);
    assert_eq!(v2["state"], "READY");
    assert_eq!(v2["isDefault"], false, "v1, the first, is the default");
    gcloud.ok(&[
        "ai-platform",
        "versions",
        "set-default",
        "v2",
        "--model=iris",
    ]);
    let v2 = gcloud.json(&["ai-platform", "versions", "describe", "v2", "--model=iris"]);
    assert_eq!(v2["isDefault"], true);

    let dir = tempfile::tempdir().unwrap();
    let logreg = &expected()["iris_logreg"];
    let forest = &expected()["iris_forest"];
    let instances = dir.path().join("instances.json");
    let lines: Vec<String> = logreg["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(&instances, lines.join("\n")).unwrap();
    let request = dir.path().join("request.json");
    std::fs::write(
        &request,
        json!({"instances": logreg["instances"]}).to_string(),
    )
    .unwrap();
    let labels = |answer: &Value| -> Vec<Value> {
        answer["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["label"].clone())
            .collect()
    };
    let on_default = gcloud.json(&[
        "ai-platform",
        "predict",
        "--model=iris",
        &format!("--json-instances={}", instances.display()),
    ]);
    assert_eq!(
        labels(&on_default),
        *forest["label"].as_array().unwrap(),
        "the default, v2, answers"
    );
    let pinned = gcloud.json(&[
        "ai-platform",
        "predict",
        "--model=iris",
        "--version=v1",
        &format!("--json-request={}", request.display()),
    ]);
    assert_eq!(labels(&pinned), *logreg["label"].as_array().unwrap());
    let pinned_v2 = gcloud.json(&[
        "ai-platform",
        "predict",
        "--model=iris",
        "--version=v2",
        &format!("--json-request={}", request.display()),
    ]);
    assert_eq!(labels(&pinned_v2), *forest["label"].as_array().unwrap());

    gcloud.ok(&[
        "ai-platform",
        "versions",
        "delete",
        "v1",
        "--model=iris",
        "--quiet",
    ]);
    let versions = gcloud.json(&["ai-platform", "versions", "list", "--model=iris"]);
    assert_eq!(versions.as_array().unwrap().len(), 1);
    let ops = gcloud.json(&["ai-platform", "operations", "list"]);
    assert!(
        ops.as_array()
            .unwrap()
            .iter()
            .any(|o| o["metadata"]["operationType"] == "DELETE_VERSION"),
        "{ops:#}"
    );
}

/// The Python of the venv `.ci/run` makes (with Google's API client), else python3.
fn python() -> PathBuf {
    let venv = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".cache/mlconsole-venv/bin/python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// What every Google Python client script starts with: the ml v1 client built from
/// the discovery document in the wheel, against the engine (`sys.argv[1:3]`).
const ML_CLIENT: &str = r#"
import json, sys, time
import google.oauth2.credentials
from googleapiclient import discovery, errors

base, token = sys.argv[1:3]
ml = discovery.build(
    "ml", "v1",
    credentials=google.oauth2.credentials.Credentials(token=token),
    client_options={"api_endpoint": base + "/"},
    static_discovery=True,
)
"#;

/// Runs `script` after [`ML_CLIENT`] with `arg` as `sys.argv[3]`; answers the JSON it
/// prints.
fn ml_client(engine: &TestEngine, script: &str, arg: &std::path::Path) -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(format!("{ML_CLIENT}{script}"))
        .arg(&engine.base)
        .arg(&engine.token)
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python client failed (google-api-python-client is in .ci/run's venv): {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn googles_python_client_creates_a_version_and_waits_on_its_operation() {
    let engine = TestEngine::start(&[]);
    engine
        .platform
        .create_model(&mlconsole::domain::Model {
            name: "iris".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let script = r#"
model_file = sys.argv[3]
models = ml.projects().models()
# Refused requests on the client's reused connection must not cost the next one.
for attempt in range(5):
    try:
        models.create(parent="projects/local", body={"name": "iris"}).execute()
        sys.exit("a second model iris was created")
    except errors.HttpError as e:
        assert e.resp.status == 409, e
op = models.versions().create(
    parent="projects/local/models/iris",
    body={"name": "v1", "deploymentUri": model_file, "runtimeVersion": "2.11"},
).execute()
assert op["metadata"]["operationType"] == "CREATE_VERSION", op
deadline = time.time() + 60
while not op.get("done"):
    assert time.time() < deadline, op
    time.sleep(0.2)
    op = ml.projects().operations().get(name=op["name"]).execute()
version = models.versions().get(name="projects/local/models/iris/versions/v1").execute()
answer = ml.projects().predict(name="projects/local/models/iris", body={"instances": [[5.1, 3.5, 1.4, 0.2]]}).execute()
print(json.dumps({"operation": op, "version": version, "answer": answer}))
"#;
    let result = ml_client(&engine, script, &fixture("iris_logreg.onnx"));
    assert_eq!(result["operation"]["done"], true);
    assert_eq!(result["operation"]["response"]["state"], "READY");
    assert_eq!(result["version"]["state"], "READY");
    assert_eq!(result["version"]["runtimeVersion"], "2.11", "kept as sent");
    assert_eq!(result["answer"]["predictions"][0]["label"], 0);
}

/// Reads one HTTP/1.1 response (headers and a Content-Length body) off `stream`.
fn read_response(stream: &mut std::net::TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).unwrap(),
            1,
            "the connection closed: {}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn a_client_reusing_its_connection_survives_a_rejected_post() {
    let engine = TestEngine::start(&[]);
    let address = engine.base.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Rejected before any handler looks at the body (a wrong token, an unknown
    // parameter), with a body large enough that an early close would cut it off.
    let body = format!(
        "{{\"jobId\": \"big\", \"labels\": {{\"pad\": \"{}\"}}}}",
        "x".repeat(4 << 20)
    );
    for (path, token) in [
        ("/v1/projects/local/jobs", "wrong-token"),
        ("/v1/projects/local/jobs?bogus=1", engine.token.as_str()),
        ("/v1/projects/local/models/nope:predict", "wrong-token"),
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream.write_all(body.as_bytes()).unwrap();
        let (status, answer) = read_response(&mut stream);
        assert!(status == 401 || status == 400, "{status} {answer}");
        // The same connection carries the next request.
        let next = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
        stream.write_all(next.as_bytes()).unwrap();
        let (status, answer) = read_response(&mut stream);
        assert_eq!(status, 200, "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn system_parameters_are_taken_and_unknown_ones_refused() {
    let engine = TestEngine::start(&[]);
    engine
        .platform
        .submit_job(&command_job("sys_params", &["true"]))
        .await
        .unwrap();
    let get = |path: String| {
        let http = engine.http.clone();
        let token = engine.token.clone();
        async move {
            let r = http.get(path).bearer_auth(token).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let jobs = engine.jobs_url();
    let (code, text) = get(format!(
        "{jobs}?alt=json&%24.xgafv=2&quotaUser=me&key=k&pageSize=5"
    ))
    .await;
    assert_eq!(code, 200, "{text}");
    assert!(!text.contains('\n'), "compact by default");
    let (_, pretty) = get(format!("{jobs}?prettyPrint=true")).await;
    assert!(pretty.contains("\n  \"jobs\""), "{pretty}");
    let (_, partial) = get(format!("{jobs}?fields=jobs(jobId,state)")).await;
    let partial: Value = serde_json::from_str(&partial).unwrap();
    assert_eq!(
        partial,
        json!({"jobs": [{"jobId": "sys_params", "state": partial["jobs"][0]["state"]}]})
    );
    let (code, text) = get(format!("{jobs}?bogus=1")).await;
    assert_eq!(code, 400);
    assert!(
        text.contains("unknown query parameter \\\"bogus\\\""),
        "{text}"
    );
    let (code, text) = get(format!("{jobs}?alt=media")).await;
    assert_eq!(code, 400, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_logging_entries_list_filters_orders_and_pages_a_jobs_log() {
    let engine = TestEngine::start(&[]);
    let code = "import logging, sys\nlogging.basicConfig(level=logging.INFO)\nfor i in range(30):\n    print(f'out {i}', flush=True)\nlogging.warning('careful')\nlogging.error('broken')";
    engine
        .platform
        .submit_job(&python_job("logged", code))
        .await
        .unwrap();
    engine.wait_finished("logged").await;
    let list = |body: Value| {
        let http = engine.http.clone();
        let url = engine.url("/v2/entries:list");
        let token = engine.token.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let job = r#"(resource.type="ml_job" OR resource.type="cloudml_job") AND resource.labels.job_id="logged""#;
    let (code, page) = list(json!({"resourceNames": ["projects/local"], "filter": job, "orderBy": "timestamp asc", "pageSize": 1000})).await;
    assert_eq!(code, 200, "{page:#}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(
        entries.len(),
        30 + 2 + 3,
        "30 lines, 2 logged, queued/started/exited"
    );
    assert_eq!(entries[0]["textPayload"], "Job queued.");
    assert_eq!(entries[0]["resource"]["labels"]["job_id"], "logged");
    assert_eq!(entries[0]["resource"]["type"], "ml_job");
    assert_eq!(
        entries[0]["logName"],
        "projects/local/logs/ml.googleapis.com%2Flogged"
    );
    let insert_ids: Vec<&str> = entries
        .iter()
        .map(|e| e["insertId"].as_str().unwrap())
        .collect();
    let mut sorted = insert_ids.clone();
    sorted.sort();
    assert_eq!(insert_ids, sorted, "insertIds sort as the log reads");

    let (_, warnings) = list(json!({"resourceNames": ["projects/local"], "filter": format!("{job} AND severity>=WARNING")})).await;
    let texts: Vec<&str> = warnings["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["textPayload"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["WARNING:root:careful", "ERROR:root:broken"]);
    let (_, found) = list(json!({"resourceNames": ["projects/local"], "filter": format!("{job} AND textPayload:\"out 27\"")})).await;
    assert_eq!(found["entries"].as_array().unwrap().len(), 1);

    // Pages, both ways, cover the log exactly once.
    for order in ["timestamp asc", "timestamp desc"] {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({"resourceNames": ["projects/local"], "filter": job, "orderBy": order, "pageSize": 7});
            if let Some(t) = &token {
                body["pageToken"] = json!(t);
            }
            let (code, page) = list(body).await;
            assert_eq!(code, 200, "{page:#}");
            seen.extend(
                page["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["insertId"].as_str().unwrap().to_owned()),
            );
            match page["nextPageToken"].as_str() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        if order == "timestamp desc" {
            seen.reverse();
        }
        assert_eq!(seen, insert_ids, "{order}");
    }

    let (code, bad) = list(json!({"resourceNames": ["projects/local"], "filter": "resource.labels.job_id=\"logged\" AND severity>=LOUD"})).await;
    assert_eq!(code, 400);
    let message = bad["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("column 47"),
        "names the column of LOUD: {message}"
    );
    let (code, bad) = list(json!({"resourceNames": ["projects/elsewhere"], "filter": job})).await;
    assert_eq!(code, 400, "{bad:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn gcloud_creates_a_scikit_learn_version_from_a_config_and_waits_for_it() {
    let Some(fixtures) = std::env::var_os("MLCONSOLE_FRAMEWORK_FIXTURES") else {
        panic!("MLCONSOLE_FRAMEWORK_FIXTURES is unset: run the tests through .ci/run");
    };
    let fixtures = PathBuf::from(fixtures);
    let engine = TestEngine::start(&[]);
    let gcloud = Gcloud::for_engine(&engine);
    gcloud.ok(&["ai-platform", "models", "create", "forest"]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("version.yaml");
    std::fs::write(
        &config,
        format!(
            "deploymentUri: {}\nframework: SCIKIT_LEARN\nruntimeVersion: '2.11'\npythonVersion: '3.7'\n",
            fixtures.join("sk_forest").display()
        ),
    )
    .unwrap();
    // gcloud waits on the version's operation until it is done.
    gcloud.ok(&[
        "ai-platform",
        "versions",
        "create",
        "v1",
        "--model=forest",
        &format!("--config={}", config.display()),
    ]);
    let v1 = gcloud.json(&[
        "ai-platform",
        "versions",
        "describe",
        "v1",
        "--model=forest",
    ]);
    assert_eq!(v1["state"], "READY", "{v1:#}");
    assert_eq!(v1["framework"], "SCIKIT_LEARN");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap())
            .unwrap();
    let forest = &expected["sk_forest"];
    let instances = dir.path().join("instances.json");
    let lines: Vec<String> = forest["body"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(&instances, lines.join("\n")).unwrap();
    let answer = gcloud.json(&[
        "ai-platform",
        "predict",
        "--model=forest",
        &format!("--json-instances={}", instances.display()),
    ]);
    assert_eq!(answer["predictions"], forest["predictions"], "{answer:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn googles_client_submits_a_tuning_job_and_gcloud_describes_its_trials() {
    let engine = TestEngine::start(&[]);
    let gcloud = Gcloud::for_engine(&engine);
    let trainer = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tuning/hypertune_trainer.py");
    let script = r#"
trainer = sys.argv[3]
jobs = ml.projects().jobs()
jobs.create(parent="projects/local", body={
    "jobId": "hptuning",
    "trainingInput": {
        "command": ["python3", trainer],
        "hyperparameters": {
            "goal": "MAXIMIZE",
            "hyperparameterMetricTag": "accuracy",
            "maxTrials": "3",
            "maxParallelTrials": 3,
            "params": [{"parameterName": "layers", "type": "INTEGER",
                        "minValue": 1, "maxValue": 3, "scaleType": "UNIT_LINEAR_SCALE"}],
        },
    },
}).execute()
deadline = time.time() + 90
job = jobs.get(name="projects/local/jobs/hptuning").execute()
while job["state"] not in ("SUCCEEDED", "FAILED", "CANCELLED"):
    assert time.time() < deadline, job
    time.sleep(0.2)
    job = jobs.get(name="projects/local/jobs/hptuning").execute()
print(json.dumps(job))
"#;
    let job = ml_client(&engine, script, &trainer);
    assert_eq!(job["state"], "SUCCEEDED", "{job:#}");
    let output = &job["trainingOutput"];
    assert_eq!(output["isHyperparameterTuningJob"], true);
    assert_eq!(output["completedTrialCount"], "3");
    assert_eq!(output["trials"].as_array().unwrap().len(), 3);

    let described = gcloud.json(&["ai-platform", "jobs", "describe", "hptuning"]);
    let trials = described["trainingOutput"]["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 3, "{described:#}");
    let best = &trials[0];
    assert!(
        best["finalMetric"]["objectiveValue"].as_f64().unwrap() >= 10.0,
        "{best:#}"
    );
    assert!(best["hyperparameters"]["layers"].is_string(), "{best:#}");
    assert_eq!(
        described["trainingInput"]["hyperparameters"]["goal"],
        "MAXIMIZE"
    );
    let text = gcloud.ok(&["ai-platform", "jobs", "describe", "hptuning"]);
    assert!(
        text.contains("trials:") && text.contains("objectiveValue"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gcloud_creates_a_version_from_a_gs_origin() {
    let Some(fixtures) = std::env::var_os("MLCONSOLE_FRAMEWORK_FIXTURES") else {
        panic!("MLCONSOLE_FRAMEWORK_FIXTURES is unset: run the tests through .ci/run");
    };
    let fixtures = PathBuf::from(fixtures);
    // The trained artifact sits in a bucket, as on Cloud ML Engine.
    let gcs = common::buckets::Emulator::gcs();
    gcs.create_gcs_bucket("trained").await;
    for entry in std::fs::read_dir(fixtures.join("sk_forest")).unwrap() {
        let path = entry.unwrap().path();
        let name = format!("forest/{}", path.file_name().unwrap().to_string_lossy());
        gcs.upload_gcs("trained", &name, std::fs::read(&path).unwrap())
            .await;
    }
    let engine = TestEngine::start_with_env(&[], &[("STORAGE_EMULATOR_HOST", gcs.base.clone())]);
    let gcloud = Gcloud::for_engine(&engine);
    gcloud.ok(&["ai-platform", "models", "create", "forest"]);
    gcloud.ok(&[
        "ai-platform",
        "versions",
        "create",
        "v1",
        "--model=forest",
        "--origin=gs://trained/forest",
        "--framework=scikit-learn",
        "--runtime-version=2.11",
        "--python-version=3.7",
    ]);
    let v1 = gcloud.json(&[
        "ai-platform",
        "versions",
        "describe",
        "v1",
        "--model=forest",
    ]);
    assert_eq!(v1["state"], "READY", "{v1:#}");
    assert_eq!(v1["deploymentUri"], "gs://trained/forest");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap())
            .unwrap();
    let forest = &expected["sk_forest"];
    let dir = tempfile::tempdir().unwrap();
    let instances = dir.path().join("instances.json");
    let lines: Vec<String> = forest["body"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    std::fs::write(&instances, lines.join("\n")).unwrap();
    let answer = gcloud.json(&[
        "ai-platform",
        "predict",
        "--model=forest",
        &format!("--json-instances={}", instances.display()),
    ]);
    assert_eq!(answer["predictions"], forest["predictions"], "{answer:#}");
}
