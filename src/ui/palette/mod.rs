//! The command palette (Ctrl+P): one box that finds every action, every job and model of
//! every connection and the recent filters, fuzzily, and runs the one picked — keyboard
//! only (arrows to move, Enter to run, Esc to close).

pub mod matcher;

use egui::{Key, RichText};

use super::nav::Tab;
use super::state::Snapshots;
use crate::domain::{ConnectionId, JobKey, JobState};
use matcher::{Hit, Matcher};

/// What a palette entry does.
#[derive(Debug, Clone, PartialEq)]
pub enum PaletteCommand {
    /// Show a tab.
    Show(Tab),
    /// Open the New job form.
    NewJob,
    /// Open the connections panel.
    Connections,
    /// Filter the jobs table.
    Filter(String),
    /// Select a job and open its details.
    SelectJob(JobKey),
    /// Ask to cancel a job (the confirmation takes Enter).
    CancelJob(JobKey),
    /// Open the New job form filled from a job.
    CloneJob(JobKey),
    /// Copy the command line that re-creates a job.
    CopyJobCommand(JobKey),
    /// Show a model in the Models tab.
    ShowModel(ConnectionId, String),
    /// Make a version its model's default.
    MakeDefault {
        /// Where the model is.
        connection: ConnectionId,
        /// The model's short name.
        model: String,
        /// The version to make the default.
        version: String,
    },
    /// Pick a TensorBoard log dir to show in Scalars.
    OpenLogDir,
    /// Run the bundled sample training job.
    RunSample,
    /// Search the logs of every job.
    SearchAllLogs,
    /// Show the Alerts window.
    Alerts,
}

/// One line of the palette.
#[derive(Debug, Clone)]
struct Entry {
    label: String,
    detail: String,
    command: PaletteCommand,
}

/// The palette's state: its entries (rebuilt when what they list changed) and the query.
#[derive(Default)]
pub struct Palette {
    /// Shown now.
    pub open: bool,
    query: String,
    entries: Vec<Entry>,
    matcher: Matcher,
    hits: Vec<Hit>,
    highlighted: usize,
    /// (jobs revision, models, selected job) the entries were built for.
    built_for: Option<(u64, usize, Option<JobKey>, usize)>,
    focus: bool,
    /// Take the job list's changes at the next refresh (set when the palette opens:
    /// while it is open, jobs syncing every second must not rebuild 100k entries).
    take_jobs: bool,
}

impl Palette {
    /// Opens the palette with an empty query.
    pub fn open(&mut self) {
        self.open = true;
        self.query.clear();
        self.highlighted = 0;
        self.focus = true;
        self.take_jobs = true;
        self.hits = self.matcher.search("");
    }

    /// Builds the entries from what the console knows, when that changed.
    pub fn refresh(&mut self, state: &Snapshots, recent_filters: &[String]) {
        let revision = match (&self.built_for, self.take_jobs) {
            (Some(built), false) => built.0,
            _ => state.jobs.revision(),
        };
        self.take_jobs = false;
        let key = (
            revision,
            state.models.list.iter().map(|m| m.versions.len() + 1).sum(),
            state.selected.clone(),
            recent_filters.len(),
        );
        if self.built_for.as_ref() == Some(&key) {
            return;
        }
        self.built_for = Some(key);
        self.entries = entries(state, recent_filters);
        let bytes = self.entries.iter().map(|e| e.label.len() + 1).sum();
        self.matcher = Matcher::with_capacity(self.entries.len(), bytes);
        for e in &self.entries {
            self.matcher.push(&e.label);
        }
        self.hits = self.matcher.search(&self.query);
        self.highlighted = 0;
    }

    /// Sets the query as if typed and ranks the entries for it.
    pub fn set_query(&mut self, query: &str) {
        query.clone_into(&mut self.query);
        self.hits = self.matcher.search(&self.query);
        self.highlighted = 0;
    }

    /// The labels of the entries shown, best first.
    pub fn shown(&self) -> Vec<&str> {
        self.hits
            .iter()
            .filter_map(|h| self.entries.get(h.entry as usize))
            .map(|e| e.label.as_str())
            .collect()
    }

    /// Draws the palette; answers the command picked.
    pub fn show(&mut self, ctx: &egui::Context) -> Option<PaletteCommand> {
        if !self.open {
            return None;
        }
        let (down, up, enter) = ctx.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::NONE, Key::ArrowDown),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowUp),
                i.consume_key(egui::Modifiers::NONE, Key::Enter),
            )
        });
        let count = self.hits.len();
        if count > 0 {
            if down {
                self.highlighted = (self.highlighted + 1) % count;
            }
            if up {
                self.highlighted = (self.highlighted + count - 1) % count;
            }
        }
        let mut picked = None;
        egui::Window::new("Command palette")
            .title_bar(false)
            .anchor(egui::Align2::CENTER_TOP, [0.0, 60.0])
            .fixed_size([560.0, 420.0])
            .show(ctx, |ui| {
                let edit = egui::TextEdit::singleline(&mut self.query)
                    .hint_text("Type an action, a job, a model… (arrows, Enter, Esc)")
                    .desired_width(f32::INFINITY)
                    .id_salt("palette_query");
                let response = ui.add(edit);
                response.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Command palette")
                });
                if self.focus {
                    response.request_focus();
                    self.focus = false;
                }
                if response.changed() {
                    self.hits = self.matcher.search(&self.query);
                    self.highlighted = 0;
                }
                ui.separator();
                if self.hits.is_empty() {
                    ui.label(RichText::new("Nothing matches.").weak());
                }
                egui::ScrollArea::vertical()
                    .id_salt("palette_results")
                    .show(ui, |ui| {
                        for (row, hit) in self.hits.iter().enumerate() {
                            let Some(entry) = self.entries.get(hit.entry as usize) else {
                                continue;
                            };
                            let chosen = row == self.highlighted;
                            ui.horizontal(|ui| {
                                let label = ui.selectable_label(chosen, &entry.label);
                                if chosen && (down || up) {
                                    label.scroll_to_me(None);
                                }
                                if label.clicked() {
                                    picked = Some(entry.command.clone());
                                }
                                ui.label(RichText::new(&entry.detail).small().weak());
                            });
                        }
                    });
            });
        if enter {
            picked = self
                .hits
                .get(self.highlighted)
                .and_then(|h| self.entries.get(h.entry as usize))
                .map(|e| e.command.clone());
        }
        if picked.is_some() {
            self.open = false;
        }
        picked
    }
}

