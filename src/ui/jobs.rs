//! The Jobs tab: every job in a live, sortable, filterable table, and the selected job's
//! details and actions.

mod coordinates;
mod details;
mod diff;
mod failure;
mod study;

use chrono::{DateTime, Utc};
use egui::{Color32, RichText, Sense, Ui};
use egui_extras::{Column, TableBuilder};

use super::format;
use super::nav::{Nav, Tab};
use super::state::Snapshots;
use super::state::connections::Connections;
use super::state::jobs::JobList;
use super::theme;
use crate::backend::{Backend, ModelChange, Request};
use crate::domain::shell_words;
use std::collections::HashMap;

use crate::domain::{
    ConnectionId, Filter, FilterError, Job, JobKey, JobState, ListedJob, TRIAL_LABEL,
    TrainingOutput,
};

/// Quick state filters shown as chips beside the filter box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateChip {
    /// No state filter.
    All,
    /// Preparing, running or being cancelled.
    Running,
    /// Only jobs that succeeded.
    Succeeded,
    /// Only jobs that failed.
    Failed,
    /// Only jobs that were cancelled.
    Cancelled,
}

impl StateChip {
    const ALL: [StateChip; 5] = [
        StateChip::All,
        StateChip::Running,
        StateChip::Succeeded,
        StateChip::Failed,
        StateChip::Cancelled,
    ];

    fn label(self) -> &'static str {
        match self {
            StateChip::All => "All",
            StateChip::Running => "Running",
            StateChip::Succeeded => "Succeeded",
            StateChip::Failed => "Failed",
            StateChip::Cancelled => "Cancelled",
        }
    }

    fn admits(self, state: JobState) -> bool {
        match self {
            StateChip::All => true,
            StateChip::Running => state.holds_slot(),
            StateChip::Succeeded => state == JobState::Succeeded,
            StateChip::Failed => state == JobState::Failed,
            StateChip::Cancelled => matches!(state, JobState::Cancelled | JobState::Cancelling),
        }
    }
}

/// A column the table can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// By state name.
    State,
    /// By job id, alphabetically.
    JobId,
    /// When it was created.
    Created,
    /// How long it ran.
    Duration,
}

/// What the Jobs tab asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum JobsAction {
    /// Select this job (or none).
    Select(Option<JobKey>),
    /// Open the New job form, filled in from a job of a connection when cloning.
    OpenForm(Option<(ConnectionId, Box<Job>)>),
    /// Cancel this job (already confirmed).
    Cancel(JobKey),
    /// Show the selected job's logs.
    ShowLogs,
    /// Show the selected job's resources.
    ShowResources,
    /// Show the scalars the job wrote to its job dir.
    ShowScalars(crate::backend::LogDirSource),
    /// Open the job dir in the file manager.
    OpenJobDir(String),
    /// Run the bundled sample training job.
    RunSample,
    /// Create a model version from the `model.onnx` a job of a connection left in its
    /// job dir.
    Deploy(ConnectionId, Box<Job>),
    /// Show (true) or hide a study's trials under its row.
    Fold(JobKey, bool),
    /// Open the New job form filled in from a trial, as a plain job.
    CloneTrial(JobKey),
    /// Go where a link leads.
    Go(Nav),
    /// Copy the command line that re-creates a job.
    CopyCommand(JobKey, Box<Job>),
    /// Put a job in the diff, or take it out.
    ToggleDiff(JobKey),
    /// Open the diff window.
    OpenDiff,
}

/// The Jobs tab's state.
pub struct JobsTab {
    filter_text: String,
    filter: Result<Filter, FilterError>,
    chip: StateChip,
    /// Show only this connection's jobs.
    connection_chip: Option<ConnectionId>,
    sort: SortColumn,
    descending: bool,
    /// Positions in the job list of the rows shown, in order.
    view: Vec<u32>,
    /// (list revision, settings revision, connections revision) the view was built for.
    view_built_for: Option<(u64, u64, u64)>,
    settings_revision: u64,
    /// Show the details panel of the selected job.
    pub details_open: bool,
    confirm_cancel: Option<JobKey>,
    focus_filter: bool,
    scroll_to_selected: bool,
    /// Studies whose trials show under them.
    unfolded: study::Unfolded,
    trial_sort: study::TrialSort,
    /// Some job asks for GPUs: the table has a GPUs column (worked out with the view).
    gpu_column: bool,
    /// The failure card of the selected job, once the backend read its log.
    failure: Option<(JobKey, Box<crate::domain::failure::FailureCard>)>,
    recent_filters: Vec<String>,
    /// Why the selected job's log (and so its failure card) could not be read.
    failure_error: Option<(JobKey, String)>,
    /// The jobs picked for a diff, and its window.
    diff: diff::DiffSet,
    /// The diff's jobs whose final scalars were asked for.
    scalars_asked: Vec<JobKey>,
}

