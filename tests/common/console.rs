//! The real console `App` in egui_kittest, connected to a test engine, and helpers to
//! drive it as a user would.

use std::time::{Duration, Instant};

use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::NodeT;
use egui_kittest::kittest::Queryable;
use mlconsole::backend::{Backend, BackendSettings, ConnectionStatus};
use mlconsole::domain::ConnectionId;
use mlconsole::ui::{App, Tab};

use super::TestEngine;

/// The real console, connected to `engine` (without starting engines of its own), with
/// its settings in a config dir of its own inside the engine's data dir.
pub fn console_harness(engine: &TestEngine) -> Harness<'static, App> {
    let harness = console_harness_in(engine, &engine.data_dir.join("console-config"));
    wait_connected(harness, &ConnectionId::local())
}

/// Test settings: secrets in a file, never in the developer's own keyring.
pub fn test_settings(engine: &TestEngine, config_dir: &std::path::Path) -> BackendSettings {
    BackendSettings {
        config_dir: config_dir.to_owned(),
        data_dir: engine.data_dir.clone(),
        start_engine_with: None,
        sample_trainer: Some(env!("CARGO_BIN_EXE_mlconsole").into()),
        // Tests run the debug build, several times slower than a release build.
        sample_epochs: Some(4),
        use_os_keyring: false,
        buckets: Default::default(),
        alert_poll: Duration::from_millis(300),
    }
}

/// The real console on `engine` with its settings in `config_dir`, not yet connected.
pub fn console_harness_in(
    engine: &TestEngine,
    config_dir: &std::path::Path,
) -> Harness<'static, App> {
    harness_for(test_settings(engine, config_dir))
}

/// The real console with `settings`.
pub fn harness_for(settings: BackendSettings) -> Harness<'static, App> {
    let backend = Backend::spawn(settings, egui::Context::default()).unwrap();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(4)
        .build_ui_state(
            |ui, app: &mut App| {
                app.logic(ui.ctx());
                app.show(ui);
            },
            App::new(backend),
        );
    harness.step();
    harness
}

/// Steps until the connection `id` is connected.
pub fn wait_connected(
    mut harness: Harness<'static, App>,
    id: &ConnectionId,
) -> Harness<'static, App> {
    step_until(&mut harness, "connected", Duration::from_secs(15), |h| {
        matches!(
            h.state().snapshots().connections.status(id),
            Some(ConnectionStatus::Connected { .. })
        )
    });
    harness
}

/// Steps the UI until `done` holds; panics after `timeout`.
pub fn step_until(
    harness: &mut Harness<'static, App>,
    what: &str,
    timeout: Duration,
    done: impl Fn(&Harness<'static, App>) -> bool,
) {
    let start = Instant::now();
    loop {
        harness.step();
        if done(harness) {
            harness.step();
            return;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Types into the text field labelled `label`, as a user who clicked into it would.
pub fn type_into(harness: &mut Harness<'static, App>, label: &str, text: &str) {
    harness
        .get_by_role_and_label(Role::TextInput, label)
        .focus();
    harness.step();
    harness
        .get_by_role_and_label(Role::TextInput, label)
        .type_text(text);
    harness.step();
}

/// Replaces the text of the field (one line or several) labelled `label`.
pub fn replace_in(harness: &mut Harness<'static, App>, label: &str, text: &str) {
    let role = if harness
        .query_by_role_and_label(Role::TextInput, label)
        .is_some()
    {
        Role::TextInput
    } else {
        Role::MultilineTextInput
    };
    harness.get_by_role_and_label(role, label).focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.step();
    harness.get_by_role_and_label(role, label).type_text(text);
    harness.step();
}

/// Clicks the widget labelled `label` and lets the UI settle.
pub fn click(harness: &mut Harness<'static, App>, label: &str) {
    harness
        .query_all_by_label(label)
        .next()
        .unwrap_or_else(|| panic!("no {label:?}"))
        .click();
    for _ in 0..3 {
        harness.step();
    }
}

/// Opens the New job form.
pub fn open_form(harness: &mut Harness<'static, App>) {
    harness
        .query_all_by_label("➕ New job")
        .next()
        .unwrap()
        .click();
    for _ in 0..3 {
        harness.step();
    }
}

pub fn has_label(harness: &Harness<'static, App>, label: &str) -> bool {
    harness.query_all_by_label(label).next().is_some()
}

pub fn has_label_containing(harness: &Harness<'static, App>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// The text of every label holding `text`.
pub fn labels_containing(harness: &Harness<'static, App>, text: &str) -> Vec<String> {
    harness
        .query_all_by_label_contains(text)
        .filter_map(|node| {
            node.accesskit_node()
                .label()
                .or(node.accesskit_node().value())
        })
        .collect()
}

/// The tab the top bar shows as chosen.
pub fn shown_tab(harness: &Harness<'static, App>) -> Option<Tab> {
    Tab::ALL.into_iter().find(|tab| {
        harness
            .query_all_by_label(tab.title())
            .any(|n| n.accesskit_node().toggled() == Some(egui::accesskit::Toggled::True))
    })
}

/// The text in the text box named `label` (e.g. the Predict tab's "Request").
pub fn text_in(harness: &Harness<'static, App>, label: &str) -> Option<String> {
    harness
        .query_by(|n| {
            n.label().as_deref() == Some(label)
                && matches!(n.role(), Role::TextInput | Role::MultilineTextInput)
        })
        .and_then(|n| n.accesskit_node().value())
}

/// How many charts the Scalars tab has drawn (each is an image named "<tag> chart").
pub fn drawn_charts(harness: &Harness<'static, App>) -> usize {
    harness
        .query_all_by(|n| {
            n.role() == Role::Image && n.label().is_some_and(|l| l.ends_with(" chart"))
        })
        .count()
}

/// A file or folder dropped on the window.
#[derive(Debug)]
pub struct DroppedPath(pub std::path::PathBuf);

impl egui::DroppedFile for DroppedPath {
    fn path(&self) -> &std::path::Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}
