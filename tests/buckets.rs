//! Log dirs in buckets against real emulators (fake-gcs-server for `gs://`, moto for
//! `s3://`): the same scalars as the local reader from TensorBoard's own event files, a
//! growing file read from where the last read stopped (counted at the emulator), and the
//! messages for a missing bucket and refused keys — from the CLI and from the console.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a broken expectation panics

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::TestEngine;
use common::buckets::{Emulator, RecordingProxy, tfevents_fixtures};
use common::console::{
    click, drawn_charts, harness_for, has_label, has_label_containing, replace_in, step_until,
    test_settings,
};
use mlconsole::buckets::{self, BucketUrl};
use mlconsole::tensorboard::bucket::BucketLogDir;
use mlconsole::tensorboard::{ReadProblems, decode_records};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents")
}

/// Uploads the fixture runs to the GCS emulator under `prefix` of the bucket `logs`.
async fn upload_fixtures(gcs: &Emulator, prefix: &str) {
    gcs.upload_fixtures("logs", prefix).await;
}

/// `mlconsole scalars ARGS`, with the emulator's environment: (status, stdout, stderr).
fn scalars_cli(emulator: Option<&Emulator>, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mlconsole"));
    command.arg("scalars").args(args);
    if let Some(emulator) = emulator {
        command.envs(emulator.env());
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn local_csv() -> String {
    let (ok, csv, err) = scalars_cli(None, &[fixtures().to_str().unwrap(), "--csv"]);
    assert!(ok, "{err}");
    assert!(csv.lines().count() > 100, "the fixtures hold scalars");
    csv
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gcs_log_dir_reads_as_the_same_files_do_locally() {
    let gcs = Emulator::gcs();
    gcs.create_gcs_bucket("logs").await;
    upload_fixtures(&gcs, "jobs/job1").await;

    let (ok, csv, err) = scalars_cli(Some(&gcs), &["gs://logs/jobs/job1", "--csv"]);
    assert!(ok, "{err}");
    assert_eq!(csv, local_csv());
    // One listing found every run; each event file was read once.
    assert_eq!(gcs.requests("GET /logs?list-type=2"), 1);
    assert_eq!(
        gcs.requests("GET /logs/jobs/job1/"),
        tfevents_fixtures().len()
    );

    // A parent prefix holds both runs of several jobs ("several jobs per folder").
    upload_fixtures(&gcs, "jobs/job2").await;
    let (ok, csv, err) = scalars_cli(Some(&gcs), &["gs://logs/jobs", "--csv"]);
    assert!(ok, "{err}");
    assert!(csv.contains("\njob1/run_tf1,") && csv.contains("\njob2/run_tf2/train,"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_log_dir_reads_as_the_same_files_do_locally() {
    let s3 = Emulator::s3(false);
    s3.create_s3_bucket("logs").await;
    upload_with_keys(&s3).await;
    let (ok, csv, err) = scalars_cli(Some(&s3), &["s3://logs/job", "--csv"]);
    assert!(ok, "{err}");
    assert_eq!(csv, local_csv());
}

/// Uploads the fixtures to the S3 emulator with keys given in the builder (not the
/// environment, which tests do not change).
async fn upload_with_keys(s3: &Emulator) {
    use object_store::ObjectStoreExt;
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("logs")
        .with_endpoint(&s3.base)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    for (name, data) in tfevents_fixtures() {
        store
            .put(&format!("job/{name}").as_str().into(), data.into())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_growing_event_file_is_read_from_where_the_last_read_stopped() {
    let gcs = Emulator::gcs();
    gcs.create_gcs_bucket("logs").await;
    let access = gcs.access();
    let (name, data) = tfevents_fixtures()
        .into_iter()
        .find(|(n, _)| n.starts_with("run_tf1"))
        .unwrap();
    let object = format!("live/{name}");
    // The first upload stops in the middle of a record (a writer flushing part of one).
    let cut = data.len() * 2 / 3;
    gcs.upload_gcs("logs", &object, data[..cut].to_vec()).await;
    let whole_records = decode_records(&data[..cut], &mut ReadProblems::default());
    assert!(
        whole_records.consumed < cut,
        "the cut falls inside a record"
    );

    let url = BucketUrl::parse("gs://logs/live").unwrap();
    let mut logdir = BucketLogDir::new(buckets::open(&url, &access).unwrap());
    let first = logdir.refresh().await.unwrap();
    let expected_first: usize = whole_records.by_tag.iter().map(|(_, p)| p.len()).sum();
    assert_eq!(first, expected_first as u64);
    assert_eq!(logdir.stats().reads, 1);
    assert_eq!(logdir.stats().bytes, cut as u64);

    // Nothing new: one listing, no read.
    let object_reads = |gcs: &Emulator| gcs.requests("GET /logs/live/");
    assert_eq!(object_reads(&gcs), 1);
    assert_eq!(logdir.refresh().await.unwrap(), 0);
    assert_eq!(logdir.stats().lists, 2);
    assert_eq!(logdir.stats().reads, 1);
    assert_eq!(object_reads(&gcs), 1, "an unchanged object costs no read");

    // The writer finished: only the bytes from the first incomplete record are asked for.
    gcs.upload_gcs("logs", &object, data.clone()).await;
    let added = logdir.refresh().await.unwrap();
    assert!(added > 0);
    assert_eq!(object_reads(&gcs), 2);
    assert_eq!(
        logdir.stats().bytes,
        cut as u64 + (data.len() - whole_records.consumed) as u64,
        "the second read starts at the first unread record"
    );
    let all = decode_records(&data, &mut ReadProblems::default());
    let run = &logdir.runs()["run_tf1"];
    for (tag, points) in &all.by_tag {
        assert_eq!(&run.tags[tag], points, "{tag}: every point, once, in order");
    }
    assert_eq!(logdir.problems(), ReadProblems::default());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bucket_and_refused_keys_say_what_to_do() {
    let gcs = Emulator::gcs();
    let (ok, _, err) = scalars_cli(Some(&gcs), &["gs://no-such-bucket/logs"]);
    assert!(!ok);
    assert!(
        err.contains("the bucket gs://no-such-bucket does not exist"),
        "{err}"
    );

    let s3 = Emulator::s3(true);
    let (ok, _, err) = scalars_cli(Some(&s3), &["s3://logs/job"]);
    assert!(!ok);
    assert!(
        err.contains("s3://logs refused the credentials (403 InvalidAccessKeyId")
            && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );

    let (ok, _, err) = scalars_cli(None, &["gs://Not_A_Bucket/x"]);
    assert!(!ok);
    assert!(err.contains("is not a bucket name"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scalars_tab_charts_a_bucket_log_dir() {
    let gcs = Emulator::gcs();
    gcs.create_gcs_bucket("logs").await;
    upload_fixtures(&gcs, "job").await;
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&engine, config.path());
    settings.buckets = gcs.access();
    // The harness steps on this thread; the backend runs on its own.
    tokio::task::block_in_place(|| {
        let mut harness = harness_for(settings);
        click(&mut harness, "Scalars");
        replace_in(&mut harness, "Log dir", "gs://logs/job");
        click(&mut harness, "Load");
        step_until(
            &mut harness,
            "the bucket's runs charted",
            Duration::from_secs(30),
            |h| {
                has_label(h, "run_tf1")
                    && has_label(h, "run_tf2/train")
                    && !has_label_containing(h, "Drawing ")
                    && drawn_charts(h) >= 4
            },
        );

        replace_in(&mut harness, "Log dir", "gs://no-such-bucket/job");
        click(&mut harness, "Load");
        step_until(&mut harness, "the error", Duration::from_secs(20), |h| {
            has_label_containing(h, "the bucket gs://no-such-bucket does not exist")
        });
        replace_in(&mut harness, "Log dir", "gs://A/job");
        click(&mut harness, "Load");
        harness.step();
        assert!(has_label_containing(&harness, "is not a bucket name"));
    });
}

fn model_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
}

/// Both emulators (buckets `models` in GCS, `results` in S3) and an engine reaching them,
/// with a model `iris` and no version yet.
async fn engine_with_iris() -> (Emulator, Emulator, TestEngine) {
    let gcs = Emulator::gcs();
    let s3 = Emulator::s3(false);
    gcs.create_gcs_bucket("models").await;
    s3.create_s3_bucket("results").await;
    let engine = engine_on(&gcs, &s3);
    let (code, body) = engine
        .post_raw("/v1/projects/local/models", r#"{"name": "iris"}"#)
        .await;
    assert_eq!(code, 200, "{body:#}");
    (gcs, s3, engine)
}

/// The engine reaching the GCS emulator for `gs://` and the S3 one for `s3://`.
fn engine_on(gcs: &Emulator, s3: &Emulator) -> TestEngine {
    TestEngine::start_with_env(
        &[],
        &[
            ("STORAGE_EMULATOR_HOST", gcs.base.clone()),
            ("AWS_ENDPOINT_URL", s3.base.clone()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ],
    )
}

/// Follows a version's creation operation until done; answers the operation.
async fn created_version(
    engine: &TestEngine,
    model: &str,
    version: serde_json::Value,
) -> serde_json::Value {
    let (code, op) = engine
        .post_raw(
            &format!("/v1/projects/local/models/{model}/versions"),
            &version.to_string(),
        )
        .await;
    assert_eq!(code, 200, "{op:#}");
    let name = op["name"].as_str().unwrap().to_owned();
    for _ in 0..300 {
        let (_, op) = engine.get(&format!("/v1/{name}")).await;
        if op["done"] == true {
            return op;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the creation of {model} did not finish");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_from_a_bucket_artifact_serves() {
    let (gcs, _s3, engine) = engine_with_iris().await;
    let onnx = std::fs::read(model_fixture("iris_logreg.onnx")).unwrap();
    gcs.upload_gcs("models", "iris/v1/model.onnx", onnx).await;

    // A version from a gs:// folder is fetched once and serves.
    let op = created_version(
        &engine,
        "iris",
        serde_json::json!({"name": "v1", "deploymentUri": "gs://models/iris/v1"}),
    )
    .await;
    assert_eq!(op["response"]["state"], "READY", "{op:#}");
    assert_eq!(op["response"]["deploymentUri"], "gs://models/iris/v1");
    assert_eq!(gcs.requests("GET /models/iris/v1/model.onnx"), 1);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model_fixture("expected.json")).unwrap())
            .unwrap();
    let instances = expected["iris_logreg"]["instances"].clone();
    let (code, answer) = engine
        .post_raw(
            "/v1/projects/local/models/iris/versions/v1:predict",
            &serde_json::json!({ "instances": instances }).to_string(),
        )
        .await;
    assert_eq!(code, 200, "{answer:#}");
    let labels = &expected["iris_logreg"]["label"];
    for (i, p) in answer["predictions"].as_array().unwrap().iter().enumerate() {
        assert_eq!(p["label"], labels[i], "instance {i}");
    }
    let staging = engine.data_dir.join("staging");
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "the fetched copy is gone once the version holds its own"
    );

    // A folder with no objects, and a missing bucket, are refused with why.
    for (uri, says) in [
        ("gs://models/iris/v9", "holds no objects"),
        ("gs://nobucket/iris", "does not exist"),
    ] {
        let (code, body) = engine
            .post_raw(
                "/v1/projects/local/models/iris/versions",
                &serde_json::json!({"name": "v9", "deploymentUri": uri}).to_string(),
            )
            .await;
        assert_eq!(code, 400, "{body:#}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_job_reads_gs_files_and_writes_its_results_to_s3() {
    let (gcs, s3, engine) = engine_with_iris().await;
    let op = created_version(
        &engine,
        "iris",
        serde_json::json!({"name": "v1", "deploymentUri": model_fixture("iris_logreg.onnx")}),
    )
    .await;
    assert_eq!(op["response"]["state"], "READY", "{op:#}");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(model_fixture("expected.json")).unwrap())
            .unwrap();
    let instances = expected["iris_logreg"]["instances"].clone();
    let labels = &expected["iris_logreg"]["label"];

    // A glob over two of the folder's three objects.
    let lines = |n: usize| {
        let mut text = String::new();
        for i in 0..n {
            text.push_str(&format!(
                "{}\n",
                instances[i % instances.as_array().unwrap().len()]
            ));
        }
        text
    };
    gcs.upload_gcs("models", "batch/in/part-a.jsonl", lines(60).into_bytes())
        .await;
    gcs.upload_gcs("models", "batch/in/part-b.jsonl", lines(30).into_bytes())
        .await;
    gcs.upload_gcs("models", "batch/in/notes.txt", b"not input".to_vec())
        .await;
    let job = serde_json::json!({
        "jobId": "batch_buckets",
        "predictionInput": {
            "modelName": "projects/local/models/iris",
            "inputPaths": ["gs://models/batch/in/*.jsonl"],
            "outputPath": "s3://results/iris/out",
            "dataFormat": "JSON",
        }
    });
    let (code, body) = engine
        .post_raw("/v1/projects/local/jobs", &job.to_string())
        .await;
    assert_eq!(code, 200, "{body:#}");
    let done = engine.wait_finished("batch_buckets").await;
    let logs = engine.all_logs("batch_buckets").await;
    assert_eq!(
        done.state,
        mlconsole::domain::JobState::Succeeded,
        "{:?} {logs:?}",
        done.error_message
    );
    assert!(
        logs.iter().any(|e| e
            .text
            .contains("Fetched 2 file(s) of gs://models/batch/in/*.jsonl")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|e| e.text.contains("Done: 90 predictions, 0 errors")),
        "{logs:?}"
    );
    let results = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name("results")
        .with_endpoint(&s3.base)
        .with_allow_http(true)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap();
    use object_store::ObjectStoreExt;
    let first = results
        .get(&"iris/out/prediction.results-00000-of-00002".into())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let first = String::from_utf8(first.to_vec()).unwrap();
    assert_eq!(first.lines().count(), 60);
    let p: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(p["label"], labels[0]);
    results
        .head(&"iris/out/prediction.errors_stats-00000-of-00001".into())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_cannot_be_read_never_hides_the_runs_that_load() {
    let gcs = Emulator::gcs();
    gcs.create_gcs_bucket("logs").await;
    gcs.upload_fixtures("logs", "job").await;
    let proxy = RecordingProxy::start_refusing(&gcs.base, Some("run_tf2"));
    let access = mlconsole::buckets::BucketAccess {
        gcs_emulator: Some(proxy.base.clone()),
        ..Default::default()
    };
    let url = BucketUrl::parse("gs://logs/job").unwrap();
    let mut logdir = BucketLogDir::new(buckets::open(&url, &access).unwrap());
    let added = logdir.refresh().await.unwrap();
    assert!(added > 0);
    assert!(
        !logdir.runs()["run_tf1"].tags.is_empty(),
        "the readable run loaded"
    );
    assert!(logdir.runs()["run_tf2/train"].tags.is_empty());
    let why = logdir.partial_failure().unwrap().to_string();
    assert!(
        why.contains("1 event file(s) could not be read") && why.contains("403"),
        "{why}"
    );
}
