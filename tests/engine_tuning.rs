//! Hyperparameter tuning jobs on a real engine: the study's trials are real jobs running
//! real trainers that report with Google's cloudml-hypertune or TensorBoard summaries.

#![allow(clippy::too_many_lines, clippy::unwrap_used)] // a story is one test; a test stops on a broken assumption

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::TestEngine;
use mlconsole::domain::{Job, JobState};
use mlconsole::platform::Platform;
use serde_json::{Value, json};

const STUDY_TIME: Duration = Duration::from_secs(90);

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tuning")
        .join(name)
        .display()
        .to_string()
}

/// A tuning job running `trainer` with `args`, studying `hyperparameters`.
fn tuning_job(id: &str, trainer: &str, args: &[&str], hyperparameters: &Value) -> String {
    json!({
        "jobId": id,
        "trainingInput": {
            "command": ["python3", fixture(trainer)],
            "args": args,
            "hyperparameters": hyperparameters,
        }
    })
    .to_string()
}

async fn submit(engine: &TestEngine, body: &str) -> Value {
    let (code, answer) = engine.post_raw("/v1/projects/local/jobs", body).await;
    assert_eq!(code, 200, "{answer}");
    answer
}

/// A job as the API answers it (an error body when there is none yet).
async fn study(engine: &TestEngine, id: &str) -> Value {
    engine.get(&format!("/v1/projects/local/jobs/{id}")).await.1
}

async fn wait_study(engine: &TestEngine, id: &str) -> (Job, Value) {
    let job = engine
        .wait_job(id, STUDY_TIME, |j| j.state.is_finished())
        .await;
    (job, study(engine, id).await)
}

