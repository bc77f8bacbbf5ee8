//! The Logs tab: the selected job's log, following live, with search, a severity filter,
//! wrapping, timestamps, copy and save. Rows are virtualised: a frame costs the same
//! with a hundred lines or millions.

use chrono::{DateTime, Utc};
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId, RichText, Ui};

mod across;

pub use across::AcrossAction;
use across::AcrossJobs;

use super::format;
use super::log_buffer::LogBuffer;
use super::nav::Nav;
use super::state::Snapshots;
use super::theme;
use crate::backend::{Backend, Request, Update};
use crate::domain::filter::find_ignore_case;
use crate::domain::{Capabilities, ConnectionId, JobKey, LogStream, Severity};

/// What the Logs tab asks the app to do.
#[derive(Debug, Clone, PartialEq)]
enum LogsAction {
    /// Copy this text to the clipboard.
    Copy(String),
    /// Save this text to a file the user picks.
    Save {
        /// The suggested file name.
        file_name: String,
        /// What to save.
        text: String,
    },
    /// Mark this time on the charts.
    MarkTime(DateTime<Utc>),
    /// What the "All jobs" view asks.
    Across(AcrossAction),
}

/// Lines to mark once they are in the buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PendingMark {
    /// The entry at this position.
    Seq(u64),
    /// The lines written in this span.
    Time(DateTime<Utc>, DateTime<Utc>),
}

/// The Logs tab's state.
pub struct LogsTab {
    /// The selected job's log.
    buffer: LogBuffer,
    /// Why reading the log failed, if it did.
    error: Option<String>,
    min_severity: Severity,
    search: String,
    wrap: bool,
    timestamps: bool,
    /// Buffer lines shown (passing the severity filter), in order.
    visible: Vec<u32>,
    /// Positions in `visible` of lines containing the search text.
    matches: Vec<u32>,
    current_match: Option<usize>,
    /// (buffer generation, severity, search) that `visible`/`matches` were built for,
    /// and how many buffer lines they cover.
    built_for: Option<(u64, Severity, String)>,
    built_lines: usize,
    /// With wrapping: `wrap_starts[i]` is the first visual row of visible line `i`.
    wrap_starts: Vec<u32>,
    wrap_rows: u32,
    wrap_built_for: Option<(usize, u64, usize)>,
    jump_to_row: Option<usize>,
    follow_request: bool,
    focus_search: bool,
    /// The user scrolled away from the end.
    paused: bool,
    /// Lines (in the buffer) marked by a link from a chart or a failure card.
    marked: std::ops::Range<usize>,
    pending_mark: Option<PendingMark>,
    /// The time of the line clicked last: the charts mark it.
    picked_time: Option<DateTime<Utc>>,
    /// Search the logs of every job instead of reading one.
    all_jobs: bool,
    across: AcrossJobs,
}

impl Default for LogsTab {
    fn default() -> Self {
        LogsTab {
            buffer: LogBuffer::default(),
            error: None,
            min_severity: Severity::Default,
            search: String::new(),
            wrap: false,
            timestamps: true,
            visible: Vec::new(),
            matches: Vec::new(),
            current_match: None,
            built_for: None,
            built_lines: 0,
            wrap_starts: Vec::new(),
            wrap_rows: 0,
            wrap_built_for: None,
            jump_to_row: None,
            follow_request: false,
            focus_search: false,
            paused: false,
            marked: 0..0,
            pending_mark: None,
            picked_time: None,
            all_jobs: false,
            across: AcrossJobs::default(),
        }
    }
}

impl LogsTab {
    /// Starts over for another job.
    pub fn reset(&mut self, job: Option<JobKey>) {
        self.buffer.reset(job);
        self.error = None;
        self.current_match = None;
        self.paused = false;
        self.follow_request = true;
        self.marked = 0..0;
        self.pending_mark = None;
        self.picked_time = None;
    }

    /// Scrolls to the entry at `seq` and marks it (once it is read).
    pub fn show_line(&mut self, seq: u64) {
        self.pending_mark = Some(PendingMark::Seq(seq));
    }

