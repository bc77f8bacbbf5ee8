//! Connections: what the console knows of each (settings, state, capabilities), their
//! chips in the status bar, and the Connections window (Ctrl+K) to add, edit, remove,
//! connect and disconnect them.

mod form;

use std::path::PathBuf;

use egui::{Color32, RichText, Ui};

use self::form::ConnectionForm;
use super::nav::Nav;
pub use super::state::connections::Connections;
use super::theme;
use crate::backend::{Backend, ConnectionStatus, PickTarget, Request, SecretEdit, Update};
use crate::domain::connection::{PALETTE, new_id};
use crate::domain::{
    ClusterSummary, ConnectionConfig, ConnectionId, ConnectionKind, JobState, VertexCredentials,
};

/// What the Connections window asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum ConnectionsAction {
    /// Save a new or changed connection with what to do with its secret.
    Save(Box<ConnectionConfig>, SecretEdit),
    /// Remove a connection (already confirmed).
    Remove(ConnectionId),
    /// Connect or disconnect.
    SetEnabled(ConnectionId, bool),
    /// Try again now.
    Reconnect(ConnectionId),
    /// Pick a service-account key file for the form.
    PickKeyFile,
}

/// The connections as the backend last reported them, and the window's state.
#[derive(Default)]
pub struct ConnectionsPanel {
    /// The window is shown.
    pub open: bool,
    form: Option<ConnectionForm>,
    confirm_remove: Option<ConnectionId>,
}

impl ConnectionsPanel {
    /// Takes what concerns connections from a backend update; answers what to tell
    /// the user.
    pub fn on_update(&mut self, update: &Update, connections: &Connections) -> Option<Nav> {
        let toast = |text: String| Some(Nav::Toast { text, error: false });
        match update {
            Update::SettingsWarning(text) => {
                return Some(Nav::Toast {
                    text: text.clone(),
                    error: true,
                });
            }
            Update::ConnectionSaved(result) => {
                let saved = result
                    .as_ref()
                    .ok()
                    .map(|id| format!("Saved the connection {}.", connections.name(id)));
                self.saved(result.clone());
                return saved.and_then(toast);
            }
            Update::Connection {
                status:
                    ConnectionStatus::Connected {
                        note: Some(note), ..
                    },
                ..
            } => return toast(note.clone()),
            Update::Picked {
                target: PickTarget::KeyFile,
                path,
            } => self.key_file_picked(path),
            _ => {}
        }
        None
    }

    /// Sends what the user asked for in the window or the status bar.
    fn carry_out(actions: Vec<ConnectionsAction>, backend: &Backend) {
        for action in actions {
            backend.send(match action {
                ConnectionsAction::Save(config, secret) => {
                    Request::SaveConnection { config, secret }
                }
                ConnectionsAction::Remove(id) => Request::RemoveConnection(id),
                ConnectionsAction::SetEnabled(connection, enabled) => {
                    Request::SetConnectionEnabled {
                        connection,
                        enabled,
                    }
                }
                ConnectionsAction::Reconnect(id) => Request::Reconnect(id),
                ConnectionsAction::PickKeyFile => Request::PickPath {
                    target: PickTarget::KeyFile,
                    folder: false,
                },
            });
        }
    }

