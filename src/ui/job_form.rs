//! The New job form (also used to clone and resubmit a job), validated before sending.

use std::collections::BTreeMap;

use egui::{RichText, Ui};

use super::theme;
use crate::backend::{Backend, PickTarget, Request};
use crate::domain::{
    AcceleratorConfig, ConnectionConfig, ConnectionId, ConnectionKind, EntrypointResources, Job,
    ReplicaConfig, TrainingInput,
};

/// Whether the job runs a command or a Python module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A program and its arguments.
    Command,
    /// `python -m module` from package folders.
    PythonModule,
}

/// What the form asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum FormAction {
    /// Submit this job on a connection.
    Submit {
        /// Where it runs.
        connection: ConnectionId,
        /// The job.
        job: Box<Job>,
    },
    /// Open a picker for a field.
    Pick {
        /// The field.
        target: PickTarget,
        /// A folder rather than a file.
        folder: bool,
    },
    /// Close the form.
    Close,
}

/// The form's fields, as typed.
#[derive(Debug, Clone)]
pub struct JobForm {
    /// The connection the job is submitted on.
    pub connection: ConnectionId,
    /// The job id.
    pub job_id: String,
    /// Command or module.
    pub kind: JobKind,
    /// Program and arguments as a shell would split them (Command jobs).
    pub command_line: String,
    /// Module name (module jobs).
    pub module: String,
    /// Package folders, one a line (module jobs).
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
    /// pip requirements, one a line (cluster connections).
    pub pip: String,
    /// CPUs the entrypoint reserves (cluster connections).
    pub cpus: String,
    /// GPUs the entrypoint reserves (cluster connections).
    pub gpus: String,
    /// Memory the entrypoint reserves, e.g. `2GiB` (cluster connections).
    pub memory: String,
    /// The container image (command jobs) or prebuilt training image (module jobs),
    /// on Vertex AI.
    pub image: String,
    /// The machine type, e.g. `n1-standard-4` (Vertex AI).
    pub machine_type: String,
    /// Replicas beside the first (Vertex AI).
    pub workers: String,
    /// Accelerator type, e.g. `NVIDIA_TESLA_T4` (Vertex AI).
    pub accelerator: String,
    /// Accelerators per replica (Vertex AI).
    pub accelerator_count: String,
    /// The chosen connection is a cluster that takes the fields above.
    cluster: bool,
    /// The chosen connection is Vertex AI: images and machines, gs:// paths.
    vertex: bool,
    /// Why the last attempt was refused, shown in the form.
    pub error: Option<String>,
    /// A submission is in flight.
    pub submitting: bool,
    field_errors: BTreeMap<&'static str, String>,
}

impl JobForm {
    /// An empty form with a fresh job id.
    pub fn new() -> JobForm {
        JobForm {
            connection: ConnectionId::local(),
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
            pip: String::new(),
            cpus: String::new(),
            gpus: String::new(),
            memory: String::new(),
            image: String::new(),
            machine_type: String::new(),
            workers: String::new(),
            accelerator: String::new(),
            accelerator_count: String::new(),
            cluster: false,
            vertex: false,
            error: None,
            submitting: false,
            field_errors: BTreeMap::new(),
        }
    }

