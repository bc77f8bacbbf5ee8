//! User stories on the real console `App`, driven with egui_kittest against a real engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::time::Duration;

use common::console::{
    DroppedPath, click, console_harness, drawn_charts, has_label, has_label_containing, open_form,
    replace_in, shown_tab, step_until, text_in, type_into,
};
use common::{TestEngine, command_job};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use mlconsole::backend::ConnectionStatus;
use mlconsole::domain::{ConnectionId, JobState};
use mlconsole::platform::Platform;
use mlconsole::ui::{App, Tab};

fn job_state(harness: &Harness<'static, App>, id: &str) -> Option<JobState> {
    harness
        .state()
        .snapshots()
        .jobs
        .get(&ConnectionId::local(), id)
        .map(|j| j.state)
}

#[test]
fn submit_a_job_through_the_form_and_watch_it_succeed_then_read_its_log() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    assert!(has_label(&harness, "No jobs yet"));

    open_form(&mut harness);
    replace_in(&mut harness, "Job ID", "console_job");
    type_into(
        &mut harness,
        "Command",
        "sh -c 'sleep 3; echo hello from the console'",
    );
    harness.get_by_label("Submit").click();

    step_until(
        &mut harness,
        "the job to show as RUNNING",
        Duration::from_secs(20),
        |h| job_state(h, "console_job") == Some(JobState::Running) && has_label(h, "▶ RUNNING"),
    );
    step_until(
        &mut harness,
        "the job to succeed",
        Duration::from_secs(20),
        |h| job_state(h, "console_job") == Some(JobState::Succeeded) && has_label(h, "✔ SUCCEEDED"),
    );
    assert_eq!(
        harness
            .state()
            .snapshots()
            .selected
            .as_ref()
            .map(|k| k.job_id.as_str()),
        Some("console_job"),
        "a submitted job is selected"
    );
    assert!(
        has_label_containing(&harness, "sleep 3; echo hello"),
        "details show the invocation"
    );

    harness.get_by_label("Logs").click();
    step_until(
        &mut harness,
        "the printed line in the Logs tab",
        Duration::from_secs(20),
        |h| has_label_containing(h, "hello from the console"),
    );
    assert_eq!(shown_tab(&harness), Some(Tab::Logs));
    assert!(has_label_containing(&harness, "Job exited with code 0."));
}

#[test]
fn the_form_reports_bad_input_next_to_the_field_and_keeps_it() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    open_form(&mut harness);
    replace_in(&mut harness, "Job ID", "9_starts_with_a_digit");
    type_into(&mut harness, "Command", "python3 'unclosed");
    click(&mut harness, "Submit");
    assert!(has_label_containing(
        &harness,
        "jobId \"9_starts_with_a_digit\" is not valid"
    ));
    assert!(has_label_containing(&harness, "a quote is not closed"));
    assert!(
        has_label(&harness, "Submit"),
        "the form stays open with what was typed"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let page = runtime
        .block_on(engine.platform.list_jobs("", 10, None))
        .unwrap();
    assert!(page.jobs.is_empty(), "nothing was sent");
}

#[test]
fn cancel_a_long_job_from_its_details() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(
            engine
                .platform
                .submit_job(&command_job("long_job", &["sleep", "300"])),
        )
        .unwrap();
    step_until(
        &mut harness,
        "the long job running",
        Duration::from_secs(20),
        |h| job_state(h, "long_job") == Some(JobState::Running),
    );
    click(&mut harness, "long_job");
    click(&mut harness, "⏹ Cancel job");
    click(&mut harness, "Yes, cancel the job");
    step_until(
        &mut harness,
        "the job cancelled",
        Duration::from_secs(20),
        |h| job_state(h, "long_job") == Some(JobState::Cancelled) && has_label(h, "🚫 CANCELLED"),
    );
}

#[test]
fn filter_jobs_by_state_chip_and_by_label() {
    let engine = TestEngine::start(&[]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        for (id, team, code) in [
            ("vision_ok", "vision", 0),
            ("vision_bad", "vision", 1),
            ("nlp_ok", "nlp", 0),
        ] {
            let mut job = command_job(id, &["sh", "-c", &format!("exit {code}")]);
            job.labels.insert("team".into(), team.into());
            engine.platform.submit_job(&job).await.unwrap();
        }
        for id in ["vision_ok", "vision_bad", "nlp_ok"] {
            engine.wait_finished(id).await;
        }
    });
    let mut harness = console_harness(&engine);
    step_until(
        &mut harness,
        "all three jobs listed",
        Duration::from_secs(20),
        |h| {
            ["vision_ok", "vision_bad", "nlp_ok"]
                .iter()
                .all(|id| has_label(h, id))
        },
    );

    type_into(&mut harness, "Filter jobs", "labels.team=vision");
    harness.step();
    assert!(has_label(&harness, "vision_ok") && has_label(&harness, "vision_bad"));
    assert!(
        !has_label(&harness, "nlp_ok"),
        "the label filter hides other teams"
    );

    harness.get_by_label("Failed").click();
    harness.step();
    harness.step();
    assert!(has_label(&harness, "vision_bad"));
    assert!(
        !has_label(&harness, "vision_ok"),
        "the Failed chip hides succeeded jobs"
    );

    harness.get_by_label("All").click();
    type_into(&mut harness, "Filter jobs", " AND (");
    harness.step();
    assert!(
        has_label_containing(&harness, "filter error at column"),
        "a malformed filter says where"
    );
}