    /// The form's answer from the backend: close it, or show the error at its field.
    pub fn saved(&mut self, result: Result<ConnectionId, (&'static str, String)>) {
        match result {
            Ok(_) => self.form = None,
            Err((field, message)) => {
                if let Some(form) = &mut self.form {
                    form.saving = false;
                    form.error = Some((field, message));
                }
            }
        }
    }

    /// Puts a picked key file into the form.
    pub fn key_file_picked(&mut self, path: &std::path::Path) {
        if let Some(form) = &mut self.form {
            form.key_file = path.display().to_string();
        }
    }

    /// Opens the form for a new connection.
    pub fn add(&mut self, connections: &Connections) {
        self.open = true;
        self.form = Some(ConnectionForm::new(connections.list()));
    }

    /// Closes the innermost thing open (Esc); false when nothing was.
    pub fn close_one(&mut self) -> bool {
        if self.confirm_remove.take().is_some() || self.form.take().is_some() {
            return true;
        }
        std::mem::replace(&mut self.open, false)
    }

    /// One chip per connection (state dot and name) for the status bar; a click opens
    /// the window.
    pub fn status_chips(&mut self, ui: &mut Ui, connections: &Connections, backend: &Backend) {
        let actions = self.chips(ui, connections);
        ConnectionsPanel::carry_out(actions, backend);
    }

    fn chips(&mut self, ui: &mut Ui, connections: &Connections) -> Vec<ConnectionsAction> {
        let mut actions = Vec::new();
        let dark = ui.visuals().dark_mode;
        for config in connections.list() {
            let status = connections.status(&config.id);
            let (dot, text, hover) = describe(status, dark);
            let [r, g, b] = config.color;
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 3.0;
                if matches!(
                    status,
                    Some(ConnectionStatus::Connecting | ConnectionStatus::Reconnecting { .. })
                ) {
                    ui.spinner();
                } else {
                    status_dot(ui, dot);
                }
                let label = RichText::new(format!("{} {text}", config.name))
                    .color(Color32::from_rgb(r, g, b));
                let response = ui
                    .add(egui::Label::new(label).sense(egui::Sense::click()))
                    .on_hover_text(format!("{hover}\nClick for Connections (Ctrl+K)"));
                if response.clicked() {
                    self.open = true;
                }
                if let Some(url) = config.kind.cleartext_remote() {
                    ui.label(RichText::new("⚠ http").color(theme::error_color(dark)))
                        .on_hover_text(format!(
                            "{url} is plain http:// to another machine: the token crosses the network unencrypted"
                        ));
                }
                if let Some(cluster) = connections.cluster(&config.id) {
                    ui.label(RichText::new(cluster_text(cluster)).weak())
                        .on_hover_text("Nodes, CPUs (mean use) and memory used of the cluster, refreshed every 5 s");
                }
                if let Some(ConnectionStatus::Failed { .. } | ConnectionStatus::SignedOut { .. }) =
                    status
                    && ui.small_button("Retry now").clicked()
                {
                    actions.push(ConnectionsAction::Reconnect(config.id.clone()));
                }
            });
            ui.separator();
        }
        if !connections.warnings.is_empty() {
            let text =
                RichText::new("⚠ settings").color(theme::state_color(JobState::Cancelling, dark));
            let response = ui
                .add(egui::Label::new(text).sense(egui::Sense::click()))
                .on_hover_text(connections.warnings.join("\n\n"));
            if response.clicked() {
                self.open = true;
            }
        }
        actions
    }

    /// Draws the window (when open) and its form, sending what the user asks for.
    pub fn show(&mut self, ctx: &egui::Context, connections: &Connections, backend: &Backend) {
        let actions = self.draw_window(ctx, connections);
        ConnectionsPanel::carry_out(actions, backend);
    }

    fn draw_window(
        &mut self,
        ctx: &egui::Context,
        connections: &Connections,
    ) -> Vec<ConnectionsAction> {
        let mut actions = Vec::new();
        if self.open {
            let mut open = true;
            egui::Window::new("Connections")
                .open(&mut open)
                .collapsible(false)
                .resizable(true)
                .default_width(720.0)
                .show(ctx, |ui| self.window(ui, connections, &mut actions));
            if !open {
                self.open = false;
            }
        }
        if let Some(form) = &mut self.form {
            let mut open = true;
            let title = if form.editing.is_some() {
                "Edit connection"
            } else {
                "Add connection"
            };
            let mut close = false;
            egui::Window::new(title)
                .open(&mut open)
                .collapsible(false)
                .resizable(false)
                .default_width(520.0)
                .show(ctx, |ui| {
                    close = form.ui(ui, connections.list(), &mut actions);
                });
            if !open || close {
                self.form = None;
            }
        }
        if let Some(id) = self.confirm_remove.clone() {
            let name = connections.name(&id).to_owned();
            let modal = egui::Modal::new(egui::Id::unique("confirm_remove_connection")).show(ctx, |ui| {
                ui.heading(format!("Remove {name}?"));
                ui.label("Its settings and its secret in the keyring are forgotten. Jobs and models on the platform are not touched.");
                ui.add_space(8.0);
                ui.horizontal(|ui| {
                    if ui.button("Yes, remove it").clicked() {
                        actions.push(ConnectionsAction::Remove(id.clone()));
                        self.confirm_remove = None;
                    }
                    if ui.button("Keep it").clicked() {
                        self.confirm_remove = None;
                    }
                });
            });
            if modal.should_close() {
                self.confirm_remove = None;
            }
        }
        actions
    }

    fn window(
        &mut self,
        ui: &mut Ui,
        connections: &Connections,
        actions: &mut Vec<ConnectionsAction>,
    ) {
        let dark = ui.visuals().dark_mode;
        for warning in &connections.warnings {
            ui.colored_label(
                theme::state_color(JobState::Cancelling, dark),
                format!("⚠ {warning}"),
            );
            ui.add_space(4.0);
        }
        egui::Grid::new("connections_grid")
            .num_columns(5)
            .striped(true)
            .spacing([10.0, 6.0])
            .show(ui, |ui| {
                for config in connections.list() {
                    let status = connections.status(&config.id);
                    let [r, g, b] = config.color;
                    ui.horizontal(|ui| {
                        status_dot(ui, Color32::from_rgb(r, g, b));
                        ui.strong(&config.name);
                        if config.read_only {
                            ui.label(RichText::new("read-only").small().weak());
                        }
                    });
                    // Unwrapped: a grid cell starts narrow, and wrapping would break the
                    // summary into a column of single words.
                    ui.vertical(|ui| {
                        ui.add(egui::Label::new(summary(&config.kind)).extend());
                        if let Some(place) = connections.secret_place(&config.id) {
                            let place = RichText::new(format!("secret in {place}")).small().weak();
                            ui.add(egui::Label::new(place).extend());
                        }
                    });
                    let (dot, text, hover) = describe(status, dark);
                    ui.horizontal(|ui| {
                        status_dot(ui, dot);
                        ui.label(text).on_hover_text(hover);
                    });
                    ui.horizontal(|ui| {
                        let connect = if config.enabled {
                            "Disconnect"
                        } else {
                            "Connect"
                        };
                        if ui.button(connect).clicked() {
                            actions.push(ConnectionsAction::SetEnabled(
                                config.id.clone(),
                                !config.enabled,
                            ));
                        }
                        if ui.button("Edit…").clicked() {
                            self.form = Some(ConnectionForm::edit(config));
                        }
                        if !config.is_builtin() && ui.button("Remove…").clicked() {
                            self.confirm_remove = Some(config.id.clone());
                        }
                    });
                    ui.end_row();
                    if let Some(
                        ConnectionStatus::Failed { error, hint }
                        | ConnectionStatus::SignedOut { error, hint },
                    ) = status
                    {
                        ui.label("");
                        ui.colored_label(theme::error_color(dark), format!("{error} — {hint}"));
                        ui.end_row();
                    }
                }
            });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("➕ Add connection").clicked() {
                self.form = Some(ConnectionForm::new(connections.list()));
            }
            if !connections.secrets_in().is_empty() {
                ui.label(
                    RichText::new(format!("Secrets are kept in {}.", connections.secrets_in()))
                        .weak(),
                );
            }
        });
    }
}