    /// Scrolls to the lines written from `from` to `to` and marks them.
    pub fn mark_time(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.pending_mark = Some(PendingMark::Time(from, to));
    }

    /// Shows the search across every job's log, its box focused.
    pub fn search_all_jobs(&mut self) {
        self.all_jobs = true;
        self.across.focus();
    }

    /// Shows the selected job's log again.
    pub fn show_one_job(&mut self) {
        self.all_jobs = false;
    }

    /// A search across logs starts: its pages are now the ones kept.
    pub fn across_started(&mut self, connection: ConnectionId) -> u64 {
        self.across.started(connection)
    }

    /// A search across logs could not start, and why.
    pub fn across_refused(&mut self, connection: ConnectionId, why: String) {
        self.across.refuse(connection, why);
    }

    /// Whose jobs the last search across logs was over.
    pub fn across_connection(&self) -> Option<&ConnectionId> {
        self.across.connection.as_ref()
    }

    /// The jobs the search across logs found so far, with their matching lines.
    pub fn across_found(&self) -> Vec<(String, Vec<String>)> {
        self.across.found()
    }

    /// The lines marked now (positions in the buffer).
    pub fn marked_lines(&self) -> std::ops::Range<usize> {
        self.marked.clone()
    }

    /// The log held, for views beside the charts.
    pub fn buffer(&self) -> &LogBuffer {
        &self.buffer
    }

    /// Marks the pending lines once the buffer holds them and scrolls to the first.
    fn resolve_mark(&mut self) {
        let Some(pending) = self.pending_mark else {
            return;
        };
        let range = match pending {
            PendingMark::Seq(seq) => match self.buffer.line_of_seq(seq) {
                Some(line) => line..line + 1,
                None if self.buffer.is_complete() => 0..0,
                None => return,
            },
            PendingMark::Time(from, to) => {
                let range = self.buffer.lines_between(from, to);
                if range.is_empty() && !self.buffer.is_complete() {
                    return;
                }
                range
            }
        };
        self.pending_mark = None;
        self.marked = range.clone();
        if range.is_empty() {
            return;
        }
        if self.buffer.meta(range.start).severity < self.min_severity {
            self.min_severity = Severity::Default;
            self.refresh_index();
        }
        let row = self
            .visible
            .partition_point(|&v| (v as usize) < range.start);
        self.jump_to_row = Some(row);
        self.paused = true;
    }

    /// Puts the keyboard focus in the search box (Ctrl+F).
    pub fn focus_search(&mut self) {
        if self.all_jobs {
            self.across.focus();
        } else {
            self.focus_search = true;
        }
    }

    /// Sets the search text as if typed.
    pub fn set_search(&mut self, text: &str) {
        self.search = text.to_owned();
        self.current_match = None;
    }

    /// Scrolls to the end and follows new lines again (End).
    pub fn follow(&mut self) {
        self.follow_request = true;
        self.paused = false;
    }

    /// Number of lines shown after filtering.
    #[cfg(test)]
    fn visible_count(&mut self) -> usize {
        self.refresh_index();
        self.visible.len()
    }

    /// Number of lines matching the search.
    #[cfg(test)]
    fn match_count(&mut self) -> usize {
        self.refresh_index();
        self.matches.len()
    }

    /// Brings `visible`/`matches` up to date: rebuilt when settings change, extended
    /// with only the new lines otherwise.
    fn refresh_index(&mut self) {
        let key = (
            self.buffer.generation(),
            self.min_severity,
            self.search.to_ascii_lowercase(),
        );
        if self.built_for.as_ref() != Some(&key) {
            self.visible.clear();
            self.matches.clear();
            self.built_lines = 0;
            self.built_for = Some(key);
            self.wrap_built_for = None;
        }
        let needle = self
            .built_for
            .as_ref()
            .map(|k| k.2.clone())
            .unwrap_or_default();
        for i in self.built_lines..self.buffer.len() {
            if self.buffer.meta(i).severity < self.min_severity {
                continue;
            }
            if !needle.is_empty() && contains_ignore_case(self.buffer.text(i), &needle) {
                self.matches.push(self.visible.len() as u32);
            }
            self.visible.push(i as u32);
        }
        self.built_lines = self.buffer.len();
    }

