//! The Models tab: models with their versions (state, default badge, signature,
//! replicas, live traffic), one-click default switch and rollback, create and delete.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use chrono::Utc;
use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::format;
use super::nav::Nav;
use super::state::connections::Connections;
use super::state::models as state;
use super::theme;
use crate::backend::{
    Backend, ConnectionStatus, ModelChange, ModelView, PickTarget, Request, Update,
};
use crate::domain::model::validate_resource_name;
use crate::domain::{
    ConnectionId, ServingMetrics, ServingRuntimes, ServingSample, TensorSpec, Version, VersionState,
};

/// Seconds of traffic the chart shows.
const TRAFFIC_WINDOW: usize = 300;

/// A model as the console knows it: its connection and its name there.
pub use super::state::models::ModelKey;

/// What the user asked for in the Models tab.
#[derive(Debug, Clone, PartialEq)]
enum ModelsAction {
    /// Change models or versions on a connection.
    Change(ConnectionId, ModelChange),
    /// Pick a model file for a new version of this model.
    PickVersionFile(ConnectionId, String),
    /// Pick a model folder (a SavedModel, a folder with model.joblib…) to add as a version.
    PickVersionFolder(ConnectionId, String),
    /// Open the Predict tab on this model and version.
    Try {
        /// The connection serving it.
        connection: ConnectionId,
        /// The model.
        model: String,
        /// The version, `None` for the default.
        version: Option<String>,
    },
}

/// Something waiting for the user to confirm a delete.
#[derive(Debug, Clone, PartialEq)]
enum PendingDelete {
    Model(ConnectionId, String),
    Version(ConnectionId, String, String),
}

/// Traffic series and totals are kept per connection, model and version.
type VersionKey = (ConnectionId, String, String);

/// The Models tab's state.
#[derive(Default)]
pub struct ModelsTab {
    traffic: HashMap<VersionKey, VecDeque<ServingSample>>,
    totals: HashMap<VersionKey, (u64, u64)>,
    selected: Option<ModelKey>,
    /// A model selected before it exists (just created or deployed to).
    awaited: Option<ModelKey>,
    new_model: String,
    /// Where a new model is created.
    new_model_on: Option<ConnectionId>,
    new_model_error: Option<String>,
    pending_delete: Option<PendingDelete>,
    /// The `gs://` artifact folder typed for a new version (platforms without local
    /// model files), and what is wrong with it.
    artifact: String,
    artifact_error: Option<String>,
    /// Default switches asked for and not yet listed, by version.
    switching: HashSet<VersionKey>,
    /// Why the last change of a version failed, shown on its row.
    failed: HashMap<VersionKey, String>,
}

impl ModelsTab {
    /// Keeps the selection and the pending switches in step with a fresh listing.
    fn listed(&mut self, connection: &ConnectionId, models: &state::Models) {
        if self
            .awaited
            .as_ref()
            .is_some_and(|k| models.find(k).is_some())
        {
            self.awaited = None;
        }
        // A default switch is done when the list shows it.
        self.switching.retain(|(c, m, v)| {
            c != connection
                || !models.list.iter().any(|view| {
                    &view.connection == c
                        && view.model.short_name() == m
                        && view
                            .versions
                            .iter()
                            .any(|x| x.short_name() == v && x.is_default)
                })
        });
        // A model just asked for stays shown until a sync brings it.
        let keep = self
            .selected
            .as_ref()
            .is_some_and(|k| models.find(k).is_some())
            || (self.awaited.is_some() && self.awaited == self.selected);
        if !keep {
            self.selected = models.list.first().map(key_of);
        }
    }

    /// Adds serving samples of a version.
    pub fn add_metrics(
        &mut self,
        connection: ConnectionId,
        model: String,
        version: String,
        metrics: ServingMetrics,
    ) {
        let key = (connection, model, version);
        self.totals
            .insert(key.clone(), (metrics.total_requests, metrics.total_errors));
        let series = self.traffic.entry(key).or_default();
        for sample in metrics.samples {
            if series.back().is_some_and(|last| last.time >= sample.time) {
                continue;
            }
            series.push_back(sample);
            if series.len() > TRAFFIC_WINDOW {
                series.pop_front();
            }
        }
    }

