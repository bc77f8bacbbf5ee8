//! The Logs tab's "All jobs" view: one query over the logs of every job of a connection
//! (or the jobs the Jobs tab's filter shows), results grouped by job with their context
//! lines as pages arrive; a match opens its job's log at that line.

use std::time::{Duration, Instant};

use egui::{RichText, Sense, Ui};

use crate::backend::Update;
use crate::domain::log_search::JobMatches;
use crate::domain::{ConnectionId, LogEntry};
use crate::ui::{format, theme};

/// Typing pauses this long before a search starts.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// What the view asks of the tab.
#[derive(Debug, Clone, PartialEq)]
pub enum AcrossAction {
    /// Start a search for this text (only the jobs the Jobs tab shows, or all).
    Search {
        /// The text.
        query: String,
        /// Only the jobs the Jobs tab's filter shows.
        filtered: bool,
    },
    /// Stop the running search.
    Stop,
    /// Open a job's log at an entry.
    Open(String, u64),
}

/// The search across logs: the query, and the results as they come.
#[derive(Default)]
pub struct AcrossJobs {
    /// The text searched for.
    pub query: String,
    /// Search only the jobs the Jobs tab shows.
    pub filtered: bool,
    typed_at: Option<Instant>,
    /// Counts searches sent; pages of older ones are dropped.
    pub generation: u64,
    /// Whose jobs the last search was over.
    pub connection: Option<ConnectionId>,
    results: Vec<JobMatches>,
    searched: u64,
    total: u64,
    done: bool,
    error: Option<String>,
    started: Option<Instant>,
    first_results: Option<Duration>,
    took: Option<Duration>,
    focus: bool,
}

impl AcrossJobs {
    /// Takes a page of results of the current search.
    pub fn on_update(&mut self, update: &Update) {
        let Update::LogSearch {
            generation,
            page,
            done,
        } = update
        else {
            return;
        };
        if *generation != self.generation {
            return;
        }
        self.done = *done;
        if *done {
            self.took = self.started.map(|s| s.elapsed());
        }
        match page {
            Ok(page) => {
                if !page.jobs.is_empty() && self.first_results.is_none() {
                    self.first_results = self.started.map(|s| s.elapsed());
                }
                self.results.extend(page.jobs.iter().cloned());
                self.searched = page.searched_jobs;
                self.total = page.total_jobs;
            }
            Err(message) => self.error = Some(message.clone()),
        }
    }

    /// Starts over for a new search of `connection`'s jobs (its request is sent by the
    /// console).
    pub fn started(&mut self, connection: ConnectionId) -> u64 {
        self.connection = Some(connection);
        self.generation += 1;
        self.results.clear();
        self.searched = 0;
        self.total = 0;
        self.done = false;
        self.error = None;
        self.started = Some(Instant::now());
        self.first_results = None;
        self.took = None;
        self.generation
    }

    /// Says why a search could not start.
    pub fn refuse(&mut self, connection: ConnectionId, why: String) {
        self.started(connection);
        self.done = true;
        self.error = Some(why);
    }

    /// Puts the focus in the query box on the next frame.
    pub fn focus(&mut self) {
        self.focus = true;
    }

    /// The jobs with matches so far and their matching lines' text (for tests).
    pub fn found(&self) -> Vec<(String, Vec<String>)> {
        self.results
            .iter()
            .map(|j| {
                let lines = j.matches.iter().map(|m| m.entry.text.clone()).collect();
                (j.job_id.clone(), lines)
            })
            .collect()
    }

