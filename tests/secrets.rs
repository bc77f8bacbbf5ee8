//! Secrets in a real OS keyring: a Secret Service (gnome-keyring) on a D-Bus session of
//! the test's own, and the 0600 file with its warning where no D-Bus session exists.
//!
//! Each story runs in a child process of this test binary (re-run with `--ignored` and
//! the story's name), so the keyring's environment is the child's alone and the
//! developer's own keyring is never touched.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // tests: a broken expectation panics

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::TestEngine;
use common::console::{harness_for, has_label_containing, step_until, test_settings};
use mlconsole::backend::{Backend, BackendSettings, Request, SecretEdit, Update};
use mlconsole::domain::{ConnectionConfig, ConnectionId, ConnectionKind};
use mlconsole::secrets::{Secrets, connection_key};

/// Runs the `#[ignore]`d story `name` of this binary as a child in `env`, checking it
/// passed.
fn run_child(name: &str, wrap: &[&str], env: &[(&str, &Path)], remove: &[&str]) {
    let exe = std::env::current_exe().unwrap();
    let mut command = if wrap.is_empty() {
        Command::new(&exe)
    } else {
        let mut c = Command::new(wrap[0]);
        c.args(&wrap[1..]).arg(&exe);
        c
    };
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (key, value) in env {
        command.env(key, value);
    }
    for key in remove {
        command.env_remove(key);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "could not start {:?} ({e}); the keyring tests need dbus-run-session and gnome-keyring (.ci/run installs them)",
            wrap.first().unwrap_or(&"the test binary")
        )
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child story {name} failed:\n{stdout}\n{stderr}"
    );
}

/// The child's wrapper: a session bus of its own, with gnome-keyring unlocked by a dummy
/// password.
const KEYRING_SESSION: [&str; 5] = [
    "dbus-run-session",
    "--",
    "sh",
    "-c",
    "printf dummy-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$0\" \"$@\"",
];

/// A private home for the child: its keyrings and runtime dir live in `dir`.
fn child_home(dir: &Path) -> Vec<(&'static str, std::path::PathBuf)> {
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    vec![
        ("HOME", dir.to_owned()),
        ("XDG_DATA_HOME", dir.join("data")),
        ("XDG_CONFIG_HOME", dir.join("config")),
        ("XDG_RUNTIME_DIR", run),
    ]
}

#[test]
fn a_real_secret_service_keeps_the_token_and_the_settings_file_holds_none() {
    let home = tempfile::tempdir().unwrap();
    let env = child_home(home.path());
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    run_child(
        "child_stores_a_token_in_the_secret_service",
        &KEYRING_SESSION,
        &env,
        &[],
    );
}

#[test]
fn without_a_dbus_session_secrets_go_to_a_private_file_with_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let env = child_home(home.path());
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    run_child(
        "child_falls_back_to_a_file_and_says_so",
        &[],
        &env,
        &["DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"],
    );
}

#[test]
fn a_token_saved_while_no_keyring_answered_moves_into_it_on_the_next_start() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("shared-config");
    std::fs::create_dir_all(&config).unwrap();
    let mut env = child_home(home.path());
    env.push(("MLCONSOLE_TEST_CONFIG_DIR", config.clone()));
    let env: Vec<(&str, &Path)> = env.iter().map(|(k, v)| (*k, v.as_path())).collect();
    run_child(
        "child_saves_a_token_without_a_keyring",
        &[],
        &env,
        &["DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY"],
    );
    assert!(config.join(mlconsole::secrets::FALLBACK_FILE).exists());
    run_child(
        "child_finds_the_token_moved_into_the_keyring",
        &KEYRING_SESSION,
        &env,
        &[],
    );
    assert!(
        !config.join(mlconsole::secrets::FALLBACK_FILE).exists(),
        "the file is gone once its secrets are in the keyring"
    );
}

fn shared_config_dir() -> std::path::PathBuf {
    std::env::var_os("MLCONSOLE_TEST_CONFIG_DIR")
        .expect("set by the parent test")
        .into()
}

#[test]
#[ignore = "runs without a D-Bus session, started by a_token_saved_while_no_keyring_…"]
fn child_saves_a_token_without_a_keyring() {
    let secrets = Secrets::open(&shared_config_dir());
    assert!(secrets.warning().is_some(), "no keyring here");
    secrets
        .set(&connection_key("ray-lab"), "moved-token-42")
        .unwrap();
    assert!(
        secrets
            .location_of(&connection_key("ray-lab"))
            .unwrap()
            .contains("secrets.json")
    );
}