fn trial_ids(output: &Value) -> Vec<String> {
    output["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["trialId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_grid_of_two_by_three_runs_all_six_with_their_arguments_best_first() {
    let engine = TestEngine::start(&["--max-running", "4"]);
    let spec = json!({
        "goal": "MAXIMIZE",
        "hyperparameterMetricTag": "accuracy",
        "maxTrials": 10,
        "maxParallelTrials": 3,
        "algorithm": "GRID_SEARCH",
        "params": [
            {"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 2},
            {"parameterName": "act", "type": "CATEGORICAL", "categoricalValues": ["relu", "tanh", "sigmoid"]}
        ]
    });
    let answer = submit(
        &engine,
        &tuning_job("grid", "hypertune_trainer.py", &["--steps=2"], &spec),
    )
    .await;
    assert_eq!(answer["state"], "QUEUED");
    assert_eq!(answer["trainingOutput"]["isHyperparameterTuningJob"], true);

    let (job, raw) = wait_study(&engine, "grid").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let output = &raw["trainingOutput"];
    assert_eq!(
        output["completedTrialCount"], "6",
        "an int64 is text: {output:#}"
    );
    assert_eq!(output["hyperparameterMetricTag"], "accuracy");
    // Best first for MAXIMIZE: 2 layers sigmoid (22), tanh (21), relu (20), then 1 layer.
    let objectives: Vec<f64> = output["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["finalMetric"]["objectiveValue"].as_f64().unwrap())
        .collect();
    assert_eq!(objectives, [22.0, 21.0, 20.0, 12.0, 11.0, 10.0]);
    let best = &output["trials"][0];
    assert_eq!(
        best["hyperparameters"],
        json!({"layers": "2", "act": "sigmoid"})
    );
    assert_eq!(best["finalMetric"]["trainingStep"], "2");
    assert_eq!(best["state"], "SUCCEEDED");
    assert_eq!(best["allMetrics"].as_array().unwrap().len(), 2);

    // Each trial is a real job: its values as --name=value, its own job dir.
    let trial_id = best["trialId"].as_str().unwrap();
    let trial = engine
        .platform
        .get_job(&format!("grid_trial_{trial_id}"))
        .await
        .unwrap();
    assert_eq!(trial.trial_of(), Some(("grid", trial_id)));
    let argv = &trial.invocation.as_ref().unwrap().argv;
    assert!(argv.contains(&"--act=sigmoid".to_owned()), "{argv:?}");
    assert!(argv.contains(&"--layers=2".to_owned()), "{argv:?}");
    let study_dir = job.training_input.unwrap().job_dir.unwrap();
    assert_eq!(
        trial.training_input.unwrap().job_dir.unwrap(),
        format!("{study_dir}/{trial_id}")
    );
    let mut ids = trial_ids(output);
    ids.sort_by_key(|t| t.parse::<u32>().unwrap());
    assert_eq!(
        ids,
        ["1", "2", "3", "4", "5", "6"],
        "no more trials than the grid"
    );
    let logs = engine.all_logs("grid").await;
    assert!(
        logs.iter()
            .any(|e| e.text.contains("the best trial is") && e.text.contains("--act=sigmoid")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_random_search_never_runs_more_trials_at_once_than_allowed() {
    let engine = TestEngine::start(&["--max-running", "6"]);
    let trace = engine.data_dir.join("trace.txt");
    let spec = json!({
        "goal": "MINIMIZE",
        "maxTrials": 5,
        "maxParallelTrials": 2,
        "algorithm": "RANDOM_SEARCH",
        "params": [
            {"parameterName": "lr", "type": "DOUBLE", "minValue": 0.0001, "maxValue": 0.1,
             "scaleType": "UNIT_LOG_SCALE"},
            {"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 4}
        ]
    });
    let trace_arg = format!("--trace={}", trace.display());
    submit(
        &engine,
        &tuning_job(
            "random",
            "hypertune_trainer.py",
            &["--sleep=0.3", &trace_arg],
            &spec,
        ),
    )
    .await;
    let (job, raw) = wait_study(&engine, "random").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let output = &raw["trainingOutput"];
    assert_eq!(trial_ids(output).len(), 5);
    for trial in output["trials"].as_array().unwrap() {
        let lr: f64 = trial["hyperparameters"]["lr"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0001..=0.1).contains(&lr), "{trial}");
    }
    // Minimizing: the lowest objective first.
    let first = output["trials"][0]["finalMetric"]["objectiveValue"]
        .as_f64()
        .unwrap();
    let last = output["trials"][4]["finalMetric"]["objectiveValue"]
        .as_f64()
        .unwrap();
    assert!(first <= last, "{output:#}");
    // At most two trainers ran at any moment, and two did at some moment.
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut events: Vec<(f64, i32)> = text
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            let delta = if parts[0] == "start" { 1 } else { -1 };
            (parts[2].parse().unwrap(), delta)
        })
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut most) = (0, 0);
    for (_, delta) in events {
        now += delta;
        most = most.max(now);
    }
    assert_eq!(most, 2, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn failing_trials_past_max_failed_trials_fail_the_study() {
    let engine = TestEngine::start(&[]);
    let spec = json!({
        "goal": "MAXIMIZE",
        "maxTrials": 3,
        "maxParallelTrials": 1,
        "maxFailedTrials": 1,
        "algorithm": "GRID_SEARCH",
        "params": [{"parameterName": "mode", "type": "CATEGORICAL",
                    "categoricalValues": ["fail_a", "fail_b", "ok"]}]
    });
    submit(
        &engine,
        &tuning_job("failing", "hypertune_trainer.py", &[], &spec),
    )
    .await;
    let (job, raw) = wait_study(&engine, "failing").await;
    assert_eq!(job.state, JobState::Failed, "{raw:#}");
    let message = job.error_message.unwrap_or_default();
    assert!(message.contains("2 trials failed"), "{message}");
    assert!(
        message.contains("fails on purpose"),
        "the trial's own error: {message}"
    );
    let trials = raw["trainingOutput"]["trials"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "the third never ran: {trials:#?}");
    assert!(trials.iter().all(|t| t["state"] == "FAILED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn early_stopping_stops_a_trial_behind_the_median() {
    let engine = TestEngine::start(&[]);
    let spec = json!({
        "goal": "MAXIMIZE",
        "maxTrials": 2,
        "maxParallelTrials": 1,
        "enableTrialEarlyStopping": true,
        "algorithm": "GRID_SEARCH",
        "params": [{"parameterName": "quality", "type": "CATEGORICAL",
                    "categoricalValues": ["good", "bad"]}]
    });
    submit(
        &engine,
        &tuning_job(
            "early",
            "hypertune_trainer.py",
            &["--layers=3", "--steps=40", "--sleep=0.15"],
            &spec,
        ),
    )
    .await;
    let (job, raw) = wait_study(&engine, "early").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let trials = raw["trainingOutput"]["trials"].as_array().unwrap();
    let bad = trials
        .iter()
        .find(|t| t["hyperparameters"]["quality"] == "bad")
        .unwrap();
    assert_eq!(bad["isTrialStoppedEarly"], true, "{bad:#}");
    let steps: i64 = bad["finalMetric"]["trainingStep"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(steps < 40, "stopped before its end: {bad:#}");
    let trial = engine.platform.get_job("early_trial_2").await.unwrap();
    assert_eq!(trial.state, JobState::Cancelled);
    let good = trials
        .iter()
        .find(|t| t["hyperparameters"]["quality"] == "good")
        .unwrap();
    assert!(good.get("isTrialStoppedEarly").is_none(), "{good:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_engine_resumes_the_study_without_losing_or_repeating_a_trial() {
    let mut engine = TestEngine::start(&["--max-running", "2"]);
    let trace = engine.data_dir.join("trace.txt");
    let spec = json!({
        "goal": "MAXIMIZE",
        "maxTrials": 6,
        "maxParallelTrials": 2,
        "params": [{"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 9}]
    });
    let trace_arg = format!("--trace={}", trace.display());
    submit(
        &engine,
        &tuning_job(
            "resumed",
            "hypertune_trainer.py",
            &["--sleep=0.5", &trace_arg],
            &spec,
        ),
    )
    .await;
    engine
        .wait_job("resumed", STUDY_TIME, |j| {
            j.training_output
                .as_ref()
                .is_some_and(|o| o.trials.len() >= 3)
        })
        .await;
    engine.kill_engine();
    engine.restart();
    let (job, raw) = wait_study(&engine, "resumed").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let mut ids = trial_ids(&raw["trainingOutput"]);
    ids.sort_by_key(|t| t.parse::<u32>().unwrap());
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"]);
    let text = std::fs::read_to_string(&trace).unwrap();
    for id in &ids {
        let starts = text
            .lines()
            .filter(|l| l.starts_with(&format!("start {id} ")))
            .count();
        assert_eq!(starts, 1, "trial {id} ran once: {text}");
    }
    assert!(
        raw["trainingOutput"]["trials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "SUCCEEDED" && t["finalMetric"].is_object()),
        "{raw:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_study_cancels_its_running_trials() {
    let engine = TestEngine::start(&[]);
    let spec = json!({
        "goal": "MAXIMIZE",
        "maxTrials": 4,
        "maxParallelTrials": 2,
        "algorithm": "RANDOM_SEARCH",
        "params": [{"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 3}]
    });
    submit(
        &engine,
        &tuning_job(
            "stopped",
            "hypertune_trainer.py",
            &["--steps=100", "--sleep=0.2"],
            &spec,
        ),
    )
    .await;
    // Both trials running (they exist once the study has written them).
    let started = std::time::Instant::now();
    while study(&engine, "stopped_trial_2").await.get("state") != Some(&json!("RUNNING"))
        || study(&engine, "stopped_trial_1").await.get("state") != Some(&json!("RUNNING"))
    {
        assert!(started.elapsed() < STUDY_TIME, "two trials running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.platform.cancel_job("stopped").await.unwrap();
    let (job, raw) = wait_study(&engine, "stopped").await;
    assert_eq!(job.state, JobState::Cancelled, "{raw:#}");
    for trial in ["stopped_trial_1", "stopped_trial_2"] {
        let trial = engine.platform.get_job(trial).await.unwrap();
        assert_eq!(trial.state, JobState::Cancelled, "{trial:#?}");
    }
    assert_eq!(
        trial_ids(&raw["trainingOutput"]).len(),
        2,
        "no trial after the cancel"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trainer_that_writes_tensorboard_summaries_reports_through_them() {
    let engine = TestEngine::start(&[]);
    let spec = json!({
        "goal": "MAXIMIZE",
        "hyperparameterMetricTag": "val_accuracy",
        "maxTrials": 2,
        "maxParallelTrials": 2,
        "algorithm": "GRID_SEARCH",
        "params": [{"parameterName": "units", "type": "DISCRETE", "discreteValues": [2, 5]}]
    });
    submit(
        &engine,
        &tuning_job("summaries", "summaries_trainer.py", &[], &spec),
    )
    .await;
    let (job, raw) = wait_study(&engine, "summaries").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let best = &raw["trainingOutput"]["trials"][0];
    assert_eq!(best["hyperparameters"]["units"], "5");
    let value = best["finalMetric"]["objectiveValue"].as_f64().unwrap();
    assert!((value - 1.5).abs() < 1e-6, "{best:#}");
    assert_eq!(best["finalMetric"]["trainingStep"], "3");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_study_is_refused_in_googles_shape_naming_the_field() {
    let engine = TestEngine::start(&[]);
    for (spec, expected) in [
        (
            json!({"params": [{"parameterName": "a", "type": "INTEGER", "minValue": 1, "maxValue": 2}]}),
            "goal",
        ),
        (
            json!({"goal": "MAXIMIZE", "algorithm": "GRID_SEARCH",
                "params": [{"parameterName": "lr", "type": "DOUBLE", "minValue": 0.1, "maxValue": 1}]}),
            "GRID_SEARCH",
        ),
        (
            json!({"goal": "MAXIMIZE", "resumePreviousJobId": "nothing_here",
                "params": [{"parameterName": "a", "type": "INTEGER", "minValue": 1, "maxValue": 2}]}),
            "resumePreviousJobId",
        ),
        // Hostile: a range too wide to count, a count that is not a number.
        (
            json!({"goal": "MAXIMIZE", "algorithm": "GRID_SEARCH",
                "params": [{"parameterName": "n", "type": "INTEGER", "minValue": -1e300, "maxValue": 1e300}]}),
            "whole numbers within",
        ),
        (
            json!({"goal": "MAXIMIZE", "maxTrials": "lots",
                "params": [{"parameterName": "a", "type": "INTEGER", "minValue": 1, "maxValue": 2}]}),
            "not a whole number",
        ),
    ] {
        let (code, answer) = engine
            .post_raw(
                "/v1/projects/local/jobs",
                &tuning_job("bad", "hypertune_trainer.py", &[], &spec),
            )
            .await;
        assert_eq!(code, 400, "{answer}");
        assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_grid_goes_on_where_the_previous_study_stopped() {
    let engine = TestEngine::start(&[]);
    let spec = |resume: Option<&str>| {
        let mut spec = json!({
            "goal": "MAXIMIZE",
            "maxTrials": 2,
            "maxParallelTrials": 2,
            "algorithm": "GRID_SEARCH",
            "params": [{"parameterName": "layers", "type": "INTEGER", "minValue": 1, "maxValue": 4}]
        });
        if let Some(previous) = resume {
            spec["resumePreviousJobId"] = json!(previous);
        }
        spec
    };
    submit(
        &engine,
        &tuning_job("first", "hypertune_trainer.py", &[], &spec(None)),
    )
    .await;
    let (job, raw) = wait_study(&engine, "first").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    submit(
        &engine,
        &tuning_job("second", "hypertune_trainer.py", &[], &spec(Some("first"))),
    )
    .await;
    let (job, raw) = wait_study(&engine, "second").await;
    assert_eq!(job.state, JobState::Succeeded, "{raw:#}");
    let mut layers: Vec<String> = raw["trainingOutput"]["trials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["hyperparameters"]["layers"].as_str().unwrap().to_owned())
        .collect();
    layers.sort();
    assert_eq!(layers, ["3", "4"], "the grid's next points: {raw:#}");
}
