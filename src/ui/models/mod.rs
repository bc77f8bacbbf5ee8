//! The Models tab: models with their versions (state, default badge, signature,
//! replicas, live traffic), one-click default switch and rollback, create and delete.

mod list;
mod versions;

use self::versions::{default_history, runtimes_line};

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use egui::{RichText, Ui};

use super::format;
use super::nav::Nav;
use super::state::Snapshots;
use super::state::connections::Connections;
use super::state::models as state;
use super::theme;
use crate::backend::{
    Backend, ConnectionStatus, ModelChange, ModelView, PickTarget, Request, Update,
};
use crate::domain::{ConnectionId, ServingMetrics, ServingSample};

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
    /// Copy the command line that creates a copy of this version.
    CopyCommand(ConnectionId, String, Box<crate::domain::Version>),
    /// Open the Predict tab on this model and version.
    Try {
        /// The connection serving it.
        connection: ConnectionId,
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

    /// The model whose versions are shown.
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
            ModelsAction::CopyCommand(connection, model, version) => {
                backend.send(Request::CopyVersionCommand {
                    connection,
                    model,
                    version,
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
    pub fn ui(&mut self, ui: &mut Ui, state: &Snapshots, backend: &Backend) -> Vec<Nav> {
        let actions = self.draw(ui, &state.models, &state.connections);
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
                // The local engine fetches an artifact from a bucket too.
                if is_local_engine(view) {
                    self.artifact_field(
                        ui,
                        view,
                        writable,
                        "or give a gs:// or s3:// folder holding the artifact",
                        actions,
                    );
                }
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
        // Only the local engine fetches from S3; the others read Cloud Storage.
        let any_bucket = is_local_engine(view);
        ui.horizontal(|ui| {
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.artifact)
                    .hint_text(if any_bucket {
                        "gs://bucket/path/to/model/ or s3://…"
                    } else {
                        "gs://bucket/path/to/model/"
                    })
                    .desired_width(360.0),
            );
            edit.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Artifact"));
            let version = next_version_name(view);
            let upload = ui
                .add_enabled(
                    writable,
                    egui::Button::new(if any_bucket {
                        format!("Fetch as {version}")
                    } else {
                        format!("Upload as {version}")
                    }),
                )
                .on_hover_text(why);
            if upload.clicked()
                || edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter))
            {
                let uri = self.artifact.trim();
                let taken = crate::domain::bucket::BucketUrl::parse(uri)
                    .is_ok_and(|u| any_bucket || u.kind == crate::domain::bucket::BucketKind::Gcs);
                if taken {
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
mod tests;

/// True for the built-in local engine's models (it fetches `gs://` and `s3://` artifacts).
fn is_local_engine(view: &ModelView) -> bool {
    view.connection.as_str() == crate::domain::ConnectionId::LOCAL
}
