//! The frameworks Cloud ML Engine served, served by the engine with the framework itself:
//! a Keras SavedModel with named inputs, a SavedModel taking b64 image bytes, a
//! scikit-learn ColumnTransformer pipeline (joblib), a pickled RandomForest, an XGBoost
//! booster as `.bst` and `.json`, and a custom prediction routine. Each answers what its
//! framework predicted (in the same venv), online and through batch prediction; a worker
//! killed mid-request fails only that request; replicas scale to zero and back.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::TestEngine;
use serde_json::{Value, json};

const MODELS: &str = "/v1/projects/local/models";

/// The artifacts `tests/fixtures/frameworks/make_frameworks.py` made: where
/// `MLCONSOLE_FRAMEWORK_FIXTURES` says (CI makes them afresh with the pinned frameworks).
fn fixtures() -> PathBuf {
    PathBuf::from(std::env::var_os("MLCONSOLE_FRAMEWORK_FIXTURES").expect(
        "MLCONSOLE_FRAMEWORK_FIXTURES is unset: run the tests through .ci/run, which makes the framework fixtures",
    ))
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("expected.json is an object, not {other}"),
    }
}

async fn create_model(engine: &TestEngine, name: &str) {
    let (code, body) = engine
        .post_raw(MODELS, &json!({ "name": name }).to_string())
        .await;
    assert_eq!(code, 200, "{body:#}");
}

/// The version body for a fixture: its folder, its framework, a routine's package.
fn version_of(name: &str, fixture: &Value) -> Value {
    let mut version = json!({
        "name": name,
        "deploymentUri": fixtures().join(fixture["dir"].as_str().unwrap()),
    });
    if let Some(class) = fixture.get("predictionClass") {
        version["predictionClass"] = class.clone();
        version["packageUris"] = json!([fixture["package"]]);
    } else {
        version["framework"] = fixture["framework"].clone();
    }
    version
}