    /// Visual rows per visible line when wrapping at `columns` characters.
    fn refresh_wrap(&mut self, columns: usize) {
        let key = (columns, self.buffer.generation(), self.visible.len());
        if self.wrap_built_for == Some(key) {
            return;
        }
        let start = match self.wrap_built_for {
            Some((c, g, n)) if c == columns && g == key.1 && n <= self.visible.len() => n,
            _ => {
                self.wrap_starts.clear();
                self.wrap_rows = 0;
                0
            }
        };
        for &line in &self.visible[start..] {
            self.wrap_starts.push(self.wrap_rows);
            let chars = self.buffer.text(line as usize).chars().count().max(1);
            self.wrap_rows += chars.div_ceil(columns) as u32;
        }
        self.wrap_built_for = Some(key);
    }

    /// Draws the tab.
    /// `capabilities` say whether the job's platform reports a level and a time per line.
    /// Takes the selected job's log lines (and why they could not be read).
    pub fn on_update(&mut self, update: &Update) {
        match update {
            Update::Logs {
                job,
                entries,
                complete,
            } if self.buffer.job() == Some(job) => {
                self.error = None;
                self.buffer.append(entries);
                self.buffer.set_complete(*complete);
            }
            Update::LogsFailed { job, message } if self.buffer.job() == Some(job) => {
                self.error = Some(format!("Could not read the log: {message}"));
            }
            Update::LogSearch { .. } => self.across.on_update(update),
            _ => {}
        }
    }

