//! The Models tab: models with their versions (state, default badge, signature,
//! replicas, live traffic), one-click default switch and rollback, create and delete.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use chrono::Utc;
use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::format;
use super::theme;
use crate::backend::{ModelChange, ModelView};
use crate::domain::model::validate_resource_name;
use crate::domain::{ServingMetrics, ServingSample, TensorSpec, Version, VersionState};

/// Seconds of traffic the chart shows.
const TRAFFIC_WINDOW: usize = 300;

/// What the user asked for in the Models tab.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelsAction {
    /// Change models or versions.
    Change(ModelChange),
    /// Pick a model file for a new version of this model.
    PickVersionFile(String),
    /// Open the Predict tab on this model and version.
    Try {
        /// The model.
        model: String,
        /// The version, `None` for the default.
        version: Option<String>,
    },
}

/// Something waiting for the user to confirm a delete.
#[derive(Debug, Clone, PartialEq)]
enum PendingDelete {
    Model(String),
    Version(String, String),
}

/// The Models tab's state.
#[derive(Default)]
pub struct ModelsTab {
    /// Every model as last synced.
    pub models: Vec<ModelView>,
    /// Why the last sync failed.
    pub error: Option<String>,
    traffic: HashMap<(String, String), VecDeque<ServingSample>>,
    totals: HashMap<(String, String), (u64, u64)>,
    selected: Option<String>,
    /// A model selected before it exists (just created or deployed to).
    awaited: Option<String>,
    new_model: String,
    new_model_error: Option<String>,
    pending_delete: Option<PendingDelete>,
}

impl ModelsTab {
    /// Replaces the models with a fresh sync.
    pub fn set_models(&mut self, models: Vec<ModelView>) {
        self.error = None;
        self.models = models;
        let listed = |name: &String| self.models.iter().any(|m| m.model.short_name() == name);
        if self.awaited.as_ref().is_some_and(listed) {
            self.awaited = None;
        }
        // A model just asked for stays shown until a sync brings it.
        let keep = self.selected.as_ref().is_some_and(listed)
            || (self.awaited.is_some() && self.awaited == self.selected);
        if !keep {
            self.selected = self.models.first().map(|m| m.model.short_name().to_owned());
        }
    }