#[test]
fn the_status_bar_shows_a_lost_engine_and_the_recovery() {
    let mut engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    assert!(has_label(&harness, "local connected"));
    engine.kill_engine();
    step_until(
        &mut harness,
        "the connection error",
        Duration::from_secs(20),
        |h| has_label(h, "local error") || has_label(h, "local reconnecting…"),
    );
    engine.restart();
    let connected_to_the_new_engine = |h: &Harness<'static, App>| {
        matches!(
            h.state().snapshots().connections.status(&ConnectionId::local()),
            Some(ConnectionStatus::Connected { description, .. }) if description.ends_with(&engine.base)
        )
    };
    step_until(
        &mut harness,
        "the reconnection",
        Duration::from_secs(20),
        |h| connected_to_the_new_engine(h) && has_label(h, "local connected"),
    );
}

#[test]
fn drop_a_log_dir_and_see_its_scalars_as_charts() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let logdir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents");
    harness
        .input_mut()
        .dropped_files
        .push(std::sync::Arc::new(DroppedPath(logdir)));
    // The frame that first has the runs shows a placeholder where each chart is being
    // drawn (off the UI thread), then the charts.
    let started = std::time::Instant::now();
    while !(has_label(&harness, "run_tf1") && has_label(&harness, "run_tf2/train")) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the runs of the dropped log dir"
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        has_label_containing(&harness, "Drawing loss…"),
        "a placeholder while the chart is drawn"
    );
    step_until(
        &mut harness,
        "the charts drawn",
        Duration::from_secs(20),
        |h| !has_label_containing(h, "Drawing "),
    );
    assert!(drawn_charts(&harness) >= 4);
    assert_eq!(shown_tab(&harness), Some(Tab::Scalars));
    for label in ["run_tf1", "run_tf2/train"] {
        assert!(has_label(&harness, label), "run {label} listed");
    }
    for tag in [
        "loss",
        "accuracy",
        "epoch_loss",
        "learning_rate",
        "examples",
        "tokens",
    ] {
        assert!(has_label(&harness, tag), "a chart for {tag}");
    }
    // Hiding a run by the regex filter hides its tags' charts.
    type_into(&mut harness, "Filter runs", "tf1");
    harness.step();
    assert!(has_label(&harness, "loss"));
    assert!(
        !has_label(&harness, "epoch_loss"),
        "run_tf2's charts are hidden"
    );

    // A folder that does not exist says so where the user is looking.
    replace_in(&mut harness, "Log dir", "/no/such/logdir");
    click(&mut harness, "Load");
    step_until(&mut harness, "the error", Duration::from_secs(10), |h| {
        has_label_containing(h, "is not a folder")
    });
}

#[test]
fn a_jobs_scalars_open_from_its_details() {
    let engine = TestEngine::start(&[]);
    let logdir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tfevents");
    let mut job = command_job("with_summaries", &["true"]);
    if let Some(input) = job.training_input.as_mut() {
        input.job_dir = Some(logdir.display().to_string());
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        engine.platform.submit_job(&job).await.unwrap();
        engine.wait_finished("with_summaries").await;
    });
    let mut harness = console_harness(&engine);
    step_until(
        &mut harness,
        "the job listed",
        Duration::from_secs(20),
        |h| has_label(h, "with_summaries"),
    );
    click(&mut harness, "with_summaries");
    click(&mut harness, "📉 Scalars");
    step_until(
        &mut harness,
        "the job's scalars",
        Duration::from_secs(20),
        |h| drawn_charts(h) >= 1 && has_label(h, "epoch_loss"),
    );
    assert_eq!(shown_tab(&harness), Some(Tab::Scalars));
}

