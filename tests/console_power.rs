//! The power-user layer, as user stories on the real console `App` (egui_kittest) against
//! a real engine: the failure card, the palette, copy as command, logs linked to the
//! charts, diffs, search across logs, shadow compare and alerts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::time::Duration;

use common::console::{
    click, console_harness, has_label, has_label_containing, labels_containing, shown_tab,
    step_until,
};
use common::{TestEngine, command_job};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
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

/// A job that runs a Python script written to a file (a `-c` one-liner would put its
/// newlines into the engine's "Running" line).
fn script_job(dir: &std::path::Path, id: &str, code: &str) -> mlconsole::domain::Job {
    let path = dir.join(format!("{id}.py"));
    std::fs::write(&path, code).unwrap();
    command_job(id, &["python3", path.to_str().unwrap()])
}

fn submit(engine: &TestEngine, job: &mlconsole::domain::Job) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(engine.platform.submit_job(job)).unwrap();
}

#[test]
fn a_python_exception_opens_the_failure_card_and_its_link_goes_to_the_line() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let dir = tempfile::tempdir().unwrap();
    let code = "import sys\n\
                for i in range(30): print(f'step {i} loss=0.{i}')\n\
                def train(lr):\n    raise ValueError(f'learning rate must be positive, got {lr}')\n\
                train(-1)\n";
    submit(&engine, &script_job(dir.path(), "raises", code));
    step_until(
        &mut harness,
        "the job failed",
        Duration::from_secs(30),
        |h| job_state(h, "raises") == Some(JobState::Failed),
    );
    click(&mut harness, "raises");
    step_until(
        &mut harness,
        "the failure card",
        Duration::from_secs(20),
        |h| {
            has_label(h, "What went wrong")
                && has_label(h, "ValueError: learning rate must be positive, got -1")
        },
    );
    // The traceback is folded under its header; unfolded it shows the frames.
    let frame = format!(
        "  File \"{}\", line 4, in train",
        dir.path().join("raises.py").display()
    );
    assert!(!has_label(&harness, &frame));
    assert!(
        has_label(&harness, "Traceback (6 lines)"),
        "header, two frames with their code, the exception"
    );
    click(&mut harness, "Traceback (6 lines)");
    assert!(has_label(&harness, &frame));

    click(&mut harness, "📜 log line");
    assert_eq!(shown_tab(&harness), Some(Tab::Logs));
    step_until(
        &mut harness,
        "the exception line marked",
        Duration::from_secs(10),
        |h| {
            let marked = h.state().marked_log_text();
            marked == ["ValueError: learning rate must be positive, got -1"]
        },
    );
}

#[test]
fn a_job_killed_at_its_memory_peak_shows_the_out_of_memory_reason() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    // 200 MiB touched, held over several samples, then killed as the OOM killer would.
    let code = "import os, time\n\
                block = bytearray(200 << 20)\n\
                for i in range(0, len(block), 4096): block[i] = 1\n\
                print('allocated', flush=True)\n\
                time.sleep(3.5)\n\
                os.kill(os.getpid(), 9)\n";
    let dir = tempfile::tempdir().unwrap();
    submit(&engine, &script_job(dir.path(), "hog", code));
    step_until(
        &mut harness,
        "the job failed",
        Duration::from_secs(30),
        |h| job_state(h, "hog") == Some(JobState::Failed),
    );
    click(&mut harness, "hog");
    step_until(&mut harness, "the card", Duration::from_secs(20), |h| {
        has_label_containing(h, "At the end: memory")
    });
    let end = labels_containing(&harness, "At the end: memory");
    assert!(
        has_label_containing(
            &harness,
            "Out of memory: killed by SIGKILL with its memory at its peak",
        ),
        "no OOM reason on the card; it says {end:?}"
    );
    assert!(
        end.iter().any(|l| l.contains("At the end: memory 2")),
        "{end:?}"
    );
    click(&mut harness, "📈 peak on the chart");
    assert_eq!(shown_tab(&harness), Some(Tab::Resources));
}

