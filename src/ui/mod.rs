//! The console window: an `eframe::App` with one tab per file. The UI thread never does
//! I/O: it drains the backend's updates, draws, and sends requests.

#![deny(clippy::disallowed_methods)]

pub mod alerts;
pub mod bars;
pub mod chart_render;
pub mod connections;
pub mod format;
pub mod job_form;
pub mod jobs;
pub mod keys;
pub mod log_buffer;
pub mod log_strip;
pub mod logs;
pub mod models;
pub mod nav;
pub mod palette;
mod palette_commands;
pub mod predict;
pub mod resources;
pub mod scalars;
pub mod state;
pub mod theme;
pub mod toasts;

use std::time::{Duration, Instant};

use egui::Ui;

use crate::backend::{Backend, ModelWatch, PickTarget, Request, Update};
use crate::domain::{ConnectionId, Job, JobKey, JobState};
use connections::ConnectionsPanel;
use job_form::JobForm;
use jobs::JobsTab;
use logs::LogsTab;
use models::ModelsTab;
pub use nav::{Nav, Tab};
use predict::PredictTab;
use resources::ResourcesTab;
use scalars::ScalarsTab;
use state::{Applied, Snapshots};
use toasts::Toasts;

/// Most time a frame spends applying updates before it draws.
const UPDATE_BUDGET: Duration = Duration::from_millis(8);

/// The console window: tab switch, selection, toasts and the tabs.
pub struct App {
    backend: Backend,
    tab: Tab,
    state: Snapshots,
    connections_panel: ConnectionsPanel,
    jobs_tab: JobsTab,
    logs: LogsTab,
    resources: ResourcesTab,
    scalars: ScalarsTab,
    models_tab: ModelsTab,
    predict: PredictTab,
    /// What of the models the backend is syncing (while a model tab is shown).
    watching_models: ModelWatch,
    /// Text to put on the clipboard on the next frame.
    copy: Option<String>,
    form: Option<JobForm>,
    /// A page to open in the browser on the next frame.
    open_url: Option<String>,
    toasts: Toasts,
    palette: palette::Palette,
    alerts: alerts::AlertsPanel,
}

impl App {
    /// A console that talks to `backend`.
    pub fn new(backend: Backend) -> App {
        App {
            backend,
            tab: Tab::Jobs,
            state: Snapshots::default(),
            connections_panel: ConnectionsPanel::default(),
            jobs_tab: JobsTab::default(),
            logs: LogsTab::default(),
            resources: ResourcesTab::default(),
            scalars: ScalarsTab::default(),
            models_tab: ModelsTab::default(),
            predict: PredictTab::default(),
            watching_models: ModelWatch::Off,
            copy: None,
            form: None,
            open_url: None,
            toasts: Toasts::default(),
            palette: palette::Palette::default(),
            alerts: alerts::AlertsPanel::default(),
        }
    }

    /// What the console knows: connections, jobs, models and the selected job.
    pub fn snapshots(&self) -> &Snapshots {
        &self.state
    }

    /// The text of the log lines a link marked (what a test checks a link reached).
    pub fn marked_log_text(&self) -> Vec<String> {
        let buffer = self.logs.buffer();
        self.logs
            .marked_lines()
            .map(|i| buffer.text(i).to_owned())
            .collect()
    }

    /// The alert rules as the Alerts window has them.
    pub fn alert_rules(&self) -> &[crate::domain::alerts::AlertRule] {
        self.alerts.rules()
    }

    /// The jobs the Logs tab's search across logs found, with their matching lines.
    pub fn logs_found_across(&self) -> Vec<(String, Vec<String>)> {
        self.logs.across_found()
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

    /// Applies one update from the backend: the snapshots take theirs, then each tab.
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
        let update = match self.state.apply(update) {
            Applied::Jobs {
                connection,
                finished,
                listed,
            } => {
                self.announce_finished(&connection, &finished);
                if listed {
                    self.refresh_watches(true);
                }
                return;
            }
            Applied::Taken => return,
            Applied::Nothing(update) => *update,
        };
        if let Some(nav) = self
            .connections_panel
            .on_update(&update, &self.state.connections)
        {
            self.navigate(nav);
        }
        self.models_tab
            .on_update(&update, &self.state.models, &self.backend);
        self.predict.on_update(&update);
        self.logs.on_update(&update);
        self.resources.on_update(&update);
        self.scalars.on_update(&update);
        self.take_answer(update);
    }

