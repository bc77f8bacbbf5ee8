//! A study's job dir in the Scalars tab: each trial writes under `<job dir>/<n>`, so its
//! runs (`3/eval`) are named by the trial and its values (`trial 3 (layers=2)/eval`).

use std::collections::HashMap;

use super::ScalarsTab;
use crate::domain::bucket::Location;
use crate::ui::state::Snapshots;

/// Trial labels by trial number, for the study whose job dir is shown.
#[derive(Default)]
pub(super) struct TrialNames {
    /// (shown dir, job list revision) the names were worked out for.
    built_for: Option<(Location, u64)>,
    by_trial: HashMap<String, String>,
}

impl TrialNames {
    /// Works the names out again when the dir or the jobs changed.
    pub(super) fn refresh(&mut self, dir: Option<&Location>, state: &Snapshots) {
        let Some(dir) = dir else {
            self.by_trial.clear();
            return;
        };
        let revision = state.jobs.revision();
        if self
            .built_for
            .as_ref()
            .is_some_and(|(d, r)| d == dir && *r == revision)
        {
            return;
        }
        self.built_for = Some((dir.clone(), revision));
        self.by_trial.clear();
        let study = state.jobs.all().iter().find(|j| {
            j.study().is_some()
                && j.training_input
                    .as_ref()
                    .and_then(|i| i.job_dir.as_deref())
                    .is_some_and(|d| Location::parse(d).is_ok_and(|d| &d == dir))
        });
        let Some(output) = study.and_then(|j| j.training_output.as_deref()) else {
            return;
        };
        for trial in &output.trials {
            let values: Vec<String> = trial
                .hyperparameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            self.by_trial.insert(
                trial.trial_id.clone(),
                format!("trial {} ({})", trial.trial_id, values.join(" ")),
            );
        }
    }

    /// How a run is shown: `3/eval` as `trial 3 (layers=2)/eval`; others as they are.
    pub(super) fn label<'a>(&'a self, run: &'a str) -> std::borrow::Cow<'a, str> {
        let (first, rest) = match run.split_once('/') {
            Some((first, rest)) => (first, Some(rest)),
            None => (run, None),
        };
        match (self.by_trial.get(first), rest) {
            (Some(label), Some(rest)) => format!("{label}/{rest}").into(),
            (Some(label), None) => label.as_str().into(),
            (None, _) => run.into(),
        }
    }
}

impl ScalarsTab {
    /// Names the runs of a study's trials by their values.
    pub(super) fn name_trials(&mut self, state: &Snapshots) {
        self.trial_names.refresh(self.dir.as_ref(), state);
    }
}