    /// Adds serving samples of a version.
    pub fn add_metrics(&mut self, model: String, version: String, metrics: ServingMetrics) {
        let key = (model, version);
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
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Shows a model, also one being created that the next syncs may not list yet.
    pub fn select(&mut self, model: &str) {
        self.selected = Some(model.to_owned());
        if !self.models.iter().any(|m| m.model.short_name() == model) {
            self.awaited = Some(model.to_owned());
        }
    }

    /// Requests per second of a version in its latest sample.
    pub fn latest_rate(&self, model: &str, version: &str) -> u64 {
        self.traffic
            .get(&(model.to_owned(), version.to_owned()))
            .and_then(|s| s.back())
            .map_or(0, |s| s.requests)
    }

    /// The action for a model file dropped on the tab: a new version of the shown model.
    pub fn dropped_file(&self, path: PathBuf) -> Option<ModelsAction> {
        let model = self.selected.as_ref()?;
        let view = self.models.iter().find(|m| m.model.short_name() == model)?;
        Some(ModelsAction::Change(ModelChange::CreateVersion {
            model: model.clone(),
            version: next_version_name(view),
            path,
        }))
    }

    /// Draws the tab.
    pub fn ui(&mut self, ui: &mut Ui) -> Vec<ModelsAction> {
        let mut actions = Vec::new();
        egui::Panel::left("model_list")
            .resizable(true)
            .default_size(220.0)
            .show(ui, |ui| self.model_list(ui, &mut actions));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(error) = &self.error {
                ui.colored_label(theme::error_color(ui.visuals().dark_mode), error);
            }
            let shown = self
                .selected
                .as_ref()
                .and_then(|s| self.models.iter().find(|m| m.model.short_name() == s))
                .cloned();
            match shown {
                Some(view) => self.model_detail(ui, &view, &mut actions),
                None => {
                    ui.add_space(40.0);
                    ui.vertical_centered(|ui| {
                        ui.heading("No models yet");
                        ui.label(
                            "Create a model on the left, then drop a model.onnx on it to add a version.",
                        );
                    });
                }
            }
        });
        self.confirm_delete(ui.ctx(), &mut actions);
        actions
    }

    fn model_list(&mut self, ui: &mut Ui, actions: &mut Vec<ModelsAction>) {
        ui.heading("Models");
        let label = ui.label("New model");
        ui.horizontal(|ui| {
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.new_model)
                        .hint_text("e.g. iris")
                        .desired_width(130.0),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if ui.button("Create model").clicked() || enter {
                let name = self.new_model.trim().to_owned();
                match validate_resource_name("model name", &name) {
                    Ok(()) if self.models.iter().any(|m| m.model.short_name() == name) => {
                        self.new_model_error = Some(format!("{name} already exists"));
                    }
                    Ok(()) => {
                        self.new_model_error = None;
                        self.new_model.clear();
                        self.select(&name);
                        actions.push(ModelsAction::Change(ModelChange::CreateModel(name)));
                    }
                    Err(e) => self.new_model_error = Some(e),
                }
            }
        });
        if let Some(error) = &self.new_model_error {
            ui.colored_label(theme::error_color(ui.visuals().dark_mode), error);
        }
        ui.separator();
        egui::ScrollArea::vertical().show(ui, |ui| {
            for view in &self.models {
                let name = view.model.short_name();
                let default = view
                    .model
                    .default_version
                    .as_ref()
                    .map_or("no default".to_owned(), |v| v.short_name().to_owned());
                let count = view.versions.len();
                let plural = if count == 1 { "" } else { "s" };
                let text = format!("{name}   ({count} version{plural}, {default})");
                if ui
                    .selectable_label(self.selected.as_deref() == Some(name), text)
                    .clicked()
                {
                    self.selected = Some(name.to_owned());
                }
            }
        });
    }

    fn model_detail(&mut self, ui: &mut Ui, view: &ModelView, actions: &mut Vec<ModelsAction>) {
        let model = view.model.short_name().to_owned();
        let dark = ui.visuals().dark_mode;
        ui.horizontal(|ui| {
            ui.heading(&model);
            if let Some(t) = view.model.create_time {
                ui.label(RichText::new(format!("created {}", format::local_time(t))).weak());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("Delete model").clicked() {
                    self.pending_delete = Some(PendingDelete::Model(model.clone()));
                }
                if ui
                    .button("Add version from file…")
                    .on_hover_text("Pick a model.onnx (or drop one on this tab)")
                    .clicked()
                {
                    actions.push(ModelsAction::PickVersionFile(model.clone()));
                }
            });
        });
        ui.label(
            RichText::new("Drop a model.onnx here to add it as a new version of this model.")
                .weak(),
        );
        ui.add_space(6.0);
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.versions_table(ui, view, actions, dark);
            ui.add_space(10.0);
            self.traffic_chart(ui, view);
            ui.add_space(10.0);
            default_history(ui, view, actions);
        });
    }

    fn versions_table(
        &mut self,
        ui: &mut Ui,
        view: &ModelView,
        actions: &mut Vec<ModelsAction>,
        dark: bool,
    ) {
        let model = view.model.short_name().to_owned();
        if view.versions.is_empty() {
            ui.label("No versions yet.");
            return;
        }
        egui::Grid::new("versions")
            .striped(true)
            .num_columns(9)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for title in [
                    "Version",
                    "State",
                    "Created",
                    "Framework",
                    "Inputs",
                    "Outputs",
                    "Replicas",
                    "Traffic",
                    "",
                ] {
                    ui.label(RichText::new(title).strong());
                }
                ui.end_row();
                for v in &view.versions {
                    let name = v.short_name().to_owned();
                    ui.horizontal(|ui| {
                        ui.label(RichText::new(&name).monospace());
                        if v.is_default {
                            default_badge(ui);
                        }
                    });
                    let state = ui.colored_label(state_color(v.state, dark), v.state.as_str());
                    if let Some(message) = &v.error_message {
                        state.on_hover_text(message);
                    }
                    ui.label(v.create_time.map(format::local_time).unwrap_or_default());
                    ui.label(&v.framework);
                    ui.label(signature(&v.inputs));
                    ui.label(signature(&v.outputs));
                    ui.label(replicas_text(v));
                    let (total, errors) = self
                        .totals
                        .get(&(model.clone(), name.clone()))
                        .copied()
                        .unwrap_or_default();
                    ui.label(format!(
                        "{} req/s · {total} total{}",
                        self.latest_rate(&model, &name),
                        if errors > 0 {
                            format!(" · {errors} errors")
                        } else {
                            String::new()
                        }
                    ));
                    ui.horizontal(|ui| {
                        let ready = v.state == VersionState::Ready;
                        if !v.is_default
                            && ui
                                .add_enabled(ready, egui::Button::new("Make default"))
                                .on_hover_text("Send the model's traffic to this version")
                                .clicked()
                        {
                            actions.push(ModelsAction::Change(ModelChange::SetDefault {
                                model: model.clone(),
                                version: name.clone(),
                            }));
                        }
                        if ui.add_enabled(ready, egui::Button::new("Try")).clicked() {
                            actions.push(ModelsAction::Try {
                                model: model.clone(),
                                version: Some(name.clone()),
                            });
                        }
                        if ui.button("Delete").clicked() {
                            self.pending_delete =
                                Some(PendingDelete::Version(model.clone(), name.clone()));
                        }
                    });
                    ui.end_row();
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

    fn traffic_chart(&self, ui: &mut Ui, view: &ModelView) {
        ui.label(RichText::new("Traffic (requests per second)").strong());
        let model = view.model.short_name();
        let now = Utc::now();
        let peak = view
            .versions
            .iter()
            .filter_map(|v| {
                self.traffic
                    .get(&(model.to_owned(), v.short_name().to_owned()))
            })
            .flatten()
            .map(|s| s.requests)
            .max()
            .unwrap_or(0);
        Plot::new(("traffic", model))
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
                    let Some(series) = self
                        .traffic
                        .get(&(model.to_owned(), v.short_name().to_owned()))
                    else {
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
            PendingDelete::Model(m) => format!("model {m}"),
            PendingDelete::Version(m, v) => format!("version {v} of model {m}"),
        };
        egui::Modal::new(egui::Id::unique("confirm_delete_model")).show(ctx, |ui| {
            ui.heading(format!("Delete {what}?"));
            ui.label("This cannot be undone. Its files in the engine's store are removed.");
            ui.horizontal(|ui| {
                if ui.button(format!("Delete {what}")).clicked() {
                    actions.push(ModelsAction::Change(match pending {
                        PendingDelete::Model(m) => ModelChange::DeleteModel(m),
                        PendingDelete::Version(model, version) => {
                            ModelChange::DeleteVersion { model, version }
                        }
                    }));
                    self.pending_delete = None;
                }
                if ui.button("Keep it").clicked() {
                    self.pending_delete = None;
                }
            });
        });
    }
}

fn default_history(ui: &mut Ui, view: &ModelView, actions: &mut Vec<ModelsAction>) {
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
            .button(format!("Roll back to {previous}"))
            .on_hover_text("Make the previous default the default again")
            .clicked()
    {
        actions.push(ModelsAction::Change(ModelChange::SetDefault {
            model: model.clone(),
            version: previous.to_owned(),
        }));
    }
    for change in history.iter().rev().take(20) {
        ui.label(format!(
            "{}   {} became the default",
            format::local_time(change.time),
            change.version
        ));
    }
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

/// `v1`, `v2`, …: the first free name after the model's versions.
pub fn next_version_name(view: &ModelView) -> String {
    (1..)
        .map(|n| format!("v{n}"))
        .find(|name| !view.versions.iter().any(|v| v.short_name() == name))
        .unwrap_or_else(|| "v1".to_owned())
}
