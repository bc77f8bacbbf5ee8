//! The engine's HTTP surface: auth, filters, paging, error shapes, OpenAPI, start-up rules.

#![allow(clippy::too_many_lines)] // a story is one test; the shared fakes are long

mod common;

use std::process::Command;

use common::{TestEngine, command_job};
use mlconsole::domain::JobState;
use mlconsole::platform::{Platform, PlatformError};
use serde_json::Value;

/// Asserts a Google-shaped error with `code` and a message containing `needle`.
fn assert_error(answer: &(u16, Value), code: u16, status: &str, needle: &str) {
    let (got, body) = answer;
    assert_eq!(*got, code, "{body:#}");
    let error = &body["error"];
    assert_eq!(error["code"], code, "{body:#}");
    assert_eq!(error["status"], status, "{body:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_but_healthz_needs_the_token() {
    let engine = TestEngine::start(&[]);
    let health = engine
        .http
        .get(engine.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    for path in [
        "/v1/projects/local/jobs",
        "/v1/projects/local/jobs/x",
        "/openapi.json",
        "/v1/projects/local/jobs/x/logs",
    ] {
        let r = engine.http.get(engine.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
        assert!(body["error"]["message"].as_str().unwrap().contains("token"));
        let wrong = engine
            .http
            .get(engine.url(path))
            .bearer_auth("0".repeat(64))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    // Predictions too, on the fast path and through the router (an escaped name).
    for path in [
        "/v1/projects/local/models/iris:predict",
        "/v1/projects/local/models/iris/versions/v1:predict",
        "/v1/projects/local/models/ir%69s:predict",
    ] {
        for token in [None, Some("0".repeat(64))] {
            let mut request = engine
                .http
                .post(engine.url(path))
                .body(r#"{"instances": [[1, 2, 3, 4]]}"#);
            if let Some(token) = &token {
                request = request.bearer_auth(token);
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), 401, "{path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["error"]["status"], "UNAUTHENTICATED", "{path}");
        }
    }
    let r = engine
        .http
        .post(engine.jobs_url())
        .json(&command_job("sneaky", &["true"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(engine.platform.get_job("sneaky").await.is_err());

    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(engine.data_dir.join("token"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "only the user can read the token");
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_select_jobs_like_gcloud() {
    let engine = TestEngine::start(&[]);
    let mut submit = Vec::new();
    for (id, team, code) in [
        ("f_vision_ok", "vision", 0),
        ("f_vision_bad", "vision", 1),
        ("f_nlp_ok", "nlp", 0),
        ("g_other", "", 2),
    ] {
        let mut job = command_job(id, &["sh", "-c", &format!("exit {code}")]);
        if !team.is_empty() {
            job.labels.insert("team".into(), team.into());
        }
        submit.push(job);
    }
    for job in &submit {
        engine.platform.submit_job(job).await.unwrap();
    }
    for job in &submit {
        engine.wait_finished(&job.job_id).await;
    }
    let created = engine
        .platform
        .get_job("f_vision_bad")
        .await
        .unwrap()
        .create_time
        .unwrap();

    let ids = |filter: &'static str| {
        let platform = engine.platform.clone();
        async move {
            let page = platform.list_jobs(filter, 100, None).await.unwrap();
            page.jobs.into_iter().map(|j| j.job_id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids("").await,
        ["g_other", "f_nlp_ok", "f_vision_bad", "f_vision_ok"],
        "newest first"
    );
    assert_eq!(
        ids("labels.team=vision").await,
        ["f_vision_bad", "f_vision_ok"]
    );
    assert_eq!(ids("state=FAILED").await, ["g_other", "f_vision_bad"]);
    assert_eq!(
        ids("state=failed AND labels.team:*").await,
        ["f_vision_bad"]
    );
    assert_eq!(ids("NOT labels.team:*").await, ["g_other"]);
    assert_eq!(
        ids("jobId:vision OR labels.team=nlp").await,
        ["f_nlp_ok", "f_vision_bad", "f_vision_ok"]
    );
    assert_eq!(
        ids("(state=SUCCEEDED) labels.team!=nlp").await,
        ["f_vision_ok"]
    );
    assert_eq!(ids("jobId=f_*_ok").await, ["f_nlp_ok", "f_vision_ok"]);
    assert_eq!(ids("trainingInput.command:\"exit 2\"").await, ["g_other"]);
    let after = format!("createTime>=\"{}\"", created.to_rfc3339());
    let page = engine.platform.list_jobs(&after, 100, None).await.unwrap();
    let got: Vec<_> = page.jobs.iter().map(|j| j.job_id.as_str()).collect();
    assert_eq!(got, ["g_other", "f_nlp_ok", "f_vision_bad"]);

    // Paging walks the same order.
    let first = engine.platform.list_jobs("", 3, None).await.unwrap();
    assert_eq!(first.jobs.len(), 3);
    let token = first.next_page_token.unwrap();
    let second = engine
        .platform
        .list_jobs("", 3, Some(&token))
        .await
        .unwrap();
    assert_eq!(second.jobs.len(), 1);
    assert_eq!(second.jobs[0].job_id, "f_vision_ok");
    assert_eq!(second.next_page_token, None);

    for (filter, column, needle) in [
        ("state=", 7, "expected a value"),
        ("state=RUNNING AND", 15, "AND needs a term"),
        ("(state=RUNNING", 1, "never closed"),
        ("color=red", 1, "unknown field \"color\""),
        ("createTime>yesterday", 12, "needs a time"),
        ("state ~ RUNNING", 7, "expected an operator"),
    ] {
        let err = engine
            .platform
            .list_jobs(filter, 10, None)
            .await
            .unwrap_err();
        let PlatformError::Rejected { status, message } = err else {
            panic!("{filter}: {err:?}");
        };
        assert_eq!(status, "INVALID_ARGUMENT");
        assert!(
            message.contains(&format!("column {column}:")),
            "{filter}: {message}"
        );
        assert!(message.contains(needle), "{filter}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_google_shaped_error() {
    let engine = TestEngine::start(&[]);
    let jobs = "/v1/projects/local/jobs";
    assert_error(
        &engine.post_raw(jobs, "{not json").await,
        400,
        "INVALID_ARGUMENT",
        "not a valid Job",
    );
    assert_error(
        &engine.post_raw(jobs, "").await,
        400,
        "INVALID_ARGUMENT",
        "body is empty",
    );
    assert_error(
        &engine.post_raw(jobs, "[1,2]").await,
        400,
        "INVALID_ARGUMENT",
        "not a valid Job",
    );
    assert_error(
        &engine
            .post_raw(jobs, r#"{"jobId":"a","trainingInput":{"comand":["true"]}}"#)
            .await,
        400,
        "INVALID_ARGUMENT",
        "unknown field `comand`",
    );
    assert_error(
        &engine
            .post_raw(
                jobs,
                r#"{"jobId":"1bad","trainingInput":{"command":["true"]}}"#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "jobId \"1bad\" is not valid",
    );
    assert_error(
        &engine.post_raw(jobs, r#"{"jobId":"a"}"#).await,
        400,
        "INVALID_ARGUMENT",
        "trainingInput is required",
    );
    assert_error(
        &engine
            .post_raw(
                jobs,
                r#"{"jobId":"a","trainingInput":{"command":["x"],"pythonModule":"m"}}"#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "not both",
    );
    assert_error(
        &engine
            .post_raw(
                jobs,
                r#"{"jobId":"a","trainingInput":{"pythonModule":"m","packageUris":["pkg"]}}"#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "must be an absolute path",
    );
    assert_error(
        &engine.post_raw(jobs, r#"{"jobId":"a","trainingInput":{"pythonModule":"m","packageUris":["/no/such/pkg"]}}"#).await,
        400,
        "INVALID_ARGUMENT",
        "does not exist",
    );
    assert_error(
        &engine
            .post_raw(
                jobs,
                r#"{"jobId":"a","trainingInput":{"command":["true"],"workingDir":"/no/such/dir"}}"#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "is not a directory",
    );
    assert_error(
        &engine
            .post_raw(
                jobs,
                r#"{"jobId":"a","labels":{"Team":"x"},"trainingInput":{"command":["true"]}}"#,
            )
            .await,
        400,
        "INVALID_ARGUMENT",
        "label key",
    );
    let huge = format!(
        r#"{{"jobId":"a","trainingInput":{{"command":["{}"]}}}}"#,
        "x".repeat(3 << 20)
    );
    let oversized = engine
        .http
        .post(engine.url(jobs))
        .bearer_auth(&engine.token)
        .body(huge)
        .send()
        .await;
    // The engine refuses past its 2 MiB limit. It may answer before the upload ends and
    // close the connection, which a client then sees as a send error instead.
    if let Ok(r) = oversized {
        let code = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert!(code == 400 || code == 413, "{code} {body}");
        assert!(body["error"]["message"].is_string());
    }

    // Nothing was created by any of those.
    assert!(
        engine
            .platform
            .list_jobs("", 10, None)
            .await
            .unwrap()
            .jobs
            .is_empty()
    );

    let ok = r#"{"jobId":"dup","trainingInput":{"command":["true"]}}"#;
    assert_eq!(engine.post_raw(jobs, ok).await.0, 200);
    assert_error(
        &engine.post_raw(jobs, ok).await,
        409,
        "ALREADY_EXISTS",
        "already exists",
    );
    engine.wait_finished("dup").await;
    assert_error(
        &engine
            .post_raw("/v1/projects/local/jobs/dup:cancel", "")
            .await,
        400,
        "FAILED_PRECONDITION",
        "already SUCCEEDED",
    );
    assert_error(
        &engine
            .post_raw("/v1/projects/local/jobs/dup:explode", "")
            .await,
        404,
        "NOT_FOUND",
        "no such job action",
    );

    assert_error(
        &engine.get("/v1/projects/local/jobs/ghost").await,
        404,
        "NOT_FOUND",
        "no job named \"ghost\"",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs/ghost/logs").await,
        404,
        "NOT_FOUND",
        "ghost",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs/ghost/metrics").await,
        404,
        "NOT_FOUND",
        "ghost",
    );
    assert_error(
        &engine
            .post_raw("/v1/projects/local/jobs/ghost:cancel", "")
            .await,
        404,
        "NOT_FOUND",
        "ghost",
    );
    assert_error(
        &engine.get("/v1/projects/other/jobs").await,
        404,
        "NOT_FOUND",
        "serves the project \"local\"",
    );
    assert_error(
        &engine.get("/v2/whatever").await,
        404,
        "NOT_FOUND",
        "no such API path",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs?pageSize=abc").await,
        400,
        "INVALID_ARGUMENT",
        "pageSize",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs?pageSize=100000").await,
        400,
        "INVALID_ARGUMENT",
        "1 to 1000",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs?pageToken=zzz").await,
        400,
        "INVALID_ARGUMENT",
        "pageToken",
    );
    assert_error(
        &engine.get("/v1/projects/local/jobs?fliter=x").await,
        400,
        "INVALID_ARGUMENT",
        "unknown query parameter \"fliter\"",
    );
    assert_error(
        &engine
            .get("/v1/projects/local/jobs/dup/logs?after=-1")
            .await,
        400,
        "INVALID_ARGUMENT",
        "after must be",
    );
    assert_error(
        &engine
            .get("/v1/projects/local/jobs/dup/metrics?since=soon")
            .await,
        400,
        "INVALID_ARGUMENT",
        "since must be",
    );
    let r = engine
        .http
        .delete(engine.url(jobs))
        .bearer_auth(&engine.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DELETE is not supported")
    );

    // The engine is still well after all that.
    let job = engine.platform.get_job("dup").await.unwrap();
    assert_eq!(job.state, JobState::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route() {
    let engine = TestEngine::start(&[]);
    let (code, doc) = engine.get("/openapi.json").await;
    assert_eq!(code, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with('3'));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/openapi.json",
        "/v1/projects/{project}/jobs",
        "/v1/projects/{project}/jobs/{job}",
        "/v1/projects/{project}/jobs/{job}:cancel",
        "/v1/projects/{project}/jobs/{job}/logs",
        "/v1/projects/{project}/jobs/{job}/metrics",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from {:?}",
            paths.keys()
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Job",
        "TrainingInput",
        "JobState",
        "LogPage",
        "MetricsPage",
        "ErrorBody",
        "Operation",
        "OperationPage",
        "ListLogEntriesRequest",
        "LoggingEntry",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_engine_on_the_same_data_dir_is_refused() {
    let engine = TestEngine::start(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_mlconsole"))
        .args(["engine", "--port", "0", "--data-dir"])
        .arg(&engine.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("another mlconsole engine is already running"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&engine.base),
        "says where the other engine listens: {stderr}"
    );
    // The first engine is unaffected.
    engine.platform.check_connection().await.unwrap();
}
