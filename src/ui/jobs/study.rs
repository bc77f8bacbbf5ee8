//! A tuning job in the Jobs tab: its trials folded under it in the table (→ and ←, or
//! the ▶ in its row), and in its details the trials table (sortable by the objective and
//! by each parameter), the objective of each trial and the trials in parallel
//! coordinates as charts, and "Clone best trial".

use std::collections::HashSet;

use egui_plot::{Plot, Points};

use super::*;
use crate::domain::HyperparameterOutput;

/// How the trials table is sorted: by the objective, or by a parameter's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) enum TrialSort {
    /// Best first for the study's goal (as the engine lists them).
    #[default]
    Objective,
    /// By trial number.
    Trial,
    /// By state.
    State,
    /// By one parameter (numbers as numbers).
    Parameter(String),
}

impl JobsTab {
    /// Folds or unfolds a study's trials under its row.
    pub fn set_unfolded(&mut self, key: &JobKey, unfolded: bool) {
        let changed = if unfolded {
            self.unfolded.insert(key.clone())
        } else {
            self.unfolded.remove(key)
        };
        if changed {
            self.settings_revision += 1;
        }
    }

    /// Re-orders the rows shown: each trial goes under its study (or away while the study
    /// is folded); trials whose study is not shown stay where they are.
    pub(super) fn fold_trials(&mut self, list: &JobList) {
        let is_trial = |i: &u32| {
            list.at(*i as usize)
                .is_some_and(|j| j.labels.contains_key(TRIAL_LABEL))
        };
        if !self.view.iter().any(is_trial) {
            return;
        }
        let mut shown = vec![false; list.len()];
        for &i in &self.view {
            shown[i as usize] = true;
        }
        // The row of a trial's study, when the study is shown.
        let study_row = |i: u32| -> Option<usize> {
            let job = list.at(i as usize)?;
            let owner = list.owner(i as usize)?;
            let (parent, _) = job.trial_of()?;
            let row = list.position(&JobKey::new(owner, parent))?;
            shown[row].then_some(row)
        };
        let mut trials: HashMap<usize, Vec<(u64, u32)>> = HashMap::new();
        for &i in &self.view {
            if let Some(row) = study_row(i) {
                let number = list
                    .at(i as usize)
                    .and_then(|j| j.labels.get(TRIAL_LABEL)?.parse().ok())
                    .unwrap_or(u64::MAX);
                trials.entry(row).or_default().push((number, i));
            }
        }
        let mut view = Vec::with_capacity(self.view.len());
        for &i in &self.view {
            if study_row(i).is_some() {
                continue;
            }
            view.push(i);
            let unfolded = list
                .key_at(i as usize)
                .is_some_and(|k| self.unfolded.contains(&k));
            if let (true, Some(rows)) = (unfolded, trials.get_mut(&(i as usize))) {
                rows.sort_unstable();
                view.extend(rows.iter().map(|(_, row)| *row));
            }
        }
        self.view = view;
    }

