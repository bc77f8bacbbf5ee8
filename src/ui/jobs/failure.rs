//! The failure card atop a failed job's details: the exception and its folded traceback,
//! out-of-memory signs, the first NaN/inf, the last lines and the resources at the end,
//! each a link to its log line or chart point. The backend reads the log to make it.

use super::*;
use crate::domain::failure::{FailureCard, LineRef, bytes};

impl JobsTab {
    /// Keeps the card the backend made for a job (the selected one).
    pub fn set_failure_card(&mut self, job: JobKey, card: Box<FailureCard>) {
        self.failure = Some((job, card));
    }

    /// The log of a job could not be read: its card will not come; say why instead.
    pub fn failure_unavailable(&mut self, job: JobKey, why: String) {
        self.failure_error = Some((job, why));
    }

    /// The card held for `key`, if one came.
    pub fn failure_card_of(&self, key: &JobKey) -> Option<&FailureCard> {
        self.failure
            .as_ref()
            .filter(|(k, _)| k == key)
            .map(|(_, c)| c.as_ref())
    }

    /// Before the card comes: reading, or why the log cannot be read.
    fn failure_pending(&self, ui: &mut Ui, key: &JobKey, job: &Job) {
        if job.state != JobState::Failed {
            return;
        }
        match self.failure_error.as_ref().filter(|(k, _)| k == key) {
            Some((_, why)) => {
                ui.label(
                    RichText::new(format!(
                        "What went wrong cannot be read from the log: {why}"
                    ))
                    .weak(),
                );
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(RichText::new("Reading the log for what went wrong…").weak());
                });
            }
        }
    }

    /// The card atop a failed job's details (or a finished one whose log shows NaN/inf).
    pub(super) fn failure_section(
        &self,
        ui: &mut Ui,
        key: &JobKey,
        job: &Job,
        actions: &mut Vec<JobsAction>,
    ) {
        let Some(card) = self.failure_card_of(key) else {
            self.failure_pending(ui, key, job);
            return;
        };
        if job.state != JobState::Failed && !card.has_findings() {
            return;
        }
        let dark = ui.visuals().dark_mode;
        egui::Frame::group(ui.style())
            .fill(ui.visuals().faint_bg_color)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                ui.strong(if job.state == JobState::Failed {
                    "What went wrong"
                } else {
                    "Worth a look"
                });
                if let Some(e) = &card.exception {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(format!("{}: {}", e.kind, e.message))
                                .color(theme::error_color(dark))
                                .strong()
                                .monospace(),
                        );
                        link_line(ui, &e.line, "📜 log line", actions);
                    });
                    egui::CollapsingHeader::new(format!("Traceback ({} lines)", e.trace.len()))
                        .id_salt(("traceback", &key.job_id))
                        .default_open(false)
                        .show(ui, |ui| {
                            for line in &e.trace {
                                let text = RichText::new(&line.text).monospace();
                                if ui
                                    .add(egui::Label::new(text).sense(Sense::click()))
                                    .on_hover_text("Show this line in the log")
                                    .clicked()
                                {
                                    actions.push(JobsAction::Go(Nav::ShowLogLine(line.seq)));
                                }
                            }
                        });
                }
                if let Some(oom) = &card.out_of_memory {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(format!("Out of memory: {}", oom.reason))
                                .color(theme::error_color(dark)),
                        );
                        if let Some(line) = &oom.line {
                            link_line(ui, line, "📜 log line", actions);
                        }
                        if let Some(peak) = card.peak
                            && ui
                                .small_button("📈 peak on the chart")
                                .on_hover_text(format!(
                                    "{} at {}",
                                    bytes(peak.memory_bytes),
                                    format::local_time(peak.time)
                                ))
                                .clicked()
                        {
                            actions.push(JobsAction::Go(Nav::ChartsAt(peak.time)));
                        }
                    });
                }
                non_finite_rows(ui, card, dark, actions);
                if let Some(end) = card.end {
                    ui.horizontal_wrapped(|ui| {
                        let peak = card
                            .peak
                            .map(|p| format!(" (peak {})", bytes(p.memory_bytes)))
                            .unwrap_or_default();
                        ui.label(format!(
                            "At the end: memory {}{peak}, CPU {:.0} %",
                            bytes(end.memory_bytes),
                            end.cpu_percent
                        ));
                        if ui.small_button("📈 chart").clicked() {
                            actions.push(JobsAction::Go(Nav::ChartsAt(end.time)));
                        }
                    });
                }
                if job.state == JobState::Failed && !card.last_lines.is_empty() {
                    egui::CollapsingHeader::new("Last lines before exit")
                        .id_salt(("last_lines", &key.job_id))
                        .default_open(card.exception.is_none())
                        .show(ui, |ui| {
                            for line in &card.last_lines {
                                let text = RichText::new(&line.text).monospace();
                                if ui
                                    .add(egui::Label::new(text).sense(Sense::click()))
                                    .clicked()
                                {
                                    actions.push(JobsAction::Go(Nav::ShowLogLine(line.seq)));
                                }
                            }
                        });
                }
            });
    }
}

/// The first NaN/inf the log printed and the first among the job dir's scalars.
fn non_finite_rows(ui: &mut Ui, card: &FailureCard, dark: bool, actions: &mut Vec<JobsAction>) {
    if let Some(line) = &card.non_finite {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!("NaN/inf first printed: {}", line.text.trim()))
                    .color(theme::severity_color(
                        crate::domain::Severity::Warning,
                        dark,
                    ))
                    .monospace(),
            );
            link_line(ui, line, "📜 log line", actions);
        });
    }
    if let Some(s) = &card.non_finite_scalar {
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "Scalar {} is {} at step {}",
                    s.tag, s.value, s.step
                ))
                .color(theme::severity_color(
                    crate::domain::Severity::Warning,
                    dark,
                )),
            );
            if ui
                .small_button("📉 scalars")
                .on_hover_text(format!("Open the scalars of {}", s.dir))
                .clicked()
            {
                let dir = std::path::PathBuf::from(&s.dir);
                actions.push(JobsAction::Go(Nav::WatchLogDir(dir.into())));
            }
        });
    }
}

fn link_line(ui: &mut Ui, line: &LineRef, label: &str, actions: &mut Vec<JobsAction>) {
    if ui
        .small_button(label)
        .on_hover_text(format!(
            "Line {} at {}",
            line.seq + 1,
            format::local_time(line.time)
        ))
        .clicked()
    {
        actions.push(JobsAction::Go(Nav::ShowLogLine(line.seq)));
    }
}