/// Text the console put on the clipboard in the frames stepped until `done` held.
fn copied_until(harness: &mut Harness<'static, App>, what: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        harness.step();
        for command in &harness.output().platform_output.commands {
            if let egui::OutputCommand::CopyText(text) = command {
                return text.clone();
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "nothing copied for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_palette_finds_a_job_by_part_of_its_id_and_cancels_it_with_the_keyboard_only() {
    let engine = TestEngine::start(&["--max-running", "8"]);
    let mut harness = console_harness(&engine);
    for i in 0..5 {
        submit(
            &engine,
            &command_job(&format!("sweep_lr_{i}"), &["sleep", "300"]),
        );
    }
    step_until(
        &mut harness,
        "the jobs running",
        Duration::from_secs(30),
        |h| (0..5).all(|i| job_state(h, &format!("sweep_lr_{i}")) == Some(JobState::Running)),
    );
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::P);
    harness.step();
    harness.step();
    assert!(
        has_label(&harness, "Command palette"),
        "Ctrl+P opens the palette"
    );
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Command palette")
        .type_text("lr_3");
    harness.step();
    assert!(has_label(&harness, "Job sweep_lr_3"));
    assert!(!has_label(&harness, "Job sweep_lr_1"), "only what matches");
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();
    let selected = harness.state().snapshots().selected.clone().unwrap();
    assert_eq!(selected.job_id, "sweep_lr_3");
    assert!(
        !has_label(&harness, "Command palette"),
        "Enter ran it and closed"
    );

    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::P);
    harness.step();
    harness
        .get_by_role_and_label(egui::accesskit::Role::TextInput, "Command palette")
        .type_text("cancel");
    harness.step();
    assert!(has_label(&harness, "Cancel job sweep_lr_3"));
    harness.key_press(egui::Key::Enter);
    harness.step();
    harness.step();
    assert!(has_label(&harness, "Cancel this job?"), "it asks first");
    harness.key_press(egui::Key::Enter);
    step_until(
        &mut harness,
        "the job cancelled",
        Duration::from_secs(20),
        |h| job_state(h, "sweep_lr_3") == Some(JobState::Cancelled),
    );
    assert_eq!(job_state(&harness, "sweep_lr_2"), Some(JobState::Running));
    for i in [0, 1, 2, 4] {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _ = runtime.block_on(engine.platform.cancel_job(&format!("sweep_lr_{i}")));
    }
}

#[test]
fn copy_as_command_gives_a_curl_line_that_re_creates_the_job() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let mut job = command_job("copied", &["sh", "-c", "echo \"it's $GREETING\""]);
    let input = job.training_input.as_mut().unwrap();
    input.env.insert("GREETING".into(), "a copy".into());
    input.args = vec!["--lr=0.1".into(), "two words".into()];
    job.labels.insert("team".into(), "vision".into());
    submit(&engine, &job);
    step_until(
        &mut harness,
        "the job succeeded",
        Duration::from_secs(30),
        |h| job_state(h, "copied") == Some(JobState::Succeeded),
    );
    click(&mut harness, "copied");
    harness.get_by_label("📋 Copy as command").click();
    let command = copied_until(&mut harness, "the job");
    assert!(command.starts_with("curl -X POST"), "{command}");
    step_until(&mut harness, "the toast", Duration::from_secs(5), |h| {
        has_label_containing(h, "Copied the command that re-creates copied")
    });

    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    step_until(
        &mut harness,
        "the copy succeeded",
        Duration::from_secs(30),
        |h| job_state(h, "copied_2") == Some(JobState::Succeeded),
    );
    let jobs = &harness.state().snapshots().jobs;
    let (a, b) = (
        jobs.get(&ConnectionId::local(), "copied").unwrap(),
        jobs.get(&ConnectionId::local(), "copied_2").unwrap(),
    );
    let (a_input, b_input) = (
        a.training_input.as_ref().unwrap(),
        b.training_input.as_ref().unwrap(),
    );
    assert_eq!(
        (&a_input.command, &a_input.args, &a_input.env),
        (&b_input.command, &b_input.args, &b_input.env)
    );
    assert!(
        b_input.job_dir.as_ref().unwrap().ends_with("/copied_2"),
        "the copy's own job dir"
    );
    assert_eq!(a.labels, b.labels);
    assert_eq!(
        a.invocation.as_ref().unwrap().argv,
        b.invocation.as_ref().unwrap().argv
    );
}

