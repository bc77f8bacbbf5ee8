//! The fields every platform takes: the job id, what runs (a command or a Python
//! module from packages), arguments, folders, environment and labels. Paths are local
//! absolute paths, or `gs://` URIs where the platform reads Cloud Storage.

use std::collections::BTreeMap;

use egui::Ui;

use super::widgets::{error_row, labeled_edit, lines_edit, path_field};
use super::{Errors, Field, FormAction, Paths};
use crate::backend::PickTarget;
use crate::domain::{Job, TrainingInput};

/// Whether the job runs a command or a Python module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A program and its arguments.
    Command,
    /// `python -m module` from package folders.
    PythonModule,
}

/// What was typed in the fields every platform takes.
#[derive(Debug, Clone)]
pub struct CommonFields {
    /// The job's id, as typed (checked when submitted).
    pub job_id: String,
    /// Command or module.
    pub kind: JobKind,
    /// Program and arguments as a shell would split them (command jobs).
    pub command_line: String,
    /// Module name (module jobs).
    pub module: String,
    /// Package folders or URIs, one a line (module jobs).
    pub packages: String,
    /// Trainer arguments, shell-split.
    pub args: String,
    /// Working directory (optional).
    pub working_dir: String,
    /// Job directory (optional), passed as `--job-dir`.
    pub job_dir: String,
    /// `KEY=VALUE` lines.
    pub env: String,
    /// `key=value` pairs separated by commas or spaces.
    pub labels: String,
}

impl Default for CommonFields {
    fn default() -> Self {
        CommonFields::new()
    }
}

impl CommonFields {
    /// Empty fields with a fresh job id.
    pub fn new() -> CommonFields {
        CommonFields {
            job_id: format!("job_{}", chrono::Local::now().format("%Y%m%d_%H%M%S")),
            kind: JobKind::Command,
            command_line: String::new(),
            module: String::new(),
            packages: String::new(),
            args: String::new(),
            working_dir: String::new(),
            job_dir: String::new(),
            env: String::new(),
            labels: String::new(),
        }
    }

    /// The fields of `job`, to resubmit it.
    pub fn from_job(job: &Job, input: &TrainingInput) -> CommonFields {
        let join = |words: &[String]| {
            shlex::try_join(words.iter().map(String::as_str)).unwrap_or_default()
        };
        let pairs = |map: &BTreeMap<String, String>, sep: &str| {
            map.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(sep)
        };
        CommonFields {
            job_id: next_id(job.display_name.as_deref().unwrap_or(&job.job_id)),
            kind: if input.python_module.is_some() {
                JobKind::PythonModule
            } else {
                JobKind::Command
            },
            command_line: join(&input.command),
            module: input.python_module.clone().unwrap_or_default(),
            packages: input.package_uris.join("\n"),
            args: join(&input.args),
            working_dir: input.working_dir.clone().unwrap_or_default(),
            job_dir: input.job_dir.clone().unwrap_or_default(),
            env: pairs(&input.env, "\n"),
            labels: pairs(&job.labels, ", "),
        }
    }

    /// Puts a picked path into its field.
    pub fn set_picked(&mut self, target: &PickTarget, path: &std::path::Path) {
        let path = path.display().to_string();
        match target {
            PickTarget::Program => {
                let rest = shlex::split(&self.command_line).unwrap_or_default();
                let mut argv = vec![path];
                argv.extend(rest.into_iter().skip(1));
                self.command_line =
                    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_default();
            }
            PickTarget::Package => {
                if !self.packages.trim().is_empty() {
                    self.packages.push('\n');
                }
                self.packages.push_str(&path);
            }
            PickTarget::WorkingDir => self.working_dir = path,
            PickTarget::JobDir => self.job_dir = path,
            PickTarget::LogDir | PickTarget::ModelFile(..) | PickTarget::KeyFile => {} // not the form's
        }
    }

