//! Hyperparameter tuning on the local engine. A tuning job runs no process of its own:
//! its trials are real jobs (`<id>_trial_<n>`, each with its logs, resources and job dir
//! `<job dir>/<n>`) started as the study allows, within `--max-running`. The study lives
//! in the tuning job's `trainingOutput`: a trial is written there before its job is
//! submitted, so an engine stopped at any point resumes without losing or repeating one.

pub mod metrics;
pub mod search;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;

use super::Engine;
use super::runner::EngineError;
use crate::domain::tuning::MAX_METRICS_PER_TRIAL;
use crate::domain::{
    Algorithm, Goal, HyperparameterMetric, HyperparameterOutput, HyperparameterSpec, Job, JobState,
    Severity, TRIAL_LABEL, TrainingOutput,
};
use metrics::TrialReader;
use search::Finished;

/// The job id of trial `trial` of the tuning job `parent`.
pub fn trial_job_id(parent: &str, trial: &str) -> String {
    format!("{parent}_trial_{trial}")
}

/// What one pass over a study decided besides the trials' new states.
#[derive(Default)]
struct Pass {
    /// Lines for the tuning job's log.
    notes: Vec<(Severity, String)>,
    /// Trial jobs to cancel (stopped early, or the study is ending).
    cancel: Vec<String>,
    /// How the study ends, when it does.
    end: Option<(JobState, Option<String>)>,
}

impl Engine {
    /// Checks what a tuning job needs beyond its own fields and starts its output.
    pub(super) fn prepare_study(&self, job: &mut Job) -> Result<(), EngineError> {
        let Some(spec) = job.study() else {
            return Ok(());
        };
        if let Some(previous) = &spec.resume_previous_job_id {
            let at = "trainingInput.hyperparameters.resumePreviousJobId";
            let Some(record) = self.store.get(previous) else {
                return Err(EngineError::InvalidArgument(format!(
                    "{at}: there is no job {previous:?}"
                )));
            };
            if record.job.study().is_none() {
                return Err(EngineError::InvalidArgument(format!(
                    "{at}: {previous} is not a hyperparameter tuning job"
                )));
            }
            if !record.job.state.is_finished() {
                return Err(EngineError::FailedPrecondition(format!(
                    "{at}: {previous} is still {}; resume it once it has ended",
                    record.job.state
                )));
            }
        }
        job.training_output = Some(Box::new(TrainingOutput {
            is_hyperparameter_tuning_job: true,
            hyperparameter_metric_tag: spec.metric_tag().to_owned(),
            ..TrainingOutput::default()
        }));
        Ok(())
    }

    /// The first line of a tuning job's log: what the study will do.
    pub(super) fn study_plan(spec: &HyperparameterSpec) -> String {
        let goal = match spec.goal {
            Goal::Maximize => "maximize",
            _ => "minimize",
        };
        format!(
            "Tuning job queued: up to {} trials, {} at once, by {}; {goal} {:?}{}.",
            spec.trial_budget(),
            spec.parallel(),
            search::describe(spec),
            spec.metric_tag(),
            if spec.enable_trial_early_stopping {
                ", stopping trials that fall behind the median"
            } else {
                ""
            }
        )
    }

    /// Moves every unfinished study on: its trials' states and metrics, early stopping,
    /// new trials into free places, and its end.
    pub(super) fn drive_studies(self: &Arc<Self>) {
        let active = self.store.in_states(&[
            JobState::Queued,
            JobState::Preparing,
            JobState::Running,
            JobState::Cancelling,
        ]);
        for record in active.iter().filter(|r| r.job.study().is_some()) {
            if let Err(e) = self.drive_study(&record.job) {
                tracing::error!("the study {} could not go on: {e}", record.job.job_id);
            }
        }
    }