#[test]
#[ignore = "runs inside dbus-run-session, started by a_token_saved_while_no_keyring_…"]
fn child_finds_the_token_moved_into_the_keyring() {
    let secrets = Secrets::open(&shared_config_dir());
    assert_eq!(secrets.warning(), None, "the Secret Service answered");
    let note = secrets.moved_note().unwrap();
    assert!(note.contains("Moved 1 secret(s)"), "{note}");
    let key = connection_key("ray-lab");
    assert_eq!(
        secrets.get(&key).unwrap().as_deref(),
        Some("moved-token-42")
    );
    assert!(
        secrets.location_of(&key).unwrap().contains("keyring"),
        "{:?}",
        secrets.location_of(&key)
    );
}

fn ray_connection(token_for: &str) -> ConnectionConfig {
    ConnectionConfig {
        id: ConnectionId::new(token_for),
        name: token_for.into(),
        color: [1, 2, 3],
        read_only: false,
        enabled: false,
        kind: ConnectionKind::Ray {
            dashboard_url: "http://127.0.0.1:9".into(),
            serve_url: None,
        },
    }
}

/// Waits for the update `pick` selects.
fn wait_for<T>(backend: &Backend, what: &str, mut pick: impl FnMut(Update) -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        while let Some(update) = backend.try_recv() {
            if let Some(found) = pick(update) {
                return found;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "runs inside dbus-run-session, started by a_real_secret_service_keeps_the_token_…"]
fn child_stores_a_token_in_the_secret_service() {
    let config = tempfile::tempdir().unwrap();
    let secrets = Secrets::open(config.path());
    assert_eq!(
        secrets.warning(),
        None,
        "the Secret Service passed the self-test"
    );
    assert!(
        secrets.describe().contains("Secret Service"),
        "{}",
        secrets.describe()
    );

    let settings = BackendSettings {
        config_dir: config.path().to_owned(),
        data_dir: config.path().join("no-engine"),
        start_engine_with: None,
        sample_trainer: None,
        sample_epochs: None,
        use_os_keyring: true,
        buckets: Default::default(),
        alert_poll: std::time::Duration::from_secs(10),
    };
    let backend = Backend::spawn(settings, egui::Context::default()).unwrap();
    let token = "s3cret-ray-token-0123456789";
    backend.send(Request::SaveConnection {
        config: Box::new(ray_connection("ray-lab")),
        secret: SecretEdit::Set(token.into()),
    });
    let mut places = None;
    let saved = wait_for(&backend, "the connection saved", |u| match u {
        Update::Connections { secret_places, .. } => {
            places = Some(secret_places);
            None
        }
        Update::ConnectionSaved(result) => Some(result),
        _ => None,
    });
    assert_eq!(saved, Ok(ConnectionId::new("ray-lab")));
    let place = places
        .and_then(|p| p.get(&ConnectionId::new("ray-lab")).cloned())
        .unwrap_or_default();
    assert!(
        place.contains("OS keyring"),
        "the Connections window says where the token is: {place:?}"
    );
    let key = connection_key("ray-lab");
    assert_eq!(secrets.get(&key).unwrap().as_deref(), Some(token));
    let file = std::fs::read_to_string(config.path().join("connections.json")).unwrap();
    assert!(file.contains("ray-lab"), "{file}");
    assert!(
        !file.contains("s3cret"),
        "no secret in the settings file: {file}"
    );
    assert!(
        !config
            .path()
            .join(mlconsole::secrets::FALLBACK_FILE)
            .exists(),
        "nothing fell back to a file"
    );

    backend.send(Request::RemoveConnection(ConnectionId::new("ray-lab")));
    wait_for(&backend, "the removal", |u| match u {
        Update::Notice { text, .. } if text.starts_with("Removed ray-lab") => Some(()),
        _ => None,
    });
    assert_eq!(
        secrets.get(&key).unwrap(),
        None,
        "removing forgets the token"
    );
}

#[test]
#[ignore = "runs without a D-Bus session, started by without_a_dbus_session_…"]
fn child_falls_back_to_a_file_and_says_so() {
    let engine = TestEngine::start(&[]);
    let config = tempfile::tempdir().unwrap();
    let mut settings = test_settings(&engine, config.path());
    settings.use_os_keyring = true;
    let mut harness = harness_for(settings);
    step_until(
        &mut harness,
        "the keyring warning in the status bar",
        Duration::from_secs(30),
        |h| has_label_containing(h, "⚠ settings"),
    );
    let warning = harness.state().snapshots().connections.warnings.join("\n");
    assert!(warning.contains("No OS keyring answered"), "{warning}");
    assert!(warning.contains("secrets.json"), "{warning}");
    assert!(
        warning.contains("gnome-keyring"),
        "says how to get one: {warning}"
    );

    let secrets = Secrets::open(config.path());
    assert!(secrets.warning().is_some());
    secrets
        .set(&connection_key("x"), "fallback-secret")
        .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(config.path().join(mlconsole::secrets::FALLBACK_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
