//! The Ray connection against a real Ray head node (started by the tests, shared by
//! them): jobs from a local folder with env and labels, their logs, failures, stop,
//! worker samples; models on Ray Serve with two versions, predictions equal to
//! scikit-learn's, the default switched under load, scale to zero and back, batch
//! prediction; and token authentication.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::ray::{RayCluster, shared};
use mlconsole::domain::{
    AutoScaling, Job, JobState, LogEntry, Model, PredictionInput, Severity, TrainingInput, Version,
    VersionState,
};
use mlconsole::platform::{Platform, PlatformError, RayPlatform};

fn platform(cluster: &RayCluster) -> RayPlatform {
    RayPlatform::new(
        &cluster.dashboard,
        Some(&cluster.serve),
        cluster.token.clone(),
    )
}

async fn cluster() -> &'static RayCluster {
    tokio::task::spawn_blocking(shared).await.unwrap()
}

async fn wait_job(
    ray: &RayPlatform,
    id: &str,
    timeout: Duration,
    done: impl Fn(&Job) -> bool,
) -> Job {
    let started = Instant::now();
    loop {
        let job = ray.get_job(id).await.unwrap();
        if done(&job) {
            return job;
        }
        assert!(
            started.elapsed() < timeout,
            "{id} did not get there in {timeout:?}: {job:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn all_logs(ray: &RayPlatform, id: &str) -> Vec<LogEntry> {
    let mut entries = Vec::new();
    let started = Instant::now();
    loop {
        let page = ray
            .read_logs(id, entries.len() as u64, 10_000)
            .await
            .unwrap();
        entries.extend(page.entries);
        if page.complete {
            return entries;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the log of {id} never completed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn command_job(id: &str, argv: &[&str]) -> Job {
    Job {
        job_id: id.into(),
        training_input: Some(TrainingInput {
            command: argv.iter().map(|s| s.to_string()).collect(),
            ..TrainingInput::default()
        }),
        ..Job::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_from_a_local_folder_runs_with_its_env_and_labels_and_logs_every_line_in_order() {
    let ray = platform(cluster().await);
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("train.py"),
        "import os, time\nprint('lr', os.environ['LR'], flush=True)\nfor i in range(40):\n    print(f'step {i}', flush=True)\n    time.sleep(0.05)\nprint('WARNING:root:almost done', flush=True)\n",
    )
    .unwrap();
    let mut job = command_job("folder_job", &["python", "train.py"]);
    job.labels.insert("team".into(), "vision".into());
    let input = job.training_input.as_mut().unwrap();
    input.working_dir = Some(folder.path().display().to_string());
    input.env.insert("LR".into(), "0.1".into());
    let submitted = ray.submit_job(&job).await.unwrap();
    assert_eq!(submitted.job_id, "folder_job");
    let done = wait_job(&ray, "folder_job", Duration::from_secs(90), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:#?}");
    assert_eq!(done.labels.get("team").map(String::as_str), Some("vision"));
    let input = done.training_input.unwrap();
    assert_eq!(
        input.working_dir.as_deref(),
        Some(folder.path().to_str().unwrap())
    );
    assert!(
        done.invocation
            .unwrap()
            .working_dir
            .starts_with("gcs://_ray_pkg_")
    );

    let lines = all_logs(&ray, "folder_job").await;
    let texts: Vec<&str> = lines.iter().map(|e| e.text.as_str()).collect();
    let at = |t: &str| {
        texts
            .iter()
            .position(|x| *x == t)
            .unwrap_or_else(|| panic!("no {t:?} in {texts:#?}"))
    };
    let printed: Vec<usize> = std::iter::once(at("lr 0.1"))
        .chain((0..40).map(|i| at(&format!("step {i}"))))
        .chain(std::iter::once(at("WARNING:root:almost done")))
        .collect();
    assert!(printed.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(
        lines[at("step 3")].severity,
        Severity::Default,
        "no level stated"
    );
    assert_eq!(
        lines[at("WARNING:root:almost done")].severity,
        Severity::Warning
    );
    assert!(lines.windows(2).all(|w| w[1].seq == w[0].seq + 1));

    let again = ray.submit_job(&job).await.unwrap_err();
    assert!(
        matches!(&again, PlatformError::Rejected { status, .. } if status == "ALREADY_EXISTS"),
        "a retry never duplicates: {again:?}"
    );
    let listed = ray.list_jobs("labels.team=vision", 10, None).await.unwrap();
    assert_eq!(listed.jobs.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_copied_ray_job_submit_line_re_creates_the_job() {
    let cluster = cluster().await;
    let ray = platform(cluster);
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("train.py"),
        "import os, sys\nprint('copy', os.environ['LR'], sys.argv[1:], flush=True)\n",
    )
    .unwrap();
    let mut job = command_job("copy_me", &["python", "train.py"]);
    job.labels.insert("team".into(), "vision".into());
    let input = job.training_input.as_mut().unwrap();
    input.working_dir = Some(folder.path().display().to_string());
    input.env.insert("LR".into(), "0.1".into());
    input.args = vec!["--name".into(), "it's two words".into()];
    ray.submit_job(&job).await.unwrap();
    let original = wait_job(&ray, "copy_me", Duration::from_secs(90), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(original.state, JobState::Succeeded, "{original:#?}");

    let command = ray.resubmit_command(&original, "copy_me_2").unwrap();
    assert!(command.contains("ray job submit"), "{command}");
    let ray_bin = common::ray::ray_command();
    let path = format!(
        "{}:{}",
        ray_bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let token = cluster.token.clone().unwrap_or_default();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .env("PATH", path)
            .env("RAY_TOKEN", token)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "ray job submit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = wait_job(&ray, "copy_me_2", Duration::from_secs(90), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(copy.state, JobState::Succeeded, "{copy:#?}");
    assert_eq!(copy.labels, original.labels);
    assert_eq!(copy.training_input, original.training_input);
    let printed: Vec<String> = all_logs(&ray, "copy_me_2")
        .await
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert!(
        printed.contains(&"copy 0.1 ['--name', \"it's two words\"]".to_owned()),
        "{printed:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_says_why_and_a_running_one_stops() {
    let ray = platform(cluster().await);
    ray.submit_job(&command_job(
        "fails_3",
        &[
            "python",
            "-c",
            "import sys; print('bad input file'); sys.exit(3)",
        ],
    ))
    .await
    .unwrap();
    ray.submit_job(&command_job("sleeps", &["sleep", "300"]))
        .await
        .unwrap();
    let failed = wait_job(&ray, "fails_3", Duration::from_secs(90), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(failed.state, JobState::Failed);
    let message = failed.error_message.unwrap();
    assert!(message.contains("exit code 3"), "{message}");
    assert!(
        message.contains("bad input file"),
        "the last lines come with it: {message}"
    );

    wait_job(&ray, "sleeps", Duration::from_secs(90), |j| {
        j.state == JobState::Running
    })
    .await;
    ray.cancel_job("sleeps").await.unwrap();
    let stopped = wait_job(&ray, "sleeps", Duration::from_secs(30), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(stopped.state, JobState::Cancelled);
    assert!(matches!(
        ray.get_job("no_such_job").await,
        Err(PlatformError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_using_ray_tasks_has_driver_and_worker_samples_and_one_without_says_why() {
    let ray = platform(cluster().await);
    let busy = "import ray, time\nray.init()\n@ray.remote(num_cpus=0.5)\ndef spin(s):\n    end = time.time() + s\n    x = 0\n    while time.time() < end:\n        x += 1\n    return x\nprint(sum(ray.get([spin.remote(60) for _ in range(2)])))\n";
    ray.submit_job(&command_job("uses_tasks", &["python", "-c", busy]))
        .await
        .unwrap();
    ray.submit_job(&command_job("plain_sleep", &["sleep", "90"]))
        .await
        .unwrap();
    wait_job(&ray, "uses_tasks", Duration::from_secs(90), |j| {
        j.state == JobState::Running
    })
    .await;
    let started = Instant::now();
    let (mut busy_sample, mut busy_note) = (None, None);
    let mut plain_note = None;
    // Under a loaded CI machine, ray.init(), the workers' start and Ray's 5 s refresh
    // can take a while before the first busy sample.
    let mut last_note = None;
    while started.elapsed() < Duration::from_secs(90)
        && (busy_sample.is_none() || plain_note.is_none())
    {
        let page = ray.read_metrics("uses_tasks", None).await.unwrap();
        if let Some(s) = page
            .samples
            .iter()
            .find(|s| s.cpu_percent > 20.0 && s.memory_bytes > 10_000_000)
        {
            busy_sample = Some(*s);
            busy_note = page.note.clone();
        }
        last_note = page.note.clone();
        let page = ray.read_metrics("plain_sleep", None).await.unwrap();
        if page.note.is_some() {
            plain_note = page.note;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let sample = busy_sample.unwrap_or_else(|| {
        panic!("no sample of the busy job's driver and workers; Ray said: {last_note:?}")
    });
    assert!(sample.cpu_percent > 20.0, "{sample:?}");
    assert!(busy_note.unwrap().contains("driver and workers"));
    let note = plain_note.expect("a note on the job without ray.init()");
    assert!(note.contains("never called ray.init()"), "{note}");
    ray.cancel_job("uses_tasks").await.unwrap();
    ray.cancel_job("plain_sleep").await.unwrap();
}

fn expected(model: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/models/expected.json"),
    )
    .unwrap();
    serde_json::from_str::<serde_json::Value>(&text).unwrap()[model].clone()
}

fn fixture(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models")
        .join(name)
        .display()
        .to_string()
}

/// Checks predictions against scikit-learn's: labels exact, probabilities to 1e-4.
fn assert_like_sklearn(answer: &str, want: &serde_json::Value) {
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
    let predictions = answer["predictions"].as_array().unwrap();
    let labels = want["label"].as_array().unwrap();
    assert_eq!(predictions.len(), labels.len());
    for (i, p) in predictions.iter().enumerate() {
        assert_eq!(p["label"], labels[i], "instance {i}: {p}");
        let probabilities = p["probabilities"].as_array().unwrap();
        for (j, q) in probabilities.iter().enumerate() {
            let w = want["probabilities"][i][j].as_f64().unwrap();
            assert!(
                (q.as_f64().unwrap() - w).abs() < 1e-4,
                "instance {i} class {j}: {q} vs {w}"
            );
        }
    }
}

async fn wait_versions(
    ray: &RayPlatform,
    model: &str,
    timeout: Duration,
    done: impl Fn(&[Version]) -> bool,
) -> Vec<Version> {
    let started = Instant::now();
    loop {
        let versions = ray.list_versions(model).await.unwrap();
        if done(&versions) {
            return versions;
        }
        assert!(
            !versions.iter().any(|v| v.state == VersionState::Failed),
            "a version failed: {versions:#?}"
        );
        assert!(
            started.elapsed() < timeout,
            "versions of {model}: {versions:#?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn version(name: &str, file: &str, min: u32, idle: Option<u32>) -> Version {
    Version {
        name: name.into(),
        deployment_uri: fixture(file),
        auto_scaling: Some(AutoScaling {
            min_nodes: min,
            max_nodes: Some(2),
            idle_seconds: idle,
        }),
        ..Version::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_model_with_two_versions_on_serve_switches_default_under_load_scales_to_zero_and_predicts_in_batch()
 {
    let cluster = cluster().await;
    let ray = platform(cluster);
    ray.create_model(&Model {
        name: "iris".into(),
        ..Model::default()
    })
    .await
    .unwrap();
    let created = ray
        .create_version("iris", &version("v1", "iris_logreg.onnx", 1, None))
        .await
        .unwrap();
    assert!(created.is_default, "the first version is the default");
    wait_versions(&ray, "iris", Duration::from_secs(120), |v| {
        v.iter().all(|v| v.state == VersionState::Ready)
    })
    .await;
    let logreg = expected("iris_logreg");
    let body = serde_json::json!({"instances": logreg["instances"]}).to_string();
    assert_like_sklearn(
        &ray.predict("iris", None, body.clone()).await.unwrap(),
        &logreg,
    );

    ray.create_version("iris", &version("v2", "iris_forest.onnx", 0, Some(3)))
        .await
        .unwrap();
    let versions = wait_versions(&ray, "iris", Duration::from_secs(120), |v| {
        v.len() == 2 && v.iter().all(|v| v.state == VersionState::Ready)
    })
    .await;
    assert_eq!(
        versions[0].inputs[0].shape,
        vec![None, Some(4)],
        "the signature read from the file"
    );
    let forest = expected("iris_forest");
    assert_like_sklearn(
        &ray.predict("iris", Some("v2"), body.clone()).await.unwrap(),
        &forest,
    );
    let bad = ray
        .predict("iris", None, r#"{"instances": [[1, 2]]}"#.into())
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("instance 0"), "{bad}");

    // Switch the default under a load of concurrent requests: none may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed, on_v2) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let url = ray.predict_url("iris", None);
    let mut load = Vec::new();
    for _ in 0..8 {
        let (stop, ok, failed, on_v2, url, body) = (
            stop.clone(),
            ok.clone(),
            failed.clone(),
            on_v2.clone(),
            url.clone(),
            body.clone(),
        );
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                match client.post(&url).body(body.clone()).send().await {
                    Ok(r) if r.status().is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        if r.headers()
                            .get("x-model-version")
                            .is_some_and(|v| v == "v2")
                        {
                            on_v2.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let switched = ray.set_default_version("iris", "v2").await.unwrap();
    assert!(switched.is_default);
    let moved = Instant::now();
    while on_v2.load(Ordering::Relaxed) == 0 && moved.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    eprintln!(
        "switch under load: {} answered, {} failed, {} by v2, traffic moved {:?} after the switch",
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        on_v2.load(Ordering::Relaxed),
        moved.elapsed()
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "no request failed during the switch"
    );
    assert!(on_v2.load(Ordering::Relaxed) > 0, "traffic moved to v2");
    let model = ray
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.name == "iris")
        .unwrap();
    assert_eq!(model.default_version.unwrap().name, "v2");
    assert_eq!(model.default_history.len(), 2);

    // v2 has no minimum: idle, it scales to zero; a request brings it back.
    wait_versions(&ray, "iris", Duration::from_secs(90), |v| {
        v.iter().any(|v| v.name == "v2" && v.replicas == 0)
    })
    .await;
    assert_like_sklearn(
        &ray.predict("iris", None, body.clone()).await.unwrap(),
        &forest,
    );
    wait_versions(&ray, "iris", Duration::from_secs(30), |v| {
        v.iter().any(|v| v.name == "v2" && v.replicas >= 1)
    })
    .await;

    // Batch prediction: the same predictor over a file, as the local engine writes it.
    let data = tempfile::tempdir().unwrap();
    let mut lines: Vec<String> = logreg["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.to_string())
        .collect();
    lines.insert(2, "[1, 2]".into());
    std::fs::write(data.path().join("flowers.jsonl"), lines.join("\n")).unwrap();
    let out = data.path().join("out");
    let job = Job {
        job_id: "iris_batch".into(),
        prediction_input: Some(PredictionInput {
            model_name: Some("iris".into()),
            input_paths: vec![data.path().join("*.jsonl").display().to_string()],
            output_path: out.display().to_string(),
            data_format: "JSON".into(),
            ..PredictionInput::default()
        }),
        ..Job::default()
    };
    ray.submit_job(&job).await.unwrap();
    let done = wait_job(&ray, "iris_batch", Duration::from_secs(120), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:#?}");
    assert_eq!(
        done.prediction_input.unwrap().version_name.as_deref(),
        Some("iris/versions/v2"),
        "the default at submission is pinned"
    );
    let results = std::fs::read_to_string(out.join("prediction.results-00000-of-00001")).unwrap();
    assert_eq!(results.lines().count(), 15);
    let first: serde_json::Value = serde_json::from_str(results.lines().next().unwrap()).unwrap();
    assert_eq!(first["label"], forest["label"][0]);
    let errors =
        std::fs::read_to_string(out.join("prediction.errors_stats-00000-of-00001")).unwrap();
    assert_eq!(errors.lines().count(), 1, "{errors}");
    assert!(errors.contains("\"line\":3"), "{errors}");

    // Versions and the model go; the default goes last.
    assert!(
        ray.delete_version("iris", "v2").await.is_err(),
        "the default stays while others exist"
    );
    ray.delete_version("iris", "v1").await.unwrap();
    ray.delete_version("iris", "v2").await.unwrap();
    ray.delete_model("iris").await.unwrap();
    assert!(
        ray.list_models()
            .await
            .unwrap()
            .iter()
            .all(|m| m.name != "iris")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_cluster_refuses_without_the_token_and_serves_with_it() {
    let token = "f".repeat(64);
    let cluster = tokio::task::spawn_blocking(move || RayCluster::start(Some(&token)))
        .await
        .unwrap();
    let without = RayPlatform::new(&cluster.dashboard, Some(&cluster.serve), None);
    let refused = without.check_connection().await.unwrap_err();
    assert!(
        matches!(&refused, PlatformError::Unauthenticated(m) if m.contains("wants a token")),
        "{refused:?}"
    );
    let wrong = RayPlatform::new(
        &cluster.dashboard,
        Some(&cluster.serve),
        Some("0".repeat(64)),
    );
    assert!(matches!(
        wrong.check_connection().await,
        Err(PlatformError::Unauthenticated(_))
    ));
    let with = platform(&cluster);
    with.check_connection().await.unwrap();
    with.submit_job(&command_job(
        "with_token",
        &["python", "-c", "print('authorized')"],
    ))
    .await
    .unwrap();
    wait_job(&with, "with_token", Duration::from_secs(90), |j| {
        j.state == JobState::Succeeded
    })
    .await;
    let lines = all_logs(&with, "with_token").await;
    assert!(
        lines.iter().any(|l| l.text == "authorized"),
        "the log tail took the token too"
    );
}

#[test]
fn the_console_shows_a_ray_connection_s_jobs_beside_the_local_engine_s() {
    use common::console::{
        click, console_harness_in, has_label, has_label_containing, step_until, wait_connected,
    };
    use mlconsole::domain::{ConnectionConfig, ConnectionId, ConnectionKind};
    let cluster = shared();
    let engine = common::TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let lab = ConnectionConfig {
        id: ConnectionId::new("ray-lab"),
        name: "ray-lab".into(),
        color: [0xf5, 0x9e, 0x0b],
        read_only: false,
        enabled: true,
        kind: ConnectionKind::Ray {
            dashboard_url: cluster.dashboard.clone(),
            serve_url: Some(cluster.serve.clone()),
        },
    };
    mlconsole::backend::settings::save(config.path(), &[ConnectionConfig::local_default(), lab])
        .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ray = platform(cluster);
        ray.submit_job(&command_job(
            "shown_in_console",
            &["python", "-c", "import time\nfor i in range(30):\n    print(f'console line {i}', flush=True)\n    time.sleep(0.2)"],
        ))
        .await
        .unwrap();
        engine.platform.submit_job(&common::command_job("on_local", &["true"])).await.unwrap();
    });
    let harness = console_harness_in(&engine, config.path());
    let harness = wait_connected(harness, &ConnectionId::local());
    let mut harness = wait_connected(harness, &ConnectionId::new("ray-lab"));
    step_until(
        &mut harness,
        "both connections' jobs",
        Duration::from_secs(30),
        |h| {
            let jobs = &h.state().snapshots().jobs;
            jobs.get(&ConnectionId::new("ray-lab"), "shown_in_console")
                .is_some()
                && jobs.get(&ConnectionId::local(), "on_local").is_some()
        },
    );
    assert!(has_label(&harness, "ray-lab connected"));
    step_until(
        &mut harness,
        "the cluster strip",
        Duration::from_secs(20),
        |h| has_label_containing(h, "1 node · 2 CPUs"),
    );
    click(&mut harness, "shown_in_console");
    click(&mut harness, "📜 Logs");
    step_until(
        &mut harness,
        "the Ray job's lines in the Logs tab",
        Duration::from_secs(60),
        |h| has_label_containing(h, "console line 29"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scikit_learn_pipeline_deploys_on_serve_and_answers_what_scikit_learn_predicts() {
    let Some(fixtures) = std::env::var_os("MLCONSOLE_FRAMEWORK_FIXTURES") else {
        panic!("MLCONSOLE_FRAMEWORK_FIXTURES is unset: run the tests through .ci/run");
    };
    let fixtures = std::path::PathBuf::from(fixtures);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap())
            .unwrap();
    let pipeline = &expected["sk_pipeline"];
    let cluster = cluster().await;
    let ray = platform(cluster);
    ray.create_model(&Model {
        name: "shop".into(),
        ..Model::default()
    })
    .await
    .unwrap();
    let created = ray
        .create_version(
            "shop",
            &Version {
                name: "v1".into(),
                deployment_uri: fixtures.join("sk_pipeline").display().to_string(),
                ..Version::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        created.framework, "SCIKIT_LEARN",
        "detected from model.joblib"
    );
    let versions = wait_versions(&ray, "shop", Duration::from_secs(180), |v| {
        v.iter().all(|v| v.state == VersionState::Ready)
    })
    .await;
    assert_eq!(versions[0].framework, "SCIKIT_LEARN");
    let answer = ray
        .predict("shop", None, pipeline["body"].to_string())
        .await
        .unwrap();
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["predictions"], pipeline["predictions"], "{answer}");
    // A bad instance is named, as on the local engine.
    let refused = ray
        .predict(
            "shop",
            None,
            serde_json::json!({"instances": [{"age": 3.0}]}).to_string(),
        )
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("feature \"hours\" is missing"),
        "{refused}"
    );

    // Batch prediction on the same version: the framework loads it in the job too.
    let data = tempfile::tempdir().unwrap();
    let lines: Vec<String> = pipeline["body"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(serde_json::Value::to_string)
        .collect();
    std::fs::write(data.path().join("in.jsonl"), lines.join("\n") + "\n").unwrap();
    let out = data.path().join("out");
    let job = Job {
        job_id: "shop_batch".into(),
        prediction_input: Some(PredictionInput {
            model_name: Some("shop".into()),
            input_paths: vec![data.path().join("in.jsonl").display().to_string()],
            output_path: out.display().to_string(),
            data_format: "JSON".into(),
            ..PredictionInput::default()
        }),
        ..Job::default()
    };
    ray.submit_job(&job).await.unwrap();
    let done = wait_job(&ray, "shop_batch", Duration::from_secs(120), |j| {
        j.state.is_finished()
    })
    .await;
    assert_eq!(done.state, JobState::Succeeded, "{done:#?}");
    let results = std::fs::read_to_string(out.join("prediction.results-00000-of-00001")).unwrap();
    let got: Vec<serde_json::Value> = results
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(serde_json::Value::Array(got), pipeline["predictions"]);
    ray.delete_version("shop", "v1").await.unwrap();
    ray.delete_model("shop").await.unwrap();
}