    /// The model shown.
    pub fn selected(&self) -> Option<&ModelKey> {
        self.selected.as_ref()
    }

    /// Shows a model, also one being created that the next syncs may not list yet.
    pub fn select(&mut self, connection: &ConnectionId, model: &str, models: &state::Models) {
        let key = (connection.clone(), model.to_owned());
        if models.find(&key).is_none() {
            self.awaited = Some(key.clone());
        }
        self.selected = Some(key);
    }

    /// Requests per second of a version in its latest sample.
    pub fn latest_rate(&self, connection: &ConnectionId, model: &str, version: &str) -> u64 {
        self.traffic
            .get(&(connection.clone(), model.to_owned(), version.to_owned()))
            .and_then(|s| s.back())
            .map_or(0, |s| s.requests)
    }

    /// The action for a model file dropped on the tab: a new version of the shown model.
    fn dropped_file(&self, path: PathBuf, models: &state::Models) -> Option<ModelsAction> {
        let key = self.selected.as_ref()?;
        let view = models.find(key)?;
        Some(ModelsAction::Change(
            key.0.clone(),
            ModelChange::CreateVersion {
                model: key.1.clone(),
                version: next_version_name(view),
                path,
            },
        ))
    }

    /// Takes what concerns the tab from a backend update, after the snapshot `models`
    /// took its part.
    pub fn on_update(&mut self, update: &Update, models: &state::Models, backend: &Backend) {
        match update {
            Update::Models { connection, .. }
            | Update::Connection {
                connection,
                status: ConnectionStatus::Disconnected,
            } => self.listed(connection, models),
            Update::ServingMetrics {
                connection,
                model,
                version,
                metrics,
            } => self.add_metrics(
                connection.clone(),
                model.clone(),
                version.clone(),
                metrics.clone(),
            ),
            Update::ModelChanged {
                connection,
                change,
                result,
            } => {
                if let Some(key) = version_key(connection, change) {
                    match result {
                        Ok(_) => {
                            self.failed.remove(&key);
                        }
                        Err(message) => {
                            self.switching.remove(&key);
                            self.failed.insert(key, message.clone());
                        }
                    }
                }
            }
            Update::Picked {
                target: PickTarget::ModelFile(connection, model),
                path,
            } => {
                self.select(connection, model, models);
                if let Some(action) = self.dropped_file(path.clone(), models) {
                    self.carry_out(action, backend);
                }
            }
            _ => {}
        }
    }

    /// A file or folder dropped on the tab: a new version of the shown model, or what
    /// to do first.
    pub fn drop_path(
        &mut self,
        path: PathBuf,
        models: &state::Models,
        backend: &Backend,
    ) -> Option<Nav> {
        match self.dropped_file(path, models) {
            Some(action) => self.carry_out(action, backend),
            None => Some(Nav::Toast {
                text: "Create a model first, then drop its model file on it.".into(),
                error: true,
            }),
        }
    }

    /// Sends an action's request, or answers where it leads.
    fn carry_out(&mut self, action: ModelsAction, backend: &Backend) -> Option<Nav> {
        match action {
            ModelsAction::Change(connection, change) => {
                if let Some(key) = version_key(&connection, &change) {
                    self.failed.remove(&key);
                    if matches!(change, ModelChange::SetDefault { .. }) {
                        self.switching.insert(key);
                    }
                }
                backend.send(Request::ChangeModels { connection, change });
            }
            ModelsAction::PickVersionFile(connection, model) => backend.send(Request::PickPath {
                target: PickTarget::ModelFile(connection, model),
                folder: false,
            }),
            ModelsAction::PickVersionFolder(connection, model) => {
                backend.send(Request::PickPath {
                    target: PickTarget::ModelFile(connection, model),
                    folder: true,
                });
            }
            ModelsAction::Try {
                connection,
                model,
                version,
            } => {
                return Some(Nav::Try {
                    connection,
                    model,
                    version,
                });
            }
        }
        None
    }