#[test]
fn a_search_across_a_thousand_jobs_logs_finds_the_planted_line_and_opens_it() {
    let engine = TestEngine::start(&["--max-running", "32"]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let started = std::time::Instant::now();
    runtime.block_on(async {
        for i in 0..1000 {
            // Printed in two parts so the command line (in the engine's notes) holds no match.
            let planted = if i == 617 {
                "printf '%s %s\\n' 'checkpoint corrupted: CRC' 'mismatch in shard 3'; "
            } else {
                ""
            };
            let script = format!("seq 1 40 | sed 's/^/step /'; {planted}echo done {i}");
            engine
                .platform
                .submit_job(&command_job(&format!("gen_{i:04}"), &["sh", "-c", &script]))
                .await
                .unwrap();
        }
        for i in (0..1000).rev() {
            engine.wait_finished(&format!("gen_{i:04}")).await;
        }
    });
    eprintln!("1000 jobs ran in {:?}", started.elapsed());

    // The API: smart case, context, paging, and clear refusals.
    let (code, page) = runtime.block_on(engine.post_raw(
        "/v1/projects/local/jobs:searchLogs",
        r#"{"query": "crc MISMATCH", "contextLines": 1}"#,
    ));
    assert_eq!(code, 200, "{page}");
    assert_eq!(
        page["jobs"].as_array().map(Vec::len),
        Some(0),
        "a capital letter matches case exactly"
    );
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let body =
            serde_json::json!({"query": "crc mismatch", "contextLines": 1, "pageToken": token});
        let (code, page) = runtime
            .block_on(engine.post_raw("/v1/projects/local/jobs:searchLogs", &body.to_string()));
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["totalJobs"], 1000);
        found.extend(page["jobs"].as_array().unwrap().iter().cloned());
        match page["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["jobId"], "gen_0617");
    let m = &found[0]["matches"][0];
    assert_eq!(
        m["entry"]["text"],
        "checkpoint corrupted: CRC mismatch in shard 3"
    );
    assert_eq!(m["before"][0]["text"], "step 40");
    assert_eq!(m["after"][0]["text"], "done 617");
    for (body, status, says) in [
        (r#"{"query": ""}"#, 400, "give the text to find"),
        (
            r#"{"query": "x", "contextLines": 9}"#,
            400,
            "contextLines must be from 0 to 5",
        ),
        (
            r#"{"query": "x", "jobIds": ["nope"]}"#,
            404,
            "no job named \"nope\"",
        ),
        (
            r#"{"query": "x", "pageToken": "zz"}"#,
            400,
            "not given by this search",
        ),
        (r#"{"query": "x", "colour": 1}"#, 400, "colour"),
    ] {
        let (code, answer) =
            runtime.block_on(engine.post_raw("/v1/projects/local/jobs:searchLogs", body));
        assert_eq!(code, status, "{body}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body}: {message}");
    }

    // The console: the Logs tab's "All jobs" view, then the line in its job's log.
    let mut harness = console_harness(&engine);
    step_until(
        &mut harness,
        "the jobs listed",
        Duration::from_secs(20),
        |h| h.state().snapshots().jobs.len() == 1000,
    );
    click(&mut harness, "Logs");
    click(&mut harness, "All jobs");
    common::console::type_into(&mut harness, "Search every job's log", "crc mismatch");
    step_until(
        &mut harness,
        "the planted line found",
        Duration::from_secs(20),
        |h| {
            h.state().logs_found_across()
                == [(
                    "gen_0617".to_owned(),
                    vec!["checkpoint corrupted: CRC mismatch in shard 3".to_owned()],
                )]
                && has_label_containing(h, "1000 of 1000 jobs searched")
        },
    );
    assert!(has_label(&harness, "gen_0617 — 1 matches"));
    click(&mut harness, "gen_0617 — 1 matches");
    click(&mut harness, "gen_0617 — 1 matches");
    harness
        .query_all_by_label_contains("checkpoint corrupted: CRC mismatch in shard 3")
        .next()
        .unwrap()
        .click();
    step_until(
        &mut harness,
        "the line in its job's log",
        Duration::from_secs(20),
        |h| {
            h.state()
                .snapshots()
                .selected
                .as_ref()
                .map(|k| k.job_id.as_str())
                == Some("gen_0617")
                && h.state().marked_log_text() == ["checkpoint corrupted: CRC mismatch in shard 3"]
        },
    );
}

#[test]
fn copy_as_command_on_a_version_gives_a_gcloud_line_that_creates_its_copy() {
    let engine = TestEngine::start(&[]);
    let artifact = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models/iris_logreg.onnx");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (code, answer) = engine
            .post_raw("/v1/projects/local/models", r#"{"name": "iris"}"#)
            .await;
        assert_eq!(code, 200, "{answer}");
        let body = serde_json::json!({
            "name": "v1",
            "deploymentUri": artifact,
            "description": "logistic regression, it's the baseline",
            "labels": {"team": "vision"},
            "manualScaling": {"nodes": 1},
        });
        let (code, answer) = engine
            .post_raw("/v1/projects/local/models/iris/versions", &body.to_string())
            .await;
        assert_eq!(code, 200, "{answer}");
    });
    let mut harness = console_harness(&engine);
    click(&mut harness, "Models");
    let version = |h: &Harness<'static, App>, name: &str| {
        h.state()
            .snapshots()
            .models
            .list
            .iter()
            .flat_map(|m| &m.versions)
            .find(|v| v.short_name() == name)
            .cloned()
    };
    // Ready with its one replica up: the row stops changing width.
    step_until(&mut harness, "v1 ready", Duration::from_secs(30), |h| {
        version(h, "v1")
            .is_some_and(|v| v.state == mlconsole::domain::VersionState::Ready && v.replicas == 1)
    });
    // By the button's id: a pointer at where the row drew it last frame can miss when an
    // update moves the row.
    harness.get_by_label("📋 Copy as command").click_accesskit();
    let command = copied_until(&mut harness, "the version");
    assert!(
        command.contains("gcloud ai-platform versions create 'v2'"),
        "{command}"
    );
    step_until(&mut harness, "the toast", Duration::from_secs(5), |h| {
        has_label_containing(h, "Copied the command that creates iris/v2 like v1")
    });

    // Google's own gcloud, with no settings of its own, creates the copy and waits for it.
    let config = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env("CLOUDSDK_CONFIG", config.path())
        .env("CLOUDSDK_CORE_DISABLE_PROMPTS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    step_until(&mut harness, "v2 ready", Duration::from_secs(30), |h| {
        version(h, "v2").is_some_and(|v| v.state == mlconsole::domain::VersionState::Ready)
    });
    let (a, b) = (
        version(&harness, "v1").unwrap(),
        version(&harness, "v2").unwrap(),
    );
    assert_eq!(
        (
            &a.deployment_uri,
            &a.description,
            &a.labels,
            &a.manual_scaling
        ),
        (
            &b.deployment_uri,
            &b.description,
            &b.labels,
            &b.manual_scaling
        )
    );
    assert!(
        a.is_default && !b.is_default,
        "the copy leaves the default alone"
    );
    let answers = runtime.block_on(async {
        let body = r#"{"instances": [[6.0, 2.2, 5.0, 1.5]]}"#;
        let mut answers = Vec::new();
        for v in ["v1", "v2"] {
            let path = format!("/v1/projects/local/models/iris/versions/{v}:predict");
            answers.push(engine.post_raw(&path, body).await);
        }
        answers
    });
    assert_eq!(answers[0], answers[1], "the copy answers as the original");
}

