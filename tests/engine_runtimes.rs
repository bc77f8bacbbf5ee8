//! The models people export, served over HTTP by each runtime that loads them: every
//! fixture of `tests/fixtures/exported` (scikit-learn through skl2onnx, LightGBM and
//! XGBoost through onnxmltools, networks built with the onnx helper API) answers what its
//! framework predicted, on ONNX Runtime and, where it loads, on tract. Without ONNX
//! Runtime, ONNX-ML models fail with what to do, and tract models still serve.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TestEngine;
use serde_json::{Value, json};

const MODELS: &str = "/v1/projects/local/models";

/// The fixtures tract serves (the engine zips ZipMap's maps itself); every other one
/// uses an operator tract lacks, or is a binary tree classifier tract gets wrong.
const TRACT_LOADS: &[&str] = &[
    "nn_digits_cnn",
    "nn_masked_sum",
    "sk_gb_classifier",
    "sk_knn",
    "sk_mlp",
    "sk_rf_classifier",
    "xgb_classifier",
];

/// A file of the exported fixtures: those `MLCONSOLE_EXPORTED_FIXTURES` names (CI
/// exports them afresh with the pinned exporters), else the committed ones.
fn exported(name: &str) -> PathBuf {
    match std::env::var_os("MLCONSOLE_EXPORTED_FIXTURES") {
        Some(dir) => PathBuf::from(dir).join(name),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exported")
            .join(name),
    }
}

fn expected() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(exported("expected.json")).unwrap();
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