#[test]
fn a_first_run_trains_the_sample_and_shows_it_alive_then_deploys_and_predicts() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    click(&mut harness, "▶ Run sample job");
    let sample = |h: &Harness<'static, App>| {
        h.state()
            .snapshots()
            .jobs
            .all()
            .first()
            .filter(|j| j.job_id.starts_with("sample_"))
            .cloned()
    };
    step_until(
        &mut harness,
        "the sample job RUNNING",
        Duration::from_secs(30),
        |h| sample(h).is_some_and(|j| j.state == JobState::Running),
    );
    let key = harness
        .state()
        .snapshots()
        .selected
        .as_ref()
        .cloned()
        .expect("the sample is selected");

    // Its log grows while it runs.
    click(&mut harness, "Logs");
    step_until(
        &mut harness,
        "an epoch logged while running",
        Duration::from_secs(30),
        |h| has_label_containing(h, "INFO:sample_train:epoch 1/"),
    );
    assert!(
        sample(&harness).is_some_and(|j| j.state == JobState::Running),
        "the line came while the job ran"
    );

    // Its CPU curve has samples.
    click(&mut harness, "Resources");
    step_until(&mut harness, "CPU samples", Duration::from_secs(30), |h| {
        has_label_containing(h, &format!("{}: CPU ", key.job_id))
    });

    // Its scalars chart: train and eval, loss, accuracy and the learning rate.
    click(&mut harness, "Jobs");
    click(&mut harness, "📉 Scalars");
    step_until(
        &mut harness,
        "the sample's charts",
        Duration::from_secs(30),
        |h| {
            ["train", "eval"].iter().all(|r| has_label(h, r))
                && ["loss", "accuracy", "learning_rate"]
                    .iter()
                    .all(|t| has_label(h, t))
                && drawn_charts(h) >= 3
        },
    );
    for run in ["train", "eval"] {
        assert!(has_label(&harness, run), "run {run} listed");
    }

    step_until(
        &mut harness,
        "the sample to succeed",
        Duration::from_secs(60),
        |h| sample(h).is_some_and(|j| j.state == JobState::Succeeded),
    );

    // Its model.onnx deploys as a version, ready for the Predict tab.
    click(&mut harness, "Jobs");
    click(&mut harness, "🚀 Deploy as version");
    assert_eq!(shown_tab(&harness), Some(Tab::Models));
    step_until(
        &mut harness,
        "the deployed version to be ready and default",
        Duration::from_secs(20),
        |h| {
            h.state().snapshots().models.list.iter().any(|m| {
                m.model.short_name() == "digits"
                    && m.versions
                        .iter()
                        .any(|v| v.is_default && v.state == mlconsole::domain::VersionState::Ready)
            })
        },
    );
    click(&mut harness, "Predict");
    click(&mut harness, "Template");
    step_until(
        &mut harness,
        "the template to validate",
        Duration::from_secs(10),
        |h| has_label(h, "Valid: 1 instance"),
    );
    click(&mut harness, "Send");
    step_until(
        &mut harness,
        "the prediction",
        Duration::from_secs(10),
        |h| text_in(h, "Response").is_some(),
    );
}

#[test]
fn a_job_on_two_gpus_shows_its_gpu_use_and_memory_in_resources() {
    let engine = TestEngine::start(&["--fake-gpus", "2"]);
    let mut harness = console_harness(&engine);
    let job = serde_json::json!({
        "jobId": "two_gpus",
        "trainingInput": {
            "command": ["sh", "-c", "python3 -c 'import time; time.sleep(20)' --fake-gpu-mib=100 & \
                                     python3 -c 'import time; time.sleep(20)' --fake-gpu-mib=200 & wait"],
            "masterConfig": {"acceleratorConfig": {"count": "2", "type": "NVIDIA_TESLA_T4"}}
        }
    });
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (code, answer) =
        runtime.block_on(engine.post_raw("/v1/projects/local/jobs", &job.to_string()));
    assert_eq!(code, 200, "{answer}");
    step_until(
        &mut harness,
        "the job listed",
        Duration::from_secs(20),
        |h| has_label(h, "two_gpus"),
    );
    assert!(
        has_label(&harness, "GPUs") && has_label(&harness, "2 × T4"),
        "a GPUs column once a job asks for GPUs"
    );
    click(&mut harness, "two_gpus");
    click(&mut harness, "Resources");
    step_until(&mut harness, "GPU charts", Duration::from_secs(30), |h| {
        has_label(h, "GPU (% of one device)")
            && has_label(h, "GPU memory")
            && has_label_containing(h, "GPU 100 % (peak 100 %), GPU memory 300.0 MiB")
    });
    // Each device's totals: both processes see both GPUs, so each holds half.
    step_until(
        &mut harness,
        "per-device lines",
        Duration::from_secs(15),
        |h| has_label_containing(h, "devices GPU 0 50 % 150.0 MiB, GPU 1 50 % 150.0 MiB"),
    );
    step_until(
        &mut harness,
        "the GPUs in use in the status strip",
        Duration::from_secs(15),
        |h| has_label_containing(h, "2/2 GPUs in use"),
    );
    runtime
        .block_on(engine.platform.cancel_job("two_gpus"))
        .unwrap();
}