#[test]
fn a_diff_of_two_clones_shows_exactly_the_one_changed_arg() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let mut a = command_job("lr_a", &["sh", "-c", "echo training with $0 $@", "x"]);
    let input = a.training_input.as_mut().unwrap();
    input.args = ["--lr", "0.1", "--epochs=3", "--fast"]
        .map(String::from)
        .to_vec();
    input.env.insert("BATCH".into(), "64".into());
    a.labels.insert("team".into(), "vision".into());
    let mut b = a.resubmission("lr_b");
    b.training_input.as_mut().unwrap().args[1] = "0.01".into();
    submit(&engine, &a);
    submit(&engine, &b);
    step_until(
        &mut harness,
        "both jobs done",
        Duration::from_secs(30),
        |h| {
            job_state(h, "lr_a") == Some(JobState::Succeeded)
                && job_state(h, "lr_b") == Some(JobState::Succeeded)
        },
    );
    click(&mut harness, "lr_a");
    click(&mut harness, "± Add to diff");
    click(&mut harness, "lr_b");
    click(&mut harness, "± Add to diff");
    click(&mut harness, "± Diff 2 jobs");
    step_until(&mut harness, "the diff", Duration::from_secs(5), |h| {
        has_label_containing(h, "fields differ")
    });
    assert!(
        harness
            .query_all_by_label_contains("fields differ")
            .any(|n| format!("{n:?}").contains("1 of ")),
        "one field differs"
    );
    assert!(has_label(&harness, "arg --lr"));
    assert!(has_label(&harness, "0.1") && has_label(&harness, "0.01"));
    assert!(
        !has_label(&harness, "arg --epochs"),
        "only what differs by default"
    );
    click(&mut harness, "Show the same fields too");
    assert!(has_label(&harness, "arg --epochs") && has_label(&harness, "env BATCH"));
}