/// Creates a version and waits until it is READY or FAILED.
async fn create_version(engine: &TestEngine, model: &str, version: Value) -> Value {
    let (code, op) = engine
        .post_raw(&format!("{MODELS}/{model}/versions"), &version.to_string())
        .await;
    assert_eq!(code, 200, "{op:#}");
    let name = version["name"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let (code, body) = engine
            .get(&format!("{MODELS}/{model}/versions/{name}"))
            .await;
        assert_eq!(code, 200, "{body:#}");
        if body["state"] != "CREATING" {
            return body;
        }
        assert!(Instant::now() < deadline, "version stuck: {body:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Numbers within `tolerance` relative (integers exactly), strings exactly, same keys
/// and lengths; `at` names where a difference is.
fn assert_matches(got: &Value, want: &Value, tolerance: f64, at: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) if w.is_i64() && g.is_i64() => {
            assert_eq!(g, w, "{at}");
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= tolerance * w.abs() + 1e-7,
                "{at}: {g} where the framework gives {w}"
            );
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: {got} vs {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_matches(g, w, tolerance, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let (gk, wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            assert_eq!(gk, wk, "{at}: keys");
            for (k, w) in w {
                assert_matches(&g[k], w, tolerance, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

fn tolerance(framework: &Value) -> f64 {
    if framework == "TENSORFLOW" {
        1e-4
    } else {
        1e-5
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_framework_answers_what_it_predicts_itself_online_and_in_batch() {
    let engine = TestEngine::start(&[]);
    let data = tempfile::tempdir().unwrap();
    for (name, fixture) in expected() {
        create_model(&engine, &name).await;
        let version = create_version(&engine, &name, version_of("v1", &fixture)).await;
        assert_eq!(version["state"], "READY", "{name}: {version:#}");
        let framework = &fixture["framework"];
        if framework != "" {
            assert_eq!(&version["framework"], framework, "{name}");
        }
        let runtime = version["runtime"].as_str().unwrap();
        assert!(runtime.contains(" in Python 3."), "{name}: {runtime}");
        let body = &fixture["body"];
        let (code, answer) = engine
            .post_raw(&format!("{MODELS}/{name}:predict"), &body.to_string())
            .await;
        assert_eq!(code, 200, "{name}: {answer:#}");
        assert_matches(
            &answer["predictions"],
            &fixture["predictions"],
            tolerance(framework),
            &name,
        );

        // An instance the model cannot take: a 400 naming it, and the next request is fine.
        let mut bad = body["instances"].clone();
        bad.as_array_mut().unwrap().push(json!("not an instance"));
        let (code, refused) = engine
            .post_raw(
                &format!("{MODELS}/{name}:predict"),
                &json!({ "instances": bad }).to_string(),
            )
            .await;
        assert_eq!(code, 400, "{name}: {refused:#}");
        let message = refused["error"]["message"].as_str().unwrap();
        let last = body["instances"].as_array().unwrap().len();
        assert!(
            message.starts_with(&format!("instance {last}")),
            "{name}: {message}"
        );

        // Batch prediction over the same instances, one a line.
        let input = data.path().join(format!("{name}.jsonl"));
        let lines: Vec<String> = body["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        std::fs::write(&input, lines.join("\n") + "\n").unwrap();
        let out = data.path().join(format!("{name}-out"));
        let job = json!({
            "jobId": format!("batch_{name}"),
            "predictionInput": {
                "modelName": format!("projects/local/models/{name}"),
                "inputPaths": [input],
                "outputPath": out,
                "dataFormat": "JSON",
            }
        });
        let (code, submitted) = engine
            .post_raw("/v1/projects/local/jobs", &job.to_string())
            .await;
        assert_eq!(code, 200, "{submitted:#}");
        let done = engine.wait_finished(&format!("batch_{name}")).await;
        assert_eq!(
            done.state,
            mlconsole::domain::JobState::Succeeded,
            "{name}: {:?}",
            done.error_message
        );
        let results =
            std::fs::read_to_string(out.join("prediction.results-00000-of-00001")).unwrap();
        let got: Vec<Value> = results
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_matches(
            &Value::Array(got),
            &fixture["predictions"],
            tolerance(framework),
            &format!("{name} (batch)"),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signatures_and_estimators_give_the_inputs_the_console_shows() {
    let engine = TestEngine::start(&[]);
    let fixtures = expected();
    create_model(&engine, "keras").await;
    let keras = create_version(&engine, "keras", version_of("v1", &fixtures["tf_keras"])).await;
    let inputs: Vec<&str> = keras["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["petal", "sepal"], "{keras:#}");
    assert_eq!(keras["inputs"][0]["shape"], json!([null, 2]));
    assert_eq!(keras["inputs"][0]["dtype"], "float32");
    create_model(&engine, "pipeline").await;
    let pipeline = create_version(
        &engine,
        "pipeline",
        version_of("v1", &fixtures["sk_pipeline"]),
    )
    .await;
    assert_eq!(
        pipeline["inputs"],
        json!([
            {"name": "age", "dtype": "float64", "shape": [null]},
            {"name": "hours", "dtype": "float64", "shape": [null]},
            {"name": "city", "dtype": "string", "shape": [null]},
        ]),
        "feature_names_in_, the encoded column as a string"
    );
    // The request's signature_name picks a signature; an unknown one is named.
    let (code, answer) = engine
        .post_raw(
            &format!("{MODELS}/keras:predict"),
            &json!({ "instances": fixtures["tf_keras"]["body"]["instances"], "signature_name": "nope" })
                .to_string(),
        )
        .await;
    assert_eq!(code, 400, "{answer:#}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no signature 'nope'"),
        "{answer:#}"
    );
}

/// Pids of the predictor workers of the engine `engine` (other tests run engines too).
fn worker_pids(engine: u32) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The parent is the fourth field, after the parenthesised command.
        let parent = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(engine)
            && String::from_utf8_lossy(&cmdline).contains("mlconsole_predictor.py\0serve")
        {
            pids.push(pid);
        }
    }
    pids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_request_fails_that_request_and_the_next_one_succeeds() {
    let engine = TestEngine::start(&[]);
    let fixture = &expected()["cpr"];
    create_model(&engine, "names").await;
    let mut version = version_of("v1", fixture);
    version["autoScaling"] = json!({ "minNodes": 0, "maxNodes": 1, "idleSeconds": 2 });
    let version = create_version(&engine, "names", version).await;
    assert_eq!(version["state"], "READY", "{version:#}");
    let path = format!("{MODELS}/names:predict");
    let before: Vec<i32> = worker_pids(engine.pid());
    assert!(
        !before.is_empty(),
        "the worker that loaded the version serves"
    );

    // A request that sleeps in the routine, and the worker killed while it does.
    let slow = json!({ "instances": fixture["body"]["instances"], "sleep": 5 }).to_string();
    let pending = {
        let url = engine.url(&path);
        let token = engine.token.clone();
        tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .body(slow)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    for pid in &before {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    let (code, answer) = pending.await.unwrap();
    assert_eq!(code, 500, "{answer:#}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("was killed (SIGKILL"), "{message}");

    let (code, answer) = engine.post_raw(&path, &fixture["body"].to_string()).await;
    assert_eq!(code, 200, "a new worker answers: {answer:#}");
    assert_eq!(answer["predictions"], fixture["predictions"]);

    // Idle past idleSeconds: the worker goes (scale to zero), and the next request
    // brings one back.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = engine.get(&format!("{MODELS}/names/versions/v1")).await;
        if v["replicas"] == 0 && worker_pids(engine.pid()).is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "never scaled to zero: {v:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let with_kwargs = json!({ "instances": fixture["body"]["instances"], "probabilities": true });
    let (code, answer) = engine.post_raw(&path, &with_kwargs.to_string()).await;
    assert_eq!(code, 200, "{answer:#}");
    assert_eq!(
        answer["predictions"][0]["name"], fixture["predictions"][0],
        "the request's other fields reach predict() as keyword arguments"
    );
    let (_, v) = engine.get(&format!("{MODELS}/names/versions/v1")).await;
    assert_eq!(v["replicas"], 1, "{v:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_framework_the_python_lacks_fails_the_version_with_what_to_install() {
    // The system's Python, without TensorFlow.
    let engine = TestEngine::start(&["--python", "/usr/bin/python3"]);
    create_model(&engine, "keras").await;
    let version = create_version(&engine, "keras", version_of("v1", &expected()["tf_keras"])).await;
    assert_eq!(version["state"], "FAILED", "{version:#}");
    let message = version["errorMessage"].as_str().unwrap();
    assert!(message.contains("pip install tensorflow-cpu"), "{message}");

    // Files that are no framework's, and a framework without its files: refused at once.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "hi").unwrap();
    let (code, answer) = engine
        .post_raw(
            &format!("{MODELS}/keras/versions"),
            &json!({ "name": "v2", "deploymentUri": empty.path() }).to_string(),
        )
        .await;
    assert_eq!(code, 400, "{answer:#}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("holds notes.txt"),
        "{answer:#}"
    );
    let (code, answer) = engine
        .post_raw(
            &format!("{MODELS}/keras/versions"),
            &json!({ "name": "v3", "deploymentUri": fixtures().join("sk_forest"), "framework": "TENSORFLOW" })
                .to_string(),
        )
        .await;
    assert_eq!(code, 400, "{answer:#}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("saved_model.pb"),
        "{answer:#}"
    );
}
