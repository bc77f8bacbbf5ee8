//! Where a tab asks the console to go: the only thing tabs hand back to the [`App`]
//! (they send their own requests to the backend).
//!
//! [`App`]: super::App

use chrono::{DateTime, Utc};
use egui::Ui;

use super::App;
use super::job_form::JobForm;
use crate::backend::Request;
use crate::domain::{ConnectionId, Job, JobKey};

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

    /// The tab's name in the top bar.
    pub fn title(self) -> &'static str {
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

/// A move the console makes for a tab.
#[derive(Debug, Clone, PartialEq)]
pub enum Nav {
    /// Show a tab.
    Show(Tab),
    /// Select a job (or none) and open its details.
    Select(Option<JobKey>),
    /// Open the New job form, empty or filled from a job of a connection.
    OpenForm(Option<(ConnectionId, Box<Job>)>),
    /// Show the scalars of a log dir in the Scalars tab.
    WatchLogDir(crate::backend::LogDirSource),
    /// Show the Jobs tab filtered by a query (`state=FAILED labels.team=vision`).
    FilterJobs(String),
    /// Show the selected job's log at one entry, marked.
    ShowLogLine(u64),
    /// Show the selected job's log at the lines written in a span, marked.
    LogsAt(DateTime<Utc>, DateTime<Utc>),
    /// Show the selected job's charts with a time marked.
    ChartsAt(DateTime<Utc>),
    /// Search across the logs of many jobs, or open a job's log at a line found.
    SearchAcross(super::logs::AcrossAction),
    /// Add an alert on a job and show the Alerts window.
    AlertOn(JobKey),
    /// Show the Alerts window.
    OpenAlerts,
    /// Show the Logs tab searching the selected job's log for a text.
    SearchLogs(String),
    /// Try a model (its default, or a version) in the Predict tab.
    Try {
        /// Where the model is.
        connection: ConnectionId,
        /// The model's short name.
        model: String,
        /// A pinned version, or the default.
        version: Option<String>,
    },
    /// Show a model in the Models tab (it may not be listed yet).
    ShowModel(ConnectionId, String),
    /// Open a page (or a folder, as a `file://` URL).
    OpenUrl(String),
    /// Tell the user something in the corner.
    Toast {
        /// What to say.
        text: String,
        /// Whether it reports a failure.
        error: bool,
    },
}

impl App {
    /// Goes where a tab (or a test, or a benchmark) asks.
    pub fn navigate(&mut self, nav: Nav) {
        match nav {
            Nav::Show(tab) => self.tab = tab,
            Nav::Select(key) => {
                self.select(key);
                self.jobs_tab.details_open = true;
            }
            Nav::OpenForm(from) => {
                self.form = Some(match from {
                    Some((connection, job)) => JobForm::cloned_from(&connection, &job),
                    None => self.new_form(),
                });
            }
            Nav::WatchLogDir(dir) => self.watch_logdir(dir),
            Nav::FilterJobs(query) => {
                self.jobs_tab.set_filter(&query);
                self.tab = Tab::Jobs;
            }
            Nav::ShowLogLine(seq) => {
                self.logs.show_line(seq);
                self.tab = Tab::Logs;
            }
            Nav::LogsAt(from, to) => {
                self.logs.mark_time(from, to);
                self.tab = Tab::Logs;
            }
            Nav::ChartsAt(time) => {
                self.resources.mark(Some(time));
                self.tab = Tab::Resources;
            }
            Nav::SearchAcross(action) => self.search_across(action),
            Nav::AlertOn(job) => self.alerts.alert_on_job(&job, &self.backend),
            Nav::OpenAlerts => self.alerts.open = true,
            Nav::SearchLogs(text) => {
                self.logs.set_search(&text);
                self.tab = Tab::Logs;
            }
            Nav::Try {
                connection,
                model,
                version,
            } => {
                self.predict.target(&connection, &model, version);
                self.tab = Tab::Predict;
            }
            Nav::ShowModel(connection, model) => {
                self.models_tab
                    .select(&connection, &model, &self.state.models);
                self.tab = Tab::Models;
            }
            Nav::OpenUrl(url) => self.open_url = Some(url),
            Nav::Toast { text, error } => self.toast(text, error),
        }
    }

    /// Starts a search across the logs of the selected job's connection (its jobs the
    /// Jobs tab shows, when asked), or opens a job's log at a line found.
    fn search_across(&mut self, action: super::logs::AcrossAction) {
        use super::logs::AcrossAction;
        match action {
            AcrossAction::Search { query, filtered } => {
                let connection = self
                    .state
                    .selected
                    .as_ref()
                    .map_or_else(ConnectionId::local, |k| k.connection.clone());
                let job_ids: Vec<String> = if filtered {
                    self.jobs_tab
                        .shown_jobs(&self.state.jobs)
                        .into_iter()
                        .filter(|k| k.connection == connection)
                        .map(|k| k.job_id)
                        .collect()
                } else {
                    Vec::new()
                };
                if filtered && job_ids.is_empty() {
                    let name = self.state.connections.name(&connection).to_owned();
                    self.logs.across_refused(
                        connection,
                        format!("The Jobs filter shows no job of {name}."),
                    );
                    return;
                }
                let generation = self.logs.across_started(connection.clone());
                self.backend
                    .send(Request::SearchLogs(Some(crate::backend::LogSearch {
                        connection,
                        request: crate::domain::log_search::LogSearchRequest {
                            query,
                            job_ids,
                            context_lines: 2,
                            max_matches: 200,
                            page_token: None,
                        },
                        generation,
                    })));
            }
            AcrossAction::Open(job_id, seq) => {
                let connection = self
                    .logs
                    .across_connection()
                    .cloned()
                    .unwrap_or_else(ConnectionId::local);
                self.navigate(Nav::Select(Some(JobKey::new(&connection, &job_id))));
                self.logs.show_one_job();
                self.logs.show_line(seq);
            }
            AcrossAction::Stop => self.backend.send(Request::SearchLogs(None)),
        }
    }

    /// Dropped files: model files on Models, requests on Predict, log dirs elsewhere.
    pub(super) fn take_dropped(&mut self, ui: &Ui) {
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
                Tab::Models => {
                    if let Some(nav) =
                        self.models_tab
                            .drop_path(path, &self.state.models, &self.backend)
                    {
                        self.navigate(nav);
                    }
                }
                Tab::Predict => {
                    self.predict
                        .drop_path(path, &self.state.models.list, &self.backend);
                }
                _ => self.watch_logdir(path),
            }
        }
    }
}
