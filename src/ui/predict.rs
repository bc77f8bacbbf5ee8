//! The Predict tab, a playground for online prediction: pick a model and version, edit a
//! request (validated as you type against the model's inputs, or made from a template or
//! a dropped file), send it, and read the answer as JSON and as a table.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use egui::{RichText, Ui};
use serde_json::Value;

use super::format;
use super::models::ModelKey;
use super::nav::Nav;
use super::state::Snapshots;
use super::state::connections::Connections;
use super::theme;
use crate::backend::{Backend, ModelView, Request, SnippetKind, Update};
use crate::domain::predict::parse_request;
use crate::domain::{ConnectionId, Job, TensorSpec, Version, VersionState};

/// Requests kept in the history.
mod shapes;
mod target;

pub use self::shapes::template;
use self::shapes::{Table, table, table_ui};

const HISTORY: usize = 50;
/// Rows the answer table shows.
const TABLE_ROWS: usize = 200;

/// What the user asked for in the Predict tab.
#[derive(Debug, Clone, PartialEq)]
enum PredictAction {
    /// Send the request.
    Send {
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        body: String,
    },
    /// Send the request to two versions at once.
    Shadow {
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        /// The chosen version and the one compared with it.
        versions: [String; 2],
        body: String,
    },
    /// Make a version the model's default.
    MakeDefault {
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        version: String,
    },
    /// Put a snippet that sends this request on the clipboard.
    Copy {
        /// curl or Python.
        kind: SnippetKind,
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        body: String,
    },
    /// Run a dropped JSONL file as a batch prediction job.
    BatchJob {
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        file: PathBuf,
    },
    /// Run a batch prediction job over files in Cloud Storage.
    CloudBatchJob {
        /// The connection serving the model.
        connection: ConnectionId,
        model: String,
        /// A pinned version or `None` for the default.
        version: Option<String>,
        /// `gs://` JSONL files or globs.
        inputs: Vec<String>,
        /// The `gs://` prefix results go under.
        output: String,
    },
}

/// One request sent, kept for the history.
#[derive(Debug, Clone)]
struct Sent {
    time: DateTime<Utc>,
    target: String,
    body: String,
    outcome: String,
    ok: bool,
}

/// The Predict tab's state.
#[derive(Default)]
pub struct PredictTab {
    model: Option<ModelKey>,
    /// `None`: the model's default version.
    version: Option<String>,
    /// The request being edited.
    body: String,
    /// Counts changes of `body`, so that nothing compares or parses it in full per frame.
    body_revision: u64,
    /// The revision of the template last written into the editor by itself, and the
    /// version it is for.
    auto_body: (u64, String),
    /// What the request at a revision, for a version, was found to be.
    validated: Option<(u64, Option<String>, Result<usize, String>)>,
    in_flight: Option<Sent>,
    /// The last answer, pretty-printed, or the error.
    response: Option<Result<String, String>>,
    table: Option<Table>,
    took: Option<Duration>,
    history: Vec<Sent>,
    /// A JSONL file dropped last, which can run as a batch job.
    jsonl: Option<PathBuf>,
    /// `gs://` JSONL inputs and output prefix of a batch job, where the platform reads
    /// Cloud Storage, and what is wrong with them.
    cloud_inputs: String,
    cloud_output: String,
    cloud_error: Option<String>,
    /// What a dropped file turned into, or why it could not.
    file_note: Option<Result<String, String>>,
    /// Another version each request also goes to (shadow compare).
    shadow: Option<String>,
    shadow_answer: Option<shadow::ShadowAnswer>,
}

/// Requests longer than this are sent as they are but not shown in the editor: laying
/// out megabytes of text every frame would stall the UI.
pub const MAX_EDITABLE_BODY: usize = 256 * 1024;

impl PredictTab {
    /// Replaces the request.
    pub fn set_body(&mut self, body: String) {
        self.body = body;
        self.body_revision += 1;
    }

