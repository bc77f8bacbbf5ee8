//! The power-user layer, as user stories on the real console `App` (egui_kittest) against
//! a real engine: the failure card, the palette, copy as command, logs linked to the
//! charts, diffs, search across logs, shadow compare and alerts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // test helpers: a broken expectation panics

mod common;

use std::time::Duration;

use common::console::{
    click, console_harness, has_label, has_label_containing, shown_tab, step_until,
};
use common::{TestEngine, command_job};
use egui_kittest::Harness;
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
    step_until(
        &mut harness,
        "the OOM reason",
        Duration::from_secs(20),
        |h| {
            has_label_containing(
                h,
                "Out of memory: killed by SIGKILL with its memory at its peak",
            )
        },
    );
    assert!(has_label_containing(&harness, "At the end: memory 2"));
    click(&mut harness, "📈 peak on the chart");
    assert_eq!(shown_tab(&harness), Some(Tab::Resources));
}
