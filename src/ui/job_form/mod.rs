//! The New job form (also used to clone and resubmit a job), validated before sending:
//! the fields every platform takes (`common`), and those of Ray clusters (`cluster`) and
//! Vertex AI (`vertex`), each parsed apart from how it is drawn. Errors are kept by
//! [`Field`] and shown under their field.

mod cluster;
mod common;
mod tuning;
mod vertex;
mod widgets;

use std::collections::BTreeMap;

use egui::{RichText, Ui};

pub use self::cluster::ClusterFields;
pub use self::common::{CommonFields, JobKind};
pub use self::tuning::{ParameterRow, TuningFields};
pub use self::vertex::VertexFields;
pub use self::widgets::labeled_edit;
use super::state::connections::Connections;
use super::theme;
use crate::backend::{Backend, PickTarget, Request};
use crate::domain::{ConnectionConfig, ConnectionId, ConnectionKind, Job, JobField};

pub(crate) use crate::domain::JobPaths as Paths;

/// A field of the form, which errors are kept by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The job id box.
    JobId,
    /// The command line box (local engine).
    Command,
    /// The Python module box (`trainer.task`).
    Module,
    /// The packages of a module job.
    Packages,
    /// The trainer's arguments.
    Args,
    /// The working directory box.
    WorkingDir,
    /// The job directory box (where outputs and summaries go).
    JobDir,
    /// `KEY=VALUE` lines.
    Env,
    /// `key=value` pairs.
    Labels,
    /// pip requirements (Ray).
    Pip,
    /// CPUs reserved (Ray).
    Cpus,
    /// GPUs reserved (Ray).
    Gpus,
    /// Memory reserved (Ray).
    Memory,
    /// The image (Vertex AI).
    Image,
    /// Workers (Vertex AI).
    Workers,
    /// Accelerators (Vertex AI).
    Accelerator,
    /// The Tuning part (the study and its parameters).
    Tuning,
}

impl Field {
    /// The field that shows a validation error about `field` of the job.
    fn of(field: JobField) -> Field {
        match field {
            JobField::JobId => Field::JobId,
            JobField::Labels => Field::Labels,
            JobField::Module => Field::Module,
            JobField::Packages => Field::Packages,
            JobField::Args => Field::Args,
            JobField::Env => Field::Env,
            JobField::Resources => Field::Cpus,
            JobField::Pip => Field::Pip,
            JobField::Input | JobField::Command | JobField::Prediction => Field::Command,
            JobField::Tuning => Field::Tuning,
        }
    }
}

/// Errors by field.
pub type Errors = BTreeMap<Field, String>;

/// What the form asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum FormAction {
    /// Submit this job on this connection.
    Submit {
        connection: ConnectionId,
        job: Box<Job>,
    },
    /// Let the user pick a file or folder for a field.
    Pick {
        target: PickTarget,
        /// Pick a folder rather than a file.
        folder: bool,
    },
    /// Close the form.
    Close,
}

/// How the chosen connection takes jobs: which fields it has, and its paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// The embedded or another mlconsole engine: local paths, one process.
    Local,
    /// A Ray cluster: pip requirements and reserved resources too.
    Cluster,
    /// Vertex AI: an image, machines and accelerators; Cloud Storage paths.
    Vertex,
}

impl Platform {
    fn of(kind: &ConnectionKind) -> Platform {
        match kind {
            ConnectionKind::Local { .. } => Platform::Local,
            ConnectionKind::Ray { .. } => Platform::Cluster,
            ConnectionKind::Vertex { .. } => Platform::Vertex,
        }
    }

    fn paths(self) -> Paths {
        match self {
            Platform::Vertex => Paths::CloudStorage,
            Platform::Local | Platform::Cluster => Paths::Local,
        }
    }
}

/// The form: what was typed, per part, and the state of its submission.
#[derive(Debug, Clone)]
pub struct JobForm {
    /// The connection the job is submitted on.
    pub connection: ConnectionId,
    /// How that connection takes jobs.
    platform: Platform,
    /// The fields every platform takes.
    pub common: CommonFields,
    /// Ray's fields.
    pub cluster: ClusterFields,
    /// Vertex AI's fields.
    pub vertex: VertexFields,
    /// The study, when the job is a tuning job.
    pub tuning: TuningFields,
    /// Why the chosen connection takes no tuning jobs, if it does not.
    tuning_why_not: Option<&'static str>,
    /// Why the last attempt was refused, shown in the form.
    pub error: Option<String>,
    /// A submission is in flight.
    pub submitting: bool,
    errors: Errors,
}

impl JobForm {
    /// An empty form with a fresh job id.
    pub fn new() -> JobForm {
        JobForm {
            connection: ConnectionId::local(),
            platform: Platform::Local,
            common: CommonFields::new(),
            cluster: ClusterFields::default(),
            vertex: VertexFields::default(),
            tuning: TuningFields::default(),
            tuning_why_not: None,
            error: None,
            submitting: false,
            errors: Errors::new(),
        }
    }

    /// A form filled in from `job` of `connection`, with a new id, to resubmit it.
    pub fn cloned_from(connection: &ConnectionId, job: &Job) -> JobForm {
        let input = job.training_input.clone().unwrap_or_default();
        JobForm {
            connection: connection.clone(),
            common: CommonFields::from_job(job, &input),
            cluster: ClusterFields::from_input(&input),
            vertex: VertexFields::from_input(&input),
            tuning: TuningFields::from_input(&input),
            ..JobForm::new()
        }
    }