    /// Inputs and output prefix in Cloud Storage and a Run button, for platforms whose
    /// batch jobs read `gs://` files (a dropped local file cannot be).
    fn cloud_batch_row(
        &mut self,
        ui: &mut Ui,
        (connection, model): (&ConnectionId, &str),
        writable: bool,
        actions: &mut Vec<PredictAction>,
    ) {
        ui.horizontal(|ui| {
            ui.label("Batch job over");
            let inputs = ui.add(
                egui::TextEdit::singleline(&mut self.cloud_inputs)
                    .hint_text("gs://bucket/in/*.jsonl (several: spaces)")
                    .desired_width(260.0),
            );
            inputs.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Batch inputs"));
            ui.label("into");
            let output = ui.add(
                egui::TextEdit::singleline(&mut self.cloud_output)
                    .hint_text("gs://bucket/out/")
                    .desired_width(200.0),
            );
            output.widget_info(|| egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Batch output"));
            let run = ui
                .add_enabled(writable, egui::Button::new("Run batch job"))
                .on_disabled_hover_text("the connection is read-only");
            if run.clicked() {
                let inputs: Vec<String> = self
                    .cloud_inputs
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                let output = self.cloud_output.trim().to_owned();
                // The local engine takes buckets and its own absolute paths; the others
                // read Cloud Storage.
                let engine = connection.as_str() == ConnectionId::LOCAL;
                let taken = |p: &String| match crate::domain::bucket::BucketUrl::parse(p) {
                    Ok(url) => engine || url.kind == crate::domain::bucket::BucketKind::Gcs,
                    Err(_) => engine && std::path::Path::new(p).is_absolute(),
                };
                let refused = inputs.iter().chain([&output]).find(|p| !taken(p));
                match (inputs.is_empty(), refused) {
                    (true, _) => self.cloud_error = Some("give the JSONL files to predict".into()),
                    (false, Some(p)) if engine => {
                        self.cloud_error = Some(format!("{p:?}: give gs://, s3:// or absolute paths, e.g. gs://bucket/in/*.jsonl"));
                    }
                    (false, Some(p)) => {
                        self.cloud_error = Some(format!("{p:?}: batch jobs here read and write Cloud Storage, e.g. gs://bucket/in/*.jsonl"));
                    }
                    (false, None) => {
                        self.cloud_error = None;
                        actions.push(PredictAction::CloudBatchJob {
                            connection: connection.clone(),
                            model: model.to_owned(),
                            version: self.version.clone(),
                            inputs,
                            output,
                        });
                    }
                }
            }
        });
        if let Some(error) = &self.cloud_error {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                format!("⚠ {error}"),
            );
        }
    }

    /// Points the playground at a model and version.
    pub fn target(&mut self, connection: &ConnectionId, model: &str, version: Option<String>) {
        self.model = Some((connection.clone(), model.to_owned()));
        self.version = version;
    }

    /// Takes what concerns the playground from a backend update.
    pub fn on_update(&mut self, update: &Update) {
        match update {
            Update::Predicted { result, took } => self.answered(result.clone(), *took),
            Update::Shadowed {
                answers,
                comparison,
            } => self.shadowed(answers, comparison),
            Update::PredictFile { path, result } => self.file_loaded(path.clone(), result.clone()),
            _ => {}
        }
    }

    /// A file dropped on the tab: read by the backend into a request for the chosen
    /// version's inputs.
    pub fn drop_path(&self, path: PathBuf, models: &[ModelView], backend: &Backend) {
        let inputs = self.input_names(models);
        backend.send(Request::LoadPredictFile { path, inputs });
    }

    /// Records the answer to the request in flight.
    fn answered(&mut self, result: Result<String, String>, took: Duration) {
        self.took = Some(took);
        let mut sent = self.in_flight.take();
        match result {
            Ok(text) => {
                let parsed: Option<Value> = serde_json::from_str(&text).ok();
                self.table = parsed.as_ref().and_then(table);
                let pretty = parsed
                    .as_ref()
                    .and_then(|v| serde_json::to_string_pretty(v).ok())
                    .unwrap_or(text);
                if let Some(s) = &mut sent {
                    s.ok = true;
                    s.outcome = format!("OK in {:.1} ms", took.as_secs_f64() * 1000.0);
                }
                self.response = Some(Ok(pretty));
            }
            Err(message) => {
                self.table = None;
                if let Some(s) = &mut sent {
                    s.outcome = message.clone();
                }
                self.response = Some(Err(message));
            }
        }
        if let Some(s) = sent {
            self.history.insert(0, s);
            self.history.truncate(HISTORY);
        }
    }