    fn drive_study(self: &Arc<Self>, parent: &Job) -> Result<(), EngineError> {
        let Some(spec) = parent.study() else {
            return Ok(());
        };
        let id = parent.job_id.as_str();
        let before = parent
            .training_output
            .as_deref()
            .cloned()
            .unwrap_or_default();
        let mut output = before.clone();
        output.is_hyperparameter_tuning_job = true;
        output.hyperparameter_metric_tag = spec.metric_tag().to_owned();
        let mut pass = Pass::default();
        let cancelling = parent.state == JobState::Cancelling;
        for trial in &mut output.trials {
            self.follow_trial(parent, spec, trial, cancelling, &mut pass)?;
        }
        if spec.enable_trial_early_stopping && !cancelling {
            stop_early(id, spec.goal, &mut output.trials, &mut pass);
        }
        let unfinished = output
            .trials
            .iter()
            .filter(|t| !t.state.is_finished())
            .count();
        let failed: Vec<&HyperparameterOutput> = output
            .trials
            .iter()
            .filter(|t| t.state == JobState::Failed)
            .collect();
        let prior = self.prior_trials(spec);
        let budget = match spec.algorithm {
            Algorithm::GridSearch => spec
                .trial_budget()
                .min(crate::domain::tuning::grid_size(&spec.params).saturating_sub(prior.len())),
            _ => spec.trial_budget(),
        };
        if cancelling || failed.len() > spec.failures_allowed() {
            pass.cancel.extend(
                output
                    .trials
                    .iter()
                    .filter(|t| !t.state.is_finished())
                    .map(|t| trial_job_id(id, &t.trial_id)),
            );
            if unfinished == 0 {
                pass.end = Some(if cancelling {
                    (JobState::Cancelled, None)
                } else {
                    let last = failed
                        .last()
                        .map(|t| self.trial_error(id, &t.trial_id))
                        .unwrap_or_default();
                    (
                        JobState::Failed,
                        Some(format!(
                            "{} trials failed, more than the study allows ({}). {last}",
                            failed.len(),
                            spec.failures_allowed()
                        )),
                    )
                });
            }
        } else if output.trials.len() >= budget && unfinished == 0 {
            pass.end = Some(study_end(&output, id));
        }
        let mut started = Vec::new();
        if pass.end.is_none() && !cancelling && failed.len() <= spec.failures_allowed() {
            let mut running = unfinished;
            while running < spec.parallel() && output.trials.len() < budget {
                let trial = self.next_trial(parent, spec, &output, &prior);
                pass.notes.push((
                    Severity::Info,
                    format!(
                        "Trial {} starts with {}.",
                        trial.trial_id,
                        arguments(&trial.hyperparameters).join(" ")
                    ),
                ));
                started.push(trial.clone());
                output.trials.push(trial);
                running += 1;
            }
        }
        output.sort_trials(spec.goal);
        if output != before || pass.end.is_some() {
            self.save_study(id, &output, !started.is_empty(), pass.end.clone())?;
        }
        // Written first, submitted second: a restart in between submits it then.
        for trial in &started {
            // Refused now: the next pass tries once more and fails the trial with why.
            if let Err(e) = self.submit_trial(parent, spec, trial) {
                tracing::warn!("trial {} of {id} was not submitted: {e}", trial.trial_id);
            }
        }
        for (severity, text) in &pass.notes {
            self.log(id, *severity, text);
        }
        for job in &pass.cancel {
            let _ = self.cancel(job);
        }
        Ok(())
    }

    /// Brings one trial up to date from its job: state, times and reported metrics.
    fn follow_trial(
        self: &Arc<Self>,
        parent: &Job,
        spec: &HyperparameterSpec,
        trial: &mut HyperparameterOutput,
        cancelling: bool,
        pass: &mut Pass,
    ) -> Result<(), EngineError> {
        if trial.state.is_finished() {
            return Ok(());
        }
        let job_id = trial_job_id(&parent.job_id, &trial.trial_id);
        let Some(record) = self.store.get(&job_id) else {
            if cancelling {
                trial.state = JobState::Cancelled;
            } else {
                // Written but never submitted (an engine stopped in between): submit it
                // now; one the engine refuses fails, so the study never waits on it.
                if let Err(e) = self.submit_trial(parent, spec, trial) {
                    trial.state = JobState::Failed;
                    trial.end_time = Some(Utc::now());
                    pass.notes.push((
                        Severity::Error,
                        format!("Trial {} could not start: {e}", trial.trial_id),
                    ));
                }
            }
            return Ok(());
        };
        let job = &record.job;
        trial.start_time = job.start_time;
        self.read_trial_metrics(job, spec.metric_tag(), trial);
        if !job.state.is_finished() {
            trial.state = job.state;
            return Ok(());
        }
        lock(&self.trial_readers).remove(&job_id);
        trial.end_time = job.end_time;
        trial.state = if trial.is_trial_stopped_early {
            JobState::Succeeded
        } else {
            job.state
        };
        let text = match (&trial.final_metric, job.state) {
            (_, JobState::Failed) => format!(
                "Trial {} failed: {}",
                trial.trial_id,
                job.error_message.as_deref().unwrap_or("no reason given")
            ),
            (Some(m), _) => format!(
                "Trial {} {}: {} = {} at step {}.",
                trial.trial_id,
                if trial.is_trial_stopped_early {
                    "stopped early"
                } else {
                    "ended"
                },
                spec.metric_tag(),
                m.objective_value,
                m.training_step
            ),
            (None, state) => format!(
                "Trial {} ended {state} without reporting {:?} (report it with cloudml-hypertune, or write it as a TensorBoard scalar in the trial's job dir).",
                trial.trial_id,
                spec.metric_tag()
            ),
        };
        let severity = if job.state == JobState::Failed || trial.final_metric.is_none() {
            Severity::Warning
        } else {
            Severity::Info
        };
        pass.notes.push((severity, text));
        Ok(())
    }