    /// Puts a picked path into its field.
    pub fn set_picked(&mut self, target: &PickTarget, path: &std::path::Path) {
        self.common.set_picked(target, path);
    }

    /// Builds the job, or says per field what is wrong.
    pub fn build(&self) -> Result<Job, Errors> {
        let mut errors = Errors::new();
        let (mut input, labels) = self.common.parse(self.platform.paths(), &mut errors);
        match self.platform {
            Platform::Cluster => self.cluster.parse(&mut input, &mut errors),
            Platform::Vertex => self.vertex.parse(&mut input, &mut errors),
            Platform::Local => {}
        }
        if self.tuning_why_not.is_none() {
            self.tuning.parse(&mut input, &mut errors);
        }
        let job = Job {
            job_id: self.common.job_id.trim().to_owned(),
            labels,
            training_input: Some(input),
            ..Job::default()
        };
        if let Err(invalid) = job.validate_submission() {
            errors
                .entry(Field::of(invalid.field))
                .or_insert(invalid.message);
        }
        if errors.is_empty() {
            Ok(job)
        } else {
            Err(errors)
        }
    }

    /// Draws the form, sending a submission or a path to pick; `false` once it is
    /// closed.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        connections: &Connections,
        backend: &Backend,
    ) -> bool {
        let mut open = true;
        self.tuning_why_not = connections.capabilities(&self.connection).tuning.why_not();
        for action in self.window(ctx, &connections.writable()) {
            match action {
                FormAction::Submit { connection, job } => {
                    backend.send(Request::SubmitJob { connection, job });
                }
                FormAction::Pick { target, folder } => {
                    backend.send(Request::PickPath { target, folder });
                }
                FormAction::Close => open = false,
            }
        }
        open
    }

    fn window(&mut self, ctx: &egui::Context, writable: &[&ConnectionConfig]) -> Vec<FormAction> {
        let mut actions = Vec::new();
        let mut open = true;
        if !writable.iter().any(|c| c.id == self.connection)
            && let Some(first) = writable.first()
        {
            self.connection = first.id.clone();
        }
        self.platform = writable
            .iter()
            .find(|c| c.id == self.connection)
            .map_or(Platform::Local, |c| Platform::of(&c.kind));
        egui::Window::new("New job")
            .open(&mut open)
            .collapsible(false)
            .resizable(true)
            .default_width(560.0)
            .show(ctx, |ui| {
                if writable.len() > 1 {
                    connection_picker(ui, &mut self.connection, writable);
                }
                self.fields(ui, &mut actions);
                self.buttons(ui, &mut actions);
            });
        if !open {
            actions.push(FormAction::Close);
        }
        actions
    }

    fn fields(&mut self, ui: &mut Ui, actions: &mut Vec<FormAction>) {
        let platform = self.platform;
        let errors = &self.errors;
        let (common, cluster, vertex) = (&mut self.common, &mut self.cluster, &mut self.vertex);
        let (tuning, why_not) = (&mut self.tuning, self.tuning_why_not);
        egui::Grid::new("job_form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                common.draw(ui, platform.paths(), errors, actions);
                match platform {
                    Platform::Vertex => vertex.draw(ui, errors),
                    Platform::Cluster => cluster.draw(ui, errors),
                    Platform::Local => {}
                }
                tuning.draw(ui, errors, why_not);
            });
    }

    fn buttons(&mut self, ui: &mut Ui, actions: &mut Vec<FormAction>) {
        if let Some(error) = &self.error {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                RichText::new(format!("The job was refused: {error}")),
            );
        }
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let submit = ui.add_enabled(!self.submitting, egui::Button::new("Submit"));
            if submit.on_hover_text("Ctrl+Enter").clicked()
                || ui.input(|i| i.modifiers.command && i.key_pressed(egui::Key::Enter))
            {
                match self.build() {
                    Ok(job) => {
                        self.errors.clear();
                        self.error = None;
                        self.submitting = true;
                        actions.push(FormAction::Submit {
                            connection: self.connection.clone(),
                            job: Box::new(job),
                        });
                    }
                    Err(errors) => self.errors = errors,
                }
            }
            if self.submitting {
                ui.spinner();
                ui.label("Submitting…");
            }
            if ui.button("Cancel").on_hover_text("Esc").clicked() {
                actions.push(FormAction::Close);
            }
        });
    }
}

impl Default for JobForm {
    fn default() -> Self {
        JobForm::new()
    }
}

/// A row of the connections a job can be submitted on, each in its colour.
fn connection_picker(ui: &mut Ui, chosen: &mut ConnectionId, writable: &[&ConnectionConfig]) {
    ui.horizontal(|ui| {
        ui.label("Submit on");
        for config in writable {
            let [r, g, b] = config.color;
            let text = RichText::new(&config.name).color(egui::Color32::from_rgb(r, g, b));
            if ui.selectable_label(*chosen == config.id, text).clicked() {
                *chosen = config.id.clone();
            }
        }
    });
    ui.separator();
}

#[cfg(test)]
mod tests;
