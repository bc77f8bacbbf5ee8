//! The Vertex AI client against the in-process fake of Vertex AI, Cloud Logging, Cloud
//! Monitoring and Google's token endpoint, signing in with real credential files, and
//! every call checked against Google's discovery documents.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::{Duration, Instant};

use common::discovery::Discovery;
use common::vertex::{FakeConfig, FakeGoogle};
use mlconsole::domain::{
    Job, JobState, PredictionInput, ReplicaConfig, Severity, TrainingInput, Version, VersionState,
};
use mlconsole::platform::vertex::TokenSource;
use mlconsole::platform::{Platform, PlatformError, VertexPlatform};

fn platform(fake: &FakeGoogle, tokens: TokenSource) -> VertexPlatform {
    VertexPlatform::new(
        &fake.config.project,
        &fake.config.region,
        Some(&fake.base),
        tokens,
    )
    .with_polling(Duration::from_millis(200))
}

fn signed_in(fake: &FakeGoogle) -> VertexPlatform {
    let key = fake.service_account("trainer");
    platform(fake, TokenSource::from_key_json(&key.json).unwrap())
}

/// Every call the client made and every answer the fake gave, per the discovery docs.
fn assert_contract(fake: &FakeGoogle) {
    let discovery = Discovery::load();
    let records = fake.records();
    assert!(!records.is_empty());
    let problems: Vec<String> = records.iter().flat_map(|r| discovery.problems(r)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A console config in `dir`: the local engine and a Vertex connection `vertex-prod` to
/// the fake, its key where the Connections form puts it (the secret store, not the
/// settings).
fn save_vertex_connection(
    fake: &FakeGoogle,
    key: &common::vertex::ServiceAccountKey,
    dir: &std::path::Path,
) {
    use mlconsole::domain::{ConnectionConfig, ConnectionId, ConnectionKind, VertexCredentials};
    let vertex = ConnectionConfig {
        id: ConnectionId::new("vertex-prod"),
        name: "vertex-prod".into(),
        color: [0x42, 0x85, 0xf4],
        read_only: false,
        enabled: true,
        kind: ConnectionKind::Vertex {
            project: fake.config.project.clone(),
            region: fake.config.region.clone(),
            credentials: VertexCredentials::ServiceAccountKey,
            api_endpoint: Some(fake.base.clone()),
        },
    };
    mlconsole::backend::settings::save(dir, &[ConnectionConfig::local_default(), vertex]).unwrap();
    mlconsole::secrets::Secrets::in_file(dir, None)
        .set(
            &mlconsole::secrets::connection_key("vertex-prod"),
            &key.json,
        )
        .unwrap();
}

fn container_job(id: &str, args: &[&str]) -> Job {
    Job {
        job_id: id.into(),
        labels: [("team".to_owned(), "vision".to_owned())].into(),
        training_input: Some(TrainingInput {
            command: vec!["python".into(), "train.py".into()],
            args: args.iter().map(|s| s.to_string()).collect(),
            master_type: Some("n1-standard-4".into()),
            master_config: Some(ReplicaConfig {
                image_uri: Some("us-docker.pkg.dev/mlc-test-project/trainers/mnist:1".into()),
                accelerator_config: None,
            }),
            worker_count: Some(1),
            job_dir: Some("gs://mlc-test-bucket/jobs/mnist".into()),
            ..TrainingInput::default()
        }),
        ..Job::default()
    }
}

/// A batch prediction job of the model `iris` over gs:// JSONL files.
fn batch_job(id: &str) -> Job {
    Job {
        job_id: id.into(),
        prediction_input: Some(PredictionInput {
            model_name: Some("iris".into()),
            input_paths: vec!["gs://mlc-test-bucket/in/*.jsonl".into()],
            output_path: "gs://mlc-test-bucket/out".into(),
            data_format: "JSON".into(),
            ..PredictionInput::default()
        }),
        ..Job::default()
    }
}

/// A study of four trials over two parameters, two at a time.
fn tuning_job(id: &str) -> Job {
    use mlconsole::domain::{Goal, HyperparameterSpec, ParameterSpec, ParameterType, ScaleType};
    let mut job = container_job(id, &[]);
    job.training_input.as_mut().unwrap().hyperparameters = Some(Box::new(HyperparameterSpec {
        goal: Goal::Maximize,
        hyperparameter_metric_tag: "accuracy".into(),
        max_trials: 4,
        max_parallel_trials: 2,
        enable_trial_early_stopping: true,
        params: vec![
            ParameterSpec {
                parameter_name: "layers".into(),
                kind: ParameterType::Integer,
                min_value: Some(1.0),
                max_value: Some(8.0),
                scale_type: ScaleType::UnitLinearScale,
                ..ParameterSpec::default()
            },
            ParameterSpec {
                parameter_name: "act".into(),
                kind: ParameterType::Categorical,
                categorical_values: vec!["relu".into(), "tanh".into()],
                ..ParameterSpec::default()
            },
        ],
        ..HyperparameterSpec::default()
    }));
    job
}

async fn wait_state(p: &VertexPlatform, id: &str, want: JobState) -> Vec<JobState> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let job = p.get_job(id).await.unwrap();
        if seen.last() != Some(&job.state) {
            seen.push(job.state);
        }
        if job.state == want {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never reached {want:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn all_logs(p: &VertexPlatform, id: &str) -> Vec<mlconsole::domain::LogEntry> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = p.read_logs(id, after, 10_000).await.unwrap();
        after = page.next_after;
        entries.extend(page.entries);
        if page.complete {
            return entries;
        }
        assert!(Instant::now() < deadline, "the log of {id} never completed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_submits_a_job_and_follows_it_to_success_with_logs_and_samples() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    p.check_connection().await.unwrap();
    let submitted = p
        .submit_job(&container_job("mnist_1", &["--epochs", "5"]))
        .await
        .unwrap();
    assert!(
        submitted.job_id.chars().all(|c| c.is_ascii_digit()),
        "{}",
        submitted.job_id
    );
    assert_eq!(submitted.display_name.as_deref(), Some("mnist_1"));
    let id = submitted.job_id.clone();

    let states = wait_state(&p, &id, JobState::Succeeded).await;
    assert!(states.contains(&JobState::Running), "{states:?}");

    let logs = all_logs(&p, &id).await;
    let texts: Vec<&str> = logs.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts.first(), Some(&"Waiting for job to be provisioned."));
    assert_eq!(texts.last(), Some(&"Job completed successfully."));
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("epoch")).count(),
        5,
        "{texts:?}"
    );
    let mut unique = texts.clone();
    unique.dedup();
    assert_eq!(unique.len(), texts.len(), "no line twice: {texts:?}");
    let warning = logs.iter().find(|e| e.text.starts_with("epoch 3")).unwrap();
    assert_eq!(warning.severity, Severity::Warning);
    assert!(logs.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));

    let metrics = p.read_metrics(&id, None).await.unwrap();
    assert!(!metrics.samples.is_empty(), "{:?}", metrics.note);
    // Two replicas (chief and one worker) at 50 % and 60 % of 4 vCPUs, summed.
    let cpu = metrics.samples[0].cpu_percent;
    assert!((cpu - 440.0).abs() < 1e-6, "{cpu}");
    // A quarter of an n1-standard-4's 15 GiB, on each of two replicas.
    let gib = 1024 * 1024 * 1024;
    assert_eq!(metrics.samples[0].memory_bytes, 15 * gib / 4 * 2);
    // And each replica on its own, named by the series' labels.
    let replicas: Vec<(&str, f64)> = metrics
        .replicas
        .iter()
        .map(|r| (r.name.as_str(), r.samples[0].cpu_percent))
        .collect();
    assert_eq!(replicas.len(), 2, "{replicas:?}");
    assert_eq!(replicas[0].0, "workerpool0-0");
    assert!((replicas[0].1 - 200.0).abs() < 1e-6 && (replicas[1].1 - 240.0).abs() < 1e-6);

    let page = p
        .list_jobs("state=SUCCEEDED AND labels.team=vision", 100, None)
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 1);
    let job = &page.jobs[0];
    assert_eq!(job.training_input.as_ref().unwrap().worker_count, Some(1));
    assert_eq!(
        job.invocation.as_ref().unwrap().argv,
        ["python", "train.py", "--epochs", "5"]
    );
    let since = job.update_time.unwrap();
    let changed = p
        .list_jobs(&format!("updateTime>\"{}\"", since.to_rfc3339()), 100, None)
        .await
        .unwrap();
    assert!(changed.jobs.is_empty());
    let sent_filter = fake.records().iter().any(|r| {
        r.query
            .iter()
            .any(|(k, v)| k == "filter" && v.starts_with("update_time>"))
    });
    assert!(sent_filter, "the time filter goes to Vertex");
    let sent = |wanted: &str| {
        fake.records()
            .iter()
            .any(|r| r.query.iter().any(|(k, v)| k == "filter" && v == wanted))
    };
    assert!(sent(
        r#"(state="JOB_STATE_SUCCEEDED" OR state="JOB_STATE_PARTIALLY_SUCCEEDED") AND labels.team="vision""#
    ));
    let none = p.list_jobs("labels.team=audio", 100, None).await.unwrap();
    assert!(none.jobs.is_empty());
    let answered_empty = fake.records().iter().any(|r| {
        r.query
            .iter()
            .any(|(k, v)| k == "filter" && v == r#"labels.team="audio""#)
            && r.response.get("customJobs").is_none()
    });
    assert!(
        answered_empty,
        "Vertex itself left the other team's jobs out"
    );
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_shows_its_error_in_full_and_a_cancelled_one_ends_cancelled() {
    let fake = FakeGoogle::start(FakeConfig {
        run_for: Duration::from_secs(3),
        ..FakeConfig::default()
    });
    let p = signed_in(&fake);
    let failing = p
        .submit_job(&container_job("bad_1", &["--fail"]))
        .await
        .unwrap();
    let cancelled = p.submit_job(&container_job("long_1", &[])).await.unwrap();
    wait_state(&p, &cancelled.job_id, JobState::Running).await;
    let job = p.cancel_job(&cancelled.job_id).await.unwrap();
    assert!(
        matches!(job.state, JobState::Cancelling | JobState::Cancelled),
        "{:?}",
        job.state
    );
    wait_state(&p, &cancelled.job_id, JobState::Cancelled).await;

    wait_state(&p, &failing.job_id, JobState::Failed).await;
    let job = p.get_job(&failing.job_id).await.unwrap();
    let error = job.error_message.unwrap();
    assert!(error.contains("INVALID_ARGUMENT"), "{error}");
    assert!(
        error.contains("exited with a non-zero status of 1"),
        "{error}"
    );
    // The read quota: the client backs off and still reads the whole log.
    fake.throttle_logging(2);
    let logs = all_logs(&p, &failing.job_id).await;
    let throttled = fake.records().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 2);
    let value_error = logs.iter().find(|e| e.text.contains("ValueError")).unwrap();
    assert_eq!(value_error.severity, Severity::Error);

    let err = p.cancel_job(&failing.job_id).await.unwrap_err();
    assert!(err.to_string().contains("Cannot cancel"), "{err}");
    let err = p
        .submit_job(&{
            let mut j = container_job("local_dir", &[]);
            j.training_input.as_mut().unwrap().job_dir = Some("/tmp/out".into());
            j
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gs://"), "{err}");
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn make_default_moves_the_alias_and_the_traffic_and_roll_back_moves_them_back() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let v1 = fake.seed_version("iris", "v1", true);
    let v2 = fake.seed_version("iris", "v2", false);
    let endpoint = fake.seed_endpoint("iris-endpoint", "iris", &v1);
    let p = platform(
        &fake,
        TokenSource::from_key_json(&fake.authorized_user_json()).unwrap(),
    );

    let models = p.list_models().await.unwrap();
    assert_eq!(models.len(), 1);
    let default = models[0].default_version.as_ref().unwrap();
    assert_eq!(default.name, "v1");
    assert_eq!(default.traffic[0].percent, 100);
    let versions = p.list_versions("iris").await.unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        versions
            .iter()
            .any(|v| v.name == "v2" && !v.is_default && v.traffic.is_empty())
    );

    let answer: serde_json::Value = serde_json::from_str(
        &p.predict("iris", None, r#"{"instances": [[1, 2]]}"#.into())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["modelVersionId"], v1.as_str());
    assert_eq!(answer["predictions"][0], 3.0);
    assert!(
        p.predict_url("iris", None)
            .ends_with(&format!("/endpoints/{endpoint}:predict"))
    );

    // While v2 is deployed (a long-running operation), its row says so.
    let watch = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rows = p.list_versions("iris").await.unwrap();
            if let Some(progress) = rows
                .iter()
                .find(|v| v.name == "v2")
                .and_then(|v| v.progress.clone())
            {
                return progress;
            }
            assert!(Instant::now() < deadline, "no progress shown: {rows:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let (made, progress) = tokio::join!(p.set_default_version("iris", "v2"), watch);
    let made = made.unwrap();
    assert!(
        progress.contains("deploying to endpoint iris-endpoint"),
        "{progress}"
    );
    assert!(
        p.list_versions("iris")
            .await
            .unwrap()
            .iter()
            .all(|v| v.progress.is_none())
    );
    assert!(made.is_default);
    assert_eq!(made.traffic[0].percent, 100);
    assert!(fake.aliases("iris")[&v2].contains(&"default".to_owned()));
    assert!(!fake.aliases("iris")[&v1].contains(&"default".to_owned()));
    let split = fake.traffic_by_version(&endpoint);
    assert_eq!((split[&v1], split[&v2]), (0, 100));
    let answer: serde_json::Value = serde_json::from_str(
        &p.predict("iris", Some("v2"), r#"{"instances": [[1, 2]]}"#.into())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(answer["modelVersionId"], v2.as_str());
    let err = p
        .predict("iris", Some("v1"), r#"{"instances": [[1, 2]]}"#.into())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("make v1 the default"), "{err}");

    // Roll back: v1 is still deployed, so only the split moves.
    p.set_default_version("iris", "v1").await.unwrap();
    let split = fake.traffic_by_version(&endpoint);
    assert_eq!((split[&v1], split[&v2]), (100, 0));
    assert!(fake.aliases("iris")[&v1].contains(&"default".to_owned()));

    let err = p.delete_version("iris", "v1").await.unwrap_err();
    assert!(err.to_string().contains("default"), "{err}");
    assert!(fake.token_requests().contains(&"refresh_token".to_owned()));
    let methods: Vec<String> = {
        let d = Discovery::load();
        fake.records()
            .iter()
            .filter_map(|r| d.method_id(&r.method, &r.path))
            .collect()
    };
    for wanted in [
        "aiplatform.projects.locations.models.mergeVersionAliases",
        "aiplatform.projects.locations.endpoints.deployModel",
        "aiplatform.projects.locations.endpoints.patch",
        "aiplatform.projects.locations.endpoints.operations.get",
    ] {
        assert!(
            methods.iter().any(|m| m == wanted),
            "{wanted} not called: {methods:?}"
        );
    }
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_upload_through_long_running_operations_and_a_broken_one_shows_why() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    p.create_model(&mlconsole::domain::Model {
        name: "churn".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(p.list_models().await.unwrap()[0].name, "churn");
    let version = |name: &str, uri: &str| Version {
        name: name.into(),
        deployment_uri: uri.into(),
        ..Version::default()
    };
    let created = p
        .create_version("churn", &version("v1", "gs://mlc-test-bucket/churn/v1"))
        .await
        .unwrap();
    assert_eq!(created.state, VersionState::Creating);
    assert!(created.is_default);
    let rows = p.list_versions("churn").await.unwrap();
    assert_eq!(rows[0].state, VersionState::Creating);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = p.list_versions("churn").await.unwrap();
        if rows.len() == 1 && rows[0].state == VersionState::Ready {
            assert!(rows[0].is_default);
            assert_eq!(rows[0].framework, "SCIKIT_LEARN");
            break;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p.create_version("churn", &version("v2", "gs://mlc-test-bucket/churn/broken"))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = p.list_versions("churn").await.unwrap();
        if let Some(failed) = rows.iter().find(|v| v.state == VersionState::Failed) {
            let why = failed.error_message.clone().unwrap();
            assert!(why.contains("exactly one of"), "{why}");
            break;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    p.delete_version("churn", "v2").await.unwrap();
    assert_eq!(p.list_versions("churn").await.unwrap().len(), 1);
    let err = p
        .create_version("churn", &version("v3", "/home/me/model"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gs://"), "{err}");
    let err = p
        .create_version("churn", &version("V_3", "gs://b/x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lowercase"), "{err}");
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_prediction_jobs_run_and_are_listed_with_the_other_jobs() {
    let fake = FakeGoogle::start(FakeConfig::default());
    fake.seed_version("iris", "v1", true);
    let p = signed_in(&fake);
    let job = batch_job("score_1");
    let submitted = p.submit_job(&job).await.unwrap();
    p.submit_job(&container_job("train_2", &[])).await.unwrap();
    wait_state(&p, &submitted.job_id, JobState::Succeeded).await;
    let listed = p.list_jobs("", 100, None).await.unwrap().jobs;
    assert_eq!(listed.len(), 2);
    let batch = listed
        .iter()
        .find(|j| j.job_id == submitted.job_id)
        .unwrap();
    let input = batch.prediction_input.as_ref().unwrap();
    assert_eq!(input.model_name.as_deref(), Some("iris"));
    assert_eq!(input.output_path, "gs://mlc-test-bucket/out");
    let metrics = p.read_metrics(&submitted.job_id, None).await.unwrap();
    assert!(metrics.note.unwrap().contains("batch"));

    let mut pinned = job.clone();
    let input = pinned.prediction_input.as_mut().unwrap();
    input.model_name = None;
    input.version_name = Some("iris/versions/v1".into());
    let pinned = p.submit_job(&pinned).await.unwrap();
    let got = p.get_job(&pinned.job_id).await.unwrap();
    assert_eq!(
        got.prediction_input.unwrap().version_name.as_deref(),
        Some("iris/versions/1")
    );
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_is_lost_makes_exactly_one_job() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake).with_request_timeout(Duration::from_millis(700));
    // The fake makes the job, then answers after the client stopped waiting.
    fake.stall_creates(1, Duration::from_secs(3));
    let job = p.submit_job(&container_job("once", &[])).await.unwrap();
    assert_eq!(fake.job_count(), 1, "the create was not sent twice");
    assert_eq!(job.display_name.as_deref(), Some("once"));
    assert!(
        !job.labels.contains_key("mlconsole-request"),
        "the console's own label is not shown: {:?}",
        job.labels
    );
    let posts = fake
        .records()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/customJobs"))
        .count();
    assert_eq!(posts, 1);

    // Batch prediction jobs alike.
    fake.seed_version("iris", "v1", true);
    fake.stall_creates(1, Duration::from_secs(3));
    let batch = batch_job("score_once");
    p.submit_job(&batch).await.unwrap();
    assert_eq!(fake.job_count(), 2);
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_is_refreshed_without_the_user_noticing() {
    let fake = FakeGoogle::start(FakeConfig {
        token_lifetime: Duration::from_secs(2),
        ..FakeConfig::default()
    });
    let p = platform(
        &fake,
        TokenSource::from_key_json(&fake.authorized_user_json()).unwrap(),
    );
    p.list_jobs("", 10, None).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The first token has expired at the fake; the call still succeeds.
    p.list_jobs("", 10, None).await.unwrap();
    assert!(
        fake.token_requests().len() >= 2,
        "{:?}",
        fake.token_requests()
    );

    // A revoked credential is "not signed in" with what to run.
    fake.revoke_all();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let err = p.list_jobs("", 10, None).await.unwrap_err();
    assert!(matches!(err, PlatformError::Unauthenticated(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("gcloud auth application-default login"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_403_says_which_permission_is_missing() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    fake.deny(Some("aiplatform.customJobs.list"));
    let err = p.check_connection().await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("no permission for list custom jobs in project mlc-test-project"),
        "{text}"
    );
    assert!(text.contains("aiplatform.customJobs.list"), "{text}");
    fake.deny(None);
    p.check_connection().await.unwrap();
}

#[test]
fn a_key_that_is_not_a_service_account_key_is_refused_clearly() {
    let err = TokenSource::from_key_json("not json").err().unwrap();
    assert!(err.contains("not JSON"), "{err}");
    let err = TokenSource::from_key_json(r#"{"type": "external_account"}"#)
        .err()
        .unwrap();
    assert!(err.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{err}");
}

/// A gcloud configuration of its own that sends Vertex AI calls to the fake, without
/// credentials (`auth/disable_credentials`).
fn gcloud_config(fake: &FakeGoogle) -> tempfile::TempDir {
    let config = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("auth/disable_credentials", "true".to_owned()),
        ("core/project", fake.config.project.clone()),
        (
            "api_endpoint_overrides/aiplatform",
            format!("{}/", fake.base),
        ),
    ] {
        let out = std::process::Command::new("gcloud")
            .args(["config", "set", key, &value, "--quiet"])
            .env("CLOUDSDK_CONFIG", config.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    config
}

/// Runs Google's own `gcloud` against the fake (without credentials, as
/// `auth/disable_credentials` makes it) and parses its JSON output.
fn gcloud_json(config: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new("gcloud")
        .args(args)
        .args(["--format=json", "--quiet"])
        .env("CLOUDSDK_CONFIG", config)
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .output()
        .expect("gcloud runs (.ci/run installs google-cloud-cli)");
    assert!(
        out.status.success(),
        "gcloud {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn googles_own_gcloud_parses_what_the_fake_answers() {
    let fake = FakeGoogle::start(FakeConfig {
        allow_anonymous: true,
        ..FakeConfig::default()
    });
    let v1 = fake.seed_version("iris", "v1", true);
    let endpoint = fake.seed_endpoint("iris-endpoint", "iris", &v1);
    let p = signed_in(&fake);
    let job = p
        .submit_job(&container_job("mnist_9", &["--epochs", "2"]))
        .await
        .unwrap();
    wait_state(&p, &job.job_id, JobState::Succeeded).await;

    let config = gcloud_config(&fake);
    let region = format!("--region={}", fake.config.region);
    let path = config.path().to_owned();
    let (jobs, described, models, endpoint_json) = tokio::task::spawn_blocking(move || {
        (
            gcloud_json(&path, &["ai", "custom-jobs", "list", &region]),
            gcloud_json(
                &path,
                &["ai", "custom-jobs", "describe", &job.job_id, &region],
            ),
            gcloud_json(&path, &["ai", "models", "list", &region]),
            gcloud_json(&path, &["ai", "endpoints", "describe", &endpoint, &region]),
        )
    })
    .await
    .unwrap();
    assert_eq!(jobs[0]["displayName"], "mnist_9");
    assert_eq!(described["state"], "JOB_STATE_SUCCEEDED");
    assert_eq!(
        described["jobSpec"]["workerPoolSpecs"][1]["replicaCount"],
        "1"
    );
    assert_eq!(models[0]["versionAliases"][0], "default");
    assert_eq!(
        endpoint_json["deployedModels"][0]["modelVersionId"],
        v1.as_str()
    );
    // gcloud's own requests obey the same documents.
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_across_logs_reads_each_job_s_cloud_logging_entries() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    let mut ids = Vec::new();
    for (name, epochs) in [("run_a", "5"), ("run_b", "5")] {
        let job = p
            .submit_job(&container_job(name, &["--epochs", epochs]))
            .await
            .unwrap();
        ids.push(job.job_id);
    }
    for id in &ids {
        wait_state(&p, id, JobState::Succeeded).await;
    }
    let request = mlconsole::domain::log_search::LogSearchRequest {
        query: "EPOCH 4".into(),
        ..Default::default()
    };
    let page = p.search_logs(&request).await.unwrap();
    assert!(
        page.jobs.is_empty(),
        "a capital letter matches case exactly"
    );
    let request = mlconsole::domain::log_search::LogSearchRequest {
        query: "epoch 4".into(),
        context_lines: 1,
        ..Default::default()
    };
    let page = p.search_logs(&request).await.unwrap();
    assert_eq!(page.total_jobs, 2);
    assert_eq!(page.next_page_token, None);
    let mut found: Vec<&str> = page.jobs.iter().map(|j| j.job_id.as_str()).collect();
    found.sort_unstable();
    assert_eq!(found, [ids[0].as_str(), ids[1].as_str()], "{page:#?}");
    for job in &page.jobs {
        assert_eq!(job.total, 1);
        let m = &job.matches[0];
        assert!(m.entry.text.starts_with("epoch 4"), "{}", m.entry.text);
        assert!(m.before[0].text.starts_with("epoch 3"));
        assert!(m.after[0].text.starts_with("epoch 5"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copied_gcloud_command_re_creates_a_custom_job() {
    let fake = FakeGoogle::start(FakeConfig {
        allow_anonymous: true,
        ..FakeConfig::default()
    });
    let p = signed_in(&fake);
    let mut wanted = container_job("mnist_copy", &["--epochs", "2", "it's two words"]);
    let input = wanted.training_input.as_mut().unwrap();
    input.env.insert("MODE".into(), "fast $NOT_EXPANDED".into());
    let job = p.submit_job(&wanted).await.unwrap();
    let command = p.resubmit_command(&job, "mnist_copy_2").unwrap();
    assert!(
        command.contains("gcloud ai custom-jobs create"),
        "{command}"
    );

    let config = gcloud_config(&fake);
    run_copied(command, config.path().to_owned()).await;
    let (a, b) = original_and_copy(&p, "mnist_copy").await;
    assert_eq!(a.training_input, b.training_input);
    assert_eq!(a.labels, b.labels);
    assert_contract(&fake);
}

/// Runs the copied lines with `sh` and the gcloud config `config`; answers stdout.
async fn run_copied(command: String, config: std::path::PathBuf) -> String {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .env("CLOUDSDK_CONFIG", config)
            .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "the copied lines failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The two jobs named `display_name` (an original and its copy), each its own job.
async fn original_and_copy(p: &VertexPlatform, display_name: &str) -> (Job, Job) {
    let jobs = p.list_jobs("", 100, None).await.unwrap().jobs;
    let mut copies: Vec<Job> = jobs
        .iter()
        .filter(|j| j.display_name.as_deref() == Some(display_name))
        .cloned()
        .collect();
    assert_eq!(copies.len(), 2, "the original and its copy: {jobs:#?}");
    let b = copies.pop().unwrap();
    let a = copies.pop().unwrap();
    assert_ne!(a.job_id, b.job_id);
    (a, b)
}

/// A gcloud config in `dir` signed in as service account `name` of the fake (gcloud
/// exchanges its key for tokens at the fake's token endpoint).
fn gcloud_signed_in(fake: &FakeGoogle, dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let key_file = dir.join("key.json");
    std::fs::write(&key_file, &fake.service_account(name).json).unwrap();
    let config = dir.join("gcloud-config");
    let out = std::process::Command::new("gcloud")
        .args(["auth", "activate-service-account", "--quiet"])
        .arg(format!("--key-file={}", key_file.display()))
        .env("CLOUDSDK_CONFIG", &config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copied_gcloud_command_re_creates_a_tuning_job() {
    let fake = FakeGoogle::start(FakeConfig {
        allow_anonymous: true,
        ..FakeConfig::default()
    });
    let p = signed_in(&fake);
    let mut wanted = tuning_job("tune_copy");
    wanted.labels.insert("team".into(), "vision".into());
    let job = p.submit_job(&wanted).await.unwrap();
    let command = p.resubmit_command(&job, "tune_copy_2").unwrap();
    assert!(
        command.contains("gcloud ai hp-tuning-jobs create"),
        "{command}"
    );
    let config = gcloud_config(&fake);
    run_copied(command, config.path().to_owned()).await;
    let (a, b) = original_and_copy(&p, "tune_copy").await;
    let (study_a, study_b) = (a.study().unwrap(), b.study().unwrap());
    assert_eq!(study_a, study_b);
    assert_eq!(study_b.max_trials, 4);
    assert_eq!(study_b.max_parallel_trials, 2);
    assert_eq!(a.labels, b.labels);
    assert_eq!(b.labels["team"], "vision");
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copied_curl_line_re_creates_a_batch_job_with_gclouds_token() {
    let fake = FakeGoogle::start(FakeConfig::default());
    fake.seed_version("iris", "v1", true);
    let p = signed_in(&fake);
    let mut pinned = batch_job("score_copy");
    let input = pinned.prediction_input.as_mut().unwrap();
    input.model_name = None;
    input.version_name = Some("iris/versions/v1".into());
    let job = p.submit_job(&pinned).await.unwrap();
    let listed = p.get_job(&job.job_id).await.unwrap();
    let command = p.resubmit_command(&listed, "score_copy_2").unwrap();
    assert!(
        command.contains("gcloud auth print-access-token"),
        "{command}"
    );

    // gcloud signed in with a service account whose tokens the fake issues.
    let dir = tempfile::tempdir().unwrap();
    let config = gcloud_signed_in(&fake, dir.path(), "copier");
    let answer = run_copied(command, config).await;
    let created: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(created["displayName"], "score_copy", "{created:#}");
    let copy = p
        .get_job(
            created["name"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_ne!(copy.job_id, listed.job_id);
    assert_eq!(copy.prediction_input, listed.prediction_input);
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copied_gcloud_command_uploads_a_copy_of_a_version() {
    let fake = FakeGoogle::start(FakeConfig {
        allow_anonymous: true,
        ..FakeConfig::default()
    });
    let p = signed_in(&fake);
    p.create_model(&mlconsole::domain::Model {
        name: "churn".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let wanted = Version {
        name: "v1".into(),
        deployment_uri: "gs://mlc-test-bucket/churn/v1".into(),
        description: "gradient boosting, it's the baseline".into(),
        labels: [("team".to_owned(), "vision".to_owned())].into(),
        ..Version::default()
    };
    p.create_version("churn", &wanted).await.unwrap();
    let ready = |rows: &[Version], name: &str| {
        rows.iter()
            .find(|v| v.name == name && v.state == VersionState::Ready)
            .cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let v1 = loop {
        if let Some(v) = ready(&p.list_versions("churn").await.unwrap(), "v1") {
            break v;
        }
        assert!(Instant::now() < deadline, "v1 not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let command = p.version_command("churn", &v1, "v2").unwrap();
    assert!(command.contains("gcloud ai models upload"), "{command}");
    let config = gcloud_config(&fake);
    run_copied(command, config.path().to_owned()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let v2 = loop {
        if let Some(v) = ready(&p.list_versions("churn").await.unwrap(), "v2") {
            break v;
        }
        assert!(Instant::now() < deadline, "v2 not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (
            &v1.deployment_uri,
            &v1.description,
            &v1.labels,
            &v1.framework,
            &v1.runtime
        ),
        (
            &v2.deployment_uri,
            &v2.description,
            &v2.labels,
            &v2.framework,
            &v2.runtime
        )
    );
    assert!(v1.is_default && !v2.is_default);
    assert_contract(&fake);
}

#[test]
fn the_contract_check_catches_what_google_would_refuse() {
    let discovery = Discovery::load();
    let call = common::vertex::Recorded {
        method: "POST".into(),
        path: "/v1/projects/p/locations/us-central1/customJobs".into(),
        query: vec![("verbose".into(), "1".into())],
        body: Some(serde_json::json!({
            "displayName": "x",
            "job_spec": {},
            "jobSpec": {"workerPoolSpecs": [{
                "replicaCount": 1,
                "machineSpec": {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_TESLA_Z"}
            }]}
        })),
        status: 200,
        response: serde_json::json!({"state": "RUNNING"}),
    };
    let problems = discovery.problems(&call).join("\n");
    for wanted in [
        "\"verbose\"",
        "\"job_spec\"",
        "replicaCount: expected a string",
        "NVIDIA_TESLA_Z",
        "\"RUNNING\"",
    ] {
        assert!(problems.contains(wanted), "{wanted} missed in:\n{problems}");
    }
    let unknown = common::vertex::Recorded {
        path: "/v1/projects/p/locations/us-central1/customJobz".into(),
        ..call
    };
    assert!(discovery.problems(&unknown)[0].contains("no discovery method"));
}

#[test]
fn the_console_shows_a_vertex_connection_s_jobs_beside_the_local_engine_s() {
    use common::console::{
        click, console_harness_in, has_label, has_label_containing, step_until, wait_connected,
    };
    use mlconsole::backend::ConnectionStatus;
    use mlconsole::domain::ConnectionId;
    let fake = FakeGoogle::start(FakeConfig::default());
    let key = fake.service_account("console");
    let v1 = fake.seed_version("churn", "v1", true);
    let endpoint = fake.seed_endpoint("churn-prod", "churn", &v1);
    let engine = common::TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    save_vertex_connection(&fake, &key, config.path());
    let settings = std::fs::read_to_string(config.path().join("connections.json")).unwrap();
    assert!(!settings.contains("PRIVATE KEY"));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let submitted = runtime.block_on(async {
        engine
            .platform
            .submit_job(&common::command_job("on_local", &["true"]))
            .await
            .unwrap();
        signed_in(&fake)
            .submit_job(&container_job("on_vertex", &[]))
            .await
            .unwrap()
    });
    let harness = console_harness_in(&engine, config.path());
    let harness = wait_connected(harness, &ConnectionId::local());
    let mut harness = wait_connected(harness, &ConnectionId::new("vertex-prod"));
    step_until(
        &mut harness,
        "both connections' jobs",
        Duration::from_secs(30),
        |h| {
            let jobs = &h.state().snapshots().jobs;
            jobs.get(&ConnectionId::new("vertex-prod"), &submitted.job_id)
                .is_some()
                && jobs.get(&ConnectionId::local(), "on_local").is_some()
        },
    );
    assert!(has_label(&harness, "vertex-prod connected"));
    let row = format!("on_vertex · {}", submitted.job_id);
    step_until(
        &mut harness,
        "the job succeeds",
        Duration::from_secs(30),
        |h| {
            h.state()
                .snapshots()
                .jobs
                .get(&ConnectionId::new("vertex-prod"), &submitted.job_id)
                .is_some_and(|j| j.state == JobState::Succeeded)
        },
    );
    click(&mut harness, &row);
    click(&mut harness, "📜 Logs");
    step_until(
        &mut harness,
        "the job's Cloud Logging lines",
        Duration::from_secs(30),
        |h| has_label_containing(h, "Job completed successfully."),
    );

    // CPU and memory: the job's total and each of its two replicas.
    click(&mut harness, "Resources");
    let job_key =
        mlconsole::domain::JobKey::new(&ConnectionId::new("vertex-prod"), &submitted.job_id);
    step_until(
        &mut harness,
        "per-replica samples",
        Duration::from_secs(30),
        |h| {
            has_label_containing(h, &format!("{}: CPU ", job_key.job_id))
                && has_label_containing(h, "replicas workerpool0-0, workerpool1-0")
        },
    );

    // A permission taken away shows on the connection, and it recovers once given back.
    fake.deny(Some("aiplatform.customJobs.list"));
    step_until(
        &mut harness,
        "no permission",
        Duration::from_secs(30),
        |h| {
            matches!(h.state().snapshots().connections.status(&ConnectionId::new("vertex-prod")),
            Some(ConnectionStatus::Failed { error, hint }) if error.contains("no permission for list custom jobs") && hint.contains("roles/aiplatform.user"))
        },
    );
    fake.deny(None);
    let mut harness = wait_connected(harness, &ConnectionId::new("vertex-prod"));

    // Models: a version uploaded from a gs:// artifact, then made the default.
    click(&mut harness, "Models");
    step_until(
        &mut harness,
        "the registry's model",
        Duration::from_secs(30),
        |h| has_label_containing(h, "churn"),
    );
    click(&mut harness, "churn");
    step_until(
        &mut harness,
        "the artifact field",
        Duration::from_secs(10),
        |h| has_label_containing(h, "Upload as v2"),
    );
    common::console::type_into(&mut harness, "Artifact", "gs://mlc-test-bucket/churn/v2/");
    click(&mut harness, "Upload as v2");
    step_until(&mut harness, "v2 uploaded", Duration::from_secs(30), |h| {
        fake.aliases("churn").len() == 2
            && has_label(h, "Make default")
            && has_label_containing(h, "not on an endpoint")
    });
    click(&mut harness, "Make default");
    step_until(
        &mut harness,
        "the default moved with the traffic",
        Duration::from_secs(30),
        |_| {
            fake.aliases("churn")["2"].contains(&"default".to_owned())
                && fake.traffic_by_version(&endpoint).get("2") == Some(&100)
        },
    );
    step_until(
        &mut harness,
        "the traffic shown",
        Duration::from_secs(30),
        |h| {
            has_label_containing(h, "100% of churn-prod")
                && h.state()
                    .snapshots()
                    .models
                    .list
                    .iter()
                    .any(|m| m.versions.iter().any(|v| v.name == "v2" && v.is_default))
        },
    );

    // A batch job over Cloud Storage from the Predict tab (a local path is refused there).
    click(&mut harness, "Try");
    common::console::type_into(&mut harness, "Batch inputs", "/tmp/rows.jsonl");
    common::console::type_into(&mut harness, "Batch output", "gs://mlc-test-bucket/out/");
    click(&mut harness, "Run batch job");
    assert!(has_label_containing(
        &harness,
        "batch jobs here read and write Cloud Storage"
    ));
    common::console::replace_in(
        &mut harness,
        "Batch inputs",
        "gs://mlc-test-bucket/in/*.jsonl",
    );
    click(&mut harness, "Run batch job");
    step_until(
        &mut harness,
        "the batch job listed",
        Duration::from_secs(30),
        |h| {
            h.state().snapshots().jobs.all().iter().any(|j| {
                j.prediction_input.as_ref().is_some_and(|p| {
                    p.input_paths == ["gs://mlc-test-bucket/in/*.jsonl"]
                        && p.output_path == "gs://mlc-test-bucket/out/"
                })
            })
        },
    );

    // The key is revoked: the connection is signed out, says what to do, and comes back
    // by itself once the key is good again (no restart).
    fake.revoke_all();
    let id = ConnectionId::new("vertex-prod");
    step_until(
        &mut harness,
        "signed out",
        Duration::from_secs(30),
        |h| matches!(h.state().snapshots().connections.status(&id), Some(ConnectionStatus::SignedOut { hint, .. }) if hint.contains("new key")),
    );
    assert!(
        harness
            .state()
            .snapshots()
            .jobs
            .get(&ConnectionId::local(), "on_local")
            .is_some()
    );
    fake.trust(&key);
    let _harness = wait_connected(harness, &id);
}

#[tokio::test(flavor = "multi_thread")]
async fn gcloud_s_current_account_signs_in_with_a_jwt_exchange_at_the_token_endpoint() {
    use std::os::unix::fs::PermissionsExt as _;
    let fake = FakeGoogle::start(FakeConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let config = gcloud_signed_in(&fake, dir.path(), "ci-runner");
    // gcloud as the console runs it, with this test's own gcloud config.
    let wrapper = dir.path().join("gcloud");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nCLOUDSDK_CONFIG='{}' exec gcloud \"$@\"\n",
            config.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = platform(&fake, TokenSource::gcloud(Some(wrapper.clone())));
    p.check_connection().await.unwrap();
    let grants = fake.token_requests();
    assert!(!grants.is_empty());
    assert!(
        grants
            .iter()
            .all(|g| g == "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        "{grants:?}"
    );
    p.list_jobs("", 10, None).await.unwrap();
    assert_eq!(
        fake.token_requests().len(),
        grants.len(),
        "the printed token is reused"
    );

    // No gcloud to ask: the console says what to install.
    let signed_out = platform(
        &fake,
        TokenSource::gcloud(Some(dir.path().join("no-such-gcloud"))),
    );
    let err = signed_out.check_connection().await.unwrap_err();
    assert!(matches!(err, PlatformError::Unauthenticated(_)), "{err:?}");
    assert!(err.to_string().contains("Google Cloud CLI"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_every_second_model_sync_stays_inside_the_read_quota() {
    let fake = FakeGoogle::start(FakeConfig::default());
    fake.seed_version("iris", "v1", true);
    let key = fake.service_account("sync");
    // Default polling, as the console runs it.
    let p = VertexPlatform::new(
        &fake.config.project,
        &fake.config.region,
        Some(&fake.base),
        TokenSource::from_key_json(&key.json).unwrap(),
    );
    for _ in 0..5 {
        for model in p.list_models().await.unwrap() {
            p.list_versions(&model.name).await.unwrap();
        }
    }
    let calls = fake.records().len();
    assert_eq!(
        calls, 3,
        "one models.list, one listVersions, one endpoints.list"
    );
    // A change is read back at once.
    p.set_default_version("iris", "v1").await.unwrap();
    assert!(fake.records().len() > calls);
}

/// Serves a seeded fake for `MLCONSOLE_FAKE_SECS` seconds and writes a console config
/// for it into `MLCONSOLE_FAKE_CONFIG` (a Vertex connection and its key, file store), to
/// look at the console against it: `cargo test --test vertex serve_a_fake -- --ignored`.
#[test]
#[ignore = "a tool for screenshots, not a test"]
fn serve_a_fake_for_screenshots() {
    let config = std::path::PathBuf::from(std::env::var("MLCONSOLE_FAKE_CONFIG").unwrap());
    let secs: u64 = std::env::var("MLCONSOLE_FAKE_SECS").map_or(120, |s| s.parse().unwrap());
    let fake = FakeGoogle::start(FakeConfig {
        run_for: Duration::from_secs(secs),
        ..FakeConfig::default()
    });
    let key = fake.service_account("screens");
    let v1 = fake.seed_version("churn", "v1", true);
    fake.seed_version("churn", "v2", false);
    fake.seed_endpoint("churn-prod", "churn", &v1);
    save_vertex_connection(&fake, &key, &config);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let p = signed_in(&fake);
        for (name, args) in [
            ("mnist_sweep_lr_0_1", vec!["--lr", "0.1"]),
            ("mnist_sweep_lr_0_01", vec!["--lr", "0.01"]),
            ("mnist_bad_data", vec!["--fail"]),
        ] {
            let args: Vec<&str> = args.clone();
            p.submit_job(&container_job(name, &args)).await.unwrap();
        }
    });
    println!("fake at {}", fake.base);
    std::thread::sleep(Duration::from_secs(secs));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tuning_job_round_trips_as_a_hyperparameter_tuning_job_and_lists_its_trials() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    assert!(p.capabilities().tuning.yes());
    let job = tuning_job("tune_1");
    let submitted = p.submit_job(&job).await.unwrap();
    assert_eq!(submitted.display_name.as_deref(), Some("tune_1"));
    let sent = fake
        .records()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/hyperparameterTuningJobs"))
        .expect("a hyperparameterTuningJobs create");
    let body = sent.body.unwrap();
    assert_eq!(body["maxTrialCount"], 4);
    assert_eq!(body["parallelTrialCount"], 2);
    assert_eq!(
        body["studySpec"]["metrics"][0],
        serde_json::json!({"metricId": "accuracy", "goal": "MAXIMIZE"})
    );
    assert_eq!(
        body["studySpec"]["parameters"][0]["integerValueSpec"],
        serde_json::json!({"minValue": "1", "maxValue": "8"})
    );
    assert!(body["studySpec"]["medianAutomatedStoppingSpec"].is_object());
    assert!(body["trialJobSpec"]["workerPoolSpecs"][0]["containerSpec"]["imageUri"].is_string());

    wait_state(&p, &submitted.job_id, JobState::Succeeded).await;
    let listed = p.list_jobs("", 100, None).await.unwrap().jobs;
    let tuning = listed
        .iter()
        .find(|j| j.job_id == submitted.job_id)
        .expect("listed with the other jobs");
    let spec = tuning.study().expect("its study");
    assert_eq!(spec.max_trials, 4);
    assert_eq!(spec.params[1].categorical_values, ["relu", "tanh"]);
    let output = tuning.training_output.as_ref().unwrap();
    assert_eq!(output.trials.len(), 4);
    assert_eq!(output.completed_trial_count, 4);
    assert_eq!(output.trials[0].trial_id, "4", "best first");
    assert_eq!(output.trials[0].hyperparameters["layers"], "4");
    assert_eq!(output.trials[0].hyperparameters["act"], "tanh");
    assert_eq!(output.trials[0].final_metric.unwrap().training_step, 10);
    assert_contract(&fake);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_with_accelerators_reports_their_use_and_memory_per_replica() {
    let fake = FakeGoogle::start(FakeConfig::default());
    let p = signed_in(&fake);
    let mut job = container_job("on_t4", &[]);
    job.training_input
        .as_mut()
        .unwrap()
        .master_config
        .as_mut()
        .unwrap()
        .accelerator_config = Some(mlconsole::domain::AcceleratorConfig {
        count: 2,
        kind: "NVIDIA_TESLA_T4".into(),
    });
    let submitted = p.submit_job(&job).await.unwrap();
    wait_state(&p, &submitted.job_id, JobState::Succeeded).await;
    let metrics = p.read_metrics(&submitted.job_id, None).await.unwrap();
    let sample = metrics.samples.first().expect("samples");
    // 80 % of each of 2 T4s on each of two replicas; a quarter of their 16 GiB.
    assert_eq!(sample.gpu_percent, Some(0.8 * 100.0 * 2.0 * 2.0));
    let gib = 1024 * 1024 * 1024;
    assert_eq!(sample.gpu_memory_bytes, Some(16 * gib / 4 * 2 * 2));
    assert!(
        metrics
            .replicas
            .iter()
            .all(|r| r.samples[0].gpu_percent == Some(160.0)),
        "{:?}",
        metrics.replicas
    );
    // A job without accelerators asks Monitoring for none.
    let plain = p.submit_job(&container_job("cpu_only", &[])).await.unwrap();
    wait_state(&p, &plain.job_id, JobState::Succeeded).await;
    let metrics = p.read_metrics(&plain.job_id, None).await.unwrap();
    assert!(metrics.samples.iter().all(|s| s.gpu_percent.is_none()));
    let accelerator_reads = fake
        .records()
        .iter()
        .filter(|r| {
            r.query.iter().any(|(k, v)| {
                k == "filter" && v.contains("/accelerator/") && v.contains(&plain.job_id)
            })
        })
        .count();
    assert_eq!(accelerator_reads, 0);
    assert_contract(&fake);
}

#[test]
fn a_vertex_job_s_gs_dir_opens_in_scalars_with_the_connection_s_token() {
    use common::buckets::{Emulator, RecordingProxy};
    use common::console::{
        click, drawn_charts, harness_for, has_label, has_label_containing, step_until,
        test_settings, wait_connected,
    };
    use mlconsole::domain::ConnectionId;
    let fake = FakeGoogle::start(FakeConfig::default());
    let key = fake.service_account("console");
    let engine = common::TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    save_vertex_connection(&fake, &key, config.path());
    // The job writes its summaries under its base output dir, as Vertex AI's
    // AIP_TENSORBOARD_LOG_DIR (<dir>/logs) says.
    let gcs = Emulator::gcs();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let submitted = runtime.block_on(async {
        gcs.create_gcs_bucket("mlc-test-bucket").await;
        gcs.upload_fixtures("mlc-test-bucket", "jobs/mnist/logs")
            .await;
        signed_in(&fake)
            .submit_job(&container_job("on_vertex", &[]))
            .await
            .unwrap()
    });
    let proxy = RecordingProxy::start(&gcs.base);
    let mut settings = test_settings(&engine, config.path());
    settings.buckets.gcs_emulator = Some(proxy.base.clone());
    let harness = harness_for(settings);
    let harness = wait_connected(harness, &ConnectionId::local());
    let mut harness = wait_connected(harness, &ConnectionId::new("vertex-prod"));
    let row = format!("on_vertex · {}", submitted.job_id);
    step_until(
        &mut harness,
        "the Vertex job",
        Duration::from_secs(30),
        |h| has_label(h, &row),
    );
    click(&mut harness, &row);
    click(&mut harness, "📉 Scalars");
    step_until(
        &mut harness,
        "the job's scalars from its gs:// dir",
        Duration::from_secs(30),
        |h| {
            has_label(h, "logs/run_tf1")
                && has_label(h, "logs/run_tf2/train")
                && !has_label_containing(h, "Drawing ")
                && drawn_charts(h) >= 4
        },
    );
    // Every read carried a token the connection's credentials got from Google.
    let authorizations = proxy.authorizations();
    assert!(!authorizations.is_empty());
    for auth in &authorizations {
        let token = auth.strip_prefix("Bearer ").unwrap();
        assert!(fake.accepts(token), "{auth} is the connection's token");
    }
}