/// Filters the palette remembers.
const RECENT_FILTERS: usize = 10;

impl Default for JobsTab {
    fn default() -> Self {
        JobsTab {
            filter_text: String::new(),
            filter: Filter::parse::<ListedJob>(""),
            chip: StateChip::All,
            connection_chip: None,
            sort: SortColumn::Created,
            descending: true,
            view: Vec::new(),
            view_built_for: None,
            settings_revision: 0,
            details_open: true,
            confirm_cancel: None,
            focus_filter: false,
            scroll_to_selected: false,
            unfolded: study::Unfolded::default(),
            trial_sort: study::TrialSort::default(),
            gpu_column: false,
            failure: None,
            recent_filters: Vec::new(),
            failure_error: None,
            diff: diff::DiffSet::default(),
            scalars_asked: Vec::new(),
        }
    }
}

const ROW_HEIGHT: f32 = 22.0;

impl JobsTab {
    /// Puts the keyboard focus in the filter box (Ctrl+F).
    pub fn focus_filter(&mut self) {
        self.focus_filter = true;
    }

    /// Sets the filter text as if typed.
    pub fn set_filter(&mut self, text: &str) {
        self.filter_text = text.to_owned();
        self.filter_changed();
        self.remember_filter();
    }

    /// The filters used last, newest first (the palette offers them).
    pub fn recent_filters(&self) -> &[String] {
        &self.recent_filters
    }

    /// Keeps the filter in use among the recent ones, when it is valid and not empty.
    fn remember_filter(&mut self) {
        let text = self.filter_text.trim();
        if text.is_empty() || self.filter.is_err() {
            return;
        }
        self.recent_filters.retain(|f| f != text);
        self.recent_filters.insert(0, text.to_owned());
        self.recent_filters.truncate(RECENT_FILTERS);
    }

    /// Puts a job in the diff (or takes it out).
    pub fn toggle_diff(&mut self, key: &JobKey) {
        self.diff.toggle(key);
    }

    /// Opens the diff window of the jobs picked.
    pub fn open_diff(&mut self) {
        self.diff.open = true;
    }

    /// Keeps the final scalars read from jobs' dirs, for the diff.
    pub fn set_final_scalars(
        &mut self,
        scalars: Vec<(JobKey, std::collections::BTreeMap<String, f64>)>,
    ) {
        self.diff.final_scalars.extend(scalars);
    }

    /// Asks for the final scalars of the diff's jobs not asked about yet.
    fn ask_final_scalars(&mut self, state: &Snapshots, backend: &Backend) {
        if !self.diff.open || self.scalars_asked == self.diff.jobs {
            return;
        }
        self.scalars_asked.clone_from(&self.diff.jobs);
        let dirs: Vec<(JobKey, String)> = self
            .diff
            .jobs
            .iter()
            .filter(|k| !self.diff.final_scalars.contains_key(*k))
            .filter(|k| {
                state
                    .connections
                    .capabilities(&k.connection)
                    .local_job_dirs
                    .yes()
            })
            .filter_map(|k| {
                let dir = state
                    .jobs
                    .find(k)?
                    .training_input
                    .as_ref()?
                    .job_dir
                    .clone()?;
                (!crate::domain::bucket::BucketUrl::is_bucket(&dir)).then(|| (k.clone(), dir))
            })
            .collect();
        if !dirs.is_empty() {
            backend.send(Request::FinalScalars(dirs));
        }
    }

    /// The filter as typed.
    pub fn filter_text(&self) -> &str {
        &self.filter_text
    }

    /// How many jobs the table shows, when a filter, chip or connection narrows it.
    pub fn shown_count(&self) -> Option<usize> {
        let narrowed = !self.filter_text.trim().is_empty()
            || self.chip != StateChip::All
            || self.connection_chip.is_some();
        narrowed.then_some(self.view.len())
    }