#[test]
fn shadow_compare_of_two_versions_shows_the_changed_labels_then_makes_the_new_one_default() {
    let engine = TestEngine::start(&[]);
    let fixture = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/models")
            .join(name)
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (code, answer) = engine
            .post_raw("/v1/projects/local/models", r#"{"name": "iris"}"#)
            .await;
        assert_eq!(code, 200, "{answer}");
        for (v, file) in [("v1", "iris_logreg.onnx"), ("v2", "iris_forest.onnx")] {
            let body = serde_json::json!({"name": v, "deploymentUri": fixture(file)});
            let (code, answer) = engine
                .post_raw("/v1/projects/local/models/iris/versions", &body.to_string())
                .await;
            assert_eq!(code, 200, "{answer}");
        }
    });
    let mut harness = console_harness(&engine);
    click(&mut harness, "Predict");
    step_until(
        &mut harness,
        "both versions ready, the first one the default",
        Duration::from_secs(30),
        |h| {
            let models = &h.state().snapshots().models.list;
            models.iter().any(|m| {
                m.versions.len() == 2
                    && m.versions
                        .iter()
                        .all(|v| v.state == mlconsole::domain::VersionState::Ready)
                    && m.versions
                        .iter()
                        .any(|v| v.is_default && v.short_name() == "v1")
            })
        },
    );
    harness
        .query_all_by_value("compare with…")
        .last()
        .expect("the compare drop-down")
        .click();
    for _ in 0..3 {
        harness.step();
    }
    click(&mut harness, "compare with v2");
    // Both say setosa for the first; the linear model and the forest part ways on the
    // two flowers near the versicolor/virginica border.
    common::console::replace_in(
        &mut harness,
        "Request",
        r#"{"instances": [[5.1, 3.5, 1.4, 0.2], [4.9, 2.5, 4.5, 1.7], [6.0, 2.2, 5.0, 1.5]]}"#,
    );
    click(&mut harness, "Send");
    step_until(
        &mut harness,
        "the comparison",
        Duration::from_secs(20),
        |h| has_label_containing(h, "labels changed"),
    );
    assert!(has_label_containing(&harness, "2 of 3 labels changed"));
    assert!(has_label_containing(&harness, "Latency: v1 "));
    click(&mut harness, "Make v2 the default");
    step_until(
        &mut harness,
        "v2 the default",
        Duration::from_secs(20),
        |h| {
            h.state().snapshots().models.list.iter().any(|m| {
                m.model
                    .default_version
                    .as_ref()
                    .is_some_and(|v| v.short_name() == "v2")
            })
        },
    );
}