    /// The Job ID cell of a study (with its fold toggle and summary), a trial (indented,
    /// with its values) or any other job.
    pub(super) fn id_cell(
        &self,
        ui: &mut Ui,
        (key, job): (&JobKey, &Job),
        list: &JobList,
        actions: &mut Vec<JobsAction>,
    ) {
        let id = match &job.display_name {
            // Vertex AI picks numeric ids; the name the user gave comes first.
            Some(name) => format!("{name} · {}", job.job_id),
            None => job.job_id.clone(),
        };
        if let Some(output) = job
            .training_output
            .as_ref()
            .filter(|_| job.study().is_some())
        {
            ui.horizontal(|ui| {
                let unfolded = self.unfolded.contains(key);
                let toggle = ui
                    .add(egui::Button::new(if unfolded { "⏷" } else { "▶" }).frame(false))
                    .on_hover_text(if unfolded {
                        "Fold the trials (←)"
                    } else {
                        "Show the trials under it (→)"
                    });
                if toggle.clicked() {
                    actions.push(JobsAction::Fold(key.clone(), !unfolded));
                }
                cell(ui, format!("{id} · {}", study_summary(output)));
            });
        } else if let Some((parent, trial)) = job.trial_of() {
            // The values as the study chose them (the trial's arguments hold others too).
            let values = list
                .get(&key.connection, parent)
                .and_then(|p| p.training_output.as_deref())
                .and_then(|o| o.trials.iter().find(|t| t.trial_id == trial))
                .map(|t| {
                    t.hyperparameters
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            cell(
                ui,
                RichText::new(format!("    · trial {trial}  {values}")).weak(),
            );
        } else {
            cell(ui, id);
        }
    }

    /// The details of a tuning job: its trials.
    pub(super) fn trials_section(
        &mut self,
        ui: &mut Ui,
        key: &JobKey,
        job: &Job,
        actions: &mut Vec<JobsAction>,
    ) {
        let (Some(spec), Some(output)) = (job.study(), &job.training_output) else {
            return;
        };
        ui.separator();
        ui.label(RichText::new("Trials").strong());
        ui.label(study_summary(output));
        let best = output.trials.iter().find(|t| t.final_metric.is_some());
        if let Some(best) = best {
            let clone = ui
                .button(format!("⎘ Clone best trial ({}) as a job…", best.trial_id))
                .on_hover_text("Open the New job form with the best trial's values as arguments");
            if clone.clicked() {
                let trial = JobKey::new(
                    &key.connection,
                    &crate::engine::tuning::trial_job_id(&job.job_id, &best.trial_id),
                );
                actions.push(JobsAction::CloneTrial(trial));
            }
        }
        let names: Vec<&str> = spec
            .params
            .iter()
            .map(|p| p.parameter_name.as_str())
            .collect();
        let mut trials: Vec<&HyperparameterOutput> = output.trials.iter().collect();
        match &self.trial_sort {
            TrialSort::Objective => {}
            TrialSort::Trial => trials.sort_by_key(|t| t.trial_id.parse::<u64>().unwrap_or(0)),
            TrialSort::State => trials.sort_by_key(|t| t.state.as_str()),
            TrialSort::Parameter(name) => trials.sort_by(|a, b| {
                let value = |t: &HyperparameterOutput| t.hyperparameters.get(name).cloned();
                match (value(a), value(b)) {
                    (Some(x), Some(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
                        (Ok(x), Ok(y)) => x.total_cmp(&y),
                        _ => x.cmp(&y),
                    },
                    (x, y) => x.cmp(&y),
                }
            }),
        }
        let mut headers = vec![
            ("Trial".to_owned(), TrialSort::Trial),
            ("State".to_owned(), TrialSort::State),
            (
                output.hyperparameter_metric_tag.clone(),
                TrialSort::Objective,
            ),
        ];
        headers.extend(
            names
                .iter()
                .map(|n| ((*n).to_owned(), TrialSort::Parameter((*n).to_owned()))),
        );
        let mut sort = None;
        let dark = ui.visuals().dark_mode;
        let mut table = TableBuilder::new(ui)
            .id_salt("trials_table")
            .striped(true)
            .max_scroll_height(TRIALS_TABLE_HEIGHT)
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(90.0));
        for _ in &names {
            table = table.column(Column::auto().at_least(60.0));
        }
        table
            .header(ROW_HEIGHT, |mut header| {
                for (title, by) in &headers {
                    header.col(|ui| {
                        let arrow = if *by == self.trial_sort { " ⏷" } else { "" };
                        let text = RichText::new(format!("{title}{arrow}")).strong();
                        if ui
                            .add(egui::Button::new(text).frame(false))
                            .on_hover_text("Sort")
                            .clicked()
                        {
                            sort = Some(by.clone());
                        }
                    });
                }
            })
            .body(|body| {
                // Only the rows in view are laid out, however many trials there are.
                body.rows(ROW_HEIGHT, trials.len(), |mut row| {
                    let Some(trial) = trials.get(row.index()) else {
                        return;
                    };
                    row.col(|ui| cell(ui, trial.trial_id.as_str()));
                    let mut state = format!("{}", trial.state);
                    if trial.is_trial_stopped_early {
                        state.push_str(" (stopped early)");
                    }
                    row.col(|ui| {
                        cell(
                            ui,
                            RichText::new(state).color(theme::state_color(trial.state, dark)),
                        );
                    });
                    let objective = trial
                        .final_metric
                        .map(|m| format!("{} @ {}", m.objective_value, m.training_step))
                        .unwrap_or_default();
                    row.col(|ui| cell(ui, objective));
                    for name in &names {
                        let value = trial.hyperparameters.get(*name).map_or("", String::as_str);
                        row.col(|ui| cell(ui, value));
                    }
                });
            });
        if let Some(by) = sort {
            self.trial_sort = by;
        }
        objective_chart(ui, &output.trials);
        super::coordinates::parallel_coordinates(
            ui,
            spec,
            &output.trials,
            &output.hyperparameter_metric_tag,
        );
    }
}

/// The trials table's height before it scrolls.
const TRIALS_TABLE_HEIGHT: f32 = 260.0;

/// "6 of 10 trials: 4 succeeded, 1 failed, 1 running · best 0.93 (trial 4)".
fn study_summary(output: &TrainingOutput) -> String {
    let count = |s: JobState| output.trials.iter().filter(|t| t.state == s).count();
    let mut parts = Vec::new();
    for (state, word) in [
        (JobState::Succeeded, "succeeded"),
        (JobState::Failed, "failed"),
        (JobState::Running, "running"),
        (JobState::Queued, "queued"),
        (JobState::Cancelled, "cancelled"),
    ] {
        let n = count(state);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let mut text = format!("{} trials", output.trials.len());
    if !parts.is_empty() {
        text.push_str(&format!(": {}", parts.join(", ")));
    }
    if let Some(best) = output.trials.iter().find(|t| t.final_metric.is_some())
        && let Some(metric) = best.final_metric
    {
        text.push_str(&format!(
            " · best {} (trial {})",
            metric.objective_value, best.trial_id
        ));
    }
    text
}

/// Each trial's final objective against its number.
fn objective_chart(ui: &mut Ui, trials: &[HyperparameterOutput]) {
    let points: Vec<[f64; 2]> = trials
        .iter()
        .filter_map(|t| {
            Some([
                t.trial_id.parse::<f64>().ok()?,
                t.final_metric?.objective_value,
            ])
        })
        .collect();
    if points.len() < 2 {
        return;
    }
    Plot::new("trial_objectives")
        .height(140.0)
        .x_axis_label("trial")
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.points(Points::new("objective", points).radius(3.0));
        });
}

/// The keys of the studies whose trials are shown.
pub(super) type Unfolded = HashSet<JobKey>;