    fn read_trial_metrics(&self, job: &Job, tag: &str, trial: &mut HyperparameterOutput) {
        let Some(dir) = job.training_input.as_ref().and_then(|i| i.job_dir.as_ref()) else {
            return;
        };
        let points = {
            let mut readers = lock(&self.trial_readers);
            let reader = readers
                .entry(job.job_id.clone())
                .or_insert_with(|| TrialReader::new(std::path::Path::new(dir)));
            reader.read(tag)
        };
        if points.is_empty() {
            return;
        }
        trial.final_metric = points.last().copied();
        trial.all_metrics = thin(points, MAX_METRICS_PER_TRIAL);
    }

    /// The values and number of the next trial.
    fn next_trial(
        &self,
        parent: &Job,
        spec: &HyperparameterSpec,
        output: &TrainingOutput,
        prior: &[(BTreeMap<String, String>, f64)],
    ) -> HyperparameterOutput {
        let mut finished: Vec<Finished<'_>> = output
            .trials
            .iter()
            .filter(|t| t.state == JobState::Succeeded)
            .filter_map(|t| {
                Some(Finished {
                    values: &t.hyperparameters,
                    objective: t.final_metric?.objective_value,
                })
            })
            .collect();
        finished.extend(prior.iter().map(|(values, objective)| Finished {
            values,
            objective: *objective,
        }));
        let number = output.trials.len() + 1;
        let seed = parent
            .job_id
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        let values = search::propose(spec, prior.len() + number - 1, seed, &finished);
        HyperparameterOutput {
            trial_id: number.to_string(),
            hyperparameters: values,
            state: JobState::Queued,
            ..HyperparameterOutput::default()
        }
    }

    /// The finished trials of the study this one resumes, as values and objectives.
    fn prior_trials(&self, spec: &HyperparameterSpec) -> Vec<(BTreeMap<String, String>, f64)> {
        let Some(previous) = spec
            .resume_previous_job_id
            .as_ref()
            .and_then(|id| self.store.get(id))
        else {
            return Vec::new();
        };
        let Some(output) = &previous.job.training_output else {
            return Vec::new();
        };
        output
            .trials
            .iter()
            .filter_map(|t| Some((t.hyperparameters.clone(), t.final_metric?.objective_value)))
            .collect()
    }