/// The status bar's dot colour, word and hover text for a state.
fn describe(status: Option<&ConnectionStatus>, dark: bool) -> (Color32, String, String) {
    let amber = theme::state_color(JobState::Cancelling, dark);
    match status {
        None | Some(ConnectionStatus::Connecting) => {
            (amber, "connecting…".into(), "Connecting…".into())
        }
        Some(ConnectionStatus::Connected { description, .. }) => (
            theme::state_color(JobState::Succeeded, dark),
            "connected".into(),
            format!("Connected: {description}"),
        ),
        Some(ConnectionStatus::Reconnecting { error }) => (
            amber,
            "reconnecting…".into(),
            format!("Reconnecting… ({error})"),
        ),
        Some(ConnectionStatus::SignedOut { error, hint }) => (
            theme::error_color(dark),
            "signed out".into(),
            format!("Signed out: {error}\n{hint}"),
        ),
        Some(ConnectionStatus::Failed { error, hint }) => (
            theme::error_color(dark),
            "error".into(),
            format!("Not connected: {error}\n{hint}"),
        ),
        Some(ConnectionStatus::Disconnected) => (
            Color32::GRAY,
            "disconnected".into(),
            "Disconnected; connect it in Connections".into(),
        ),
    }
}

/// `1 node · 2 CPUs (35 %) · 3.1 / 23.5 GiB`.
pub fn cluster_text(c: &ClusterSummary) -> String {
    let gib = |b: u64| b as f64 / (1024.0 * 1024.0 * 1024.0);
    let nodes = if c.nodes == 1 { "node" } else { "nodes" };
    let gpus = match (c.gpus, c.gpus_in_use) {
        (total, Some(used)) if total > 0.0 => format!(" · {used}/{total} GPUs in use"),
        (total, _) if total > 0.0 => format!(" · {total} GPUs"),
        _ => String::new(),
    };
    format!(
        "{} {nodes} · {} CPUs ({:.0} %){gpus} · {:.1} / {:.1} GiB",
        c.nodes,
        c.cpus,
        c.cpu_percent,
        gib(c.memory_used),
        gib(c.memory_total)
    )
}

/// One line saying what a connection points at.
fn summary(kind: &ConnectionKind) -> String {
    match kind {
        ConnectionKind::Local { data_dir: None } => "Local engine (default data dir)".into(),
        ConnectionKind::Local {
            data_dir: Some(dir),
        } => format!("Local engine at {}", dir.display()),
        ConnectionKind::Ray { dashboard_url, .. } => format!("Ray cluster at {dashboard_url}"),
        ConnectionKind::Vertex {
            project, region, ..
        } => format!("Vertex AI, {project} in {region}"),
    }
}

/// A small filled circle, e.g. green for "connected".
pub fn status_dot(ui: &mut Ui, color: Color32) {
    let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 4.5, color);
}

#[cfg(test)]
mod tests;