    /// Draws the tab, sending its requests; answers where it leads.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        models: &state::Models,
        connections: &Connections,
        backend: &Backend,
    ) -> Vec<Nav> {
        let actions = self.draw(ui, models, connections);
        actions
            .into_iter()
            .filter_map(|a| self.carry_out(a, backend))
            .collect()
    }

    fn draw(
        &mut self,
        ui: &mut Ui,
        models: &state::Models,
        connections: &Connections,
    ) -> Vec<ModelsAction> {
        let mut actions = Vec::new();
        egui::Panel::left("model_list")
            .resizable(true)
            .default_size(240.0)
            .show(ui, |ui| {
                self.model_list(ui, models, connections, &mut actions);
            });
        egui::CentralPanel::default().show(ui, |ui| {
            let dark = ui.visuals().dark_mode;
            for (id, error) in &models.errors {
                ui.colored_label(
                    theme::error_color(dark),
                    format!("{}: {error}", connections.name(id)),
                );
            }
            let shown = self.selected.as_ref().and_then(|k| models.find(k));
            match shown {
                Some(view) => self.model_detail(ui, view, models, connections, &mut actions),
                None => {
                    ui.add_space(40.0);
                    ui.vertical_centered(|ui| {
                        ui.heading("No models yet");
                        ui.label(
                            "Create a model on the left, then drop a model on it to add a version (a SavedModel folder, model.joblib, model.bst, model.onnx…).",
                        );
                    });
                }
            }
        });
        self.confirm_delete(ui.ctx(), &mut actions);
        actions
    }

    fn model_list(
        &mut self,
        ui: &mut Ui,
        models: &state::Models,
        connections: &Connections,
        actions: &mut Vec<ModelsAction>,
    ) {
        ui.heading("Models");
        let writable = connections.writable();
        if !writable
            .iter()
            .any(|c| Some(&c.id) == self.new_model_on.as_ref())
        {
            self.new_model_on = writable.first().map(|c| c.id.clone());
        }
        let label = ui.label("New model");
        if writable.len() > 1 {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("on").weak());
                for config in &writable {
                    let text = RichText::new(&config.name)
                        .color(theme::rgb(connections.color(&config.id)));
                    let on = self.new_model_on.as_ref() == Some(&config.id);
                    if ui.selectable_label(on, text).clicked() {
                        self.new_model_on = Some(config.id.clone());
                    }
                }
            });
        }
        ui.horizontal(|ui| {
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.new_model)
                        .hint_text("e.g. iris")
                        .desired_width(130.0),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let create = ui.add_enabled(
                self.new_model_on.is_some(),
                egui::Button::new("Create model"),
            );
            let create =
                create.on_disabled_hover_text("Every connection is read-only or disconnected");
            if create.clicked() || (enter && self.new_model_on.is_some()) {
                let name = self.new_model.trim().to_owned();
                let Some(on) = self.new_model_on.clone() else {
                    return;
                };
                match validate_resource_name("model name", &name) {
                    Ok(()) if models.find(&(on.clone(), name.clone())).is_some() => {
                        self.new_model_error = Some(format!("{name} already exists"));
                    }
                    Ok(()) => {
                        self.new_model_error = None;
                        self.new_model.clear();
                        self.select(&on, &name, models);
                        actions.push(ModelsAction::Change(on, ModelChange::CreateModel(name)));
                    }
                    Err(e) => self.new_model_error = Some(e),
                }
            }
        });
        if let Some(error) = &self.new_model_error {
            ui.colored_label(theme::error_color(ui.visuals().dark_mode), error);
        }
        ui.separator();
        let several = connections.list().len() > 1;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for view in &models.list {
                let name = view.model.short_name();
                let key = key_of(view);
                let default = view
                    .model
                    .default_version
                    .as_ref()
                    .map_or("no default".to_owned(), |v| v.short_name().to_owned());
                let count = view.versions.len();
                let plural = if count == 1 { "" } else { "s" };
                let mut text = egui::text::LayoutJob::default();
                if several {
                    text.append(
                        &format!("{}  ", connections.name(&view.connection)),
                        0.0,
                        egui::TextFormat::simple(
                            egui::FontId::proportional(11.0),
                            theme::rgb(connections.color(&view.connection)),
                        ),
                    );
                }
                text.append(
                    &format!("{name}   ({count} version{plural}, {default})"),
                    0.0,
                    egui::TextFormat::simple(
                        egui::FontId::proportional(14.0),
                        ui.visuals().text_color(),
                    ),
                );
                if ui
                    .selectable_label(self.selected.as_ref() == Some(&key), text)
                    .clicked()
                {
                    self.selected = Some(key);
                }
            }
        });
    }

    fn model_detail(
        &mut self,
        ui: &mut Ui,
        view: &ModelView,
        models: &state::Models,
        connections: &Connections,
        actions: &mut Vec<ModelsAction>,
    ) {
        let model = view.model.short_name().to_owned();
        let connection = view.connection.clone();
        let dark = ui.visuals().dark_mode;
        let writable = !connections.read_only(&connection);
        let refused = format!(
            "{} is read-only (change that in Connections, Ctrl+K)",
            connections.name(&connection)
        );
        let files_why_not = connections.capabilities(&connection).model_files.why_not();
        let files = files_why_not.is_none();
        ui.horizontal(|ui| {
            ui.heading(&model);
            if connections.list().len() > 1 {
                ui.label(
                    RichText::new(format!("on {}", connections.name(&connection)))
                        .color(theme::rgb(connections.color(&connection))),
                );
            }
            if let Some(t) = view.model.create_time {
                ui.label(RichText::new(format!("created {}", format::local_time(t))).weak());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui
                    .add_enabled(writable, egui::Button::new("Delete model"))
                    .on_disabled_hover_text(&refused)
                    .clicked()
                {
                    self.pending_delete =
                        Some(PendingDelete::Model(connection.clone(), model.clone()));
                }
                if files
                    && ui
                        .add_enabled(writable, egui::Button::new("Add version from file…"))
                        .on_hover_text("Pick a model file: model.joblib, model.pkl, model.bst, model.onnx… (or drop one on this tab)")
                        .on_disabled_hover_text(&refused)
                        .clicked()
                {
                    actions.push(ModelsAction::PickVersionFile(
                        connection.clone(),
                        model.clone(),
                    ));
                }
                if files
                    && ui
                        .add_enabled(writable, egui::Button::new("Add version from folder…"))
                        .on_hover_text("Pick a model folder: a TensorFlow SavedModel, or a folder holding model.joblib, model.bst, model.onnx… (or drop one on this tab)")
                        .on_disabled_hover_text(&refused)
                        .clicked()
                {
                    actions.push(ModelsAction::PickVersionFolder(
                        connection.clone(),
                        model.clone(),
                    ));
                }
            });
        });
        match files_why_not {
            None => {
                ui.label(
                    RichText::new(
                        "Drop a model here to add it as a new version: a SavedModel folder, model.joblib, model.pkl, model.bst or model.onnx.",
                    )
                    .weak(),
                );
            }
            Some(why) => self.artifact_field(ui, view, writable, why, actions),
        }
        if let Some(runtimes) = models.runtimes.get(&connection) {
            runtimes_line(ui, runtimes, dark);
        }
        ui.add_space(6.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            let refused = (!writable).then_some(refused.as_str());
            self.versions_table(ui, view, refused, actions, dark);
            ui.add_space(10.0);
            match connections
                .capabilities(&connection)
                .serving_metrics
                .why_not()
            {
                None => self.traffic_chart(ui, view),
                Some(why) => {
                    ui.label(RichText::new(why).weak());
                }
            }
            ui.add_space(10.0);
            default_history(ui, view, writable, actions);
        });
    }

    /// A `gs://` artifact folder and an Upload button, for platforms that take versions
    /// from Cloud Storage.
    fn artifact_field(
        &mut self,
        ui: &mut Ui,
        view: &ModelView,
        writable: bool,
        why: &str,
        actions: &mut Vec<ModelsAction>,
    ) {
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.artifact)
                    .hint_text("gs://bucket/path/to/model/")
                    .desired_width(360.0),
            );
            edit.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Artifact"));
            let version = next_version_name(view);
            let upload = ui
                .add_enabled(writable, egui::Button::new(format!("Upload as {version}")))
                .on_hover_text(why);
            if upload.clicked()
                || edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
            {
                let uri = self.artifact.trim();
                if uri.starts_with("gs://") && uri.len() > 5 {
                    actions.push(ModelsAction::Change(
                        view.connection.clone(),
                        ModelChange::CreateVersion {
                            model: view.model.short_name().to_owned(),
                            version,
                            path: PathBuf::from(uri),
                        },
                    ));
                    self.artifact.clear();
                    self.artifact_error = None;
                } else {
                    self.artifact_error = Some(format!("{why}; e.g. gs://my-bucket/churn/v2/"));
                }
            }
        });
        if let Some(error) = &self.artifact_error {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                format!("⚠ {error}"),
            );
        } else {
            ui.label(RichText::new(why).weak());
        }
    }

    /// `refused` says why changes are refused, on a read-only connection.
    fn versions_table(
        &mut self,
        ui: &mut Ui,
        view: &ModelView,
        refused: Option<&str>,
        actions: &mut Vec<ModelsAction>,
        dark: bool,
    ) {
        let model = view.model.short_name().to_owned();
        let connection = view.connection.clone();
        let refused = refused.unwrap_or_default();
        if view.versions.is_empty() {
            ui.label("No versions yet.");
            return;
        }
        // The signatures, whose width follows the model, go under the table: the rows
        // fit a 1280-pixel window and Try/Delete stay where they are.
        egui::Grid::new("versions")
            .striped(true)
            .num_columns(7)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for title in [
                    "Version", "State", "Runtime", "Replicas", "Traffic", "", "Created",
                ] {
                    ui.label(RichText::new(title).strong());
                }
                ui.end_row();
                for v in &view.versions {
                    self.version_row(ui, v, (&connection, &model), refused, actions);
                    ui.end_row();
                }
            });
        egui::CollapsingHeader::new("Inputs and outputs")
            .id_salt(("signatures", &model))
            .default_open(view.versions.len() <= 3)
            .show(ui, |ui| {
                for v in &view.versions {
                    ui.add(
                        egui::Label::new(format!(
                            "{}   in: {}   out: {}",
                            v.short_name(),
                            signature(&v.inputs),
                            signature(&v.outputs)
                        ))
                        .wrap(),
                    );
                }
            });
        if let Some(failed) = view
            .versions
            .iter()
            .find(|v| v.state == VersionState::Failed)
        {
            ui.colored_label(
                theme::error_color(dark),
                format!(
                    "{} failed: {}",
                    failed.short_name(),
                    failed.error_message.as_deref().unwrap_or("no message")
                ),
            );
        }
    }

    /// One row of the versions table; `refused` says why changes are refused, empty
    /// when they are not.
    fn version_row(
        &mut self,
        ui: &mut Ui,
        v: &Version,
        (connection, model): (&ConnectionId, &str),
        refused: &str,
        actions: &mut Vec<ModelsAction>,
    ) {
        let writable = refused.is_empty();
        let dark = ui.visuals().dark_mode;
        let name = v.short_name().to_owned();
        ui.horizontal(|ui| {
            ui.label(RichText::new(&name).monospace());
            if v.is_default {
                default_badge(ui);
            }
        });
        match &v.progress {
            Some(progress) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(progress);
                });
            }
            None => {
                let state = ui.colored_label(state_color(v.state, dark), v.state.as_str());
                if let Some(message) = &v.error_message {
                    state.on_hover_text(message);
                }
            }
        }
        // A serving container image (Vertex AI) shows by its last part.
        let runtime = v.runtime.as_deref().unwrap_or(&v.framework);
        // The framework's own runtime shows by name; its interpreter on hover.
        let shown = match runtime.split_once(" in Python ") {
            Some((framework, _)) => framework,
            None => runtime.rsplit('/').next().unwrap_or(runtime),
        };
        let runtime_label = ui.label(shown);
        runtime_label.on_hover_text(match &v.requested_runtime {
            Some(asked) => format!("{} model; asked for {asked}", v.framework),
            None if shown.len() < runtime.len() && !runtime.contains("://") => {
                format!("{} model served by {runtime}", framework_name(&v.framework))
            }
            None if runtime.contains('/') => format!("{} model served by {runtime}", v.framework),
            None => format!(
                "{} model; runtime picked by the platform (ONNX Runtime where it has it)",
                v.framework
            ),
        });
        ui.label(replicas_text(v));
        if v.traffic.is_empty() && v.platform_id.is_some() {
            // A platform that routes through endpoints: this version is on none.
            ui.label(RichText::new("not on an endpoint").weak());
        } else if v.traffic.is_empty() {
            let key = (connection.clone(), model.to_owned(), name.clone());
            let (total, errors) = self.totals.get(&key).copied().unwrap_or_default();
            ui.label(format!(
                "{} req/s · {total} total{}",
                self.latest_rate(connection, model, &name),
                if errors > 0 {
                    format!(" · {errors} errors")
                } else {
                    String::new()
                }
            ));
        } else {
            ui.label(endpoint_traffic_text(v));
        }
        ui.horizontal(|ui| {
            let ready = v.state == VersionState::Ready;
            let key = (connection.clone(), model.to_owned(), name.clone());
            if let Some(message) = self.failed.get(&key) {
                let short: String = message.chars().take(48).collect();
                ui.colored_label(theme::error_color(dark), format!("⚠ {short}"))
                    .on_hover_text(message);
            }
            if self.switching.contains(&key) {
                ui.spinner();
                ui.label("switching…");
            } else if !v.is_default
                && ui
                    .add_enabled(ready && writable, egui::Button::new("Make default"))
                    .on_hover_text("Send the model's traffic to this version")
                    .on_disabled_hover_text(if writable { "Not ready yet" } else { refused })
                    .clicked()
            {
                actions.push(ModelsAction::Change(
                    connection.clone(),
                    ModelChange::SetDefault {
                        model: model.to_owned(),
                        version: name.clone(),
                    },
                ));
            }
            if ui.add_enabled(ready, egui::Button::new("Try")).clicked() {
                actions.push(ModelsAction::Try {
                    connection: connection.clone(),
                    model: model.to_owned(),
                    version: Some(name.clone()),
                });
            }
            if ui
                .add_enabled(writable, egui::Button::new("Delete"))
                .on_disabled_hover_text(refused)
                .clicked()
            {
                self.pending_delete = Some(PendingDelete::Version(
                    connection.clone(),
                    model.to_owned(),
                    name.clone(),
                ));
            }
        });
        ui.label(v.create_time.map(format::local_time).unwrap_or_default());
    }

    fn traffic_chart(&self, ui: &mut Ui, view: &ModelView) {
        ui.label(RichText::new("Traffic (requests per second)").strong());
        let model = view.model.short_name();
        let key = |v: &Version| {
            (
                view.connection.clone(),
                model.to_owned(),
                v.short_name().to_owned(),
            )
        };
        let now = Utc::now();
        let peak = view
            .versions
            .iter()
            .filter_map(|v| self.traffic.get(&key(v)))
            .flatten()
            .map(|s| s.requests)
            .max()
            .unwrap_or(0);
        Plot::new(("traffic", view.connection.as_str(), model))
            .include_y(peak.max(1) as f64 * 1.1)
            .height(180.0)
            .legend(Legend::default())
            .allow_scroll(false)
            .x_axis_label("seconds ago")
            .include_y(0.0)
            .include_x(-(TRAFFIC_WINDOW as f64))
            .include_x(0.0)
            .show(ui, |plot| {
                for (index, v) in view.versions.iter().enumerate() {
                    let Some(series) = self.traffic.get(&key(v)) else {
                        continue;
                    };
                    let points: PlotPoints = series
                        .iter()
                        .map(|s| {
                            let ago = (s.time - now).num_milliseconds() as f64 / 1000.0;
                            [ago, s.requests as f64]
                        })
                        .collect();
                    plot.line(
                        Line::new(v.short_name().to_owned(), points)
                            .color(theme::series_color(index)),
                    );
                }
            });
    }

    fn confirm_delete(&mut self, ctx: &egui::Context, actions: &mut Vec<ModelsAction>) {
        let Some(pending) = self.pending_delete.clone() else {
            return;
        };
        let what = match &pending {
            PendingDelete::Model(_, m) => format!("model {m}"),
            PendingDelete::Version(_, m, v) => format!("version {v} of model {m}"),
        };
        egui::Modal::new(egui::Id::unique("confirm_delete_model")).show(ctx, |ui| {
            ui.heading(format!("Delete {what}?"));
            ui.label("This cannot be undone. Its files on the platform are removed.");
            ui.horizontal(|ui| {
                if ui.button(format!("Delete {what}")).clicked() {
                    actions.push(match pending {
                        PendingDelete::Model(c, m) => {
                            ModelsAction::Change(c, ModelChange::DeleteModel(m))
                        }
                        PendingDelete::Version(c, model, version) => {
                            ModelsAction::Change(c, ModelChange::DeleteVersion { model, version })
                        }
                    });
                    self.pending_delete = None;
                }
                if ui.button("Keep it").clicked() {
                    self.pending_delete = None;
                }
            });
        });
    }
}

