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
use common::buckets::{Emulator, tfevents_fixtures};
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
    let whole_records = decode_records(
        &bytes::Bytes::from(data[..cut].to_vec()),
        &mut ReadProblems::default(),
    );
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
    let all = decode_records(&bytes::Bytes::from(data), &mut ReadProblems::default());
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
