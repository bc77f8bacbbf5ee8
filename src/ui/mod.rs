//! The console window: an `eframe::App` with one tab per file. The UI thread never does
//! I/O: it drains the backend's updates, draws, and sends requests.

pub mod chart_render;
pub mod connections;
pub mod format;
pub mod job_form;
pub mod job_list;
pub mod jobs;
pub mod log_buffer;
pub mod logs;
pub mod models;
pub mod predict;
pub mod resources;
pub mod scalars;
pub mod theme;

use std::time::{Duration, Instant};

use egui::{Key, RichText, Ui};

use crate::backend::{
    Backend, ConnectionStatus, ModelChange, ModelWatch, PickTarget, Request, Update,
};
use crate::domain::{ConnectionId, Job, JobKey, JobState};
use connections::{ConnectionsAction, ConnectionsPanel};
use job_form::{FormAction, JobForm};
use job_list::JobList;
use jobs::{JobsAction, JobsTab};
use logs::{LogsAction, LogsTab};
use models::{ModelsAction, ModelsTab};
use predict::{PredictAction, PredictTab};
use resources::ResourcesTab;
use scalars::{ScalarsAction, ScalarsTab};

/// The console's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Every job, live.
    Jobs,
    /// The selected job's log.
    Logs,
    /// CPU and memory over time.
    Resources,
    /// TensorBoard scalars of a log dir.
    Scalars,
    /// Models, versions and their traffic.
    Models,
    /// The online prediction playground.
    Predict,
}

impl Tab {
    /// Every tab, in the order the top bar shows them.
    pub const ALL: [Tab; 6] = [
        Tab::Jobs,
        Tab::Logs,
        Tab::Resources,
        Tab::Scalars,
        Tab::Models,
        Tab::Predict,
    ];

    fn title(self) -> &'static str {
        match self {
            Tab::Jobs => "Jobs",
            Tab::Logs => "Logs",
            Tab::Resources => "Resources",
            Tab::Scalars => "Scalars",
            Tab::Models => "Models",
            Tab::Predict => "Predict",
        }
    }
}

/// A short message in the corner that goes away by itself.
struct Toast {
    text: String,
    error: bool,
    shown: Instant,
}

const TOAST_FOR: Duration = Duration::from_secs(6);
/// Most time a frame spends applying updates before it draws.
const UPDATE_BUDGET: Duration = Duration::from_millis(8);

/// The console.
pub struct App {
    backend: Backend,
    tab: Tab,
    connections: ConnectionsPanel,
    jobs: JobList,
    /// Why the last job sync of a connection failed.
    jobs_errors: std::collections::BTreeMap<ConnectionId, String>,
    jobs_tab: JobsTab,
    logs: LogsTab,
    resources: ResourcesTab,
    scalars: ScalarsTab,
    models: ModelsTab,
    predict: PredictTab,
    /// What of the models the backend is syncing (while a model tab is shown).
    watching_models: ModelWatch,
    /// Text to put on the clipboard on the next frame.
    copy: Option<String>,
    form: Option<JobForm>,
    /// A page to open in the browser on the next frame.
    open_url: Option<String>,
    selected: Option<JobKey>,
    /// The jobs whose samples the backend is fetching.
    watched: Vec<JobKey>,
    watch_generation: u64,
    toasts: Vec<Toast>,
    frames: u64,
}

impl App {
    /// A console that talks to `backend`.
    pub fn new(backend: Backend) -> App {
        App {
            backend,
            tab: Tab::Jobs,
            connections: ConnectionsPanel::default(),
            jobs: JobList::default(),
            jobs_errors: Default::default(),
            jobs_tab: JobsTab::default(),
            logs: LogsTab::default(),
            resources: ResourcesTab::default(),
            scalars: ScalarsTab::default(),
            models: ModelsTab::default(),
            predict: PredictTab::default(),
            watching_models: ModelWatch::Off,
            copy: None,
            form: None,
            open_url: None,
            selected: None,
            watched: Vec::new(),
            watch_generation: 0,
            toasts: Vec::new(),
            frames: 0,
        }
    }