    /// The jobs the table shows, in its order.
    pub fn shown_jobs(&self, list: &JobList) -> Vec<JobKey> {
        self.view
            .iter()
            .filter_map(|&i| list.key_at(i as usize))
            .collect()
    }

    /// Asks to cancel a job: the confirmation opens (Enter confirms).
    pub fn ask_cancel(&mut self, key: JobKey) {
        self.confirm_cancel = Some(key);
    }

    /// Scrolls the table to the selected job on the next frame.
    pub fn scroll_to_selected(&mut self) {
        self.scroll_to_selected = true;
    }

    fn filter_changed(&mut self) {
        self.filter = Filter::parse::<ListedJob>(&self.filter_text);
        self.settings_revision += 1;
    }

    /// Closes whatever is open (Esc): the cancel confirmation, else the details panel.
    pub fn close_one(&mut self) -> bool {
        if self.confirm_cancel.take().is_some() {
            return true;
        }
        if self.details_open {
            self.details_open = false;
            return true;
        }
        false
    }

    /// The keys of the rows shown, in order (rebuilt only when jobs or settings change).
    pub fn visible_keys(&mut self, list: &JobList, connections: &Connections) -> Vec<JobKey> {
        self.rebuild_view(list, connections);
        self.view
            .iter()
            .filter_map(|&i| list.key_at(i as usize))
            .collect()
    }

    /// The job `step` rows below (or above, negative) the selected one.
    pub fn neighbour(
        &mut self,
        list: &JobList,
        connections: &Connections,
        selected: Option<&JobKey>,
        step: isize,
    ) -> Option<JobKey> {
        self.rebuild_view(list, connections);
        if self.view.is_empty() {
            return None;
        }
        let position = selected
            .and_then(|key| list.position(key))
            .and_then(|row| self.view.iter().position(|&i| i as usize == row));
        let target = match position {
            Some(p) => (p as isize + step).clamp(0, self.view.len() as isize - 1) as usize,
            None => 0,
        };
        self.scroll_to_selected = true;
        list.key_at(self.view[target] as usize)
    }

    fn rebuild_view(&mut self, list: &JobList, connections: &Connections) {
        let key = (
            list.revision(),
            self.settings_revision,
            connections.revision(),
        );
        if self.view_built_for == Some(key) {
            return;
        }
        self.view_built_for = Some(key);
        let filter = self.filter.as_ref().ok().filter(|f| !f.is_empty());
        let chip = self.chip;
        let only = self.connection_chip.as_ref();
        self.view.clear();
        self.view.extend(
            list.all()
                .iter()
                .enumerate()
                .filter(|(i, j)| {
                    let owner = list.owner(*i);
                    chip.admits(j.state)
                        && only.is_none_or(|c| owner == Some(c))
                        && filter.is_none_or(|f| {
                            let connection = owner.map_or("", |o| connections.name(o));
                            f.matches(&ListedJob { connection, job: j })
                        })
                })
                .map(|(i, _)| i as u32),
        );
        let jobs = list.all();
        let now = Utc::now();
        let key_of = |i: &u32| &jobs[*i as usize];
        match self.sort {
            SortColumn::Created => self.view.sort_by(|a, b| {
                let (a, b) = (key_of(a), key_of(b));
                a.create_time
                    .cmp(&b.create_time)
                    .then_with(|| a.job_id.cmp(&b.job_id))
            }),
            SortColumn::JobId => self
                .view
                .sort_by(|a, b| key_of(a).job_id.cmp(&key_of(b).job_id)),
            SortColumn::State => self.view.sort_by(|a, b| {
                let (a, b) = (key_of(a), key_of(b));
                a.state
                    .as_str()
                    .cmp(b.state.as_str())
                    .then_with(|| a.create_time.cmp(&b.create_time))
            }),
            SortColumn::Duration => self.view.sort_by_key(|i| key_of(i).duration(now)),
        }
        if self.descending {
            self.view.reverse();
        }
        self.fold_trials(list);
        self.gpu_column = list.all().iter().any(|j| j.accelerators().is_some());
    }