/// The console with its settings in `config` holding a rule kept from an earlier
/// session: jobs labelled team=vision alert when still for 2 s or on a NaN/inf.
fn console_with_vision_alerts(
    engine: &TestEngine,
    config: &std::path::Path,
) -> Harness<'static, App> {
    std::fs::write(
        config.join("alerts.json"),
        r#"[{"connection": "local", "filter": "labels.team=vision", "stallSecs": 2, "nonFinite": true}]"#,
    )
    .unwrap();
    common::console::wait_connected(
        common::console::console_harness_in(engine, config),
        &ConnectionId::local(),
    )
}

#[test]
fn a_stalled_job_raises_its_alert_once_and_alerts_are_kept_in_the_settings() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let mut harness = console_with_vision_alerts(&engine, config.path());
    let mut sleepy = command_job(
        "sleepy",
        &["sh", "-c", "echo step 1; echo step 2; sleep 60"],
    );
    sleepy.labels.insert("team".into(), "vision".into());
    submit(&engine, &sleepy);
    let busy = command_job(
        "busy",
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo step $i; sleep 0.2; done",
        ],
    );
    submit(&engine, &busy);
    step_until(
        &mut harness,
        "the stall alert",
        Duration::from_secs(30),
        |h| has_label_containing(h, "sleepy looks stalled: its step has stayed at 2"),
    );
    // Several more polls: raised once, and never for the job outside the rule.
    let until = std::time::Instant::now() + Duration::from_secs(3);
    while std::time::Instant::now() < until {
        harness.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        harness
            .query_all_by_label_contains("sleepy looks stalled")
            .count(),
        1,
        "raised once"
    );
    assert!(!has_label_containing(&harness, "busy looks stalled"));

    // An alert on one job from its details is saved with the settings.
    click(&mut harness, "busy");
    click(&mut harness, "⚠ Alert on this job");
    assert!(has_label(&harness, "Alerts") && has_label(&harness, "job busy"));
    step_until(
        &mut harness,
        "the rule saved",
        Duration::from_secs(5),
        |_| {
            std::fs::read_to_string(config.path().join("alerts.json"))
                .is_ok_and(|t| t.contains("\"jobId\": \"busy\""))
        },
    );
    assert_eq!(harness.state().alert_rules().len(), 2);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for id in ["sleepy", "busy"] {
        let _ = runtime.block_on(engine.platform.cancel_job(id));
    }
}