    /// Applies pending updates from the backend (within a time budget), then handles
    /// keyboard shortcuts. Call once per frame before [`App::show`].
    pub fn logic(&mut self, ctx: &egui::Context) {
        let started = Instant::now();
        while let Some(update) = self.backend.try_recv() {
            self.apply(update);
            if started.elapsed() > UPDATE_BUDGET {
                ctx.request_repaint();
                break;
            }
        }
        self.keyboard(ctx);
    }

    /// Applies one update from the backend.
    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Connections {
                list,
                secrets_in,
                secret_places,
            } => {
                self.connections.set_list(list, secrets_in, secret_places);
                let known = |id: &ConnectionId| self.connections.config(id).is_some();
                if self
                    .selected
                    .as_ref()
                    .is_some_and(|k| !known(&k.connection))
                {
                    self.select(None);
                }
            }
            Update::SettingsWarning(text) => {
                self.toast(text.clone(), true);
                if !self.connections.warnings.contains(&text) {
                    self.connections.warnings.push(text);
                }
            }
            Update::ConnectionSaved(result) => {
                if let Ok(id) = &result {
                    let name = self.connections.name(id).to_owned();
                    self.toast(format!("Saved the connection {name}."), false);
                }
                self.connections.saved(result);
            }
            Update::Connection { connection, status } => {
                if let ConnectionStatus::Connected {
                    note: Some(note), ..
                } = &status
                {
                    self.toast(note.clone(), false);
                }
                if status == ConnectionStatus::Disconnected {
                    self.jobs.replace(&connection, Vec::new());
                    self.models.set_models(&connection, Vec::new());
                }
                self.connections.set_status(connection, status);
            }
            Update::Cluster {
                connection,
                summary,
            } => self.connections.set_cluster(connection, summary),
            Update::JobsReplaced { connection, jobs } => {
                self.jobs_errors.remove(&connection);
                let finished = self.jobs.replace(&connection, jobs);
                self.announce_finished(&connection, &finished);
                self.refresh_watches(true);
            }
            Update::JobsChanged { connection, jobs } => {
                self.jobs_errors.remove(&connection);
                let finished = self.jobs.upsert(&connection, jobs);
                self.announce_finished(&connection, &finished);
            }
            Update::JobsFailed {
                connection,
                message,
            } => {
                self.jobs_errors.insert(connection, message);
            }
            Update::Logs {
                job,
                entries,
                complete,
            } => {
                if self.logs.buffer.job() == Some(&job) {
                    self.logs.error = None;
                    self.logs.buffer.append(&entries);
                    self.logs.buffer.set_complete(complete);
                }
            }
            Update::LogsFailed { job, message } => {
                if self.logs.buffer.job() == Some(&job) {
                    self.logs.error = Some(format!("Could not read the log: {message}"));
                }
            }
            Update::Metrics {
                generation,
                job,
                samples,
                replicas,
                note,
            } => {
                if generation == self.watch_generation {
                    self.resources.add_samples(&job, &samples);
                    self.resources.add_replica_samples(&job, &replicas);
                    self.resources.set_note(&job, note);
                }
            }
            Update::Submitted {
                connection,
                result: Ok(job),
            } => {
                self.form = None;
                self.toast(format!("Submitted {}.", job.job_id), false);
                let key = JobKey::new(&connection, &job.job_id);
                self.jobs.upsert(&connection, vec![job]);
                self.select(Some(key));
                self.tab = Tab::Jobs;
            }
            Update::Submitted {
                result: Err(message),
                ..
            } => match &mut self.form {
                Some(form) => {
                    form.submitting = false;
                    form.error = Some(message);
                }
                None => self.toast(format!("The job was not submitted: {message}"), true),
            },
            Update::CancelResult { job, result } => match result {
                Ok(changed) => {
                    self.toast(format!("{} is {}.", job.job_id, changed.state), false);
                    self.jobs.upsert(&job.connection, vec![changed]);
                }
                Err(message) => {
                    self.toast(format!("Could not cancel {}: {message}", job.job_id), true);
                }
            },
            Update::Picked {
                target: PickTarget::LogDir,
                path,
            } => self.watch_logdir(path),
            Update::Picked {
                target: PickTarget::ModelFile(connection, model),
                path,
            } => {
                self.models.select(&connection, &model);
                if let Some(action) = self.models.dropped_file(path) {
                    self.on_models_action(action);
                }
            }
            Update::Picked {
                target: PickTarget::KeyFile,
                path,
            } => self.connections.key_file_picked(&path),
            Update::Picked { target, path } => {
                if let Some(form) = &mut self.form {
                    form.set_picked(&target, &path);
                }
            }
            Update::Scalars {
                dir,
                runs,
                corrupt_records,
            } => self.scalars.add(&dir, runs, corrupt_records),
            Update::ScalarsFailed { dir, message } => self.scalars.failed(&dir, message),
            Update::TensorBoardStarted(url) => {
                self.toast(format!("TensorBoard serves at {url}"), false);
                self.open_url = Some(url);
            }
            Update::Models { connection, models } => self.models.set_models(&connection, models),
            Update::ServingRuntimes {
                connection,
                runtimes,
            } => {
                self.models.runtimes.insert(connection, runtimes);
            }
            Update::ModelsFailed {
                connection,
                message,
            } => {
                self.models.errors.insert(connection, message);
            }
            Update::ServingMetrics {
                connection,
                model,
                version,
                metrics,
            } => self.models.add_metrics(connection, model, version, metrics),
            Update::Predicted { result, took } => self.predict.answered(result, took),
            Update::PredictFile { path, result } => self.predict.file_loaded(path, result),
            Update::CopyText { text, what } => {
                self.copy = Some(text);
                self.toast(format!("Copied the {what}."), false);
            }
            Update::Notice { text, error } => self.toast(text, error),
        }
    }

    /// The Models tab (for tests).
    pub fn models(&self) -> &ModelsTab {
        &self.models
    }

    /// The Predict tab (for tests).
    pub fn predict(&self) -> &PredictTab {
        &self.predict
    }

    /// The selected job.
    pub fn selected(&self) -> Option<&JobKey> {
        self.selected.as_ref()
    }

    /// The tab shown.
    pub fn tab(&self) -> Tab {
        self.tab
    }

    /// A connection's state as last reported.
    pub fn connection(&self, id: &ConnectionId) -> Option<&ConnectionStatus> {
        self.connections.status(id)
    }

    /// The connections and their window.
    pub fn connections(&self) -> &ConnectionsPanel {
        &self.connections
    }

    /// The console's job list.
    pub fn jobs(&self) -> &JobList {
        &self.jobs
    }

    /// The Logs tab (for tests and benchmarks).
    pub fn logs_mut(&mut self) -> &mut LogsTab {
        &mut self.logs
    }

    /// The Jobs tab (for tests and benchmarks).
    pub fn jobs_tab_mut(&mut self) -> &mut JobsTab {
        &mut self.jobs_tab
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Shows a tab.
    pub fn show_tab(&mut self, tab: Tab) {
        self.tab = tab;
    }

    /// Shows the scalars of `dir` in the Scalars tab, refreshed while it changes.
    pub fn watch_logdir(&mut self, dir: std::path::PathBuf) {
        self.scalars.set_dir(dir.clone());
        self.tab = Tab::Scalars;
        self.backend.send(Request::WatchLogDir(Some(dir)));
    }

    /// The Scalars tab (for tests and benchmarks).
    pub fn scalars(&self) -> &ScalarsTab {
        &self.scalars
    }

    /// The Resources tab (for tests).
    pub fn resources(&self) -> &ResourcesTab {
        &self.resources
    }

    /// Selects a job (or none): its log is followed and its resources watched.
    pub fn select(&mut self, job: Option<JobKey>) {
        if self.selected == job {
            return;
        }
        self.selected = job.clone();
        self.logs.reset(job.clone());
        self.backend.send(Request::FollowLogs(job));
        self.refresh_watches(false);
    }

    /// The selected job as the job list has it.
    fn selected_job(&self) -> Option<&Job> {
        self.selected.as_ref().and_then(|k| self.jobs.find(k))
    }

    /// Tells the backend which jobs' samples to fetch, when that set changed (or always
    /// with `force`, e.g. after reconnecting); samples then start over from the first.
    fn refresh_watches(&mut self, force: bool) {
        let watched = self.resources.watched(self.selected.as_ref());
        if !force && watched == self.watched {
            return;
        }
        self.resources.clear_samples();
        self.watched = watched.clone();
        self.watch_generation += 1;
        self.backend.send(Request::WatchMetrics {
            jobs: watched,
            generation: self.watch_generation,
        });
    }

    fn announce_finished(&mut self, connection: &ConnectionId, finished: &[Job]) {
        for job in finished {
            let looking = self
                .selected
                .as_ref()
                .is_some_and(|k| &k.connection == connection && k.job_id == job.job_id)
                && self.tab != Tab::Jobs;
            if looking {
                continue;
            }
            let error = job.state == JobState::Failed;
            self.toast(
                format!(
                    "{} {} {}",
                    theme::state_icon(job.state),
                    job.job_id,
                    job.state
                ),
                error,
            );
        }
    }

    fn toast(&mut self, text: String, error: bool) {
        self.toasts.push(Toast {
            text,
            error,
            shown: Instant::now(),
        });
        if self.toasts.len() > 5 {
            self.toasts.remove(0);
        }
    }

    fn keyboard(&mut self, ctx: &egui::Context) {
        let typing = ctx.text_edit_focused();
        let (find, new_job, connections, escape, enter, end, down, up) = ctx.input(|i| {
            let plain = |k: Key| i.key_pressed(k) && !i.modifiers.command;
            (
                i.modifiers.command && i.key_pressed(Key::F),
                i.modifiers.command && i.key_pressed(Key::N),
                i.modifiers.command && i.key_pressed(Key::K) && !typing,
                i.key_pressed(Key::Escape),
                plain(Key::Enter),
                plain(Key::End),
                plain(Key::ArrowDown) || (!typing && plain(Key::J)),
                plain(Key::ArrowUp) || (!typing && plain(Key::K)),
            )
        });
        if find {
            match self.tab {
                Tab::Logs => self.logs.focus_search(),
                _ => {
                    self.tab = Tab::Jobs;
                    self.jobs_tab.focus_filter();
                }
            }
        }
        if new_job && self.form.is_none() {
            self.form = Some(self.new_form());
        }
        if connections {
            self.connections.open = !self.connections.open;
        }
        if escape {
            if self.form.is_some() {
                self.form = None;
            } else if self.connections.close_one() {
            } else if self.tab == Tab::Jobs {
                self.jobs_tab.close_one();
            }
        }
        if typing || self.form.is_some() || self.connections.open {
            return;
        }
        match self.tab {
            Tab::Jobs => {
                let step = match (down, up) {
                    (true, false) => 1,
                    (false, true) => -1,
                    _ => 0,
                };
                if step != 0 {
                    let next = self.jobs_tab.neighbour(
                        &self.jobs,
                        &self.connections,
                        self.selected.as_ref(),
                        step,
                    );
                    self.select(next);
                }
                if enter && self.selected.is_some() {
                    self.jobs_tab.details_open = true;
                }
            }
            Tab::Logs if end => self.logs.follow(),
            _ => {}
        }
    }

    /// Draws the console. Call once per frame after [`App::logic`].
    pub fn show(&mut self, ui: &mut Ui) {
        self.frames += 1;
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Jobs => {
                let errors: Vec<String> = self
                    .jobs_errors
                    .iter()
                    .map(|(id, e)| format!("{}: {e}", self.connections.name(id)))
                    .collect();
                let actions = self.jobs_tab.ui(
                    ui,
                    &self.jobs,
                    &self.connections,
                    self.selected.as_ref(),
                    &errors,
                );
                for action in actions {
                    self.on_jobs_action(action);
                }
            }
            Tab::Logs => {
                let running = self.selected_job().is_some_and(|j| !j.state.is_finished());
                let capabilities = self
                    .selected
                    .as_ref()
                    .map_or(crate::domain::Capabilities::ALL, |k| {
                        self.connections.capabilities(&k.connection)
                    });
                for action in self.logs.ui(ui, running, &capabilities) {
                    match action {
                        LogsAction::Copy(text) => {
                            let lines = text.lines().count();
                            ui.ctx().copy_text(text);
                            self.toast(format!("Copied {lines} lines."), false);
                        }
                        LogsAction::Save { file_name, text } => {
                            self.backend.send(Request::SaveText { file_name, text });
                        }
                    }
                }
            }
            Tab::Resources => {
                let connections = &self.connections;
                let no_samples = |key: &JobKey| {
                    connections
                        .capabilities(&key.connection)
                        .resource_samples
                        .why_not()
                };
                if self
                    .resources
                    .ui(ui, &self.jobs, self.selected.as_ref(), no_samples)
                {
                    self.refresh_watches(false);
                }
            }
            Tab::Scalars => {
                let job_dir = self
                    .selected
                    .as_ref()
                    .filter(|k| {
                        self.connections
                            .capabilities(&k.connection)
                            .local_job_dirs
                            .yes()
                    })
                    .and_then(|k| self.jobs.find(k))
                    .and_then(|j| j.training_input.as_ref()?.job_dir.clone());
                // Opened with a job selected and nothing loaded: that job's charts.
                if self.scalars.dir().is_none()
                    && let Some(dir) = &job_dir
                {
                    self.watch_logdir(std::path::PathBuf::from(dir));
                }
                for action in self.scalars.ui(ui, job_dir.as_deref()) {
                    match action {
                        ScalarsAction::Watch(dir) => self.watch_logdir(dir),
                        ScalarsAction::Pick => self.backend.send(Request::PickPath {
                            target: PickTarget::LogDir,
                            folder: true,
                        }),
                        ScalarsAction::OpenTensorBoard(dir) => {
                            self.backend.send(Request::OpenTensorBoard(dir));
                        }
                        ScalarsAction::Save { file_name, text } => {
                            self.backend.send(Request::SaveText { file_name, text });
                        }
                    }
                }
            }
            Tab::Models => {
                for action in self.models.ui(ui, &self.connections) {
                    self.on_models_action(action);
                }
            }
            Tab::Predict => {
                for action in self.predict.ui(ui, &self.models.models, &self.connections) {
                    self.on_predict_action(action);
                }
            }
        });
        if let Some(url) = self.open_url.take() {
            ui.ctx().open_url(egui::OpenUrl::new_tab(url));
        }
        if let Some(text) = self.copy.take() {
            ui.ctx().copy_text(text);
        }
        let watch = match self.tab {
            Tab::Models => ModelWatch::WithTraffic,
            Tab::Predict => ModelWatch::Models,
            _ => ModelWatch::Off,
        };
        if watch != self.watching_models {
            self.watching_models = watch;
            self.backend.send(Request::WatchModels(watch));
        }
        // Dropped files: model files on Models, requests on Predict, log dirs elsewhere.
        let dropped: Vec<std::path::PathBuf> = ui.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            match self.tab {
                Tab::Models => match self.models.dropped_file(path) {
                    Some(action) => self.on_models_action(action),
                    None => self.toast(
                        "Create a model first, then drop its model file on it.".into(),
                        true,
                    ),
                },
                Tab::Predict => {
                    let inputs = self.predict.input_names(&self.models.models);
                    self.backend.send(Request::LoadPredictFile { path, inputs });
                }
                _ => self.watch_logdir(path),
            }
        }
        if let Some(form) = &mut self.form {
            for action in form.show(ui.ctx(), &self.connections.writable()) {
                match action {
                    FormAction::Submit { connection, job } => {
                        self.backend.send(Request::SubmitJob { connection, job });
                    }
                    FormAction::Pick { target, folder } => {
                        self.backend.send(Request::PickPath { target, folder });
                    }
                    FormAction::Close => self.form = None,
                }
            }
        }
        for action in self.connections.show(ui.ctx()) {
            self.on_connections_action(action);
        }
        self.show_toasts(ui.ctx());
    }

    /// A New job form on the selected job's connection, when it takes jobs.
    fn new_form(&self) -> JobForm {
        let mut form = JobForm::new();
        if let Some(key) = &self.selected
            && !self.connections.read_only(&key.connection)
        {
            form.connection = key.connection.clone();
        }
        form
    }

    fn on_connections_action(&mut self, action: ConnectionsAction) {
        match action {
            ConnectionsAction::Save(config, secret) => {
                self.backend
                    .send(Request::SaveConnection { config, secret });
            }
            ConnectionsAction::Remove(id) => self.backend.send(Request::RemoveConnection(id)),
            ConnectionsAction::SetEnabled(connection, enabled) => {
                self.backend.send(Request::SetConnectionEnabled {
                    connection,
                    enabled,
                });
            }
            ConnectionsAction::Reconnect(id) => self.backend.send(Request::Reconnect(id)),
            ConnectionsAction::PickKeyFile => self.backend.send(Request::PickPath {
                target: PickTarget::KeyFile,
                folder: false,
            }),
        }
    }

    fn on_jobs_action(&mut self, action: JobsAction) {
        match action {
            JobsAction::Select(key) => {
                self.select(key);
                self.jobs_tab.details_open = true;
            }
            JobsAction::OpenForm(from) => {
                self.form = Some(match from {
                    Some((connection, job)) => JobForm::cloned_from(&connection, &job),
                    None => self.new_form(),
                });
            }
            JobsAction::Cancel(key) => self.backend.send(Request::CancelJob(key)),
            JobsAction::ShowLogs => self.tab = Tab::Logs,
            JobsAction::ShowResources => self.tab = Tab::Resources,
            JobsAction::ShowScalars(dir) => self.watch_logdir(dir.into()),
            JobsAction::OpenJobDir(dir) => self.open_url = Some(format!("file://{dir}")),
            JobsAction::RunSample => self.backend.send(Request::RunSampleJob),
            JobsAction::Deploy(connection, job) => {
                let Some(dir) = job.training_input.as_ref().and_then(|i| i.job_dir.clone()) else {
                    return;
                };
                // The model is named by the job's `model` label; sample jobs serve "digits".
                let model = match job.labels.get("model") {
                    Some(name) => name.clone(),
                    None if job.labels.get("kind").is_some_and(|k| k == "sample") => {
                        "digits".to_owned()
                    }
                    None => job.job_id.clone(),
                };
                self.backend.send(Request::ChangeModels {
                    connection: connection.clone(),
                    change: ModelChange::DeployJob {
                        model: model.clone(),
                        version: job.job_id.clone(),
                        job_dir: dir.into(),
                    },
                });
                self.models.select(&connection, &model);
                self.tab = Tab::Models;
            }
        }
    }

    fn on_models_action(&mut self, action: ModelsAction) {
        match action {
            ModelsAction::Change(connection, change) => {
                self.backend
                    .send(Request::ChangeModels { connection, change });
            }
            ModelsAction::PickVersionFile(connection, model) => {
                self.backend.send(Request::PickPath {
                    target: PickTarget::ModelFile(connection, model),
                    folder: false,
                });
            }
            ModelsAction::PickVersionFolder(connection, model) => {
                self.backend.send(Request::PickPath {
                    target: PickTarget::ModelFile(connection, model),
                    folder: true,
                });
            }
            ModelsAction::Try {
                connection,
                model,
                version,
            } => {
                self.predict.target(&connection, &model, version);
                self.tab = Tab::Predict;
            }
        }
    }

    fn on_predict_action(&mut self, action: PredictAction) {
        match action {
            PredictAction::Send {
                connection,
                model,
                version,
                body,
            } => self.backend.send(Request::Predict {
                connection,
                model,
                version,
                body,
            }),
            PredictAction::Copy {
                kind,
                connection,
                model,
                version,
                body,
            } => self.backend.send(Request::CopySnippet {
                connection,
                kind,
                model,
                version,
                body,
            }),
            PredictAction::BatchJob {
                connection,
                model,
                version,
                file,
            } => {
                let job = batch_prediction_job(&model, version.as_deref(), &file);
                self.backend.send(Request::SubmitJob {
                    connection,
                    job: Box::new(job),
                });
            }
            PredictAction::CloudBatchJob {
                connection,
                model,
                version,
                inputs,
                output,
            } => {
                let mut job =
                    batch_prediction_job(&model, version.as_deref(), std::path::Path::new(""));
                if let Some(input) = &mut job.prediction_input {
                    input.input_paths = inputs;
                    input.output_path = output;
                }
                self.backend.send(Request::SubmitJob {
                    connection,
                    job: Box::new(job),
                });
            }
        }
    }

    fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("mlconsole").strong().size(16.0));
            ui.separator();
            for tab in Tab::ALL {
                let hint = match tab {
                    Tab::Jobs => "Every job, live (Ctrl+F filters)",
                    Tab::Logs => "The selected job's log (Ctrl+F searches, End follows)",
                    Tab::Resources => "CPU and memory of the selected job",
                    Tab::Scalars => "TensorBoard scalars of a log dir (drop a folder)",
                    Tab::Models => {
                        "Models, versions and their traffic (drop a model file or folder)"
                    }
                    Tab::Predict => "Try online prediction (drop a JSON, JSONL, CSV or image)",
                };
                if ui
                    .selectable_label(self.tab == tab, tab.title())
                    .on_hover_text(hint)
                    .clicked()
                {
                    self.tab = tab;
                }
            }
            if let Some(key) = &self.selected {
                ui.separator();
                ui.label(RichText::new(format!("Selected: {}", key.job_id)).weak());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                egui::widgets::global_theme_preference_buttons(ui);
                ui.separator();
                if ui
                    .button("🔌 Connections")
                    .on_hover_text("Add, edit, connect and disconnect platforms (Ctrl+K)")
                    .clicked()
                {
                    self.connections.open = !self.connections.open;
                }
            });
        });
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        let actions = ui
            .horizontal(|ui| {
                let actions = self.connections.status_chips(ui);
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    ui.label(format!("{} jobs", self.jobs.len()));
                });
                actions
            })
            .inner;
        for action in actions {
            self.on_connections_action(action);
        }
    }

    fn show_toasts(&mut self, ctx: &egui::Context) {
        self.toasts.retain(|t| t.shown.elapsed() < TOAST_FOR);
        let Some(oldest) = self.toasts.first() else {
            return;
        };
        ctx.request_repaint_after(TOAST_FOR.saturating_sub(oldest.shown.elapsed()));
        let dark = ctx.global_style().visuals.dark_mode;
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -36.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for toast in &self.toasts {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        let color = if toast.error {
                            theme::error_color(dark)
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.label(RichText::new(&toast.text).color(color));
                    });
                    ui.add_space(4.0);
                }
            });
    }
}