/// Every entry: actions (those on the selected job first), recent filters, jobs, models.
fn entries(state: &Snapshots, recent_filters: &[String]) -> Vec<Entry> {
    let mut out = Vec::with_capacity(state.jobs.len() + 64);
    let mut action = |label: String, detail: &str, command: PaletteCommand| {
        out.push(Entry {
            label,
            detail: detail.to_owned(),
            command,
        });
    };
    if let (Some(key), Some(job)) = (&state.selected, state.selected_job()) {
        let id = &key.job_id;
        if !job.state.is_finished()
            && job.state != JobState::Cancelling
            && !state.connections.read_only(&key.connection)
        {
            action(
                format!("Cancel job {id}"),
                "asks first",
                PaletteCommand::CancelJob(key.clone()),
            );
        }
        action(
            format!("Clone job {id}"),
            "re-run with edits",
            PaletteCommand::CloneJob(key.clone()),
        );
        action(
            format!("Copy job {id} as a command"),
            "gcloud / ray / curl",
            PaletteCommand::CopyJobCommand(key.clone()),
        );
    }
    for tab in Tab::ALL {
        action(
            format!("Go to {}", tab.title()),
            "tab",
            PaletteCommand::Show(tab),
        );
    }
    action("New job".into(), "Ctrl+N", PaletteCommand::NewJob);
    action("Connections".into(), "Ctrl+K", PaletteCommand::Connections);
    action(
        "Open a TensorBoard log dir".into(),
        "Scalars",
        PaletteCommand::OpenLogDir,
    );
    action("Alerts".into(), "notifications", PaletteCommand::Alerts);
    action(
        "Search the logs of every job".into(),
        "Logs",
        PaletteCommand::SearchAllLogs,
    );
    action(
        "Run the sample training job".into(),
        "local engine",
        PaletteCommand::RunSample,
    );
    for state_name in ["RUNNING", "FAILED", "SUCCEEDED", "CANCELLED", "QUEUED"] {
        let filter = format!("state={state_name}");
        action(
            format!("Show {} jobs", state_name.to_lowercase()),
            &filter,
            PaletteCommand::Filter(filter.clone()),
        );
    }
    for filter in recent_filters {
        action(
            format!("Filter: {filter}"),
            "recent filter",
            PaletteCommand::Filter(filter.clone()),
        );
    }
    let several = state.connections.list().len() > 1;
    for (i, job) in state.jobs.all().iter().enumerate() {
        let Some(key) = state.jobs.key_at(i) else {
            continue;
        };
        let detail = if several {
            format!(
                "{} · {}",
                job.state,
                state.connections.name(&key.connection)
            )
        } else {
            job.state.to_string()
        };
        out.push(Entry {
            label: format!("Job {}", job.job_id),
            detail,
            command: PaletteCommand::SelectJob(key),
        });
    }
    model_entries(state, &mut out);
    out
}

/// A model's entry, and one per version to make it the default (the one before the
/// default is the roll-back).
fn model_entries(state: &Snapshots, out: &mut Vec<Entry>) {
    for view in &state.models.list {
        let name = &view.model.name;
        out.push(Entry {
            label: format!("Model {name}"),
            detail: state.connections.name(&view.connection).to_owned(),
            command: PaletteCommand::ShowModel(view.connection.clone(), name.clone()),
        });
        let default = view.model.default_version.as_ref().map(|v| v.name.clone());
        let mut versions: Vec<_> = view.versions.iter().collect();
        versions.sort_by_key(|v| v.create_time);
        let default_at = versions
            .iter()
            .position(|v| Some(&v.name) == default.as_ref());
        for (i, version) in versions.iter().enumerate() {
            if Some(&version.name) == default.as_ref() {
                continue;
            }
            let label = if default_at.is_some_and(|d| d == i + 1) {
                format!("Roll back {name} to {}", version.name)
            } else {
                format!("Make {} the default of {name}", version.name)
            };
            out.push(Entry {
                label,
                detail: "moves traffic".into(),
                command: PaletteCommand::MakeDefault {
                    connection: view.connection.clone(),
                    model: name.clone(),
                    version: version.name.clone(),
                },
            });
        }
    }
}
