//! Connections: what the console knows of each (settings, state, capabilities), their
//! chips in the status bar, and the Connections window (Ctrl+K) to add, edit, remove,
//! connect and disconnect them.

use std::path::PathBuf;

use egui::{Color32, RichText, Ui};

use super::job_form::labeled_edit;
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
    let gpus = if c.gpus > 0.0 {
        format!(" · {} GPUs", c.gpus)
    } else {
        String::new()
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

/// Which kind the form is filling in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormKind {
    Local,
    Ray,
    Vertex,
}

/// The Add / Edit connection form, as typed.
struct ConnectionForm {
    /// The id of the connection being edited; `None` adds one.
    editing: Option<ConnectionId>,
    builtin: bool,
    kind: FormKind,
    name: String,
    color: [u8; 3],
    read_only: bool,
    enabled: bool,
    data_dir: String,
    dashboard_url: String,
    serve_url: String,
    token: String,
    forget_token: bool,
    project: String,
    region: String,
    credentials: VertexCredentials,
    key_file: String,
    api_endpoint: String,
    error: Option<(&'static str, String)>,
    saving: bool,
    /// A plain-http address to another machine the user was warned about; saving again
    /// with the same one confirms it.
    cleartext_warned: Option<String>,
}

impl ConnectionForm {
    fn new(list: &[ConnectionConfig]) -> ConnectionForm {
        ConnectionForm {
            editing: None,
            builtin: false,
            kind: FormKind::Ray,
            name: String::new(),
            color: PALETTE[list.len() % PALETTE.len()],
            read_only: false,
            enabled: true,
            data_dir: String::new(),
            dashboard_url: "http://127.0.0.1:8265".into(),
            serve_url: String::new(),
            token: String::new(),
            forget_token: false,
            project: String::new(),
            region: "us-central1".into(),
            credentials: VertexCredentials::ApplicationDefault,
            key_file: String::new(),
            api_endpoint: String::new(),
            error: None,
            saving: false,
            cleartext_warned: None,
        }
    }

    fn edit(config: &ConnectionConfig) -> ConnectionForm {
        let mut form = ConnectionForm::new(&[]);
        form.editing = Some(config.id.clone());
        form.builtin = config.is_builtin();
        form.name = config.name.clone();
        form.color = config.color;
        form.read_only = config.read_only;
        form.enabled = config.enabled;
        match &config.kind {
            ConnectionKind::Local { data_dir } => {
                form.kind = FormKind::Local;
                form.data_dir = data_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
            }
            ConnectionKind::Ray {
                dashboard_url,
                serve_url,
            } => {
                form.kind = FormKind::Ray;
                form.dashboard_url = dashboard_url.clone();
                form.serve_url = serve_url.clone().unwrap_or_default();
            }
            ConnectionKind::Vertex {
                project,
                region,
                credentials,
                api_endpoint,
            } => {
                form.kind = FormKind::Vertex;
                form.project = project.clone();
                form.region = region.clone();
                form.credentials = *credentials;
                form.api_endpoint = api_endpoint.clone().unwrap_or_default();
            }
        }
        form
    }

    /// The settings and secret edit the form describes.
    fn build(&self, list: &[ConnectionConfig]) -> (ConnectionConfig, SecretEdit) {
        let text = |s: &str| {
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_owned())
        };
        let kind = match self.kind {
            FormKind::Local => ConnectionKind::Local {
                data_dir: text(&self.data_dir).map(PathBuf::from),
            },
            FormKind::Ray => ConnectionKind::Ray {
                dashboard_url: self.dashboard_url.trim().trim_end_matches('/').to_owned(),
                serve_url: text(&self.serve_url).map(|u| u.trim_end_matches('/').to_owned()),
            },
            FormKind::Vertex => ConnectionKind::Vertex {
                project: self.project.trim().to_owned(),
                region: self.region.trim().to_owned(),
                credentials: self.credentials,
                api_endpoint: text(&self.api_endpoint).map(|u| u.trim_end_matches('/').to_owned()),
            },
        };
        let secret = match self.kind {
            FormKind::Ray if self.forget_token => SecretEdit::Forget,
            FormKind::Ray => text(&self.token).map_or(SecretEdit::Keep, SecretEdit::Set),
            FormKind::Vertex if self.credentials == VertexCredentials::ServiceAccountKey => {
                text(&self.key_file).map_or(SecretEdit::Keep, |p| SecretEdit::FromFile(p.into()))
            }
            _ => SecretEdit::Keep,
        };
        let name = self.name.trim().to_owned();
        let id = self.editing.clone().unwrap_or_else(|| new_id(&name, list));
        let config = ConnectionConfig {
            id,
            name,
            color: self.color,
            read_only: self.read_only,
            enabled: self.enabled,
            kind,
        };
        (config, secret)
    }

