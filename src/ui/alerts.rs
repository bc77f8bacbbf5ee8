//! The Alerts window: the rules that notify about running jobs (stalled log or step,
//! NaN/inf in the log or the scalars, memory over a share of the machine), per job or per filter, kept in
//! the settings. Edits apply with Save.

use egui::{RichText, Ui};

use crate::backend::{Backend, Request};
use crate::domain::alerts::AlertRule;
use crate::domain::{ConnectionId, JobKey};

/// The alert rules and the window that edits them.
#[derive(Default)]
pub struct AlertsPanel {
    /// The window is shown.
    pub open: bool,
    /// The rules as edited (saved ones until changed).
    rules: Vec<AlertRule>,
    /// Edits not saved yet.
    dirty: bool,
}

impl AlertsPanel {
    /// Takes the rules in force (at start, and after each save).
    pub fn set_rules(&mut self, rules: Vec<AlertRule>) {
        if !self.dirty {
            self.rules = rules;
        }
    }

    /// The rules as the window has them.
    pub fn rules(&self) -> &[AlertRule] {
        &self.rules
    }

    /// Adds a rule for one job (the usual limits) and saves at once; opens the window.
    pub fn alert_on_job(&mut self, job: &JobKey, backend: &Backend) {
        self.open = true;
        let exists = self
            .rules
            .iter()
            .any(|r| r.connection == job.connection && r.job_id.as_deref() == Some(&job.job_id));
        if !exists {
            self.rules
                .push(AlertRule::for_job(&job.connection, &job.job_id));
            self.save(backend);
        }
    }

    fn save(&mut self, backend: &Backend) {
        self.dirty = false;
        backend.send(Request::SetAlerts(self.rules.clone()));
    }

    /// Draws the window; `filter` is the Jobs tab's filter, offered as a rule for the
    /// selected job's connection (else the local engine).
    pub fn show(
        &mut self,
        ctx: &egui::Context,
        filter: &str,
        connection: Option<&ConnectionId>,
        backend: &Backend,
    ) {
        if !self.open {
            return;
        }
        let connection = connection.cloned().unwrap_or_else(ConnectionId::local);
        let mut open = true;
        egui::Window::new("Alerts")
            .open(&mut open)
            .default_width(560.0)
            .show(ctx, |ui| {
                ui.label(
                    RichText::new(
                        "A notification for a running job whose log and step stand still, that prints NaN/inf or writes it as a scalar, or whose memory passes a share of the machine. Each alert is raised once per job.",
                    )
                    .weak(),
                );
                ui.separator();
                let mut remove = None;
                for (i, rule) in self.rules.iter_mut().enumerate() {
                    self.dirty |= rule_row(ui, i, rule, &mut remove);
                }
                if let Some(i) = remove {
                    self.rules.remove(i);
                    self.dirty = true;
                }
                if self.rules.is_empty() {
                    ui.label("No alerts yet: add one for a job from its details (⚠), or for a filter below.");
                }
                ui.separator();
                ui.horizontal(|ui| {
                    let text = if filter.trim().is_empty() {
                        "⚠ Alert on every running job".to_owned()
                    } else {
                        format!("⚠ Alert on jobs matching {}", filter.trim())
                    };
                    if ui.button(text).clicked() {
                        self.rules.push(AlertRule {
                            job_id: None,
                            filter: filter.trim().to_owned(),
                            ..AlertRule::for_job(&connection, "")
                        });
                        self.dirty = true;
                    }
                    if ui
                        .add_enabled(self.dirty, egui::Button::new("Save"))
                        .on_hover_text("Put the rules in force and keep them in the settings")
                        .clicked()
                    {
                        self.save(backend);
                    }
                });
            });
        if !open {
            self.open = false;
        }
    }
}

/// One rule's line; answers whether it changed.
fn rule_row(ui: &mut Ui, i: usize, rule: &mut AlertRule, remove: &mut Option<usize>) -> bool {
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(rule.scope()).strong());
        let mut stall = rule.stall_secs.is_some();
        if ui.checkbox(&mut stall, "still for").changed() {
            rule.stall_secs = stall.then_some(600);
            changed = true;
        }
        if let Some(secs) = &mut rule.stall_secs {
            let mut minutes = *secs as f64 / 60.0;
            if ui
                .add(
                    egui::DragValue::new(&mut minutes)
                        .range(0.1..=1440.0)
                        .speed(0.5)
                        .suffix(" min"),
                )
                .changed()
            {
                *secs = (minutes * 60.0).round().max(1.0) as u64;
                changed = true;
            }
        }
        changed |= ui.checkbox(&mut rule.non_finite, "NaN/inf").changed();
        let mut memory = rule.memory_percent.is_some();
        if ui.checkbox(&mut memory, "memory over").changed() {
            rule.memory_percent = memory.then_some(90.0);
            changed = true;
        }
        if let Some(percent) = &mut rule.memory_percent {
            changed |= ui
                .add(
                    egui::DragValue::new(percent)
                        .range(1.0..=100.0)
                        .suffix(" %"),
                )
                .changed();
        }
        if ui
            .small_button("Remove")
            .on_hover_text("Delete this alert")
            .clicked()
        {
            *remove = Some(i);
        }
    });
    changed
}
