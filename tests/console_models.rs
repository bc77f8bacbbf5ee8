//! User stories of the Models and Predict tabs on the real console `App`, driven with
//! egui_kittest against a real engine serving real ONNX models.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::TestEngine;
use common::console::{
    DroppedPath, click, console_harness, has_label, shown_tab, step_until, text_in, type_into,
};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlconsole::domain::{JobState, VersionState};
use mlconsole::ui::{App, Tab};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

fn drop_file(harness: &mut Harness<'static, App>, path: PathBuf) {
    harness
        .input_mut()
        .dropped_files
        .push(Arc::new(DroppedPath(path)));
}

/// The named version's state and whether it is the default, as the console has it.
fn version(
    harness: &Harness<'static, App>,
    model: &str,
    name: &str,
) -> Option<(VersionState, bool)> {
    let view = harness
        .state()
        .snapshots()
        .models
        .list
        .iter()
        .find(|m| m.model.short_name() == model)?;
    let v = view.versions.iter().find(|v| v.short_name() == name)?;
    Some((v.state, v.is_default))
}

const WAIT: Duration = Duration::from_secs(20);

/// Creates `model` with a version `v1` of the model file at `path`, over the API.
fn deploy(engine: &TestEngine, model: &str, path: &Path) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let body = serde_json::json!({ "name": model }).to_string();
        let (code, answer) = engine.post_raw("/v1/projects/local/models", &body).await;
        assert_eq!(code, 200, "{answer}");
        let version = serde_json::json!({ "name": "v1", "deploymentUri": path });
        let (code, answer) = engine
            .post_raw(
                &format!("/v1/projects/local/models/{model}/versions"),
                &version.to_string(),
            )
            .await;
        assert_eq!(code, 200, "{answer}");
    });
}

/// Clicks Send on the Predict tab and answers the response it shows.
fn send(harness: &mut Harness<'static, App>) -> serde_json::Value {
    let answered = |h: &Harness<'static, App>| h.query_all_by_label_contains("OK in ").count();
    let before = answered(harness);
    click(harness, "Send");
    step_until(harness, "the answer", WAIT, |h| answered(h) > before);
    let answer = text_in(harness, "Response").unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn create_a_model_drop_versions_on_it_and_move_the_default() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    click(&mut harness, "Models");
    assert_eq!(shown_tab(&harness), Some(Tab::Models));
    assert!(has_label(&harness, "No models yet"));

    type_into(&mut harness, "New model", "iris");
    click(&mut harness, "Create model");
    step_until(&mut harness, "the new model", WAIT, |h| {
        h.state().snapshots().models.list.len() == 1
    });

    // Drop two model files on the tab: each becomes a version of the shown model.
    drop_file(&mut harness, fixture("iris_logreg.onnx"));
    step_until(&mut harness, "v1 ready and default", WAIT, |h| {
        version(h, "iris", "v1") == Some((VersionState::Ready, true))
    });
    drop_file(&mut harness, fixture("iris_forest.onnx"));
    step_until(&mut harness, "v2 ready", WAIT, |h| {
        version(h, "iris", "v2") == Some((VersionState::Ready, false))
    });
    assert!(has_label(&harness, "v1") && has_label(&harness, "v2"));
    assert!(has_label(&harness, "default"), "the default badge is shown");

    // One click moves the default (and with it the model's traffic).
    click(&mut harness, "Make default");
    step_until(&mut harness, "v2 to become the default", WAIT, |h| {
        version(h, "iris", "v2") == Some((VersionState::Ready, true))
    });
    assert_eq!(
        version(&harness, "iris", "v1"),
        Some((VersionState::Ready, false))
    );
    // And one click rolls it back.
    click(&mut harness, "Roll back to v1");
    step_until(&mut harness, "v1 to be the default again", WAIT, |h| {
        version(h, "iris", "v1") == Some((VersionState::Ready, true))
    });

    // Deleting asks first; deleting the default of a model with others is refused.
    click(&mut harness, "Delete model");
    assert!(has_label(&harness, "Delete model iris?"));
    click(&mut harness, "Delete model iris");
    step_until(&mut harness, "the refusal", WAIT, |h| {
        common::console::has_label_containing(h, "still has 2 version(s)")
    });
    assert_eq!(
        harness.state().snapshots().models.list.len(),
        1,
        "nothing was lost"
    );
}