    /// A form filled in from `job` of `connection`, with a new id, to resubmit it.
    pub fn cloned_from(connection: &ConnectionId, job: &Job) -> JobForm {
        let mut form = JobForm::new();
        form.connection = connection.clone();
        form.job_id = next_id(&job.job_id);
        let input = job.training_input.clone().unwrap_or_default();
        form.kind = if input.python_module.is_some() {
            JobKind::PythonModule
        } else {
            JobKind::Command
        };
        form.command_line =
            shlex::try_join(input.command.iter().map(String::as_str)).unwrap_or_default();
        form.module = input.python_module.unwrap_or_default();
        form.packages = input.package_uris.join("\n");
        form.args = shlex::try_join(input.args.iter().map(String::as_str)).unwrap_or_default();
        form.working_dir = input.working_dir.unwrap_or_default();
        form.job_dir = input.job_dir.unwrap_or_default();
        form.env = input
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n");
        form.pip = input.pip_requirements.join("\n");
        if let Some(r) = input.resources {
            form.cpus = r.cpus.map(|v| v.to_string()).unwrap_or_default();
            form.gpus = r.gpus.map(|v| v.to_string()).unwrap_or_default();
            form.memory = r.memory_bytes.map(|v| v.to_string()).unwrap_or_default();
        }
        if let Some(config) = &input.master_config {
            form.image = config.image_uri.clone().unwrap_or_default();
            if let Some(accelerator) = &config.accelerator_config {
                form.accelerator = accelerator.kind.clone();
                form.accelerator_count = accelerator.count.to_string();
            }
        }
        form.machine_type = input.master_type.clone().unwrap_or_default();
        form.workers = input
            .worker_count
            .map(|w| w.to_string())
            .unwrap_or_default();
        if let Some(name) = &job.display_name {
            form.job_id = next_id(name);
        }
        form.labels = job
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        form
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

    /// Builds the job, or says per field what is wrong.
    #[expect(
        clippy::too_many_lines,
        reason = "the form's parsing, to split into one part per platform"
    )]
    pub fn build(&self) -> Result<Job, BTreeMap<&'static str, String>> {
        let mut errors = BTreeMap::new();
        let vertex = self.vertex;
        let split =
            |field: &'static str, text: &str, errors: &mut BTreeMap<&'static str, String>| {
                shlex::split(text).unwrap_or_else(|| {
                    errors.insert(field, "a quote is not closed".into());
                    Vec::new()
                })
            };
        let mut input = TrainingInput {
            args: split("args", &self.args, &mut errors),
            ..Default::default()
        };
        match self.kind {
            JobKind::Command => {
                input.command = split("command", &self.command_line, &mut errors);
                if input.command.is_empty() && !vertex && !errors.contains_key("command") {
                    errors.insert(
                        "command",
                        "give the program to run, e.g. python3 train.py".into(),
                    );
                }
            }
            JobKind::PythonModule => {
                input.python_module = Some(self.module.trim().to_owned());
                input.package_uris = self
                    .packages
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        let optional_path =
            |field: &'static str, text: &str, errors: &mut BTreeMap<&'static str, String>| {
                let text = text.trim();
                if text.is_empty() {
                    return None;
                }
                if vertex && !text.starts_with("gs://") {
                    errors.insert(
                        field,
                        "Vertex AI jobs write to Cloud Storage: give a gs:// prefix".into(),
                    );
                } else if !vertex && !std::path::Path::new(text).is_absolute() {
                    errors.insert(field, "must be an absolute path".into());
                }
                Some(text.to_owned())
            };
        input.working_dir = optional_path("working_dir", &self.working_dir, &mut errors);
        input.job_dir = optional_path("job_dir", &self.job_dir, &mut errors);
        for package in &input.package_uris {
            if vertex && !package.starts_with("gs://") {
                errors.insert(
                    "packages",
                    format!("{package:?}: give the gs:// URI of a built package (sdist or wheel)"),
                );
            } else if !vertex && !std::path::Path::new(package).is_absolute() {
                errors.insert("packages", format!("{package:?} must be an absolute path"));
            }
        }
        if vertex {
            self.vertex_fields(&mut input, &mut errors);
        }
        for line in self.env.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.split_once('=') {
                Some((k, v)) if !k.trim().is_empty() => {
                    input.env.insert(k.trim().to_owned(), v.to_owned());
                }
                _ => {
                    errors.insert("env", format!("{line:?} is not KEY=VALUE"));
                }
            }
        }
        if self.cluster {
            input.pip_requirements = self
                .pip
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            let number =
                |field: &'static str, text: &str, errors: &mut BTreeMap<&'static str, String>| {
                    let text = text.trim();
                    if text.is_empty() {
                        return None;
                    }
                    match text.parse::<f64>() {
                        Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                        _ => {
                            errors.insert(field, format!("{text:?} is not a number of 0 or more"));
                            None
                        }
                    }
                };
            let resources = EntrypointResources {
                cpus: number("cpus", &self.cpus, &mut errors),
                gpus: number("gpus", &self.gpus, &mut errors),
                memory_bytes: match parse_bytes(&self.memory) {
                    Ok(bytes) => bytes,
                    Err(message) => {
                        errors.insert("memory", message);
                        None
                    }
                },
            };
            if resources != EntrypointResources::default() {
                input.resources = Some(resources);
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
                    errors.insert("labels", format!("{pair:?} is not key=value"));
                }
            }
        }
        let job = Job {
            job_id: self.job_id.trim().to_owned(),
            labels,
            training_input: Some(input),
            ..Default::default()
        };
        if let Err(message) = job.validate_submission() {
            let field = if message.starts_with("jobId") {
                "job_id"
            } else if message.starts_with("label") {
                "labels"
            } else if message.contains("pythonModule") || message.contains("module") {
                "module"
            } else if message.contains("env") {
                "env"
            } else {
                "command"
            };
            errors.entry(field).or_insert(message);
        }
        if errors.is_empty() {
            Ok(job)
        } else {
            Err(errors)
        }
    }

    /// Puts the image, machine, workers and accelerators into `input`.
    fn vertex_fields(
        &self,
        input: &mut TrainingInput,
        errors: &mut BTreeMap<&'static str, String>,
    ) {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let image = text(&self.image);
        if image.is_none() {
            errors.insert(
                "image",
                "give the container image (for a command) or a prebuilt training image (for a Python module)".into(),
            );
        }
        let count =
            |field: &'static str, value: &str, errors: &mut BTreeMap<&'static str, String>| {
                let value = value.trim();
                if value.is_empty() {
                    return None;
                }
                value
                    .parse::<u32>()
                    .map_err(|_| {
                        errors.insert(field, format!("{value:?} is not a whole number"));
                    })
                    .ok()
            };
        let accelerator = match (
            text(&self.accelerator),
            count("accelerator", &self.accelerator_count, errors),
        ) {
            (Some(kind), n) => Some(AcceleratorConfig {
                count: n.unwrap_or(1),
                kind: kind.to_ascii_uppercase(),
            }),
            (None, Some(_)) => {
                errors.insert(
                    "accelerator",
                    "give the accelerator type, e.g. NVIDIA_TESLA_T4".into(),
                );
                None
            }
            (None, None) => None,
        };
        input.master_config = Some(ReplicaConfig {
            image_uri: image,
            accelerator_config: accelerator,
        });
        input.master_type = text(&self.machine_type);
        input.worker_count = count("workers", &self.workers, errors).filter(|w| *w > 0);
    }

    /// Draws the form in a window, offering the `writable` connections to submit on;
    /// returns what the user asked for.
    /// Draws the form, sending a submission or a path to pick; `false` once it is
    /// closed.
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        writable: &[&ConnectionConfig],
        backend: &Backend,
    ) -> bool {
        let mut open = true;
        for action in self.window(ctx, writable) {
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
        self.cluster = writable
            .iter()
            .any(|c| c.id == self.connection && matches!(c.kind, ConnectionKind::Ray { .. }));
        self.vertex = writable
            .iter()
            .any(|c| c.id == self.connection && matches!(c.kind, ConnectionKind::Vertex { .. }));
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
            });
        if !open {
            actions.push(FormAction::Close);
        }
        actions
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the form's fields, to split into one part per platform"
    )]
    fn fields(&mut self, ui: &mut Ui, actions: &mut Vec<FormAction>) {
        let dark = ui.visuals().dark_mode;
        let errors = self.field_errors.clone();
        let error_row = |ui: &mut Ui, field: &str| {
            if let Some(message) = errors.get(field) {
                ui.label("");
                ui.colored_label(theme::error_color(dark), format!("⚠ {message}"));
                ui.end_row();
            }
        };
        egui::Grid::new("job_form")
            .num_columns(2)
            .spacing([8.0, 6.0])
            .show(ui, |ui| {
                ui.label("Job ID");
                labeled_edit(
                    ui,
                    &mut self.job_id,
                    "Job ID",
                    "letters, digits, underscores",
                );
                ui.end_row();
                error_row(ui, "job_id");

                ui.label("Runs");
                ui.horizontal(|ui| {
                    ui.radio_value(&mut self.kind, JobKind::Command, "a command");
                    ui.radio_value(&mut self.kind, JobKind::PythonModule, "a Python module");
                });
                ui.end_row();
                match self.kind {
                    JobKind::Command => {
                        ui.label("Command");
                        if self.vertex {
                            // It runs inside the image, not on this machine.
                            labeled_edit(
                                ui,
                                &mut self.command_line,
                                "Command",
                                "(optional: the image's entrypoint) python3 train.py",
                            );
                        } else {
                            let pick = (PickTarget::Program, false, "Pick the script or program");
                            path_field(
                                ui,
                                &mut self.command_line,
                                "Command",
                                "python3 train.py --epochs 3",
                                pick,
                                actions,
                            );
                        }
                        ui.end_row();
                        error_row(ui, "command");
                    }
                    JobKind::PythonModule => {
                        ui.label("Module");
                        labeled_edit(ui, &mut self.module, "Module", "trainer.task");
                        ui.end_row();
                        error_row(ui, "module");
                        ui.label("Packages");
                        ui.horizontal(|ui| {
                            let hint = if self.vertex {
                                "gs://bucket/trainer-0.1.tar.gz (one a line)"
                            } else {
                                "/path/to/package (one a line)"
                            };
                            let edit = egui::TextEdit::multiline(&mut self.packages)
                                .desired_rows(2)
                                .hint_text(hint);
                            ui.add(edit);
                            if !self.vertex
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
                        error_row(ui, "packages");
                    }
                }
                ui.label("Arguments");
                labeled_edit(ui, &mut self.args, "Arguments", "--learning-rate 0.01");
                ui.end_row();
                error_row(ui, "args");

                if !self.vertex {
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
                    error_row(ui, "working_dir");
                }

                ui.label("Job dir");
                if self.vertex {
                    // A Cloud Storage prefix: nothing on this machine to pick.
                    labeled_edit(
                        ui,
                        &mut self.job_dir,
                        "Job dir",
                        "(optional) gs://bucket/prefix, the job's base output dir",
                    );
                } else {
                    let pick = (PickTarget::JobDir, true, "Pick the job directory");
                    path_field(
                        ui,
                        &mut self.job_dir,
                        "Job dir",
                        "(optional) passed as --job-dir",
                        pick,
                        actions,
                    );
                }
                ui.end_row();
                error_row(ui, "job_dir");

                ui.label("Environment");
                ui.add(
                    egui::TextEdit::multiline(&mut self.env)
                        .desired_rows(2)
                        .hint_text("KEY=VALUE, one a line"),
                );
                ui.end_row();
                error_row(ui, "env");

                ui.label("Labels");
                labeled_edit(ui, &mut self.labels, "Labels", "team=vision, sweep=lr");
                ui.end_row();
                error_row(ui, "labels");
                if self.vertex {
                    ui.label("Image");
                    labeled_edit(
                        ui,
                        &mut self.image,
                        "Image",
                        "us-docker.pkg.dev/my-project/trainers/mnist:1",
                    );
                    ui.end_row();
                    error_row(ui, "image");
                    ui.label("Machine");
                    ui.horizontal(|ui| {
                        labeled_edit(ui, &mut self.machine_type, "Machine type", "n1-standard-4");
                        small_edit(ui, &mut self.workers, "Workers", "workers");
                    });
                    ui.end_row();
                    error_row(ui, "workers");
                    ui.label("Accelerator");
                    ui.horizontal(|ui| {
                        labeled_edit(
                            ui,
                            &mut self.accelerator,
                            "Accelerator",
                            "(none) e.g. NVIDIA_TESLA_T4",
                        );
                        small_edit(ui, &mut self.accelerator_count, "Accelerators", "count");
                    });
                    ui.end_row();
                    error_row(ui, "accelerator");
                }
                if self.cluster {
                    ui.label("pip");
                    ui.add(
                        egui::TextEdit::multiline(&mut self.pip)
                            .desired_rows(2)
                            .hint_text("requirements installed for this job, one a line"),
                    );
                    ui.end_row();
                    ui.label("Reserves");
                    ui.horizontal(|ui| {
                        small_edit(ui, &mut self.cpus, "CPUs", "CPUs");
                        small_edit(ui, &mut self.gpus, "GPUs", "GPUs");
                        small_edit(ui, &mut self.memory, "Memory", "e.g. 2GiB");
                    });
                    ui.end_row();
                    error_row(ui, "cpus");
                    error_row(ui, "gpus");
                    error_row(ui, "memory");
                }
            });
        if let Some(error) = &self.error {
            ui.colored_label(
                theme::error_color(dark),
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
                        self.field_errors.clear();
                        self.error = None;
                        self.submitting = true;
                        actions.push(FormAction::Submit {
                            connection: self.connection.clone(),
                            job: Box::new(job),
                        });
                    }
                    Err(errors) => self.field_errors = errors,
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

/// A single-line path field with a 📂 button that asks for a picker:
/// `pick` is (target, pick a folder, tooltip).
fn path_field(
    ui: &mut Ui,
    text: &mut String,
    label: &str,
    hint: &str,
    (target, folder, tooltip): (PickTarget, bool, &str),
    actions: &mut Vec<FormAction>,
) {
    ui.horizontal(|ui| {
        labeled_edit(ui, text, label, hint);
        if ui.button("📂").on_hover_text(tooltip).clicked() {
            actions.push(FormAction::Pick { target, folder });
        }
    });
}

/// A narrow text field named `label` for screen readers and tests.
fn small_edit(ui: &mut Ui, text: &mut String, label: &str, hint: &str) {
    let response = ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(70.0),
    );
    let label = label.to_owned();
    response.widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, &label));
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

/// A single-line field whose accessible label is `label`.
pub(super) fn labeled_edit(
    ui: &mut Ui,
    text: &mut String,
    label: &str,
    hint: &str,
) -> egui::Response {
    let response = ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(380.0),
    );
    let label = label.to_owned();
    response.widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, &label));
    response
}