    /// Draws the tab and sends its requests; answers where it leads.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &Snapshots,
        backend: &Backend,
        shown_jobs: Option<usize>,
    ) -> Vec<Nav> {
        let running = state.selected_job().is_some_and(|j| !j.state.is_finished());
        let mut navs = Vec::new();
        ui.horizontal(|ui| {
            ui.selectable_value(&mut self.all_jobs, false, "This job")
                .on_hover_text("The selected job's log");
            ui.selectable_value(&mut self.all_jobs, true, "All jobs")
                .on_hover_text("Search the logs of every job at once");
        });
        let actions = if self.all_jobs {
            self.across
                .draw(ui, shown_jobs)
                .into_iter()
                .map(LogsAction::Across)
                .collect()
        } else {
            self.draw(ui, running, &state.selected_capabilities())
        };
        for action in actions {
            match action {
                LogsAction::Copy(text) => {
                    let lines = text.lines().count();
                    ui.ctx().copy_text(text);
                    navs.push(Nav::Toast {
                        text: format!("Copied {lines} lines."),
                        error: false,
                    });
                }
                LogsAction::Save { file_name, text } => {
                    backend.send(Request::SaveText { file_name, text });
                }
                LogsAction::MarkTime(time) => navs.push(Nav::ChartsAt(time)),
                LogsAction::Across(AcrossAction::Stop) => backend.send(Request::SearchLogs(None)),
                LogsAction::Across(action) => navs.push(Nav::SearchAcross(action)),
            }
        }
        navs
    }

    fn draw(
        &mut self,
        ui: &mut Ui,
        job_running: bool,
        capabilities: &Capabilities,
    ) -> Vec<LogsAction> {
        let mut actions = Vec::new();
        self.refresh_index();
        self.resolve_mark();
        self.toolbar(ui, capabilities, &mut actions);
        if let Some(error) = &self.error {
            ui.colored_label(
                theme::error_color(ui.visuals().dark_mode),
                format!("⚠ {error}"),
            );
        }
        let Some(job_id) = self.buffer.job_id().map(str::to_owned) else {
            ui.add_space(40.0);
            ui.vertical_centered(|ui| ui.label("Select a job in the Jobs tab to read its log."));
            return actions;
        };
        if self.buffer.is_empty() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading the log of {job_id}…"));
            });
            return actions;
        }
        let status = if self.buffer.is_complete() {
            format!("{} — {} lines, complete", job_id, self.buffer.len())
        } else {
            format!("{} — {} lines, following", job_id, self.buffer.len())
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new(status).weak());
            if self.paused
                && job_running
                && ui
                    .button("⬇ Follow")
                    .on_hover_text("Scroll to the end and follow (End)")
                    .clicked()
            {
                self.follow();
            }
            if let Some(time) = self.picked_time
                && ui
                    .button(format!("📈 {} on the charts", format::clock_millis(time)))
                    .on_hover_text("Show the CPU and memory charts with this time marked")
                    .clicked()
            {
                actions.push(LogsAction::MarkTime(time));
            }
        });
        if let Some(time) = self.lines(ui) {
            self.picked_time = Some(time);
        }
        actions
    }

    fn toolbar(&mut self, ui: &mut Ui, capabilities: &Capabilities, actions: &mut Vec<LogsAction>) {
        ui.horizontal(|ui| {
            let edit = egui::TextEdit::singleline(&mut self.search)
                .hint_text("Search")
                .desired_width(240.0)
                .id_salt("log_search");
            let response = ui
                .add(edit)
                .on_hover_text("Search the log (Ctrl+F); Enter for the next match");
            response.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search logs")
            });
            if self.focus_search {
                response.request_focus();
                self.focus_search = false;
            }
            if response.changed() {
                self.current_match = None;
                self.refresh_index();
                if !self.matches.is_empty() {
                    self.go_to_match(0);
                }
            }
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if !self.search.is_empty() {
                let count = self.matches.len();
                let position = self.current_match.map_or(0, |m| m + 1);
                ui.label(format!("{position}/{count}"));
                if ui
                    .button("⏶")
                    .on_hover_text("Previous match (Shift+Enter)")
                    .clicked()
                {
                    self.step_match(-1);
                }
                if ui.button("⏷").on_hover_text("Next match (Enter)").clicked() || enter {
                    if ui.input(|i| i.modifiers.shift) {
                        self.step_match(-1);
                    } else {
                        self.step_match(1);
                    }
                    response.request_focus();
                }
            }
            ui.separator();
            let before = self.min_severity;
            egui::ComboBox::from_id_salt("min_severity")
                .selected_text(if self.min_severity == Severity::Default {
                    "All levels".to_owned()
                } else {
                    format!("{}+", self.min_severity.as_str())
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.min_severity, Severity::Default, "All levels");
                    for s in [
                        Severity::Debug,
                        Severity::Info,
                        Severity::Warning,
                        Severity::Error,
                        Severity::Critical,
                    ] {
                        ui.selectable_value(&mut self.min_severity, s, format!("{}+", s.as_str()));
                    }
                })
                .response
                .on_hover_text("Show only this level and above");
            if before != self.min_severity {
                self.current_match = None;
            }
            if let Some(why) = capabilities.log_severity.why_not() {
                ui.label(RichText::new("levels as stated").weak()).on_hover_text(format!(
                    "{why}: levels come from lines that state one (WARNING:, [ERROR], E1124 …); the rest show as unknown."
                ));
            }
            ui.checkbox(&mut self.wrap, "Wrap");
            let stamps = ui.checkbox(&mut self.timestamps, "Timestamps");
            if let Some(why) = capabilities.log_timestamps.why_not() {
                stamps.on_hover_text(why);
            }
            ui.separator();
            if ui
                .button("📋 Copy")
                .on_hover_text("Copy the lines shown")
                .clicked()
            {
                actions.push(LogsAction::Copy(self.shown_text()));
            }
            if ui
                .button("💾 Save…")
                .on_hover_text("Save the lines shown to a file")
                .clicked()
            {
                let name = self.buffer.job_id().unwrap_or("job").to_owned();
                actions.push(LogsAction::Save {
                    file_name: format!("{name}.log"),
                    text: self.shown_text(),
                });
            }
        });
    }

    /// The lines passing the filter, as text, with timestamps if shown.
    fn shown_text(&mut self) -> String {
        self.refresh_index();
        let mut text = String::new();
        for &i in &self.visible {
            let i = i as usize;
            if self.timestamps {
                text.push_str(&self.buffer.meta(i).time().to_rfc3339());
                text.push(' ');
            }
            text.push_str(self.buffer.meta(i).severity.as_str());
            text.push(' ');
            text.push_str(self.buffer.text(i));
            text.push('\n');
        }
        text
    }

    fn step_match(&mut self, step: isize) {
        if self.matches.is_empty() {
            return;
        }
        let n = self.matches.len() as isize;
        let next = match self.current_match {
            Some(m) => (m as isize + step).rem_euclid(n),
            None if step < 0 => n - 1,
            None => 0,
        };
        self.go_to_match(next as usize);
    }

    fn go_to_match(&mut self, m: usize) {
        self.current_match = Some(m);
        self.jump_to_row = Some(self.matches[m] as usize);
        self.paused = true;
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the painter of the visible lines, in one pass"
    )]
    /// Draws the visible lines; answers the time of a line the user clicked.
    fn lines(&mut self, ui: &mut Ui) -> Option<DateTime<Utc>> {
        let dark = ui.visuals().dark_mode;
        let font = FontId::monospace(13.0);
        let row_height = ui.ctx().fonts_mut(|f| f.row_height(&font)) + 2.0;
        let char_width = ui.ctx().fonts_mut(|f| f.glyph_width(&font, 'x')).max(1.0);
        let prefix_chars = if self.timestamps { 13 } else { 0 } + 5;
        let columns = ((ui.available_width() / char_width) as usize)
            .saturating_sub(prefix_chars + 2)
            .max(20);
        let total_rows = if self.wrap {
            self.refresh_wrap(columns);
            self.wrap_rows as usize
        } else {
            self.visible.len()
        };
        let mut area = egui::ScrollArea::both()
            .id_salt(("log_lines", self.buffer.generation()))
            .auto_shrink([false, false])
            .stick_to_bottom(!self.paused);
        if self.wrap {
            area = egui::ScrollArea::vertical()
                .id_salt(("log_lines_wrapped", self.buffer.generation()))
                .auto_shrink([false, false])
                .stick_to_bottom(!self.paused);
        }
        if self.follow_request {
            area = area.vertical_scroll_offset(total_rows as f32 * row_height + 1e6);
            self.follow_request = false;
        } else if let Some(visible_index) = self.jump_to_row.take() {
            let row = if self.wrap {
                self.wrap_starts.get(visible_index).copied().unwrap_or(0) as usize
            } else {
                visible_index
            };
            area = area.vertical_scroll_offset((row as f32 * row_height - 80.0).max(0.0));
        }
        let current = self.current_match.map(|m| self.matches[m] as usize);
        let needle = self.search.to_ascii_lowercase();
        let mut clicked = None;
        let output = area.show_rows(ui, row_height, total_rows, |ui, rows| {
            ui.spacing_mut().item_spacing.y = 0.0;
            for row in rows {
                let (visible_index, part) = if self.wrap {
                    let v = self
                        .wrap_starts
                        .partition_point(|&s| s as usize <= row)
                        .saturating_sub(1);
                    (v, row - self.wrap_starts[v] as usize)
                } else {
                    (row, 0)
                };
                let Some(&line) = self.visible.get(visible_index) else {
                    continue;
                };
                let line = line as usize;
                let meta = *self.buffer.meta(line);
                let full = self.buffer.text(line);
                let text = if self.wrap {
                    char_slice(full, part * columns, columns)
                } else {
                    full
                };
                let mut job = LayoutJob::default();
                let weak = ui.visuals().weak_text_color();
                let plain = TextFormat::simple(font.clone(), weak);
                if part == 0 {
                    if self.timestamps {
                        job.append(&format::clock_millis(meta.time()), 0.0, plain.clone());
                        job.append(" ", 0.0, plain.clone());
                    }
                    let tag = match meta.severity {
                        // The line says its level itself (Python's `INFO:name:…`).
                        _ if carries_level(full) => "     ",
                        Severity::Default => "     ",
                        Severity::Debug => "DBG  ",
                        Severity::Info => "INFO ",
                        Severity::Warning => "WARN ",
                        Severity::Error => "ERR  ",
                        Severity::Critical => "CRIT ",
                    };
                    job.append(
                        tag,
                        0.0,
                        TextFormat::simple(
                            font.clone(),
                            theme::severity_color(meta.severity, dark),
                        ),
                    );
                } else {
                    job.append(&" ".repeat(prefix_chars), 0.0, plain.clone());
                }
                let mut color = match meta.severity {
                    Severity::Info | Severity::Debug | Severity::Default => {
                        theme::severity_color(Severity::Info, dark)
                    }
                    s => theme::severity_color(s, dark),
                };
                if meta.stream == LogStream::Engine {
                    color = weak;
                }
                let mut normal = TextFormat::simple(font.clone(), color);
                if self.marked.contains(&line) {
                    normal.background = theme::mark_color(dark);
                }
                append_highlighted(
                    &mut job,
                    text,
                    &needle,
                    &normal,
                    current == Some(visible_index),
                    dark,
                );
                let response = ui.add(
                    egui::Label::new(job)
                        .wrap_mode(egui::TextWrapMode::Extend)
                        .selectable(true),
                );
                if response.clicked() {
                    clicked = Some(meta.time());
                    self.marked = line..line + 1;
                }
                if current == Some(visible_index) && part == 0 {
                    ui.painter().rect_stroke(
                        response.rect,
                        2.0,
                        (1.0, Color32::from_rgb(255, 200, 0)),
                        egui::StrokeKind::Outside,
                    );
                }
            }
        });
        let at_end = output.state.clamped_offset().y + output.inner_rect.height()
            >= output.content_size.y - row_height;
        let scrolled =
            ui.input(|i| i.smooth_scroll_delta.y != 0.0 || i.pointer.is_decidedly_dragging());
        if output
            .inner_rect
            .contains(ui.input(|i| i.pointer.hover_pos()).unwrap_or_default())
            && scrolled
        {
            self.paused = !at_end;
        }
        clicked
    }
}