fn default_history(ui: &mut Ui, view: &ModelView, writable: bool, actions: &mut Vec<ModelsAction>) {
    let history = &view.model.default_history;
    if history.is_empty() {
        return;
    }
    let model = view.model.short_name().to_owned();
    ui.label(RichText::new("Default history").strong());
    let current = view.model.default_version.as_ref().map(Version::short_name);
    // The previous default: the latest entry that is not the current default and still exists.
    let previous = history
        .iter()
        .rev()
        .map(|c| c.version.as_str())
        .find(|v| Some(*v) != current && view.versions.iter().any(|x| x.short_name() == *v));
    if let Some(previous) = previous
        && ui
            .add_enabled(
                writable,
                egui::Button::new(format!("Roll back to {previous}")),
            )
            .on_hover_text("Make the previous default the default again")
            .clicked()
    {
        actions.push(ModelsAction::Change(
            view.connection.clone(),
            ModelChange::SetDefault {
                model: model.clone(),
                version: previous.to_owned(),
            },
        ));
    }
    for change in history.iter().rev().take(20) {
        ui.label(format!(
            "{}   {} became the default",
            format::local_time(change.time),
            change.version
        ));
    }
}

/// The share of each endpoint's traffic a version gets, e.g. "100% of iris-endpoint".
fn endpoint_traffic_text(v: &Version) -> String {
    v.traffic
        .iter()
        .map(|t| {
            let name = if t.endpoint_name.is_empty() {
                &t.endpoint
            } else {
                &t.endpoint_name
            };
            format!("{}% of {name}", t.percent)
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The version a change is about, when it is about one.
fn version_key(connection: &ConnectionId, change: &ModelChange) -> Option<VersionKey> {
    match change {
        ModelChange::SetDefault { model, version }
        | ModelChange::DeleteVersion { model, version }
        | ModelChange::CreateVersion { model, version, .. }
        | ModelChange::DeployJob { model, version, .. } => {
            Some((connection.clone(), model.clone(), version.clone()))
        }
        ModelChange::CreateModel(_) | ModelChange::DeleteModel(_) => None,
    }
}

/// A version's framework in words (a custom prediction routine has none).
fn framework_name(framework: &str) -> &str {
    if framework.is_empty() {
        "custom prediction routine"
    } else {
        framework
    }
}

/// What serves a connection's models: "Serving with onnxruntime 1.32.0 (default), tract",
/// the library on hover; a warning when ONNX Runtime is missing.
fn runtimes_line(ui: &mut Ui, runtimes: &ServingRuntimes, dark: bool) {
    let names: Vec<String> = runtimes
        .runtimes
        .iter()
        .map(|r| {
            if r.default && runtimes.runtimes.len() > 1 {
                format!("{} (default)", r.label())
            } else {
                r.label()
            }
        })
        .collect();
    let details: Vec<String> = runtimes
        .runtimes
        .iter()
        .map(|r| match (&r.library, &r.found_by) {
            (Some(library), Some(how)) => format!("{}: {library} (found through {how})", r.label()),
            (None, Some(how)) => format!("{}: {how}", r.label()),
            _ => r.label(),
        })
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("Serving with {}", names.join(", "))).weak())
            .on_hover_text(details.join("\n"));
        if let Some(missing) = &runtimes.missing {
            ui.colored_label(
                theme::severity_color(crate::domain::Severity::Warning, dark),
                missing,
            );
        }
    });
}