    /// The training input and labels these fields give; errors go by field. A command
    /// may be left out where `paths` runs images with their own entrypoint.
    pub fn parse(
        &self,
        paths: Paths,
        errors: &mut Errors,
    ) -> (TrainingInput, BTreeMap<String, String>) {
        let split = |field: Field, text: &str, errors: &mut Errors| {
            shlex::split(text).unwrap_or_else(|| {
                errors.insert(field, "a quote is not closed".into());
                Vec::new()
            })
        };
        let mut input = TrainingInput {
            args: split(Field::Args, &self.args, errors),
            ..TrainingInput::default()
        };
        match self.kind {
            JobKind::Command => {
                input.command = split(Field::Command, &self.command_line, errors);
                if input.command.is_empty()
                    && paths == Paths::Local
                    && !errors.contains_key(&Field::Command)
                {
                    errors.insert(
                        Field::Command,
                        "give the program to run, e.g. python3 train.py".into(),
                    );
                }
            }
            JobKind::PythonModule => {
                input.python_module = Some(self.module.trim().to_owned());
                input.package_uris = lines(&self.packages);
            }
        }
        input.working_dir = optional_dir(paths, Field::WorkingDir, &self.working_dir, errors);
        input.job_dir = optional_dir(paths, Field::JobDir, &self.job_dir, errors);
        for package in &input.package_uris {
            if let Err(message) = paths.check_package(package) {
                errors.insert(Field::Packages, message);
            }
        }
        for line in lines(&self.env) {
            match line.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    input.env.insert(k.trim().to_owned(), v.to_owned());
                }
                _ => {
                    errors.insert(Field::Env, format!("{line:?} is not KEY=VALUE"));
                }
            }
        }
        let mut labels = BTreeMap::new();
        for pair in self
            .labels
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some((k, v)) => {
                    labels.insert(k.to_owned(), v.to_owned());
                }
                None => {
                    errors.insert(Field::Labels, format!("{pair:?} is not key=value"));
                }
            }
        }
        (input, labels)
    }

    /// Draws the fields as grid rows.
    pub(super) fn draw(
        &mut self,
        ui: &mut Ui,
        paths: Paths,
        errors: &Errors,
        actions: &mut Vec<FormAction>,
    ) {
        ui.label("Job ID");
        labeled_edit(
            ui,
            &mut self.job_id,
            "Job ID",
            "letters, digits, underscores",
        );
        ui.end_row();
        error_row(ui, errors, Field::JobId);
        ui.label("Runs");
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.kind, JobKind::Command, "a command");
            ui.radio_value(&mut self.kind, JobKind::PythonModule, "a Python module");
        });
        ui.end_row();
        match self.kind {
            JobKind::Command => self.draw_command(ui, paths, errors, actions),
            JobKind::PythonModule => self.draw_module(ui, paths, errors, actions),
        }
        ui.label("Arguments");
        labeled_edit(ui, &mut self.args, "Arguments", "--learning-rate 0.01");
        ui.end_row();
        error_row(ui, errors, Field::Args);
        self.draw_dirs(ui, paths, errors, actions);
        ui.label("Environment");
        lines_edit(ui, &mut self.env, "KEY=VALUE, one a line");
        ui.end_row();
        error_row(ui, errors, Field::Env);
        ui.label("Labels");
        labeled_edit(ui, &mut self.labels, "Labels", "team=vision, sweep=lr");
        ui.end_row();
        error_row(ui, errors, Field::Labels);
    }

    fn draw_command(
        &mut self,
        ui: &mut Ui,
        paths: Paths,
        errors: &Errors,
        actions: &mut Vec<FormAction>,
    ) {
        ui.label("Command");
        if paths == Paths::Local {
            let pick = (PickTarget::Program, false, "Pick the script or program");
            path_field(
                ui,
                &mut self.command_line,
                "Command",
                "python3 train.py --epochs 3",
                pick,
                actions,
            );
        } else {
            // It runs inside the image, not on this machine.
            labeled_edit(
                ui,
                &mut self.command_line,
                "Command",
                "(optional: the image's entrypoint) python3 train.py",
            );
        }
        ui.end_row();
        error_row(ui, errors, Field::Command);
    }

    fn draw_module(
        &mut self,
        ui: &mut Ui,
        paths: Paths,
        errors: &Errors,
        actions: &mut Vec<FormAction>,
    ) {
        ui.label("Module");
        labeled_edit(ui, &mut self.module, "Module", "trainer.task");
        ui.end_row();
        error_row(ui, errors, Field::Module);
        ui.label("Packages");
        ui.horizontal(|ui| {
            let hint = match paths {
                Paths::Local => "/path/to/package (one a line)",
                Paths::CloudStorage => "gs://bucket/trainer-0.1.tar.gz (one a line)",
            };
            lines_edit(ui, &mut self.packages, hint);
            if paths == Paths::Local
                && ui
                    .button("📂")
                    .on_hover_text("Pick a package folder")
                    .clicked()
            {
                actions.push(FormAction::Pick {
                    target: PickTarget::Package,
                    folder: true,
                });
            }
        });
        ui.end_row();
        error_row(ui, errors, Field::Packages);
    }

    fn draw_dirs(
        &mut self,
        ui: &mut Ui,
        paths: Paths,
        errors: &Errors,
        actions: &mut Vec<FormAction>,
    ) {
        if paths == Paths::Local {
            ui.label("Working dir");
            let pick = (PickTarget::WorkingDir, true, "Pick the working directory");
            path_field(
                ui,
                &mut self.working_dir,
                "Working dir",
                "(optional) /abs/path",
                pick,
                actions,
            );
            ui.end_row();
            error_row(ui, errors, Field::WorkingDir);
        }
        ui.label("Job dir");
        if paths == Paths::Local {
            let pick = (PickTarget::JobDir, true, "Pick the job directory");
            path_field(
                ui,
                &mut self.job_dir,
                "Job dir",
                "(optional) passed as --job-dir",
                pick,
                actions,
            );
        } else {
            // A Cloud Storage prefix: nothing on this machine to pick.
            labeled_edit(
                ui,
                &mut self.job_dir,
                "Job dir",
                "(optional) gs://bucket/prefix, the job's base output dir",
            );
        }
        ui.end_row();
        error_row(ui, errors, Field::JobDir);
    }
}

/// A folder field: empty, or a path the platform's jobs can use.
fn optional_dir(paths: Paths, field: Field, text: &str, errors: &mut Errors) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Err(message) = paths.check_dir(text) {
        errors.insert(field, message);
    }
    Some(text.to_owned())
}

/// The non-empty lines of `text`, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

pub use crate::domain::job::next_id;