    fn submit_trial(
        self: &Arc<Self>,
        parent: &Job,
        spec: &HyperparameterSpec,
        trial: &HyperparameterOutput,
    ) -> Result<(), EngineError> {
        let mut input = parent.training_input.clone().unwrap_or_default();
        input.hyperparameters = None;
        input.args.extend(arguments(&trial.hyperparameters));
        let study_dir = input
            .job_dir
            .clone()
            .unwrap_or_else(|| self.default_job_dir(&parent.job_id).display().to_string());
        let job_dir = std::path::Path::new(&study_dir).join(&trial.trial_id);
        let metric_file = job_dir.join(metrics::HYPERTUNE_FILE);
        input.job_dir = Some(job_dir.display().to_string());
        let env = [
            ("CLOUD_ML_TRIAL_ID", trial.trial_id.clone()),
            ("CLOUD_ML_HP_METRIC_FILE", metric_file.display().to_string()),
            ("CLOUD_ML_HP_METRIC_TAG", spec.metric_tag().to_owned()),
            (
                "TF_CONFIG",
                serde_json::json!({
                    "cluster": {},
                    "task": {"type": "master", "index": 0, "trial": trial.trial_id},
                    "job": {"job_name": parent.job_id},
                    "environment": "cloud",
                })
                .to_string(),
            ),
        ];
        input
            .env
            .extend(env.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let mut labels = parent.labels.clone();
        labels.insert(TRIAL_LABEL.into(), trial.trial_id.clone());
        let job = Job {
            job_id: trial_job_id(&parent.job_id, &trial.trial_id),
            labels,
            training_input: Some(input),
            ..Job::default()
        };
        match self.submit(job) {
            Ok(_) | Err(EngineError::AlreadyExists(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn save_study(
        &self,
        id: &str,
        output: &TrainingOutput,
        started: bool,
        end: Option<(JobState, Option<String>)>,
    ) -> Result<(), EngineError> {
        self.store.update(id, |r| {
            r.job.training_output = Some(Box::new(output.clone()));
            if started && r.job.state == JobState::Queued {
                r.job.state = JobState::Running;
                r.job.start_time = Some(Utc::now());
            }
        })?;
        if let Some((state, message)) = end {
            if let Some(text) = &message {
                self.log(id, Severity::Error, text);
            } else if state == JobState::Succeeded
                && let Some(best) = output.trials.first().filter(|t| t.final_metric.is_some())
            {
                let value = best.final_metric.map_or(0.0, |m| m.objective_value);
                self.log(
                    id,
                    Severity::Info,
                    &format!(
                        "Study done: the best trial is {} ({} = {value}) with {}.",
                        best.trial_id,
                        output.hyperparameter_metric_tag,
                        arguments(&best.hyperparameters).join(" ")
                    ),
                );
            }
            self.finish(id, state, message)?;
        }
        Ok(())
    }

    /// Why a trial's job failed, for the study's own message.
    fn trial_error(&self, parent: &str, trial: &str) -> String {
        let reason = self
            .store
            .get(&trial_job_id(parent, trial))
            .and_then(|r| r.job.error_message.clone())
            .unwrap_or_else(|| "no reason given".into());
        format!("Trial {trial}: {reason}")
    }
}

/// At most `most` of `points`, evenly spread over them, the last always among them (so
/// early stopping still finds a report near any step).
fn thin(points: Vec<HyperparameterMetric>, most: usize) -> Vec<HyperparameterMetric> {
    if points.len() <= most || most < 2 {
        return points;
    }
    let last = points.len() - 1;
    (0..most).map(|i| points[i * last / (most - 1)]).collect()
}

/// The trainer's arguments for a trial's values, as CMLE passed them.
fn arguments(values: &BTreeMap<String, String>) -> Vec<String> {
    values.iter().map(|(k, v)| format!("--{k}={v}")).collect()
}

/// How a study whose trials have all ended ends.
fn study_end(output: &TrainingOutput, id: &str) -> (JobState, Option<String>) {
    if output.trials.iter().any(|t| t.state == JobState::Succeeded) {
        (JobState::Succeeded, None)
    } else {
        (
            JobState::Failed,
            Some(format!(
                "no trial of {id} succeeded; see the trials' logs for why"
            )),
        )
    }
}

/// Median stopping: a running trial whose latest report is worse than the median of
/// the completed trials' reports at the same step (their latest at or before it) stops.
fn stop_early(id: &str, goal: Goal, trials: &mut [HyperparameterOutput], pass: &mut Pass) {
    let completed: Vec<Vec<HyperparameterMetric>> = trials
        .iter()
        .filter(|t| t.state == JobState::Succeeded && !t.is_trial_stopped_early)
        .map(|t| t.all_metrics.clone())
        .collect();
    if completed.is_empty() {
        return;
    }
    for trial in trials.iter_mut() {
        if trial.state != JobState::Running || trial.is_trial_stopped_early {
            continue;
        }
        let Some(latest) = trial.all_metrics.last().copied() else {
            continue;
        };
        let mut peers: Vec<f64> = completed
            .iter()
            .filter_map(|m| {
                m.iter()
                    .rev()
                    .find(|p| p.training_step <= latest.training_step)
                    .map(|p| p.objective_value)
            })
            .collect();
        if peers.is_empty() {
            continue;
        }
        peers.sort_by(f64::total_cmp);
        let mid = peers.len() / 2;
        let median = if peers.len().is_multiple_of(2) {
            (peers[mid - 1] + peers[mid]) / 2.0
        } else {
            peers[mid]
        };
        let behind = match goal {
            Goal::Maximize => latest.objective_value < median,
            _ => latest.objective_value > median,
        };
        if behind {
            trial.is_trial_stopped_early = true;
            pass.cancel.push(trial_job_id(id, &trial.trial_id));
            pass.notes.push((
                Severity::Info,
                format!(
                    "Trial {} stops early: {} at step {} is behind the median {median} of the completed trials.",
                    trial.trial_id, latest.objective_value, latest.training_step
                ),
            ));
        }
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests;