/// A batch prediction job over one JSONL file, writing next to it.
fn batch_prediction_job(model: &str, version: Option<&str>, file: &std::path::Path) -> Job {
    let stamp = chrono::Utc::now().format("%Y%m%d_%H%M%S");
    let output = file.with_file_name(format!(
        "{}_predictions_{stamp}",
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    Job {
        job_id: format!("predict_{model}_{stamp}"),
        prediction_input: Some(crate::domain::PredictionInput {
            model_name: version.is_none().then(|| model.to_owned()),
            version_name: version.map(|v| format!("{model}/versions/{v}")),
            input_paths: vec![file.display().to_string()],
            output_path: output.display().to_string(),
            data_format: "JSON".into(),
        }),
        ..Job::default()
    }
}

impl eframe::App for App {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        App::logic(self, ctx);
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Opens the console window on `settings` and runs until it is closed.
pub fn run(settings: crate::backend::BackendSettings) -> anyhow::Result<()> {
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../icons/mlconsole.png"))?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("mlconsole")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([640.0, 400.0])
            .with_icon(icon),
        ..Default::default()
    };
    eframe::run_native(
        "mlconsole",
        options,
        Box::new(move |cc| {
            let backend = Backend::spawn(settings, cc.egui_ctx.clone())?;
            Ok(Box::new(App::new(backend)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the console window could not open: {e}"))
}