/// Bytes from `2GiB`, `512 MiB`, `1.5GB` or a plain number; `None` when empty.
fn parse_bytes(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{text:?}: give bytes, or a size such as 512MiB or 2GiB"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some((n * scale).round() as u64)),
        _ => Err(format!(
            "{text:?}: give bytes, or a size such as 512MiB or 2GiB"
        )),
    }
}

/// `train_3` → `train_4`; `train` → `train_2`.
fn next_id(id: &str) -> String {
    match id.rsplit_once('_') {
        Some((stem, n))
            if !n.is_empty() && n.len() < 6 && n.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{stem}_{}", n.parse::<u64>().unwrap_or(0) + 1)
        }
        _ => format!("{id}_2"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloned_job_builds_back_to_the_same_input() {
        let job = Job {
            job_id: "train_3".into(),
            labels: [("team".to_owned(), "vision".to_owned())].into(),
            training_input: Some(TrainingInput {
                command: vec!["python3".into(), "train.py".into(), "a b".into()],
                args: vec!["--lr".into(), "0.1".into()],
                env: [("SEED".to_owned(), "1".to_owned())].into(),
                job_dir: Some("/tmp/out".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let form = JobForm::cloned_from(&ConnectionId::local(), &job);
        assert_eq!(form.job_id, "train_4");
        let rebuilt = form.build().unwrap();
        assert_eq!(rebuilt.training_input, job.training_input);
        assert_eq!(rebuilt.labels, job.labels);
    }

    #[test]
    fn cluster_fields_become_pip_and_resources() {
        let mut form = JobForm::new();
        form.command_line = "python train.py".into();
        form.cluster = true;
        form.pip = "numpy\n\nscikit-learn==1.9.1".into();
        form.cpus = "0.5".into();
        form.memory = "2GiB".into();
        let input = form.build().unwrap().training_input.unwrap();
        assert_eq!(input.pip_requirements, ["numpy", "scikit-learn==1.9.1"]);
        let r = input.resources.unwrap();
        assert_eq!(
            (r.cpus, r.gpus, r.memory_bytes),
            (Some(0.5), None, Some(2 << 30))
        );
        form.memory = "lots".into();
        assert!(form.build().unwrap_err()["memory"].contains("2GiB"));
        form.cluster = false;
        assert!(
            form.build()
                .unwrap()
                .training_input
                .unwrap()
                .resources
                .is_none(),
            "local jobs reserve nothing"
        );
    }

    #[test]
    fn vertex_fields_become_image_machine_workers_and_accelerators() {
        let mut form = JobForm::new();
        form.vertex = true;
        form.kind = JobKind::PythonModule;
        form.module = "trainer.task".into();
        form.packages = "/home/me/trainer".into();
        form.job_dir = "/tmp/out".into();
        let errors = form.build().unwrap_err();
        assert!(errors["image"].contains("image"));
        assert!(errors["packages"].contains("gs://"));
        assert!(errors["job_dir"].contains("gs://"));
        form.packages = "gs://b/trainer-0.1.tar.gz".into();
        form.job_dir = "gs://b/out".into();
        form.image = "us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-0:latest".into();
        form.machine_type = "n1-highmem-8".into();
        form.workers = "3".into();
        form.accelerator = "nvidia_tesla_t4".into();
        form.accelerator_count = "2".into();
        let job = form.build().unwrap();
        let input = job.training_input.clone().unwrap();
        assert_eq!(input.master_type.as_deref(), Some("n1-highmem-8"));
        assert_eq!(input.worker_count, Some(3));
        let config = input.master_config.unwrap();
        assert_eq!(config.accelerator_config.unwrap().kind, "NVIDIA_TESLA_T4");
        let mut listed = job;
        listed.display_name = Some("sweep_1".into());
        let clone = JobForm::cloned_from(&ConnectionId::local(), &listed);
        assert_eq!(
            (clone.workers.as_str(), clone.accelerator_count.as_str()),
            ("3", "2")
        );
        assert_eq!(clone.job_id, next_id("sweep_1"));
        // A container image may run its own entrypoint.
        form.kind = JobKind::Command;
        form.command_line.clear();
        assert!(
            form.build()
                .unwrap()
                .training_input
                .unwrap()
                .command
                .is_empty()
        );
        form.vertex = false;
        assert!(form.build().unwrap_err().contains_key("command"));
    }

    #[test]
    fn errors_are_reported_per_field() {
        let mut form = JobForm::new();
        form.job_id = "9lives".into();
        form.command_line = "python3 'unclosed".into();
        form.job_dir = "relative/dir".into();
        form.env = "NOEQUALS".into();
        let errors = form.build().unwrap_err();
        assert!(errors["command"].contains("quote"));
        assert!(errors["job_dir"].contains("absolute"));
        assert!(errors["env"].contains("KEY=VALUE"));
        assert!(errors["job_id"].contains("jobId"));
    }
}