    /// Loads a request made from a dropped file.
    fn file_loaded(&mut self, file: PathBuf, result: Result<(String, usize), String>) {
        match result {
            Ok((body, count)) => {
                let name = file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                self.file_note = Some(Ok(format!("{count} instances from {name}")));
                self.set_body(body);
                let jsonl = file
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("jsonl"));
                self.jsonl = jsonl.then_some(file);
            }
            Err(message) => self.file_note = Some(Err(message)),
        }
    }

    /// Input names of the chosen version, for turning dropped CSV headers into objects.
    fn input_names(&self, models: &[ModelView]) -> Vec<String> {
        self.chosen(models)
            .map(|v| v.inputs.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default()
    }

    fn view<'a>(&self, models: &'a [ModelView]) -> Option<&'a ModelView> {
        let (connection, model) = self.model.as_ref()?;
        models
            .iter()
            .find(|m| &m.connection == connection && m.model.short_name() == model)
    }

    fn chosen<'a>(&self, models: &'a [ModelView]) -> Option<&'a Version> {
        let view = self.view(models)?;
        match &self.version {
            Some(v) => view.versions.iter().find(|x| x.short_name() == v),
            None => view.versions.iter().find(|x| x.is_default),
        }
    }

    /// Draws the tab and sends its requests.
    pub fn ui(&mut self, ui: &mut Ui, state: &Snapshots, backend: &Backend) -> Vec<Nav> {
        for action in self.draw(ui, &state.models.list, &state.connections) {
            backend.send(request_for(action));
        }
        Vec::new()
    }

    fn draw(
        &mut self,
        ui: &mut Ui,
        models: &[ModelView],
        connections: &Connections,
    ) -> Vec<PredictAction> {
        let mut actions = Vec::new();
        if self.view(models).is_none() {
            self.model = models
                .first()
                .map(|m| (m.connection.clone(), m.model.short_name().to_owned()));
            self.version = None;
        }
        let Some(model) = self.model.clone() else {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.heading("No models to try yet");
                ui.label("Create a model and a version in the Models tab first.");
            });
            return actions;
        };
        let chosen = self.chosen(models).cloned();
        // An empty editor, or one still holding another model's template, starts from
        // the chosen model's template.
        let empty = self.body.len() < 64 && self.body.trim().is_empty();
        if (empty || self.auto_body.0 == self.body_revision)
            && let Some(v) = chosen.as_ref().filter(|v| !v.inputs.is_empty())
            && (empty || self.auto_body.1 != v.name)
        {
            self.set_body(template(&v.inputs));
            self.auto_body = (self.body_revision, v.name.clone());
        }
        self.target_bar(
            ui,
            models,
            connections,
            &model,
            chosen.as_ref(),
            &mut actions,
        );
        ui.separator();
        self.validate(chosen.as_ref());
        let dark = ui.visuals().dark_mode;
        egui::Panel::bottom("predict_history")
            .resizable(true)
            .default_size(140.0)
            .show(ui, |ui| self.history_ui(ui));
        ui.columns(2, |cols| {
            self.editor(&mut cols[0], dark);
            if self.shadow.is_some() {
                self.shadow_ui(&mut cols[1], dark, &model, &mut actions);
            } else {
                self.answer(&mut cols[1], dark);
            }
        });
        actions
    }

    /// Checks the request against the chosen version's inputs, when either changed.
    fn validate(&mut self, chosen: Option<&Version>) {
        let version = chosen.map(|v| v.name.clone());
        if self
            .validated
            .as_ref()
            .is_some_and(|(revision, v, _)| *revision == self.body_revision && *v == version)
        {
            return;
        }
        let result = match chosen {
            None => Err("this model has no default version yet".to_owned()),
            Some(v) if v.state != VersionState::Ready => Err(format!(
                "version {} is {}",
                v.short_name(),
                v.state.as_str()
            )),
            Some(v) => parse_request(self.body.as_bytes(), &v.inputs)
                .map(|batches| batches.iter().map(|b| b.instances).sum()),
        };
        self.validated = Some((self.body_revision, version, result));
    }

    fn editor(&mut self, ui: &mut Ui, dark: bool) {
        let label = ui.label(RichText::new("Request").strong());
        match &self.validated {
            Some((_, _, Ok(n))) => {
                ui.colored_label(
                    theme::state_color(crate::domain::JobState::Succeeded, dark),
                    format!("Valid: {n} instance{}", if *n == 1 { "" } else { "s" }),
                );
            }
            Some((_, _, Err(e))) => {
                ui.colored_label(theme::error_color(dark), e);
            }
            None => {}
        }
        if let Some(note) = &self.file_note {
            match note {
                Ok(text) => ui.label(RichText::new(text).weak()),
                Err(text) => ui.colored_label(theme::error_color(dark), text),
            };
        }
        if self.body.len() > MAX_EDITABLE_BODY {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "A request of {:.1} MB: too large to edit here; Send sends it as it is.",
                    self.body.len() as f64 / 1e6
                ));
                if ui.button("Clear").clicked() {
                    self.set_body(String::new());
                }
            });
            return;
        }
        let mut changed = false;
        egui::ScrollArea::vertical()
            .id_salt("request_editor")
            .show(ui, |ui| {
                changed = ui
                    .add(
                        egui::TextEdit::multiline(&mut self.body)
                            .code_editor()
                            .desired_width(f32::INFINITY)
                            .desired_rows(18)
                            .hint_text(
                                "{\"instances\": [...]}\nor drop a JSON, JSONL, CSV or image file here",
                            ),
                    )
                    .labelled_by(label.id)
                    .changed();
            });
        if changed {
            self.body_revision += 1;
        }
    }

    fn answer(&mut self, ui: &mut Ui, dark: bool) {
        let heading = ui.horizontal(|ui| {
            let heading = ui.label(RichText::new("Response").strong());
            if let Some(took) = self.took {
                ui.label(format!("{:.1} ms", took.as_secs_f64() * 1000.0));
            }
            heading
        });
        match &self.response {
            None => {
                ui.label(RichText::new("Send a request to see the answer here.").weak());
            }
            Some(Err(message)) => {
                ui.colored_label(theme::error_color(dark), message);
            }
            Some(Ok(pretty)) => {
                egui::ScrollArea::vertical()
                    .id_salt("response")
                    .show(ui, |ui| {
                        if let Some(table) = &self.table {
                            table_ui(ui, table);
                            ui.separator();
                        }
                        let mut text = pretty.as_str();
                        ui.add(
                            egui::TextEdit::multiline(&mut text)
                                .code_editor()
                                .desired_width(f32::INFINITY),
                        )
                        .labelled_by(heading.inner.id);
                    });
            }
        }
    }

    fn history_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new("History").strong());
        let dark = ui.visuals().dark_mode;
        let mut restore = None;
        egui::ScrollArea::vertical()
            .id_salt("predict_history_list")
            .show(ui, |ui| {
                for (index, sent) in self.history.iter().enumerate() {
                    ui.horizontal(|ui| {
                        ui.label(format::local_time(sent.time));
                        ui.label(RichText::new(&sent.target).monospace());
                        let color = if sent.ok {
                            ui.visuals().text_color()
                        } else {
                            theme::error_color(dark)
                        };
                        ui.colored_label(color, &sent.outcome);
                        if ui.small_button("Edit again").clicked() {
                            restore = Some(index);
                        }
                    });
                }
            });
        if let Some(index) = restore {
            self.set_body(self.history[index].body.clone());
        }
    }
}