    /// Draws the view: the query box, the progress and the results.
    pub fn draw(&mut self, ui: &mut Ui, shown_jobs: Option<usize>) -> Vec<AcrossAction> {
        let mut actions = Vec::new();
        ui.horizontal(|ui| {
            let edit = egui::TextEdit::singleline(&mut self.query)
                .hint_text("Search the logs of every job")
                .desired_width(320.0)
                .id_salt("across_search");
            let response = ui.add(edit).on_hover_text(
                "Lower case matches any case; a capital letter matches case exactly",
            );
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search every job's log")
            });
            if self.focus {
                response.request_focus();
                self.focus = false;
            }
            if response.changed() {
                self.typed_at = Some(Instant::now());
            }
            if let Some(count) = shown_jobs
                && ui
                    .checkbox(
                        &mut self.filtered,
                        format!("only the {count} jobs the Jobs filter shows"),
                    )
                    .changed()
            {
                // Search again at once: no typing to wait for.
                let now = Instant::now();
                self.typed_at = Some(now.checked_sub(DEBOUNCE).unwrap_or(now));
            }
            if self.started.is_some()
                && !self.done
                && ui
                    .button("⏹ Stop")
                    .on_hover_text("Stop searching")
                    .clicked()
            {
                self.done = true;
                actions.push(AcrossAction::Stop);
            }
        });
        if let Some(typed) = self.typed_at {
            let waited = typed.elapsed();
            if waited >= DEBOUNCE {
                self.typed_at = None;
                let query = self.query.trim().to_owned();
                if query.is_empty() {
                    self.started = None;
                    self.results.clear();
                    actions.push(AcrossAction::Stop);
                } else {
                    actions.push(AcrossAction::Search {
                        query,
                        filtered: self.filtered && shown_jobs.is_some(),
                    });
                }
            } else {
                ui.ctx().request_repaint_after(DEBOUNCE - waited);
            }
        }
        self.status(ui);
        let dark = ui.visuals().dark_mode;
        egui::ScrollArea::vertical()
            .id_salt("across_results")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for job in &self.results {
                    let more = job.total.saturating_sub(job.matches.len() as u64);
                    let title = if more > 0 {
                        format!("{} — {} matches ({more} not shown)", job.job_id, job.total)
                    } else {
                        format!("{} — {} matches", job.job_id, job.total)
                    };
                    egui::CollapsingHeader::new(RichText::new(title).strong())
                        .id_salt(("across_job", &job.job_id))
                        .default_open(true)
                        .show(ui, |ui| {
                            for m in &job.matches {
                                for line in &m.before {
                                    context_line(ui, line);
                                }
                                let text = RichText::new(format!(
                                    "{} {}",
                                    format::clock_millis(m.entry.timestamp),
                                    m.entry.text
                                ))
                                .monospace()
                                .background_color(theme::mark_color(dark));
                                if ui
                                    .add(egui::Label::new(text).sense(Sense::click()))
                                    .on_hover_text("Open this line in the job's log")
                                    .clicked()
                                {
                                    actions
                                        .push(AcrossAction::Open(job.job_id.clone(), m.entry.seq));
                                }
                                for line in &m.after {
                                    context_line(ui, line);
                                }
                                ui.add_space(4.0);
                            }
                        });
                }
            });
        actions
    }

    fn status(&self, ui: &mut Ui) {
        if let Some(error) = &self.error {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                format!("⚠ {error}"),
            );
            return;
        }
        if self.started.is_none() {
            ui.label(
                RichText::new(
                    "Type to search every job's log at once; results come grouped by job.",
                )
                .weak(),
            );
            return;
        }
        let lines: usize = self.results.iter().map(|j| j.matches.len()).sum();
        let first = self
            .first_results
            .map(|d| format!(", first results after {} ms", d.as_millis()))
            .unwrap_or_default();
        let text = format!(
            "{} of {} jobs searched: {} with matches, {lines} lines shown{first}",
            self.searched,
            self.total,
            self.results.len()
        );
        ui.horizontal(|ui| {
            if !self.done {
                ui.spinner();
                ui.ctx().request_repaint_after(Duration::from_millis(100));
            } else if self.results.is_empty() {
                ui.label(format!(
                    "Nothing found in {} jobs ({} ms).",
                    self.total,
                    self.took.unwrap_or_default().as_millis()
                ));
                return;
            }
            ui.label(RichText::new(text).weak());
        });
    }
}

fn context_line(ui: &mut Ui, line: &LogEntry) {
    ui.label(
        RichText::new(format!(
            "{} {}",
            format::clock_millis(line.timestamp),
            line.text
        ))
        .monospace()
        .weak(),
    );
}
