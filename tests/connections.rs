//! Connections: several platforms in one console. Stories on the real `App` with two real
//! engines (the second standing in for a remote platform), a broken settings file, an
//! unreachable and a slow connection, and read-only refused in the backend itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::console::{
    click, console_harness, console_harness_in, has_label, has_label_containing, replace_in,
    step_until, test_settings, type_into, wait_connected,
};
use common::{TestEngine, command_job};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use mlconsole::backend::{Backend, ConnectionStatus, Request, Update};
use mlconsole::domain::{ConnectionConfig, ConnectionId, ConnectionKind, JobKey, JobState};
use mlconsole::platform::Platform;
use mlconsole::ui::App;

fn submit(engine: &TestEngine, id: &str, argv: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(engine.platform.submit_job(&command_job(id, argv)))
        .unwrap();
}

fn has_job(h: &Harness<'static, App>, connection: &str, id: &str) -> bool {
    h.state()
        .snapshots()
        .jobs
        .get(&ConnectionId::new(connection), id)
        .is_some()
}

fn local_connection(id: &str, data_dir: &std::path::Path, read_only: bool) -> ConnectionConfig {
    ConnectionConfig {
        id: ConnectionId::new(id),
        name: id.into(),
        color: [0xec, 0x48, 0x99],
        read_only,
        enabled: true,
        kind: ConnectionKind::Local {
            data_dir: Some(data_dir.to_owned()),
        },
    }
}

/// A connections file holding the built-in connection and `others`.
fn write_settings(config_dir: &std::path::Path, others: Vec<ConnectionConfig>) {
    let mut list = vec![ConnectionConfig::local_default()];
    list.extend(others);
    mlconsole::backend::settings::save(config_dir, &list).unwrap();
}

#[test]
fn add_a_second_engine_see_both_filter_make_it_read_only_and_remove_it() {
    let first = TestEngine::start(&[]);
    let second = TestEngine::start(&[]);
    submit(&first, "on_first", &["sleep", "300"]);
    submit(&second, "on_second", &["sleep", "300"]);
    let mut harness = console_harness(&first);
    step_until(
        &mut harness,
        "the first engine's job",
        Duration::from_secs(20),
        |h| has_job(h, "local", "on_first"),
    );
    assert!(
        !has_label(&harness, "Connection"),
        "one connection: no column"
    );

    click(&mut harness, "🔌 Connections");
    click(&mut harness, "➕ Add connection");
    click(&mut harness, "Local engine");
    type_into(&mut harness, "Connection name", "second");
    type_into(
        &mut harness,
        "Data dir",
        &second.data_dir.display().to_string(),
    );
    click(&mut harness, "Save connection");
    step_until(
        &mut harness,
        "the second engine's job beside the first's",
        Duration::from_secs(20),
        |h| has_job(h, "second", "on_second") && has_job(h, "local", "on_first"),
    );
    click(&mut harness, "🔌 Connections"); // the top bar's toggle closes the window
    assert!(has_label(&harness, "Connection"), "the column appears");
    let id = ConnectionId::new("second");
    let config = harness
        .state()
        .snapshots()
        .connections
        .config(&id)
        .cloned()
        .unwrap();
    assert_eq!(
        harness.state().snapshots().connections.color(&id),
        config.color
    );
    assert_ne!(
        config.color,
        ConnectionConfig::local_default().color,
        "a colour of its own"
    );
    let saved =
        std::fs::read_to_string(first.data_dir.join("console-config/connections.json")).unwrap();
    assert!(
        saved.contains(&second.data_dir.display().to_string()),
        "{saved}"
    );

    type_into(&mut harness, "Filter jobs", "connection=second");
    step_until(
        &mut harness,
        "the filtered table",
        Duration::from_secs(5),
        |h| has_label(h, "on_second") && !has_label(h, "on_first"),
    );
    replace_in(&mut harness, "Filter jobs", "jobId:on_*");
    harness.key_press(egui::Key::Escape);
    // The chips filter by connection too.
    click(&mut harness, "second");
    step_until(
        &mut harness,
        "the chip's filter",
        Duration::from_secs(5),
        |h| has_label(h, "on_second") && !has_label(h, "on_first"),
    );
    click(&mut harness, "Everywhere");
    step_until(&mut harness, "both again", Duration::from_secs(5), |h| {
        has_label(h, "on_second") && has_label(h, "on_first")
    });

    // Read-only: Cancel is greyed out in the details.
    click(&mut harness, "🔌 Connections");
    harness
        .query_all_by_label("Edit…")
        .nth(1)
        .expect("the second connection's Edit button")
        .click();
    harness.step();
    harness.step();
    click(
        &mut harness,
        "Read-only (refuse submit, cancel, deploy, set default, delete)",
    );
    click(&mut harness, "Save connection");
    step_until(
        &mut harness,
        "read-only saved",
        Duration::from_secs(10),
        |h| h.state().snapshots().connections.read_only(&id),
    );
    step_until(
        &mut harness,
        "the job again after the restart",
        Duration::from_secs(20),
        |h| has_job(h, "second", "on_second"),
    );
    click(&mut harness, "🔌 Connections");
    click(&mut harness, "on_second");
    let cancel = harness.get_by_label("⏹ Cancel job");
    assert!(cancel.accesskit_node().is_disabled(), "Cancel is refused");
    click(&mut harness, "on_first");
    let cancel = harness.get_by_label("⏹ Cancel job");
    assert!(
        !cancel.accesskit_node().is_disabled(),
        "the other still cancels"
    );

    // Remove it: its jobs go, the file forgets it.
    click(&mut harness, "🔌 Connections");
    click(&mut harness, "Remove…");
    click(&mut harness, "Yes, remove it");
    step_until(&mut harness, "the removal", Duration::from_secs(10), |h| {
        !has_job(h, "second", "on_second")
            && h.state().snapshots().connections.config(&id).is_none()
    });
    assert!(has_job(&harness, "local", "on_first"));
    let saved =
        std::fs::read_to_string(first.data_dir.join("console-config/connections.json")).unwrap();
    assert!(!saved.contains("second"), "{saved}");
}