#[test]
fn drop_a_file_on_the_predict_tab_and_see_the_prediction() {
    let engine = TestEngine::start(&[]);
    deploy(&engine, "iris", &fixture("iris_logreg.onnx"));
    let mut harness = console_harness(&engine);
    click(&mut harness, "Predict");
    step_until(&mut harness, "the model to be ready", WAIT, |h| {
        version(h, "iris", "v1") == Some((VersionState::Ready, true))
    });

    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("flowers.jsonl");
    std::fs::write(&file, "[5.1, 3.5, 1.4, 0.2]\n[6.7, 3.0, 5.2, 2.3]\n").unwrap();
    drop_file(&mut harness, file.clone());
    step_until(
        &mut harness,
        "the file to load into the editor",
        WAIT,
        |h| text_in(h, "Request").is_some_and(|b| b.contains("6.7")),
    );
    step_until(&mut harness, "the request to validate", WAIT, |h| {
        has_label(h, "Valid: 2 instances")
    });
    let answer = send(&mut harness);
    assert_eq!(answer["predictions"][0]["label"], 0);
    assert_eq!(answer["predictions"][1]["label"], 2);
    // The table shows one row per instance, with the outputs as columns.
    assert!(has_label(&harness, "label") && has_label(&harness, "probabilities"));

    // A bad request is flagged as you type, naming the instance, and cannot be sent.
    drop_file(
        &mut harness,
        write(&data, "bad.json", "[[1, 2, 3, 4], [1, 2]]"),
    );
    step_until(&mut harness, "the validation error", WAIT, |h| {
        common::console::has_label_containing(h, "instance 1")
    });

    // A file too large for the playground is refused with its size; the editor keeps
    // what it had.
    let before = text_in(&harness, "Request");
    let huge = data.path().join("huge.jsonl");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    drop_file(&mut harness, huge);
    step_until(&mut harness, "the size refusal", WAIT, |h| {
        common::console::has_label_containing(h, "17.8 MB")
    });
    assert_eq!(text_in(&harness, "Request"), before);

    // The dropped JSONL file also runs as a batch prediction job.
    drop_file(&mut harness, file);
    step_until(&mut harness, "the JSONL to load again", WAIT, |h| {
        has_label(h, "Valid: 2 instances")
    });
    click(&mut harness, "Run as batch job");
    step_until(
        &mut harness,
        "the batch job to succeed",
        Duration::from_secs(60),
        |h| {
            h.state()
                .snapshots()
                .jobs
                .all()
                .iter()
                .any(|j| j.prediction_input.is_some() && j.state == JobState::Succeeded)
        },
    );
    let out = std::fs::read_dir(data.path())
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("flowers_predictions_")
        })
        .expect("an output folder next to the input");
    let results =
        std::fs::read_to_string(out.path().join("prediction.results-00000-of-00001")).unwrap();
    assert_eq!(results.lines().count(), 2);
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_model_with_string_columns_gets_a_template_validation_and_its_maps_answered() {
    let engine = TestEngine::start(&[]);
    let exported = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/exported/sk_column_transformer.onnx");
    deploy(&engine, "shop", &exported);
    let mut harness = console_harness(&engine);
    click(&mut harness, "Models");
    step_until(&mut harness, "the version to be ready", WAIT, |h| {
        version(h, "shop", "v1") == Some((VersionState::Ready, true))
    });
    // The runtime that serves the version, and what the engine serves with.
    step_until(&mut harness, "the runtimes", WAIT, |h| {
        common::console::has_label_containing(h, "Serving with onnxruntime")
    });
    assert!(
        common::console::has_label_containing(&harness, "onnxruntime 1."),
        "the version's runtime column"
    );

    // Try it: the template has one value per column, strings as strings, and validates.
    click(&mut harness, "Try");
    assert_eq!(shown_tab(&harness), Some(Tab::Predict));
    step_until(&mut harness, "the template", WAIT, |h| {
        text_in(h, "Request").is_some_and(|b| b.contains("\"color\": \"\""))
    });
    step_until(&mut harness, "the template to validate", WAIT, |h| {
        has_label(h, "Valid: 1 instance")
    });

    // A number where a column takes strings is flagged as you type.
    common::console::replace_in(
        &mut harness,
        "Request",
        r#"{"instances": [{"color": 3, "size": "M", "weight": 70.5, "age": 33}]}"#,
    );
    step_until(&mut harness, "the validation error", WAIT, |h| {
        common::console::has_label_containing(h, "input \"color\" (string [N, 1]): expects strings")
    });
    common::console::replace_in(
        &mut harness,
        "Request",
        r#"{"instances": [{"color": "red", "size": "M", "weight": 70.5, "age": 33}, {"color": "blue", "size": "XL", "weight": 90, "age": 75}]}"#,
    );
    step_until(&mut harness, "the request to validate", WAIT, |h| {
        has_label(h, "Valid: 2 instances")
    });
    let answer = send(&mut harness);
    let probabilities = answer["predictions"][1]["output_probability"]
        .as_object()
        .unwrap();
    assert_eq!(
        probabilities.keys().collect::<Vec<_>>(),
        ["0", "1"],
        "{answer}"
    );
    let sum: f64 = probabilities.values().map(|p| p.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-5, "{answer}");
    // The table shows each instance's map of class to probability in one cell.
    assert!(has_label(&harness, "output_label") && has_label(&harness, "output_probability"));
    assert!(common::console::has_label_containing(&harness, "0: 0."));
}

#[test]
fn drop_a_saved_model_folder_see_it_ready_and_try_it() {
    let Some(fixtures) = std::env::var_os("MLCONSOLE_FRAMEWORK_FIXTURES") else {
        panic!("MLCONSOLE_FRAMEWORK_FIXTURES is unset: run the tests through .ci/run");
    };
    let saved_model = PathBuf::from(fixtures).join("tf_keras");
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    click(&mut harness, "Models");
    type_into(&mut harness, "New model", "keras");
    click(&mut harness, "Create model");
    step_until(&mut harness, "the new model", WAIT, |h| {
        h.state().snapshots().models.list.len() == 1
    });

    // A SavedModel folder dropped on the tab becomes a version, served by TensorFlow.
    drop_file(&mut harness, saved_model);
    step_until(&mut harness, "v1 ready", Duration::from_secs(120), |h| {
        version(h, "keras", "v1") == Some((VersionState::Ready, true))
    });
    assert!(
        common::console::has_label_containing(&harness, "tensorflow 2."),
        "the version's runtime"
    );

    // Try it: the template names the signature's inputs, and the answer has its outputs.
    click(&mut harness, "Try");
    assert_eq!(shown_tab(&harness), Some(Tab::Predict));
    step_until(&mut harness, "the template", WAIT, |h| {
        let body = text_in(h, "Request").unwrap_or_default();
        body.contains("\"petal\"") && body.contains("\"sepal\"")
    });
    let answer = send(&mut harness);
    let first = &answer["predictions"][0];
    assert!(first["class_id"].is_i64(), "{answer}");
    assert_eq!(
        first["probabilities"].as_array().unwrap().len(),
        3,
        "{answer}"
    );
}