#[test]
fn scalars_that_advance_keep_a_silent_job_from_stalling_and_a_nan_among_them_alerts_once() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let mut harness = console_with_vision_alerts(&engine, config.path());
    // A job that prints nothing; its progress is in its job dir's scalars, written here
    // as its TensorBoard writer would.
    let dir = tempfile::tempdir().unwrap();
    let job_dir = dir.path().join("out");
    let mut quiet = command_job("quiet", &["sh", "-c", "echo loading; sleep 60"]);
    quiet.labels.insert("team".into(), "vision".into());
    quiet.training_input.as_mut().unwrap().job_dir = Some(job_dir.display().to_string());
    submit(&engine, &quiet);
    let mut writer = mlconsole::tensorboard::writer::EventWriter::create(&job_dir).unwrap();
    let mut step = 0;
    let until = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < until {
        step += 1;
        writer.add_scalar("loss", step, 1.0 / step as f32).unwrap();
        writer.flush().unwrap();
        for _ in 0..6 {
            harness.step();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        !has_label_containing(&harness, "quiet looks stalled"),
        "its scalars advance"
    );
    writer.add_scalar("loss", step + 1, f32::NAN).unwrap();
    writer.flush().unwrap();
    let wanted = format!("quiet's scalar loss became NaN at step {}", step + 1);
    step_until(
        &mut harness,
        "the NaN alert",
        Duration::from_secs(20),
        |h| has_label_containing(h, &wanted),
    );
    let until = std::time::Instant::now() + Duration::from_secs(2);
    while std::time::Instant::now() < until {
        harness.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        harness.query_all_by_label_contains("became NaN").count(),
        1,
        "raised once"
    );
    drop(writer);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _ = runtime.block_on(engine.platform.cancel_job("quiet"));
}

#[test]
fn hovering_the_cpu_chart_shows_the_lines_written_then_and_a_click_marks_them_in_the_log() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let ticks = "for i in 1 2 3 4 5 6 7 8 9 10; do echo tick $i; sleep 0.5; done";
    submit(&engine, &command_job("ticker", &["sh", "-c", ticks]));
    step_until(&mut harness, "the job done", Duration::from_secs(30), |h| {
        job_state(h, "ticker") == Some(JobState::Succeeded)
    });
    click(&mut harness, "ticker");
    click(&mut harness, "Resources");
    step_until(&mut harness, "the charts", Duration::from_secs(20), |h| {
        has_label_containing(h, "CPU (% of one core)")
            && has_label_containing(h, "Memory (resident)")
    });
    // Hover the middle of the CPU chart, just below its title.
    let title = harness.get_by_label("CPU (% of one core)").rect();
    let at = egui::pos2(title.left() + 500.0, title.bottom() + 60.0);
    // The plot settles its bounds over the first frames; the pointer stays put.
    for _ in 0..10 {
        harness.hover_at(at);
        harness.step();
    }
    let ticks_shown: Vec<u32> = (1..=10)
        .filter(|i| has_label_containing(&harness, &format!(" tick {i}")))
        .collect();
    assert!(
        has_label_containing(&harness, "Log at ")
            && !ticks_shown.is_empty()
            && ticks_shown.len() < 10,
        "the lines written around the hovered time, not the whole log: {ticks_shown:?}"
    );
    assert!(
        ticks_shown.windows(2).all(|w| w[1] == w[0] + 1),
        "one span of consecutive lines: {ticks_shown:?}"
    );
    click(&mut harness, "Open in Logs");
    assert_eq!(shown_tab(&harness), Some(Tab::Logs));
    for _ in 0..5 {
        harness.step();
    }
    let marked = harness.state().marked_log_text();
    let want: Vec<String> = ticks_shown.iter().map(|i| format!("tick {i}")).collect();
    let marked_ticks: Vec<String> = marked
        .iter()
        .filter(|t| t.starts_with("tick "))
        .cloned()
        .collect();
    assert_eq!(
        marked_ticks, want,
        "the lines the strip showed are marked: {marked:?}"
    );
}