fn specs_text(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("{} {} {}", s.name, s.dtype, s.shape_text()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The backend request that carries out an action.
fn request_for(action: PredictAction) -> Request {
    match action {
        PredictAction::Send {
            connection,
            model,
            version,
            body,
        } => Request::Predict {
            connection,
            model,
            version,
            body,
        },
        PredictAction::Shadow {
            connection,
            model,
            versions,
            body,
        } => Request::ShadowPredict {
            connection,
            model,
            versions,
            body,
        },
        PredictAction::MakeDefault {
            connection,
            model,
            version,
        } => Request::ChangeModels {
            connection,
            change: crate::backend::ModelChange::SetDefault { model, version },
        },
        PredictAction::Copy {
            kind,
            connection,
            model,
            version,
            body,
        } => Request::CopySnippet {
            connection,
            kind,
            model,
            version,
            body,
        },
        PredictAction::BatchJob {
            connection,
            model,
            version,
            file,
        } => Request::SubmitJob {
            connection,
            job: Box::new(Job::batch_prediction_of_file(
                &model,
                version.as_deref(),
                &file,
            )),
        },
        PredictAction::CloudBatchJob {
            connection,
            model,
            version,
            inputs,
            output,
        } => Request::SubmitJob {
            connection,
            job: Box::new(Job::batch_prediction(
                &model,
                version.as_deref(),
                inputs,
                output,
            )),
        },
    }
}

mod shadow;

#[cfg(test)]
mod tests;