    /// Draws the tab and sends its requests; answers where it leads.
    pub fn ui(&mut self, ui: &mut Ui, state: &Snapshots, backend: &Backend) -> Vec<Nav> {
        let errors = state.job_sync_errors();
        let actions = self.draw(
            ui,
            &state.jobs,
            &state.connections,
            state.selected.as_ref(),
            &errors,
        );
        let mut navs = Vec::new();
        for action in actions {
            match action {
                JobsAction::Select(key) => navs.push(Nav::Select(key)),
                JobsAction::OpenForm(from) => navs.push(Nav::OpenForm(from)),
                JobsAction::Cancel(key) => backend.send(Request::CancelJob(key)),
                JobsAction::ShowLogs => navs.push(Nav::Show(Tab::Logs)),
                JobsAction::ShowResources => navs.push(Nav::Show(Tab::Resources)),
                JobsAction::ShowScalars(dir) => navs.push(Nav::WatchLogDir(dir)),
                JobsAction::OpenJobDir(dir) => navs.push(Nav::OpenUrl(format!("file://{dir}"))),
                JobsAction::RunSample => backend.send(Request::RunSampleJob),
                JobsAction::Go(nav) => navs.push(nav),
                JobsAction::CopyCommand(job, details) => {
                    backend.send(Request::CopyJobCommand { job, details });
                }
                JobsAction::ToggleDiff(key) => self.diff.toggle(&key),
                JobsAction::OpenDiff => self.diff.open = true,
                JobsAction::Fold(key, unfolded) => self.set_unfolded(&key, unfolded),
                JobsAction::CloneTrial(key) => {
                    if let Some(trial) = state.jobs.find(&key) {
                        let job = Box::new(trial.trial_as_job());
                        navs.push(Nav::OpenForm(Some((key.connection, job))));
                    }
                }
                JobsAction::Deploy(connection, job) => {
                    let Some(dir) = job.training_input.as_ref().and_then(|i| i.job_dir.clone())
                    else {
                        continue;
                    };
                    let model = job.deploy_model_name();
                    backend.send(Request::ChangeModels {
                        connection: connection.clone(),
                        change: ModelChange::DeployJob {
                            model: model.clone(),
                            version: job.job_id.clone(),
                            job_dir: dir.into(),
                        },
                    });
                    navs.push(Nav::ShowModel(connection, model));
                }
            }
        }
        self.diff.window(ui.ctx(), &state.jobs);
        self.ask_final_scalars(state, backend);
        navs
    }