#[test]
fn a_read_only_connection_refuses_changes_in_the_backend_too() {
    let engine = TestEngine::start(&[]);
    submit(&engine, "keeps_running", &["sleep", "300"]);
    let config = tempfile::tempdir().unwrap();
    write_settings(
        config.path(),
        vec![local_connection("watch", &engine.data_dir, true)],
    );
    let backend = Backend::spawn(
        test_settings(&engine, config.path()),
        egui::Context::default(),
    )
    .unwrap();
    let watch = ConnectionId::new("watch");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = false;
    while !seen {
        assert!(Instant::now() < deadline, "the read-only connection's jobs");
        while let Some(update) = backend.try_recv() {
            seen |= matches!(&update, Update::JobsReplaced { connection, jobs } if *connection == watch && !jobs.is_empty());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let job = JobKey::new(&watch, "keeps_running");
    backend.send(Request::CancelJob(job.clone()));
    backend.send(Request::SubmitJob {
        connection: watch.clone(),
        job: Box::new(command_job("not_this", &["true"])),
    });
    backend.send(Request::ChangeModels {
        connection: watch.clone(),
        change: mlconsole::backend::ModelChange::CreateModel("nope".into()),
    });
    let (mut cancel, mut submit, mut models) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cancel.is_none() || submit.is_none() || models.is_none() {
        assert!(Instant::now() < deadline, "answers to the refused requests");
        while let Some(update) = backend.try_recv() {
            match update {
                Update::CancelResult { result, .. } => cancel = Some(result),
                Update::Submitted { result, .. } => submit = Some(result),
                Update::Notice { text, error: true } => models = Some(text),
                _ => {}
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cancel = cancel.unwrap().unwrap_err();
    assert!(cancel.contains("watch is read-only"), "{cancel}");
    assert!(submit.unwrap().unwrap_err().contains("read-only"));
    assert!(models.unwrap().contains("read-only"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let still = runtime
        .block_on(engine.platform.get_job("keeps_running"))
        .unwrap();
    assert_eq!(still.state, JobState::Running, "nothing reached the engine");
    assert!(
        runtime
            .block_on(engine.platform.get_job("not_this"))
            .is_err()
    );
    assert!(
        runtime
            .block_on(engine.platform.list_models())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_broken_settings_file_is_explained_backed_up_and_the_console_still_works() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    std::fs::write(
        config.path().join("connections.json"),
        "{\"version\": 1, \"connections\": [{\"id\": \"lab\", \"name\": \"lab\",",
    )
    .unwrap();
    let harness = console_harness_in(&engine, config.path());
    let mut harness = wait_connected(harness, &ConnectionId::local());
    step_until(&mut harness, "the warning", Duration::from_secs(10), |h| {
        has_label_containing(h, "⚠ settings")
    });
    let warning = harness.state().snapshots().connections.warnings.join("\n");
    assert!(warning.contains("could not be read"), "{warning}");
    assert!(warning.contains(".broken-"), "names the backup: {warning}");
    let backups: Vec<_> = std::fs::read_dir(config.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".broken-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    click(&mut harness, "⚠ settings");
    assert!(
        has_label_containing(&harness, "could not be read"),
        "shown in the window"
    );
}

#[test]
fn an_unreachable_connection_shows_its_error_while_the_other_keeps_working() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let gone = tempfile::tempdir().unwrap();
    // A data dir whose engine is not running: its address answers nothing.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        gone.path().join("engine.json"),
        format!("{{\"address\": \"http://127.0.0.1:{port}\"}}"),
    )
    .unwrap();
    std::fs::write(gone.path().join("token"), "x".repeat(64)).unwrap();
    write_settings(
        config.path(),
        vec![local_connection("gone", gone.path(), false)],
    );
    let harness = console_harness_in(&engine, config.path());
    let mut harness = wait_connected(harness, &ConnectionId::local());
    step_until(
        &mut harness,
        "the unreachable one's error",
        Duration::from_secs(20),
        |h| has_label(h, "gone error"),
    );
    submit(&engine, "still_syncs", &["true"]);
    step_until(
        &mut harness,
        "the working one's job",
        Duration::from_secs(20),
        |h| has_job(h, "local", "still_syncs"),
    );
    assert!(has_label(&harness, "local connected"));
    click(&mut harness, "gone error");
    assert!(
        has_label_containing(
            &harness,
            &format!("cannot reach the local engine at http://127.0.0.1:{port}")
        ),
        "the window says what failed"
    );
    assert!(
        has_label_containing(&harness, "start it with `mlconsole engine --data-dir"),
        "and what to do"
    );
}

/// A server that accepts and answers every request only after `delay`.
fn slow_server(delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                std::thread::sleep(delay);
                let body = "{\"jobs\": []}";
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

#[test]
fn a_connection_that_answers_after_ten_seconds_never_delays_the_others() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let slow = tempfile::tempdir().unwrap();
    let port = slow_server(Duration::from_secs(10));
    std::fs::write(
        slow.path().join("engine.json"),
        format!("{{\"address\": \"http://127.0.0.1:{port}\"}}"),
    )
    .unwrap();
    std::fs::write(slow.path().join("token"), "y".repeat(64)).unwrap();
    write_settings(
        config.path(),
        vec![local_connection("slow", slow.path(), false)],
    );
    let started = Instant::now();
    let harness = console_harness_in(&engine, config.path());
    let mut harness = wait_connected(harness, &ConnectionId::local());
    let connected_after = started.elapsed();
    submit(&engine, "quick", &["true"]);
    let submitted = Instant::now();
    step_until(
        &mut harness,
        "the job on the quick engine",
        Duration::from_secs(20),
        |h| {
            h.state()
                .snapshots()
                .jobs
                .get(&ConnectionId::local(), "quick")
                .is_some_and(|j| j.state == JobState::Succeeded)
        },
    );
    let synced_after = submitted.elapsed();
    let slow_state = harness
        .state()
        .snapshots()
        .connections
        .status(&ConnectionId::new("slow"))
        .cloned();
    assert!(
        matches!(slow_state, Some(ConnectionStatus::Connecting) | None),
        "the slow one is still waiting for its first answer: {slow_state:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "all of it happened while the slow connection had not answered once"
    );
    eprintln!(
        "local connected after {connected_after:?}, its job synced {synced_after:?} after submission, while `slow` had not answered"
    );
}

#[test]
fn plain_http_to_another_machine_is_saved_only_when_confirmed_and_wears_a_badge() {
    let engine = TestEngine::start(&[]);
    let mut harness = console_harness(&engine);
    click(&mut harness, "🔌 Connections");
    click(&mut harness, "➕ Add connection");
    click(&mut harness, "Ray cluster");
    type_into(&mut harness, "Connection name", "far");
    // A reserved name that never resolves: no traffic leaves the machine.
    replace_in(
        &mut harness,
        "Dashboard URL",
        "http://ray-head.invalid:8265",
    );
    click(&mut harness, "Save connection");
    harness.step();
    assert!(
        has_label_containing(&harness, "cross the network unencrypted"),
        "the form warns before saving"
    );
    let id = ConnectionId::new("far");
    assert!(
        harness
            .state()
            .snapshots()
            .connections
            .config(&id)
            .is_none(),
        "nothing saved yet"
    );
    click(&mut harness, "Save anyway");
    step_until(
        &mut harness,
        "the connection saved",
        Duration::from_secs(10),
        |h| h.state().snapshots().connections.config(&id).is_some(),
    );
    assert!(has_label(&harness, "⚠ http"), "the badge on its chip");
}