    /// What the console itself does with an update: answers to submit and cancel, files
    /// picked, text to copy, notices.
    fn take_answer(&mut self, update: Update) {
        match update {
            Update::Connections { .. } => {
                let state = &self.state;
                let gone = |k: &JobKey| state.connections.config(&k.connection).is_none();
                if state.selected.as_ref().is_some_and(gone) {
                    self.select(None);
                }
            }
            Update::Submitted {
                connection,
                result: Ok(job),
            } => {
                self.form = None;
                self.toast(format!("Submitted {}.", job.job_id), false);
                let key = JobKey::new(&connection, &job.job_id);
                self.state.jobs.upsert(&connection, vec![job]);
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
                    self.state.jobs.upsert(&job.connection, vec![changed]);
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
            Update::FailureCard { job, card } => self.jobs_tab.set_failure_card(job, card),
            Update::FinalScalars(scalars) => self.jobs_tab.set_final_scalars(scalars),
            Update::LogsFailed { job, message } => self.jobs_tab.failure_unavailable(job, message),
            Update::Alerts(rules) => self.alerts.set_rules(rules),
            Update::ModelChanged { result, .. } => match result {
                Ok(text) => self.toast(text, false),
                Err(text) => self.toast(text, true),
            },
            // The tabs took the rest.
            _ => {}
        }
    }

    /// Shows the scalars of `dir` in the Scalars tab, refreshed while it changes.
    fn watch_logdir(&mut self, source: impl Into<crate::backend::LogDirSource>) {
        let source = source.into();
        self.scalars.set_dir(source.location.clone());
        self.tab = Tab::Scalars;
        self.backend.send(Request::WatchLogDir(Some(source)));
    }

    /// Selects a job (or none): its log is followed and its resources watched.
    fn select(&mut self, job: Option<JobKey>) {
        if self.state.selected == job {
            return;
        }
        self.state.selected = job.clone();
        self.logs.reset(job.clone());
        self.backend.send(Request::FollowLogs(job));
        self.refresh_watches(false);
    }

    /// Tells the backend which jobs' samples to fetch when that set changed.
    fn refresh_watches(&mut self, force: bool) {
        self.resources
            .fetch(self.state.selected.as_ref(), &self.backend, force);
    }

    fn announce_finished(&mut self, connection: &ConnectionId, finished: &[Job]) {
        for job in finished {
            let looking = self
                .state
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
        egui::Panel::top("top_bar").show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("status_bar").show(ui, |ui| self.status_bar(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            let (state, backend) = (&self.state, &self.backend);
            let navs = match self.tab {
                Tab::Jobs => self.jobs_tab.ui(ui, state, backend),
                Tab::Logs => {
                    let shown = self.jobs_tab.shown_count();
                    self.logs.ui(ui, state, backend, shown)
                }
                Tab::Resources => self.resources.ui(ui, state, backend, self.logs.buffer()),
                Tab::Scalars => self.scalars.ui(ui, state, backend, self.logs.buffer()),
                Tab::Models => self.models_tab.ui(ui, state, backend),
                Tab::Predict => self.predict.ui(ui, state, backend),
            };
            for nav in navs {
                self.navigate(nav);
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
        let connections = &self.state.connections;
        if let Some(form) = &mut self.form
            && !form.show(ui.ctx(), connections, &self.backend)
        {
            self.form = None;
        }
        self.connections_panel
            .show(ui.ctx(), connections, &self.backend);
        self.alerts.show(
            ui.ctx(),
            self.jobs_tab.filter_text(),
            self.state.selected.as_ref().map(|k| &k.connection),
            &self.backend,
        );
        if self.palette.open {
            self.palette
                .refresh(&self.state, self.jobs_tab.recent_filters());
            if let Some(command) = self.palette.show(ui.ctx()) {
                self.run_command(command);
            }
        }
        self.toasts.show(ui.ctx());
    }

    /// A New job form on the selected job's connection, when it takes jobs.
    fn new_form(&self) -> JobForm {
        let mut form = JobForm::new();
        if let Some(key) = &self.state.selected
            && !self.state.connections.read_only(&key.connection)
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

/// The console that closes itself once its first frame is drawn, saying how long that
/// took (`MLCONSOLE_EXIT_AFTER_FIRST_FRAME=1`: how start-up is measured for a release).
struct FirstFrame {
    app: App,
    started: std::time::Instant,
    frames: u32,
}

impl eframe::App for FirstFrame {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.app.logic(ctx);
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.app.show(ui);
        self.frames += 1;
        // The first frame is laid out here and painted after; the second shows it.
        if self.frames == 2 {
            eprintln!(
                "first frame after {} ms",
                self.started.elapsed().as_millis()
            );
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        } else {
            ui.ctx().request_repaint();
        }
    }
}

/// Opens the console window on `settings` and runs until it is closed.
pub fn run(settings: crate::backend::BackendSettings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let exit_after_first_frame = std::env::var_os("MLCONSOLE_EXIT_AFTER_FIRST_FRAME").is_some();
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../../icons/mlconsole.png"))?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("mlconsole")
            // The desktop entry's StartupWMClass and the Wayland app id: the taskbar
            // shows the entry's icon for the window.
            .with_app_id("mlconsole")
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
            let app = App::new(backend);
            if exit_after_first_frame {
                return Ok(Box::new(FirstFrame {
                    app,
                    started,
                    frames: 0,
                }));
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the console window could not open: {e}"))
}