    fn draw(
        &mut self,
        ui: &mut Ui,
        list: &JobList,
        connections: &Connections,
        selected: Option<&JobKey>,
        list_errors: &[String],
    ) -> Vec<JobsAction> {
        let mut actions = Vec::new();
        self.toolbar(ui, connections, &mut actions);
        for error in list_errors {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                format!("Could not refresh the job list: {error}"),
            );
        }
        self.rebuild_view(list, connections);
        let selected_job = selected.and_then(|key| Some((key, list.find(key)?)));
        if self.details_open
            && let Some((key, job)) = selected_job
        {
            egui::Panel::right("job_details")
                .resizable(true)
                .default_size(420.0)
                .show(ui, |ui| {
                    self.details(ui, key, job, connections, &mut actions);
                });
        }
        if list.is_empty() {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| {
                ui.heading("No jobs yet");
                ui.label("Submit a training job to see it here, live — or start with the sample:");
                ui.label("a real network learning handwritten digits for about half a minute, with logs, resources and scalars.");
                if ui.button("▶ Run sample job").clicked() {
                    actions.push(JobsAction::RunSample);
                }
                if ui.button("➕ New job").clicked() {
                    actions.push(JobsAction::OpenForm(None));
                }
            });
        } else {
            self.table(ui, list, connections, selected, &mut actions);
        }
        if let Some(key) = self.confirm_cancel.clone() {
            self.confirm_cancel_dialog(ui, &key, &mut actions);
        }
        actions
    }

    fn toolbar(&mut self, ui: &mut Ui, connections: &Connections, actions: &mut Vec<JobsAction>) {
        ui.horizontal(|ui| {
            let picked = self.diff.jobs.len();
            if ui
                .button("⚠ Alerts")
                .on_hover_text("Notifications for stalled jobs, NaN/inf and memory")
                .clicked()
            {
                actions.push(JobsAction::Go(Nav::OpenAlerts));
            }
            if picked > 0
                && ui
                    .add_enabled(
                        picked >= 2,
                        egui::Button::new(format!("± Diff {picked} jobs")),
                    )
                    .on_hover_text("Show the picked jobs side by side, only what differs")
                    .on_disabled_hover_text("Pick one more job: ± Add to diff, or Ctrl+click a row")
                    .clicked()
            {
                actions.push(JobsAction::OpenDiff);
            }
            if ui
                .button("➕ New job")
                .on_hover_text("Submit a training job")
                .clicked()
            {
                actions.push(JobsAction::OpenForm(None));
            }
            ui.separator();
            let edit = egui::TextEdit::singleline(&mut self.filter_text)
                .hint_text("Filter, e.g. state=RUNNING AND connection=local")
                .desired_width(360.0)
                .id_salt("job_filter");
            let response = ui.add(edit).on_hover_text("gcloud filter syntax (Ctrl+F)");
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Filter jobs")
            });
            if self.focus_filter {
                response.request_focus();
                self.focus_filter = false;
            }
            if response.changed() {
                self.filter_changed();
            }
            if response.lost_focus() {
                self.remember_filter();
            }
            for chip in StateChip::ALL {
                if ui
                    .selectable_label(self.chip == chip, chip.label())
                    .clicked()
                    && self.chip != chip
                {
                    self.chip = chip;
                    self.settings_revision += 1;
                }
            }
            if connections.list().len() > 1 {
                ui.separator();
                if ui
                    .selectable_label(self.connection_chip.is_none(), "Everywhere")
                    .on_hover_text("Jobs of every connection")
                    .clicked()
                    && self.connection_chip.is_some()
                {
                    self.connection_chip = None;
                    self.settings_revision += 1;
                }
                for config in connections.list() {
                    let text = RichText::new(&config.name)
                        .color(theme::rgb(connections.color(&config.id)));
                    let on = self.connection_chip.as_ref() == Some(&config.id);
                    if ui
                        .selectable_label(on, text)
                        .on_hover_text(format!(
                            "Only jobs of {} (connection={})",
                            config.name, config.name
                        ))
                        .clicked()
                        && !on
                    {
                        self.connection_chip = Some(config.id.clone());
                        self.settings_revision += 1;
                    }
                }
            }
        });
        if let Err(error) = &self.filter {
            let dark = ui.visuals().dark_mode;
            ui.colored_label(theme::error_color(dark), format!("⚠ {error}"));
            // Point at the column the error names.
            let mut pointer = " ".repeat(error.position);
            pointer.push('^');
            ui.label(
                RichText::new(format!("{}\n{pointer}", self.filter_text))
                    .monospace()
                    .color(theme::error_color(dark)),
            );
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one table: its columns, header, then each column's cell"
    )]
    fn table(
        &mut self,
        ui: &mut Ui,
        list: &JobList,
        connections: &Connections,
        selected: Option<&JobKey>,
        actions: &mut Vec<JobsAction>,
    ) {
        let dark = ui.visuals().dark_mode;
        let now = Utc::now();
        let mut any_running = false;
        let selected_row = selected.and_then(|key| list.position(key));
        let scroll_to = if self.scroll_to_selected {
            self.scroll_to_selected = false;
            selected_row.and_then(|row| self.view.iter().position(|&i| i as usize == row))
        } else {
            None
        };
        let several = connections.list().len() > 1;
        let command_held = ui.input(|i| i.modifiers.command);
        let mut builder = TableBuilder::new(ui)
            .id_salt("jobs_table")
            .striped(true)
            .sense(Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::initial(130.0).at_least(90.0));
        if several {
            builder = builder.column(Column::initial(110.0).at_least(60.0).clip(true));
        }
        builder = builder.column(Column::initial(220.0).at_least(80.0).clip(true));
        let gpus = self.gpu_column;
        if gpus {
            builder = builder.column(Column::initial(80.0).at_least(40.0).clip(true));
        }
        builder = builder
            .column(Column::initial(150.0).at_least(80.0))
            .column(Column::initial(90.0).at_least(60.0))
            .column(Column::remainder().clip(true));
        if let Some(row) = scroll_to {
            builder = builder.scroll_to_row(row, None);
        }
        let mut sort_clicked = None;
        let mut columns = vec![(Some(SortColumn::State), "State")];
        if several {
            columns.push((None, "Connection"));
        }
        columns.push((Some(SortColumn::JobId), "Job ID"));
        if gpus {
            columns.push((None, "GPUs"));
        }
        columns.extend([
            (Some(SortColumn::Created), "Created"),
            (Some(SortColumn::Duration), "Duration"),
            (None, "Labels"),
        ]);
        builder
            .header(24.0, |mut header| {
                for (column, title) in columns {
                    header.col(|ui| {
                        let arrow = match column {
                            Some(c) if c == self.sort => {
                                if self.descending {
                                    " ⏷"
                                } else {
                                    " ⏶"
                                }
                            }
                            _ => "",
                        };
                        let text = RichText::new(format!("{title}{arrow}")).strong();
                        match column {
                            Some(c) => {
                                if ui
                                    .add(egui::Button::new(text).frame(false))
                                    .on_hover_text("Sort")
                                    .clicked()
                                {
                                    sort_clicked = Some(c);
                                }
                            }
                            None => {
                                ui.label(text);
                            }
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, self.view.len(), |mut row| {
                    let Some(&i) = self.view.get(row.index()) else {
                        return;
                    };
                    let (Some(job), Some(owner)) = (list.at(i as usize), list.owner(i as usize))
                    else {
                        return;
                    };
                    let picked = !self.diff.jobs.is_empty()
                        && list
                            .key_at(i as usize)
                            .is_some_and(|k| self.diff.contains(&k));
                    row.set_selected(selected_row == Some(i as usize) || picked);
                    any_running |= job.state == JobState::Running;
                    let color = theme::state_color(job.state, dark);
                    let state =
                        RichText::new(format!("{} {}", theme::state_icon(job.state), job.state))
                            .color(color);
                    row.col(|ui| cell(ui, state));
                    if several {
                        let name = RichText::new(connections.name(owner))
                            .color(theme::rgb(connections.color(owner)));
                        row.col(|ui| cell(ui, name));
                    }
                    let key = JobKey::new(owner, &job.job_id);
                    row.col(|ui| self.id_cell(ui, (&key, job), list, actions));
                    if gpus {
                        let text = job
                            .accelerators()
                            .map(|a| format!("{} × {}", a.count, short_accelerator(&a.kind)))
                            .unwrap_or_default();
                        row.col(|ui| cell(ui, text));
                    }
                    let created = job.create_time.map(format::local_time).unwrap_or_default();
                    let duration = job.duration(now).map(format::duration).unwrap_or_default();
                    row.col(|ui| cell(ui, created));
                    row.col(|ui| cell(ui, duration));
                    row.col(|ui| cell(ui, labels_text(job)));
                    if row.response().clicked() {
                        let key = JobKey::new(owner, &job.job_id);
                        if command_held {
                            actions.push(JobsAction::ToggleDiff(key));
                        } else {
                            actions.push(JobsAction::Select(Some(key)));
                        }
                    }
                    if row.response().double_clicked() {
                        actions.push(JobsAction::ShowLogs);
                    }
                });
            });
        if let Some(column) = sort_clicked {
            if self.sort == column {
                self.descending = !self.descending;
            } else {
                self.sort = column;
                self.descending = matches!(column, SortColumn::Created | SortColumn::Duration);
            }
            self.settings_revision += 1;
        }
        if any_running {
            // Durations of running jobs tick.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_secs(1));
        }
    }
}

/// A table cell's text: not selectable, so a click selects the row.
fn cell(ui: &mut Ui, text: impl Into<egui::WidgetText>) {
    ui.add(egui::Label::new(text).selectable(false).truncate());
}

/// `NVIDIA_TESLA_T4` as `T4`, `NVIDIA_A100_80GB` as `A100_80GB`.
fn short_accelerator(kind: &str) -> &str {
    let short = kind
        .trim_start_matches("NVIDIA_")
        .trim_start_matches("TESLA_");
    if short.is_empty() { "GPU" } else { short }
}

fn labels_text(job: &Job) -> String {
    let mut text = String::new();
    for (i, (k, v)) in job.labels.iter().enumerate() {
        if i > 0 {
            text.push_str(", ");
        }
        text.push_str(k);
        text.push('=');
        text.push_str(v);
    }
    text
}