/// Creates a version and waits until it is READY or FAILED.
async fn create_version(engine: &TestEngine, model: &str, version: Value) -> Value {
    let (code, op) = engine
        .post_raw(&format!("{MODELS}/{model}/versions"), &version.to_string())
        .await;
    assert_eq!(code, 200, "{op:#}");
    let name = version["name"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, body) = engine
            .get(&format!("{MODELS}/{model}/versions/{name}"))
            .await;
        assert_eq!(code, 200, "{body:#}");
        if body["state"] != "CREATING" {
            return body;
        }
        assert!(Instant::now() < deadline, "version stuck: {body:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Numbers within 1e-4 relative (integers exactly), strings exactly, same keys and
/// lengths; `at` names where a difference is.
fn assert_matches(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Number(g), Value::Number(w)) if w.is_i64() && g.is_i64() => {
            assert_eq!(g, w, "{at}");
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (g.as_f64().unwrap(), w.as_f64().unwrap());
            assert!(
                (g - w).abs() <= 1e-4 * w.abs() + 1e-6,
                "{at}: {g} where the framework gives {w}"
            );
        }
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{at}: {got} vs {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_matches(g, w, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(g), Value::Object(w)) => {
            let (gk, wk): (Vec<_>, Vec<_>) = (g.keys().collect(), w.keys().collect());
            assert_eq!(gk, wk, "{at}: keys");
            for (k, w) in w {
                assert_matches(&g[k], w, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// A 400 whose message holds `needle`.
fn assert_refused((code, answer): &(u16, Value), needle: &str) {
    assert_eq!(*code, 400, "{answer:#}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} in {answer:#}");
}

fn onnxruntime_version(engine_runtimes: &Value) -> String {
    let first = &engine_runtimes["runtimes"][0];
    assert_eq!(
        first["name"], "onnxruntime",
        "ONNX Runtime not found ({engine_runtimes}): run the tests through .ci/run, which installs it"
    );
    first["version"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_exported_model_answers_what_its_framework_predicts_on_each_runtime() {
    let engine = TestEngine::start(&[]);
    let (code, runtimes) = engine.get("/v1/projects/local/runtimes").await;
    assert_eq!(code, 200, "{runtimes:#}");
    let version = onnxruntime_version(&runtimes);
    assert_eq!(runtimes["runtimes"][0]["default"], true);
    assert!(
        runtimes["runtimes"][0]["library"]
            .as_str()
            .unwrap()
            .contains("libonnxruntime"),
        "{runtimes:#}"
    );
    assert_eq!(runtimes["runtimes"][1]["name"], "tract");
    assert!(runtimes.get("missing").is_none(), "{runtimes:#}");
    let (_, health) = engine.get("/healthz").await;
    assert_eq!(
        health["runtimes"],
        json!([format!("onnxruntime {version}"), "tract"])
    );

    let mut tract_served = Vec::new();
    for (name, fixture) in expected() {
        create_model(&engine, &name).await;
        let uri = exported(&format!("{name}.onnx"));
        // Unset runtime: ONNX Runtime, which the engine has.
        let auto = create_version(
            &engine,
            &name,
            json!({ "name": "auto", "deploymentUri": uri }),
        )
        .await;
        assert_eq!(auto["state"], "READY", "{name}: {auto:#}");
        assert_eq!(auto["runtime"], format!("onnxruntime {version}"), "{name}");
        assert!(auto.get("requestedRuntime").is_none(), "{auto:#}");
        let tract = create_version(
            &engine,
            &name,
            json!({ "name": "tract", "deploymentUri": uri, "runtime": "tract" }),
        )
        .await;
        assert_eq!(tract["requestedRuntime"], "tract");
        let mut served = vec!["auto"];
        if tract["state"] == "READY" {
            assert_eq!(tract["runtime"], "tract");
            assert_eq!(tract["inputs"], auto["inputs"], "{name}: one signature");
            let names = |v: &Value| {
                v["outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| (o["name"].clone(), o["dtype"].clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(names(&tract), names(&auto), "{name}: one signature");
            served.push("tract");
            tract_served.push(name.clone());
        } else {
            assert_eq!(tract["state"], "FAILED", "{name}: {tract:#}");
            let message = tract["errorMessage"].as_str().unwrap();
            assert!(
                message.contains("tract (the engine's built-in runtime)")
                    && message.contains("leave runtime unset"),
                "{name}: {message}"
            );
        }
        for version in served {
            let (code, answer) = engine
                .post_raw(
                    &format!("{MODELS}/{name}/versions/{version}:predict"),
                    &json!({ "instances": fixture["instances"] }).to_string(),
                )
                .await;
            assert_eq!(code, 200, "{name} on {version}: {answer:#}");
            assert_matches(
                &answer["predictions"],
                &fixture["predictions"],
                &format!("{name} on {version}"),
            );
        }
    }
    assert_eq!(tract_served, TRACT_LOADS, "the models tract serves");
}

#[tokio::test(flavor = "multi_thread")]
async fn string_multi_input_and_zipmap_models_keep_the_error_rules_and_run_together() {
    let engine = TestEngine::start(&[]);
    let fixtures = expected();
    for name in ["sk_column_transformer", "sk_tfidf_text", "nn_masked_sum"] {
        create_model(&engine, name).await;
        let uri = exported(&format!("{name}.onnx"));
        let v = create_version(&engine, name, json!({ "name": "v1", "deploymentUri": uri })).await;
        assert_eq!(v["state"], "READY", "{v:#}");
    }
    let (_, columns) = engine
        .get(&format!("{MODELS}/sk_column_transformer/versions/v1"))
        .await;
    assert_eq!(
        columns["inputs"],
        json!([
            {"name": "color", "dtype": "string", "shape": [null, 1]},
            {"name": "size", "dtype": "string", "shape": [null, 1]},
            {"name": "weight", "dtype": "float32", "shape": [null, 1]},
            {"name": "age", "dtype": "int64", "shape": [null, 1]},
        ])
    );
    assert_eq!(
        columns["outputs"][1]["dtype"], "seq(map(int64, float32))",
        "{columns:#}"
    );

    let predict = |model: &str, body: Value| {
        let path = format!("{MODELS}/{model}:predict");
        let engine = &engine;
        async move { engine.post_raw(&path, &body.to_string()).await }
    };
    // A column's value alone or as the list of one it is.
    let first = &fixtures["sk_column_transformer"]["instances"][0];
    let listed: serde_json::Map<String, Value> = first
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let (code, answer) = predict("sk_column_transformer", json!({ "instances": [listed] })).await;
    assert_eq!(code, 200, "{answer:#}");
    assert_matches(
        &answer["predictions"][0],
        &fixtures["sk_column_transformer"]["predictions"][0],
        "listed columns",
    );
    // Bad instances are a 400 naming the instance and the input, never a 500.
    for (body, needle) in [
        (
            json!({"instances": [first, {"color": 3, "size": "M", "weight": 1.0, "age": 2}]}),
            "instance 1: input \"color\" (string [N, 1]): expects strings",
        ),
        (
            json!({"instances": [{"color": "red", "size": "M", "weight": 1.0, "age": 2.5}]}),
            "instance 0: input \"age\" (int64 [N, 1]): expects whole numbers",
        ),
        (
            json!({"instances": [{"color": "red", "size": "M", "weight": 1.0}]}),
            "instance 0: input \"age\" is missing",
        ),
        (
            json!({"instances": [["red", "M", 1.0, 2]]}),
            "each instance must be an object keyed by input name",
        ),
    ] {
        assert_refused(&predict("sk_column_transformer", body).await, needle);
    }
    assert_refused(
        &predict("sk_tfidf_text", json!({"instances": [42]})).await,
        "instance 0: input \"text\" (string [N, 1]): expects strings",
    );
    assert_refused(
        &predict(
            "nn_masked_sum",
            json!({"instances": [{"x": [1, 2, 3], "mask": [1, 0, 1], "count": [2]}]}),
        )
        .await,
        "input \"mask\" (bool [N, 3]): expects true or false",
    );

    // Requests that arrive together (and may run together) each get their own answer.
    let texts = &fixtures["sk_tfidf_text"];
    let mut requests = tokio::task::JoinSet::new();
    for round in 0..8 {
        for (i, instance) in texts["instances"].as_array().unwrap().iter().enumerate() {
            let body = json!({ "instances": [instance] }).to_string();
            let want = texts["predictions"][i].clone();
            let url = engine.url(&format!("{MODELS}/sk_tfidf_text:predict"));
            let (http, token) = (engine.http.clone(), engine.token.clone());
            requests.spawn(async move {
                let answer: Value = http
                    .post(url)
                    .bearer_auth(token)
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                (round, i, answer, want)
            });
        }
    }
    while let Some(done) = requests.join_next().await {
        let (round, i, answer, want) = done.unwrap();
        assert_matches(
            &answer["predictions"][0],
            &want,
            &format!("round {round}, text {i}"),
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_onnxruntime_onnx_ml_models_fail_with_what_to_do_and_tract_models_serve() {
    // A python that finds no onnxruntime package: isolated, without site-packages.
    let tmp = tempfile::tempdir().unwrap();
    let python = tmp.path().join("python3");
    std::fs::write(&python, "#!/bin/sh\nexec python3 -I -S \"$@\"\n").unwrap();
    let mut permissions = std::fs::metadata(&python).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&python, permissions).unwrap();
    let python = python.display().to_string();
    let engine = TestEngine::start(&["--python", &python]);

    let (_, runtimes) = engine.get("/v1/projects/local/runtimes").await;
    assert_eq!(
        runtimes["runtimes"],
        json!([{"name": "tract", "foundBy": "built in", "default": true}])
    );
    let missing = runtimes["missing"].as_str().unwrap();
    assert!(
        missing.contains("ONNX Runtime was not found")
            && missing.contains(&format!("{python} -m pip install onnxruntime")),
        "{missing}"
    );

    create_model(&engine, "pipeline").await;
    let pipeline = create_version(
        &engine,
        "pipeline",
        json!({ "name": "v1", "deploymentUri": exported("sk_scaler_logreg.onnx") }),
    )
    .await;
    assert_eq!(pipeline["state"], "FAILED", "{pipeline:#}");
    let message = pipeline["errorMessage"].as_str().unwrap();
    for needle in [
        // The engine zips ZipMap's maps itself; Scaler is what tract lacks.
        "the model uses the operator Scaler (ai.onnx.ml), which tract",
        "ONNX Runtime, which implements every ONNX and ONNX-ML operator, was not found",
        "-m pip install onnxruntime",
        "--onnxruntime /path/to/libonnxruntime.so",
    ] {
        assert!(message.contains(needle), "{needle:?} in {message}");
    }
    let asked = create_version(
        &engine,
        "pipeline",
        json!({
            "name": "v2",
            "deploymentUri": exported("sk_scaler_logreg.onnx"),
            "runtime": "onnxruntime",
        }),
    )
    .await;
    assert_eq!(asked["state"], "FAILED", "{asked:#}");
    assert!(
        asked["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("this version asks for ONNX Runtime, which was not found"),
        "{asked:#}"
    );

    let fixtures = expected();
    for name in TRACT_LOADS {
        create_model(&engine, name).await;
        let v = create_version(
            &engine,
            name,
            json!({ "name": "v1", "deploymentUri": exported(&format!("{name}.onnx")) }),
        )
        .await;
        assert_eq!(v["state"], "READY", "{v:#}");
        assert_eq!(v["runtime"], "tract");
        let (code, answer) = engine
            .post_raw(
                &format!("{MODELS}/{name}:predict"),
                &json!({ "instances": fixtures[*name]["instances"] }).to_string(),
            )
            .await;
        assert_eq!(code, 200, "{answer:#}");
        assert_matches(
            &answer["predictions"],
            &fixtures[*name]["predictions"],
            name,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_asking_for_an_unknown_runtime_is_refused() {
    let engine = TestEngine::start(&[]);
    create_model(&engine, "iris").await;
    let answer = engine
        .post_raw(
            &format!("{MODELS}/iris/versions"),
            &json!({
                "name": "v1",
                "deploymentUri": exported("sk_scaler_logreg.onnx"),
                "runtime": "tensorflow",
            })
            .to_string(),
        )
        .await;
    assert_refused(&answer, "unknown runtime \"tensorflow\"");
}