fn default_badge(ui: &mut Ui) {
    let color = Color32::from_rgb(0x2e, 0x7d, 0x32);
    egui::Frame::new()
        .fill(color)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(5, 1))
        .show(ui, |ui| {
            ui.label(RichText::new("default").color(Color32::WHITE).small());
        });
}

fn state_color(state: VersionState, dark: bool) -> Color32 {
    use crate::domain::JobState;
    let job_state = match state {
        VersionState::Ready => JobState::Succeeded,
        VersionState::Creating => JobState::Running,
        VersionState::Failed => JobState::Failed,
        VersionState::Unknown => JobState::StateUnspecified,
    };
    theme::state_color(job_state, dark)
}

fn signature(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("{}: {} {}", s.name, s.dtype, s.shape_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn replicas_text(v: &Version) -> String {
    match (v.manual_scaling, v.auto_scaling) {
        (Some(m), _) => format!("{} (fixed {})", v.replicas, m.nodes),
        (None, Some(a)) => format!(
            "{} ({}–{})",
            v.replicas,
            a.min_nodes,
            a.max_nodes.map_or("auto".to_owned(), |m| m.to_string())
        ),
        (None, None) => format!("{} (0–auto)", v.replicas),
    }
}

fn key_of(view: &ModelView) -> ModelKey {
    (view.connection.clone(), view.model.short_name().to_owned())
}

/// `v1`, `v2`, …: the first free name after the model's versions.
pub fn next_version_name(view: &ModelView) -> String {
    (1..)
        .map(|n| format!("v{n}"))
        .find(|name| !view.versions.iter().any(|v| v.short_name() == name))
        .unwrap_or_else(|| "v1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Model;

    fn shop(default: &str) -> ModelView {
        let version = |name: &str| Version {
            name: name.into(),
            state: VersionState::Ready,
            is_default: name == default,
            ..Version::default()
        };
        ModelView {
            connection: ConnectionId::local(),
            model: Model {
                name: "shop".into(),
                ..Model::default()
            },
            versions: vec![version("v1"), version("v2")],
        }
    }

    #[test]
    fn a_default_switch_is_pending_until_listed_and_a_refusal_shows_on_its_row() {
        let backend = Backend::disconnected();
        let local = ConnectionId::local();
        let mut tab = ModelsTab::default();
        let mut models = state::Models::default();
        let list = |models: &mut state::Models, tab: &mut ModelsTab, default: &str| {
            let update = Update::Models {
                connection: ConnectionId::local(),
                models: vec![shop(default)],
            };
            models.on_update(&update);
            tab.on_update(&update, models, &Backend::disconnected());
        };
        list(&mut models, &mut tab, "v1");
        let change = ModelChange::SetDefault {
            model: "shop".into(),
            version: "v2".into(),
        };
        tab.carry_out(
            ModelsAction::Change(local.clone(), change.clone()),
            &backend,
        );
        let key = (local.clone(), "shop".to_owned(), "v2".to_owned());
        assert!(tab.switching.contains(&key), "the row shows a spinner");
        // The answer alone does not end it: the list showing the new default does.
        tab.on_update(
            &Update::ModelChanged {
                connection: local.clone(),
                change: change.clone(),
                result: Ok("v2 is now the default of shop.".into()),
            },
            &models,
            &backend,
        );
        assert!(tab.switching.contains(&key));
        list(&mut models, &mut tab, "v2");
        assert!(!tab.switching.contains(&key));

        // A refused change ends the spinner and puts the reason on the row.
        tab.carry_out(
            ModelsAction::Change(local.clone(), change.clone()),
            &backend,
        );
        tab.on_update(
            &Update::ModelChanged {
                connection: local,
                change,
                result: Err("version \"v2\" is FAILED".into()),
            },
            &models,
            &backend,
        );
        assert!(!tab.switching.contains(&key));
        assert_eq!(tab.failed[&key], "version \"v2\" is FAILED");
    }
}