#[test]
fn a_nan_in_the_job_dirs_scalars_shows_on_the_card_with_a_link_to_the_charts() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    let dir = tempfile::tempdir().unwrap();
    let mut writer = mlconsole::tensorboard::writer::EventWriter::create(dir.path()).unwrap();
    for step in 0..50 {
        let loss = if step < 30 {
            1.0 / (step + 1) as f32
        } else {
            f32::NAN
        };
        writer.add_scalar("loss", step, loss).unwrap();
    }
    drop(writer);
    let mut job = command_job(
        "diverged",
        &["sh", "-c", "echo step 49 loss went bad; exit 3"],
    );
    job.training_input.as_mut().unwrap().job_dir = Some(dir.path().display().to_string());
    submit(&engine, &job);
    step_until(
        &mut harness,
        "the job failed",
        Duration::from_secs(30),
        |h| job_state(h, "diverged") == Some(JobState::Failed),
    );
    click(&mut harness, "diverged");
    step_until(
        &mut harness,
        "the scalar on the card",
        Duration::from_secs(20),
        |h| has_label(h, "Scalar loss is NaN at step 30"),
    );
    click(&mut harness, "📉 scalars");
    assert_eq!(shown_tab(&harness), Some(Tab::Scalars));
}

#[test]
fn hovering_a_scalar_point_shows_the_lines_written_then_and_a_click_opens_them() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    // A job that logs a line and writes the step's scalar (flat, so the line crosses the
    // chart's middle) every 0.3 s.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("train.sh");
    std::fs::write(
        &script,
        "for i in $(seq 0 19); do echo \"epoch $i\"; sleep 0.3; done\n",
    )
    .unwrap();
    let mut job = command_job("charted", &["sh", script.to_str().unwrap()]);
    let job_dir = dir.path().join("out");
    job.training_input.as_mut().unwrap().job_dir = Some(job_dir.display().to_string());
    submit(&engine, &job);
    let mut writer = None;
    let started = std::time::Instant::now();
    let mut written = 0;
    while written < 20 {
        // Scalars written as the job's lines come (the test stands in for its TensorBoard writer).
        if started.elapsed() >= Duration::from_millis(300 * written as u64 + 150) {
            let w = writer.get_or_insert_with(|| {
                mlconsole::tensorboard::writer::EventWriter::create(&job_dir).unwrap()
            });
            w.add_scalar("accuracy", written, 0.5).unwrap();
            written += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(writer);
    step_until(&mut harness, "the job done", Duration::from_secs(30), |h| {
        job_state(h, "charted") == Some(JobState::Succeeded)
    });
    click(&mut harness, "charted");
    click(&mut harness, "📉 Scalars");
    step_until(
        &mut harness,
        "the chart drawn",
        Duration::from_secs(20),
        |h| common::console::drawn_charts(h) == 1,
    );
    // Hovering a point shows the lines written then under the charts.
    let chart = harness.get_by_label("accuracy chart").rect();
    harness.hover_at(chart.center());
    step_until(
        &mut harness,
        "the log strip at the hovered point",
        Duration::from_secs(5),
        |h| has_label_containing(h, "Log at "),
    );
    // Each line of the strip reads "hh:mm:ss.mmm epoch N"; the Logs tab is not open.
    let strip = harness.query_all_by_label_contains(" epoch ").count();
    assert!(
        strip > 0 && strip < 20,
        "the lines of a moment, not the whole log: {strip}"
    );
    let chart = harness.get_by_label("accuracy chart").rect();
    harness.hover_at(chart.center());
    harness.step();
    harness.get_by_label("accuracy chart").click();
    for _ in 0..5 {
        harness.step();
    }
    assert_eq!(
        shown_tab(&harness),
        Some(Tab::Logs),
        "the click opens the log"
    );
    step_until(
        &mut harness,
        "lines of the clicked step marked",
        Duration::from_secs(5),
        |h| {
            let marked = h.state().marked_log_text();
            !marked.is_empty()
                && marked.len() < 20
                && marked.iter().any(|t| t.starts_with("epoch "))
        },
    );
}