/// Appends `text`, marking the parts that match `needle` (lower-case).
fn append_highlighted(
    job: &mut LayoutJob,
    text: &str,
    needle: &str,
    normal: &TextFormat,
    current: bool,
    dark: bool,
) {
    if needle.is_empty() {
        job.append(text, 0.0, normal.clone());
        return;
    }
    let mut highlight = normal.clone();
    highlight.background = if current {
        Color32::from_rgb(255, 200, 0)
    } else if dark {
        Color32::from_rgb(110, 90, 0)
    } else {
        Color32::from_rgb(255, 235, 130)
    };
    if current || !dark {
        highlight.color = Color32::BLACK;
    }
    let mut rest = text;
    while let Some(at) = find_ignore_case(rest, needle) {
        job.append(&rest[..at], 0.0, normal.clone());
        job.append(&rest[at..at + needle.len()], 0.0, highlight.clone());
        rest = &rest[at + needle.len()..];
    }
    job.append(rest, 0.0, normal.clone());
}

fn contains_ignore_case(text: &str, needle: &str) -> bool {
    find_ignore_case(text, needle).is_some()
}

/// Characters `[from, from + count)` of `text`.
fn char_slice(text: &str, from: usize, count: usize) -> &str {
    let mut indices = text
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(text.len()));
    let start = indices.nth(from).unwrap_or(text.len());
    let end = indices.nth(count.saturating_sub(1)).unwrap_or(text.len());
    &text[start..end.max(start)]
}

/// Whether a line starts with its own level word (`INFO:trainer:…`, `WARNING …`), so the
/// level column need not repeat it.
fn carries_level(text: &str) -> bool {
    let word = text
        .trim_start_matches('[')
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default();
    matches!(
        word,
        "DEBUG" | "INFO" | "WARNING" | "WARN" | "ERROR" | "CRITICAL" | "FATAL"
    ) && text.trim_start_matches('[').len() > word.len()
}

#[cfg(test)]
mod tests;
