//! Models, versions and online prediction against a real engine: scikit-learn's own
//! outputs, bad instances, delete rules, default switches under load, scaling.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestEngine;
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("expected.json")).unwrap()).unwrap()
}

const MODELS: &str = "/v1/projects/local/models";

async fn create_model(engine: &TestEngine, name: &str) {
    let (code, body) = engine
        .post_raw(MODELS, &json!({ "name": name }).to_string())
        .await;
    assert_eq!(code, 200, "{body:#}");
    assert_eq!(body["name"], format!("projects/local/models/{name}"));
}

/// Creates a version and follows its long-running operation until done, as a v1 client
/// does; returns the version as it then is.
async fn create_version(engine: &TestEngine, model: &str, version: Value) -> Value {
    let path = format!("{MODELS}/{model}/versions");
    let (code, op) = engine.post_raw(&path, &version.to_string()).await;
    assert_eq!(code, 200, "{op:#}");
    assert_eq!(op["metadata"]["operationType"], "CREATE_VERSION", "{op:#}");
    assert_eq!(op["metadata"]["version"]["state"], "CREATING", "{op:#}");
    assert_eq!(
        op["metadata"]["modelName"],
        format!("projects/local/models/{model}")
    );
    let op_name = op["name"].as_str().unwrap().to_owned();
    assert!(
        op_name.starts_with("projects/local/operations/"),
        "{op_name}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let (code, op) = engine.get(&format!("/v1/{op_name}")).await;
        assert_eq!(code, 200, "{op:#}");
        if op["done"] == true {
            break op;
        }
        assert!(Instant::now() < deadline, "operation stuck: {op:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let name = version["name"].as_str().unwrap();
    let now = wait_version(engine, model, name, |v| v["state"] != "CREATING").await;
    match now["state"].as_str() {
        Some("READY") => {
            assert_eq!(
                done["response"]["@type"],
                "type.googleapis.com/google.cloud.ml.v1.Version"
            );
            assert_eq!(done["response"]["state"], "READY");
        }
        _ => assert_eq!(
            done["error"]["message"].as_str(),
            now["errorMessage"].as_str(),
            "a failed creation's error is the version's"
        ),
    }
    now
}

async fn wait_version(
    engine: &TestEngine,
    model: &str,
    version: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, body) = engine
            .get(&format!("{MODELS}/{model}/versions/{version}"))
            .await;
        assert_eq!(code, 200, "{body:#}");
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "version stuck: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn version_of(name: &str, file: &str) -> Value {
    json!({ "name": name, "deploymentUri": fixture(file) })
}

async fn predict(engine: &TestEngine, path: &str, instances: Value) -> (u16, Value) {
    engine
        .post_raw(path, &json!({ "instances": instances }).to_string())
        .await
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_predict_like_scikit_learn() {
    let engine = TestEngine::start(&[]);
    let expected = expected();
    create_model(&engine, "iris").await;
    create_model(&engine, "diabetes").await;
    let logreg = create_version(&engine, "iris", version_of("logreg", "iris_logreg.onnx")).await;
    assert_eq!(logreg["state"], "READY", "{logreg:#}");
    assert_eq!(logreg["framework"], "ONNX");
    assert_eq!(
        logreg["isDefault"], true,
        "the first version becomes the default"
    );
    assert_eq!(
        logreg["inputs"],
        json!([{ "name": "X", "dtype": "float32", "shape": [null, 4] }])
    );
    assert_eq!(logreg["outputs"][0]["name"], "label");
    assert_eq!(logreg["outputs"][1]["name"], "probabilities");
    // The artifact was copied into the engine's store.
    assert!(
        engine
            .data_dir
            .join("models/iris/logreg/model.onnx")
            .is_file()
    );

    // A folder holding model.onnx works as well as the file.
    let folder = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("iris_forest.onnx"),
        folder.path().join("model.onnx"),
    )
    .unwrap();
    let forest = create_version(
        &engine,
        "iris",
        json!({ "name": "forest", "deploymentUri": format!("file://{}", folder.path().display()) }),
    )
    .await;
    assert_eq!(forest["state"], "READY", "{forest:#}");
    assert_eq!(forest["isDefault"], false);
    let linreg = create_version(
        &engine,
        "diabetes",
        version_of("linreg", "diabetes_linreg.onnx"),
    )
    .await;
    assert_eq!(linreg["state"], "READY", "{linreg:#}");

    for (path, key) in [
        (format!("{MODELS}/iris:predict"), "iris_logreg"),
        (
            format!("{MODELS}/iris/versions/logreg:predict"),
            "iris_logreg",
        ),
        (
            format!("{MODELS}/iris/versions/forest:predict"),
            "iris_forest",
        ),
    ] {
        let want = &expected[key];
        let (code, body) = predict(&engine, &path, want["instances"].clone()).await;
        assert_eq!(code, 200, "{path}: {body:#}");
        let predictions = body["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), want["label"].as_array().unwrap().len());
        for (i, p) in predictions.iter().enumerate() {
            assert_eq!(p["label"], want["label"][i], "{key} instance {i}");
            for (got, exp) in p["probabilities"]
                .as_array()
                .unwrap()
                .iter()
                .zip(want["probabilities"][i].as_array().unwrap())
            {
                let (got, exp) = (got.as_f64().unwrap(), exp.as_f64().unwrap());
                assert!(close(got, exp, 1e-4), "{key} instance {i}: {got} vs {exp}");
            }
        }
    }

    let want = &expected["diabetes_linreg"];
    let (code, body) = predict(
        &engine,
        &format!("{MODELS}/diabetes:predict"),
        want["instances"].clone(),
    )
    .await;
    assert_eq!(code, 200, "{body:#}");
    for (i, p) in body["predictions"].as_array().unwrap().iter().enumerate() {
        // A single output answers its value: here [y] per instance.
        let got = p[0].as_f64().unwrap();
        let exp = want["variable"][i].as_f64().unwrap();
        assert!(close(got, exp, 1e-4), "instance {i}: {got} vs {exp}");
    }

    // Objects keyed by input name work too.
    let (code, body) = predict(
        &engine,
        &format!("{MODELS}/iris:predict"),
        json!([{ "X": [5.1, 3.5, 1.4, 0.2] }]),
    )
    .await;
    assert_eq!(code, 200, "{body:#}");
    assert_eq!(body["predictions"][0]["label"], 0);

    let (code, metrics) = wait_metrics(&engine, "iris", "logreg", 2).await;
    assert_eq!(code, 200);
    assert!(metrics["samples"].as_array().unwrap().iter().any(|s| {
        s["requests"].as_u64().unwrap() > 0 && s["latencyP50Ms"].as_f64().unwrap() > 0.0
    }));
}

/// Waits until a version's metrics count `requests` requests.
async fn wait_metrics(
    engine: &TestEngine,
    model: &str,
    version: &str,
    requests: u64,
) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = engine
            .get(&format!("{MODELS}/{model}/versions/{version}/metrics"))
            .await;
        if got.0 != 200 || got.1["totalRequests"].as_u64().unwrap_or(0) >= requests {
            return got;
        }
        assert!(Instant::now() < deadline, "metrics stuck: {:#}", got.1);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn delete(engine: &TestEngine, path: String) -> (u16, Value) {
    let r = engine
        .http
        .delete(engine.url(&path))
        .bearer_auth(&engine.token)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json::<Value>().await.unwrap())
}

/// 16 clients sending `body` to `url` until `stop`; each answers how many requests
/// succeeded with a prediction of label 0, and what the others got.
fn load(
    engine: &TestEngine,
    url: &str,
    body: &str,
    stop: Instant,
) -> Vec<tokio::task::JoinHandle<(u32, Vec<String>)>> {
    (0..16)
        .map(|_| {
            let (http, url, token, body) = (
                engine.http.clone(),
                url.to_owned(),
                engine.token.clone(),
                body.to_owned(),
            );
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, Vec::new());
                while Instant::now() < stop {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let text = r.text().await.unwrap();
                    if status == 200 && text.contains("\"label\":0") {
                        ok += 1;
                    } else {
                        failed.push(format!("{status} {text}"));
                    }
                }
                (ok, failed)
            })
        })
        .collect()
}

