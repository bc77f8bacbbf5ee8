//! The console window: an `eframe::App` with one tab per file. The UI thread never does
//! I/O: it drains the backend's updates, draws, and sends requests.

#![deny(clippy::disallowed_methods)]

pub mod bars;
pub mod chart_render;
pub mod connections;
pub mod format;
pub mod job_form;
pub mod jobs;
pub mod keys;
pub mod log_buffer;
pub mod logs;
pub mod models;
pub mod nav;
pub mod predict;
pub mod resources;
pub mod scalars;
pub mod state;
pub mod theme;
pub mod toasts;

use std::time::{Duration, Instant};

use egui::Ui;

use crate::backend::{Backend, ConnectionStatus, ModelWatch, PickTarget, Request, Update};
use crate::domain::{ConnectionId, Job, JobKey, JobState};
use connections::ConnectionsPanel;
use job_form::JobForm;
use jobs::JobsTab;
use logs::LogsTab;
use models::ModelsTab;
pub use nav::Tab;
use predict::PredictTab;
use resources::ResourcesTab;
use scalars::ScalarsTab;
use state::jobs::JobList;
use toasts::Toasts;

/// Most time a frame spends applying updates before it draws.
const UPDATE_BUDGET: Duration = Duration::from_millis(8);

/// The console.
pub struct App {
    backend: Backend,
    tab: Tab,
    /// Every connection as last reported.
    connections: state::connections::Connections,
    connections_panel: ConnectionsPanel,
    jobs: JobList,
    /// Why the last job sync of a connection failed.
    jobs_errors: std::collections::BTreeMap<ConnectionId, String>,
    jobs_tab: JobsTab,
    logs: LogsTab,
    resources: ResourcesTab,
    scalars: ScalarsTab,
    /// Every connection's models as last listed.
    models: state::models::Models,
    models_tab: ModelsTab,
    predict: PredictTab,
    /// What of the models the backend is syncing (while a model tab is shown).
    watching_models: ModelWatch,
    /// Text to put on the clipboard on the next frame.
    copy: Option<String>,
    form: Option<JobForm>,
    /// A page to open in the browser on the next frame.
    open_url: Option<String>,
    selected: Option<JobKey>,
    toasts: Toasts,
    frames: u64,
}

impl App {
    /// A console that talks to `backend`.
    pub fn new(backend: Backend) -> App {
        App {
            backend,
            tab: Tab::Jobs,
            connections: state::connections::Connections::default(),
            connections_panel: ConnectionsPanel::default(),
            jobs: JobList::default(),
            jobs_errors: Default::default(),
            jobs_tab: JobsTab::default(),
            logs: LogsTab::default(),
            resources: ResourcesTab::default(),
            scalars: ScalarsTab::default(),
            models: state::models::Models::default(),
            models_tab: ModelsTab::default(),
            predict: PredictTab::default(),
            watching_models: ModelWatch::Off,
            copy: None,
            form: None,
            open_url: None,
            selected: None,
            toasts: Toasts::default(),
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
        // Scalars are moved into their tab, not copied: a log dir holds millions of points.
        let update = match update {
            Update::Scalars {
                dir,
                runs,
                corrupt_records,
            } => return self.scalars.add(&dir, runs, corrupt_records),
            other => other,
        };
        self.connections.on_update(&update);
        if let Some(nav) = self.connections_panel.on_update(&update, &self.connections) {
            self.navigate(nav);
        }
        self.models.on_update(&update);
        self.models_tab
            .on_update(&update, &self.models, &self.backend);
        self.predict.on_update(&update);
        self.logs.on_update(&update);
        self.resources.on_update(&update);
        self.scalars.on_update(&update);
        match update {
            Update::Connections { .. } => {
                let known = |id: &ConnectionId| self.connections.config(id).is_some();
                if self
                    .selected
                    .as_ref()
                    .is_some_and(|k| !known(&k.connection))
                {
                    self.select(None);
                }
            }
            Update::Connection {
                connection,
                status: ConnectionStatus::Disconnected,
            } => {
                self.jobs.replace(&connection, Vec::new());
            }
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
            Update::Picked { target, path } => {
                if let Some(form) = &mut self.form {
                    form.set_picked(&target, &path);
                }
            }
            Update::TensorBoardStarted(url) => {
                self.toast(format!("TensorBoard serves at {url}"), false);
                self.open_url = Some(url);
            }
            Update::CopyText { text, what } => {
                self.copy = Some(text);
                self.toast(format!("Copied the {what}."), false);
            }
            Update::Notice { text, error } => self.toast(text, error),
            Update::ModelChanged { result, .. } => match result {
                Ok(text) => self.toast(text, false),
                Err(text) => self.toast(text, true),
            },
            // The tabs took the rest.
            _ => {}
        }
    }

    /// Every connection's models as the console has them (for tests).
    pub fn models(&self) -> &state::models::Models {
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
    pub fn connections(&self) -> &state::connections::Connections {
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

    /// Tells the backend which jobs' samples to fetch when that set changed.
    fn refresh_watches(&mut self, force: bool) {
        self.resources
            .fetch(self.selected.as_ref(), &self.backend, force);
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
        self.toasts.push(text, error);
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
                let navs = self.jobs_tab.ui(
                    ui,
                    &self.jobs,
                    &self.connections,
                    self.selected.as_ref(),
                    &errors,
                    &self.backend,
                );
                for nav in navs {
                    self.navigate(nav);
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
                for nav in self.logs.ui(ui, running, &capabilities, &self.backend) {
                    self.navigate(nav);
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
                for nav in self.scalars.ui(ui, job_dir.as_deref(), &self.backend) {
                    self.navigate(nav);
                }
            }
            Tab::Models => {
                for nav in self
                    .models_tab
                    .ui(ui, &self.models, &self.connections, &self.backend)
                {
                    self.navigate(nav);
                }
            }
            Tab::Predict => {
                self.predict
                    .ui(ui, &self.models.list, &self.connections, &self.backend);
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
        self.take_dropped(ui);
        if let Some(form) = &mut self.form
            && !form.show(ui.ctx(), &self.connections.writable(), &self.backend)
        {
            self.form = None;
        }
        self.connections_panel
            .show(ui.ctx(), &self.connections, &self.backend);
        self.toasts.show(ui.ctx());
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