    /// Draws the form; true when it should close.
    #[expect(clippy::too_many_lines, reason = "one form's layout, field by field")]
    fn ui(
        &mut self,
        ui: &mut Ui,
        list: &[ConnectionConfig],
        actions: &mut Vec<ConnectionsAction>,
    ) -> bool {
        let dark = ui.visuals().dark_mode;
        let error = self.error.clone();
        let error_row = |ui: &mut Ui, field: &str| {
            if let Some((f, message)) = &error
                && *f == field
            {
                ui.label("");
                ui.colored_label(theme::error_color(dark), format!("⚠ {message}"));
                ui.end_row();
            }
        };
        egui::Grid::new("connection_form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                ui.label("Kind");
                ui.horizontal(|ui| {
                    if self.builtin {
                        ui.label("Local engine (built in)");
                    } else {
                        ui.radio_value(&mut self.kind, FormKind::Local, "Local engine");
                        ui.radio_value(&mut self.kind, FormKind::Ray, "Ray cluster");
                        ui.radio_value(&mut self.kind, FormKind::Vertex, "Vertex AI");
                    }
                });
                ui.end_row();
                error_row(ui, "kind");
                ui.label("Name");
                labeled_edit(ui, &mut self.name, "Connection name", "e.g. ray-lab");
                ui.end_row();
                error_row(ui, "name");
                ui.label("Colour");
                ui.horizontal(|ui| {
                    ui.color_edit_button_srgb(&mut self.color);
                    for color in PALETTE {
                        let [r, g, b] = color;
                        let swatch = egui::Button::new("  ").fill(Color32::from_rgb(r, g, b));
                        if ui.add(swatch).clicked() {
                            self.color = color;
                        }
                    }
                });
                ui.end_row();
                ui.label("");
                ui.checkbox(
                    &mut self.read_only,
                    "Read-only (refuse submit, cancel, deploy, set default, delete)",
                );
                ui.end_row();
                match self.kind {
                    FormKind::Local => {
                        ui.label("Data dir");
                        labeled_edit(
                            ui,
                            &mut self.data_dir,
                            "Data dir",
                            "(empty: the default data dir)",
                        );
                        ui.end_row();
                        error_row(ui, "data_dir");
                    }
                    FormKind::Ray => {
                        ui.label("Dashboard URL");
                        labeled_edit(
                            ui,
                            &mut self.dashboard_url,
                            "Dashboard URL",
                            "http://127.0.0.1:8265",
                        );
                        ui.end_row();
                        error_row(ui, "dashboard_url");
                        ui.label("Serve URL");
                        labeled_edit(
                            ui,
                            &mut self.serve_url,
                            "Serve URL",
                            "(optional) http://127.0.0.1:8000",
                        );
                        ui.end_row();
                        error_row(ui, "serve_url");
                        ui.label("Token");
                        ui.horizontal(|ui| {
                            let edit = egui::TextEdit::singleline(&mut self.token)
                                .password(true)
                                .hint_text(if self.editing.is_some() {
                                    "(leave empty to keep the stored one)"
                                } else {
                                    "(optional) RAY_AUTH_TOKEN"
                                })
                                .desired_width(300.0);
                            ui.add(edit).widget_info(|| {
                                egui::WidgetInfo::labeled(egui::Role::PasswordInput, true, "Token")
                            });
                            if self.editing.is_some() {
                                ui.checkbox(&mut self.forget_token, "forget it");
                            }
                        });
                        ui.end_row();
                        error_row(ui, "secret");
                    }
                    FormKind::Vertex => {
                        ui.label("Project");
                        labeled_edit(ui, &mut self.project, "Project", "my-project-123");
                        ui.end_row();
                        error_row(ui, "project");
                        ui.label("Region");
                        labeled_edit(ui, &mut self.region, "Region", "us-central1");
                        ui.end_row();
                        error_row(ui, "region");
                        ui.label("Credentials");
                        ui.vertical(|ui| {
                            for source in VertexCredentials::ALL {
                                ui.radio_value(&mut self.credentials, source, source.label());
                            }
                        });
                        ui.end_row();
                        if self.credentials == VertexCredentials::ServiceAccountKey {
                            ui.label("Key file");
                            ui.horizontal(|ui| {
                                labeled_edit(
                                    ui,
                                    &mut self.key_file,
                                    "Key file",
                                    if self.editing.is_some() {
                                        "(empty: keep the stored key)"
                                    } else {
                                        "/path/to/key.json (copied into the keyring)"
                                    },
                                );
                                if ui.button("📂").on_hover_text("Pick the key file").clicked() {
                                    actions.push(ConnectionsAction::PickKeyFile);
                                }
                            });
                            ui.end_row();
                            error_row(ui, "key_file");
                            error_row(ui, "secret");
                        }
                        ui.label("API endpoint");
                        labeled_edit(
                            ui,
                            &mut self.api_endpoint,
                            "API endpoint",
                            "(optional) instead of Google's, e.g. a Private Service Connect address",
                        );
                        ui.end_row();
                        error_row(ui, "api_endpoint");
                    }
                }
            });
        if let Some(("file", message)) = &self.error {
            ui.colored_label(theme::error_color(dark), format!("⚠ {message}"));
        }
        if let Some(url) = &self.cleartext_warned {
            ui.colored_label(
                theme::error_color(dark),
                format!(
                    "⚠ {url} is plain http:// to another machine: the token and every request \
                     cross the network unencrypted. Use https:// or an SSH tunnel to 127.0.0.1, \
                     or press Save anyway."
                ),
            );
        }
        ui.add_space(6.0);
        let mut close = false;
        ui.horizontal(|ui| {
            let label = if self.cleartext_warned.is_some() {
                "Save anyway"
            } else {
                "Save connection"
            };
            let save = ui.add_enabled(!self.saving, egui::Button::new(label));
            if save.clicked() {
                let (config, secret) = self.build(list);
                let cleartext = config.kind.cleartext_remote().map(str::to_owned);
                match config.validate(list) {
                    Err(e) => self.error = Some((e.field, e.message)),
                    Ok(()) if cleartext.is_some() && cleartext != self.cleartext_warned => {
                        self.cleartext_warned = cleartext;
                    }
                    Ok(()) => {
                        self.error = None;
                        self.saving = true;
                        actions.push(ConnectionsAction::Save(Box::new(config), secret));
                    }
                }
            }
            if self.saving {
                ui.spinner();
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        close
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_builds_a_ray_connection_with_its_token() {
        let list = vec![ConnectionConfig::local_default()];
        let mut form = ConnectionForm::new(&list);
        form.name = "Ray Lab".into();
        form.dashboard_url = "http://10.1.2.3:8265/".into();
        form.token = " tok ".into();
        let (config, secret) = form.build(&list);
        assert_eq!(config.id.as_str(), "ray-lab");
        assert_eq!(
            config.kind,
            ConnectionKind::Ray {
                dashboard_url: "http://10.1.2.3:8265".into(),
                serve_url: None
            }
        );
        assert_eq!(secret, SecretEdit::Set("tok".into()));
        assert_eq!(
            config.validate(&list).unwrap_err().field,
            "name",
            "spaces are refused"
        );
        let edit = ConnectionForm::edit(&config);
        assert_eq!(
            edit.build(&list).1,
            SecretEdit::Keep,
            "editing keeps the stored token"
        );
    }
}