fn assert_error(answer: &(u16, Value), code: u16, needle: &str) {
    let (got, body) = answer;
    assert_eq!(*got, code, "{body:#}");
    assert_eq!(body["error"]["code"], code, "{body:#}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_instances_and_bad_versions_get_clear_errors() {
    let engine = TestEngine::start(&[]);
    create_model(&engine, "iris").await;
    create_version(&engine, "iris", version_of("v1", "iris_logreg.onnx")).await;
    let path = format!("{MODELS}/iris:predict");
    let good = [5.1, 3.5, 1.4, 0.2];

    let cases: Vec<(String, &str)> = vec![
        (
            json!({ "instances": [good, [1.0, 2.0, 3.0]] }).to_string(),
            "instance 1",
        ),
        (
            json!({ "instances": [good, good, ["a", 1, 2, 3]] }).to_string(),
            "instance 2",
        ),
        (
            json!({ "instances": [{ "Y": good }] }).to_string(),
            "unknown input \"Y\"",
        ),
        (json!({ "instances": [] }).to_string(), "empty"),
        ("{\"instances\": [[1,2,3,4]".into(), "not valid JSON"),
        (json!({ "rows": [good] }).to_string(), "\"instances\""),
        (
            json!({ "instances": vec![good; 10_001] }).to_string(),
            "too many instances",
        ),
    ];
    for (body, needle) in cases {
        let answer = engine.post_raw(&path, &body).await;
        assert_error(&answer, 400, needle);
    }
    // Still serving after all that.
    let (code, body) = predict(&engine, &path, json!([good])).await;
    assert_eq!(code, 200, "{body:#}");
    // Past 32 MiB the body is refused the same way on the fast path and the router's.
    let huge = format!("{{\"instances\": [{}]}}", "0,".repeat(17 << 20));
    for path in [path.clone(), format!("{MODELS}/ir%69s:predict")] {
        let oversized = engine
            .http
            .post(engine.url(&path))
            .bearer_auth(&engine.token)
            .body(huge.clone())
            .send()
            .await;
        // It may answer before the upload ends and close the connection, which a client
        // sees as a send error instead.
        if let Ok(r) = oversized {
            let code = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            assert_eq!(code, 400, "{path}: {body}");
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains("at most 32 MiB"), "{path}: {message}");
        }
    }
    // A path spelled with escapes skips the fast path and gets the same answer.
    let escaped = predict(&engine, &format!("{MODELS}/ir%69s:predict"), json!([good])).await;
    assert_eq!(escaped, (code, body));
    assert_error(
        &predict(
            &engine,
            "/v1/projects/other/models/iris:predict",
            json!([good]),
        )
        .await,
        404,
        "project \"other\" not found",
    );

    assert_error(
        &predict(&engine, &format!("{MODELS}/nope:predict"), json!([good])).await,
        404,
        "no model named \"nope\"",
    );
    assert_error(
        &predict(
            &engine,
            &format!("{MODELS}/iris/versions/v9:predict"),
            json!([good]),
        )
        .await,
        404,
        "no version named \"v9\"",
    );

    let versions = format!("{MODELS}/iris/versions");
    assert_error(
        &engine
            .post_raw(
                &versions,
                &json!({ "name": "v2", "deploymentUri": "/no/such/model.onnx" }).to_string(),
            )
            .await,
        400,
        "does not exist",
    );
    assert_error(
        &engine
            .post_raw(&versions, &version_of("v1", "iris_logreg.onnx").to_string())
            .await,
        409,
        "already has a version named \"v1\"",
    );
    assert_error(
        &engine
            .post_raw(
                &versions,
                &version_of("bad-name", "iris_logreg.onnx").to_string(),
            )
            .await,
        400,
        "not valid",
    );
    assert_error(
        &engine
            .post_raw(
                &format!("{MODELS}/nope/versions"),
                &version_of("v1", "iris_logreg.onnx").to_string(),
            )
            .await,
        404,
        "no model named",
    );

    // A file that is not a model: the version FAILS with the runtime's message (ONNX
    // Runtime's or tract's loader's).
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), b"this is not an ONNX model").unwrap();
    let failed = create_version(
        &engine,
        "iris",
        json!({ "name": "junk", "deploymentUri": junk.path() }),
    )
    .await;
    assert_eq!(failed["state"], "FAILED", "{failed:#}");
    assert!(
        failed["errorMessage"].as_str().unwrap().contains("refused"),
        "{failed:#}"
    );
    assert_error(
        &engine
            .post_raw(&format!("{MODELS}/iris/versions/junk:setDefault"), "")
            .await,
        400,
        "only a READY version",
    );
    assert_error(
        &predict(
            &engine,
            &format!("{MODELS}/iris/versions/junk:predict"),
            json!([good]),
        )
        .await,
        400,
        "FAILED",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_rules_default_history_and_restart() {
    let mut engine = TestEngine::start(&[]);
    create_model(&engine, "iris").await;
    create_version(&engine, "iris", version_of("v1", "iris_logreg.onnx")).await;
    create_version(&engine, "iris", version_of("v2", "iris_forest.onnx")).await;
    assert_error(
        &delete(&engine, format!("{MODELS}/iris")).await,
        400,
        "still has 2 version(s) (v1, v2)",
    );
    assert_error(
        &delete(&engine, format!("{MODELS}/iris/versions/v1")).await,
        400,
        "is the default",
    );
    let (code, v2) = engine
        .post_raw(&format!("{MODELS}/iris/versions/v2:setDefault"), "")
        .await;
    assert_eq!(code, 200, "{v2:#}");
    assert_eq!(v2["isDefault"], true);
    let (_, model) = engine.get(&format!("{MODELS}/iris")).await;
    assert_eq!(
        model["defaultVersion"]["name"],
        "projects/local/models/iris/versions/v2"
    );
    let history: Vec<&str> = model["defaultHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["version"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["v1", "v2"]);

    // Everything survives a restart, and the default serves again (loaded on demand).
    engine.kill_engine();
    engine.restart();
    let (_, versions) = engine.get(&format!("{MODELS}/iris/versions")).await;
    let states: Vec<(&str, &str, bool)> = versions["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().rsplit('/').next().unwrap(),
                v["state"].as_str().unwrap(),
                v["isDefault"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(states, [("v1", "READY", false), ("v2", "READY", true)]);
    let (code, body) = predict(
        &engine,
        &format!("{MODELS}/iris:predict"),
        json!([[5.1, 3.5, 1.4, 0.2]]),
    )
    .await;
    assert_eq!(code, 200, "{body:#}");

    let (code, op) = delete(&engine, format!("{MODELS}/iris/versions/v1")).await;
    assert_eq!(code, 200);
    assert_eq!(
        (
            op["done"].as_bool(),
            op["metadata"]["operationType"].as_str()
        ),
        (Some(true), Some("DELETE_VERSION"))
    );
    assert_eq!(
        op["response"]["@type"],
        "type.googleapis.com/google.protobuf.Empty"
    );
    assert!(!engine.data_dir.join("models/iris/v1").exists());
    let (code, again) = engine
        .get(&format!("/v1/{}", op["name"].as_str().unwrap()))
        .await;
    assert_eq!(code, 200, "{again:#}");
    assert_eq!(again, op, "the delete's operation can be read back");
    // The last version may go even though it is the default.
    let (code, _) = delete(&engine, format!("{MODELS}/iris/versions/v2")).await;
    assert_eq!(code, 200);
    let (code, body) = delete(&engine, format!("{MODELS}/iris")).await;
    assert_eq!(code, 200, "{body:#}");
    assert_eq!(body["metadata"]["operationType"], "DELETE_MODEL");
    assert_eq!(body["done"], true);
    let (code, ops) = engine.get("/v1/projects/local/operations").await;
    assert_eq!(code, 200, "{ops:#}");
    let kinds: Vec<&str> = ops["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["operationType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["DELETE_MODEL", "DELETE_VERSION", "DELETE_VERSION"],
        "{ops:#}"
    );
    assert_error(
        &engine.get(&format!("{MODELS}/iris")).await,
        404,
        "no model",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn default_switches_under_concurrent_load_lose_no_request() {
    let engine = TestEngine::start(&[]);
    create_model(&engine, "iris").await;
    create_version(&engine, "iris", version_of("v1", "iris_logreg.onnx")).await;
    create_version(&engine, "iris", version_of("v2", "iris_forest.onnx")).await;
    let stop = Instant::now() + Duration::from_millis(2000);
    let url = engine.url(&format!("{MODELS}/iris:predict"));
    let body = json!({ "instances": [[5.1, 3.5, 1.4, 0.2]] }).to_string();
    let clients = load(&engine, &url, &body, stop);
    let mut switches = 0;
    while Instant::now() < stop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let target = if switches % 2 == 0 { "v2" } else { "v1" };
        let (code, body) = engine
            .post_raw(&format!("{MODELS}/iris/versions/{target}:setDefault"), "")
            .await;
        assert_eq!(code, 200, "{body:#}");
        switches += 1;
    }
    let mut total = 0;
    for client in clients {
        let (ok, failed) = client.await.unwrap();
        assert!(failed.is_empty(), "lost requests: {failed:?}");
        total += ok;
    }
    assert!(
        switches >= 10 && total > 100,
        "{switches} switches, {total} requests"
    );
    // Both versions took traffic.
    let (_, m1) = wait_metrics(&engine, "iris", "v1", 1).await;
    let (_, m2) = wait_metrics(&engine, "iris", "v2", 1).await;
    let served = m1["totalRequests"].as_u64().unwrap() + m2["totalRequests"].as_u64().unwrap();
    assert!(m1["totalRequests"].as_u64().unwrap() > 0 && m2["totalRequests"].as_u64().unwrap() > 0);
    assert!(served <= u64::from(total));
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_grow_under_load_shrink_to_zero_and_come_back() {
    let engine = TestEngine::start(&["--replica-idle-secs", "1", "--max-replicas", "4"]);
    create_model(&engine, "iris").await;
    let v = create_version(&engine, "iris", version_of("v1", "iris_logreg.onnx")).await;
    assert_eq!(v["state"], "READY");
    // minNodes 2 keeps two replicas however idle.
    let warm = create_version(
        &engine,
        "iris",
        json!({ "name": "warm", "deploymentUri": fixture("iris_logreg.onnx"),
                "autoScaling": { "minNodes": 2 } }),
    )
    .await;
    assert_eq!(warm["state"], "READY");
    wait_version(&engine, "iris", "warm", |v| v["replicas"] == 2).await;

    // Concurrent load adds replicas.
    let url = engine.url(&format!("{MODELS}/iris:predict"));
    let body = json!({ "instances": vec![[5.1, 3.5, 1.4, 0.2]; 200] }).to_string();
    let stop = Instant::now() + Duration::from_millis(1500);
    for client in load(&engine, &url, &body, stop) {
        let (_, failed) = client.await.unwrap();
        assert!(failed.is_empty(), "failed requests: {failed:?}");
    }
    let (_, metrics) = wait_metrics(&engine, "iris", "v1", 1).await;
    let peak = metrics["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["replicas"].as_u64().unwrap())
        .max()
        .unwrap();
    assert!(peak >= 2, "replicas never grew: {metrics:#}");

    // Idle: down to zero (minNodes 0), one replica at a time.
    let idle = wait_version(&engine, "iris", "v1", |v| v["replicas"] == 0).await;
    assert!(idle["lastUseTime"].is_string());
    // The next request starts it again.
    let (code, body) = predict(
        &engine,
        &format!("{MODELS}/iris:predict"),
        json!([[5.1, 3.5, 1.4, 0.2]]),
    )
    .await;
    assert_eq!(code, 200, "{body:#}");
    let (_, v1) = engine.get(&format!("{MODELS}/iris/versions/v1")).await;
    assert_eq!(v1["replicas"], 1);
    let (_, warm) = engine.get(&format!("{MODELS}/iris/versions/warm")).await;
    assert_eq!(warm["replicas"], 2, "minNodes holds");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_prediction_jobs_write_results_and_count_bad_lines() {
    let engine = TestEngine::start(&[]);
    create_model(&engine, "iris").await;
    create_version(&engine, "iris", version_of("v1", "iris_logreg.onnx")).await;
    let data = tempfile::tempdir().unwrap();
    let expected = expected();
    let instances = expected["iris_logreg"]["instances"].as_array().unwrap();
    // Two files: 600 good lines, then 300 good lines with two bad ones among them.
    let mut first = String::new();
    for i in 0..600 {
        first.push_str(&format!("{}\n", instances[i % instances.len()]));
    }
    std::fs::write(data.path().join("part-a.jsonl"), first).unwrap();
    let mut second = String::new();
    for i in 0..300 {
        second.push_str(&format!("{}\n", instances[i % instances.len()]));
        if i == 10 {
            second.push_str("[1.0, 2.0]\n");
        }
        if i == 20 {
            second.push_str("{not json\n");
        }
    }
    std::fs::write(data.path().join("part-b.jsonl"), second).unwrap();
    let out = data.path().join("out");
    let job = json!({
        "jobId": "batch_1",
        "predictionInput": {
            "modelName": "projects/local/models/iris",
            "inputPaths": [format!("{}/*.jsonl", data.path().display())],
            "outputPath": out,
            "dataFormat": "JSON",
        }
    });
    let (code, body) = engine
        .post_raw("/v1/projects/local/jobs", &job.to_string())
        .await;
    assert_eq!(code, 200, "{body:#}");
    assert_eq!(
        body["predictionInput"]["versionName"], "projects/local/models/iris/versions/v1",
        "the version is pinned at submission"
    );
    let done = engine.wait_finished("batch_1").await;
    assert_eq!(
        done.state,
        mlconsole::domain::JobState::Succeeded,
        "{:?}",
        done.error_message
    );
    let argv = done.invocation.unwrap().argv;
    assert_eq!(argv[1], "batch-predict", "{argv:?}");

    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let a = read("prediction.results-00000-of-00002");
    let b = read("prediction.results-00001-of-00002");
    assert_eq!(a.lines().count(), 600);
    assert_eq!(b.lines().count(), 300);
    let labels = &expected["iris_logreg"]["label"];
    for (i, line) in a.lines().take(instances.len()).enumerate() {
        let p: Value = serde_json::from_str(line).unwrap();
        assert_eq!(p["label"], labels[i], "line {i}");
    }
    let errors = read("prediction.errors_stats-00000-of-00001");
    let mut errors: Vec<Value> = errors
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    errors.sort_by_key(|e| e["line"].as_u64());
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["line"], 12);
    assert!(
        errors[0]["error"].as_str().unwrap().contains("X"),
        "{errors:?}"
    );
    assert_eq!(errors[1]["line"], 23);
    assert!(
        errors[1]["error"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let logs = engine.all_logs("batch_1").await;
    assert!(
        logs.iter()
            .any(|e| e.text.contains("Done: 900 predictions, 2 errors")),
        "{logs:?}"
    );

    // A job naming a model that does not exist is refused at once.
    let bad = json!({
        "jobId": "batch_2",
        "predictionInput": { "modelName": "nope", "inputPaths": ["/tmp/x.jsonl"], "outputPath": "/tmp/out" }
    });
    assert_error(
        &engine
            .post_raw("/v1/projects/local/jobs", &bad.to_string())
            .await,
        400,
        "no model named \"nope\"",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_trainers_model_serves_what_the_trainer_predicts() {
    let engine = TestEngine::start(&[]);
    let job_dir = tempfile::tempdir().unwrap();
    let (model, _) = mlconsole::sample_train::train(job_dir.path(), 1, &mut Vec::new()).unwrap();
    create_model(&engine, "digits").await;
    // The job dir itself is the deploymentUri: it holds model.onnx.
    let v = create_version(
        &engine,
        "digits",
        json!({ "name": "sample", "deploymentUri": job_dir.path() }),
    )
    .await;
    assert_eq!(v["state"], "READY", "{v:#}");
    assert_eq!(v["inputs"][0]["name"], "input");
    assert_eq!(v["outputs"][0]["name"], "probabilities");
    let images: Vec<Vec<f32>> = mlconsole::sample_train::load_digits()
        .unwrap()
        .into_iter()
        .take(3)
        .map(|(pixels, _)| pixels)
        .collect();
    let (code, body) = predict(&engine, &format!("{MODELS}/digits:predict"), json!(images)).await;
    assert_eq!(code, 200, "{body:#}");
    for (i, x) in images.iter().enumerate() {
        let want = model.predict(x);
        for (c, w) in want.iter().enumerate() {
            let got = body["predictions"][i][c].as_f64().unwrap();
            assert!(
                close(got, f64::from(*w), 1e-4),
                "image {i} digit {c}: {got} vs {w}"
            );
        }
    }
}
