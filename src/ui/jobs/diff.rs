//! Diff two (or more) jobs: the jobs picked ("⇄ Add to diff" in the details, or
//! Ctrl+click in the table) side by side — invocation, each flag of the args, env,
//! labels, machine and resources, final scalars — only the differences by default.

use std::collections::BTreeMap;

use super::*;
use crate::domain::job_diff::{DiffRow, diff};

/// Most jobs compared at once.
pub const MAX_DIFF: usize = 6;

/// The jobs picked for a diff and what is known of their final scalars.
#[derive(Default)]
pub struct DiffSet {
    /// The jobs, in the order picked.
    pub jobs: Vec<JobKey>,
    /// The diff window is open.
    pub open: bool,
    /// Show the fields that are the same too.
    all_fields: bool,
    /// Last scalar values of each job's job dir, by tag, once read.
    pub final_scalars: BTreeMap<JobKey, BTreeMap<String, f64>>,
}

impl DiffSet {
    /// Adds a job (or takes it out when it is in).
    pub fn toggle(&mut self, key: &JobKey) {
        if let Some(at) = self.jobs.iter().position(|k| k == key) {
            self.jobs.remove(at);
        } else if self.jobs.len() < MAX_DIFF {
            self.jobs.push(key.clone());
        }
    }

    /// Whether a job is picked.
    pub fn contains(&self, key: &JobKey) -> bool {
        self.jobs.contains(key)
    }

    /// The rows of the diff of the picked jobs still listed.
    pub fn rows(&self, list: &JobList) -> (Vec<JobKey>, Vec<DiffRow>) {
        let present: Vec<(JobKey, &Job)> = self
            .jobs
            .iter()
            .filter_map(|k| list.find(k).map(|j| (k.clone(), j)))
            .collect();
        let jobs: Vec<&Job> = present.iter().map(|(_, j)| *j).collect();
        let metrics: Vec<BTreeMap<String, f64>> = present
            .iter()
            .map(|(k, _)| self.final_scalars.get(k).cloned().unwrap_or_default())
            .collect();
        let rows = diff(&jobs, &metrics);
        (present.into_iter().map(|(k, _)| k).collect(), rows)
    }

    /// Draws the diff window; answers whether it stays open.
    pub fn window(&mut self, ctx: &egui::Context, list: &JobList) {
        if !self.open {
            return;
        }
        let (keys, rows) = self.rows(list);
        let mut open = true;
        egui::Window::new("Diff jobs")
            .open(&mut open)
            .default_size([720.0, 420.0])
            .show(ctx, |ui| {
                if keys.len() < 2 {
                    ui.label("Pick at least two jobs: ⇄ Add to diff in a job's details, or Ctrl+click rows.");
                    return;
                }
                let differing = rows.iter().filter(|r| r.differs()).count();
                ui.horizontal(|ui| {
                    ui.label(format!(
                        "{differing} of {} fields differ (a job's own id reads {{id}}).",
                        rows.len()
                    ));
                    ui.checkbox(&mut self.all_fields, "Show the same fields too");
                    if ui.button("Clear").on_hover_text("Unpick every job").clicked() {
                        self.jobs.clear();
                    }
                });
                ui.separator();
                let dark = ui.visuals().dark_mode;
                egui::ScrollArea::both().show(ui, |ui| {
                    egui::Grid::new("diff_grid")
                        .striped(true)
                        .num_columns(keys.len() + 1)
                        .show(ui, |ui| {
                            ui.strong("Field");
                            for key in &keys {
                                ui.strong(&key.job_id);
                            }
                            ui.end_row();
                            for row in rows.iter().filter(|r| self.all_fields || r.differs()) {
                                ui.label(RichText::new(&row.field).monospace());
                                for value in &row.values {
                                    let text = value.as_deref().unwrap_or("—");
                                    let mut rich = RichText::new(text).monospace();
                                    if row.differs() {
                                        rich = rich.background_color(theme::mark_color(dark));
                                    }
                                    ui.label(rich);
                                }
                                ui.end_row();
                            }
                        });
                });
            });
        if !open {
            self.open = false;
        }
    }
}
