//! Vertex AI hyperparameter tuning jobs in the REST shape (the fields used), made from a
//! console job with `trainingInput.hyperparameters` (its trial job spec is the custom job
//! the same job would run), and read back as one: the study in `hyperparameters`, the
//! trials in `trainingOutput`, best first.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::int64;
use super::jobs::{self, CustomJob, CustomJobSpec, Status, id_of, job_state};
use crate::domain::{
    Algorithm, Goal, HyperparameterMetric, HyperparameterOutput, HyperparameterSpec, Job, JobState,
    ParameterSpec, ParameterType, ScaleType, TrainingInput, TrainingOutput,
};

/// `GoogleCloudAiplatformV1HyperparameterTuningJob` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TuningJob {
    /// `projects/P/locations/R/hyperparameterTuningJobs/ID` (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The user's name for it.
    pub display_name: String,
    /// What is searched and for what.
    pub study_spec: StudySpec,
    /// Trials in all.
    pub max_trial_count: i32,
    /// Trials at once.
    pub parallel_trial_count: i32,
    /// Failed trials past which the job fails (0: Vertex decides).
    #[serde(skip_serializing_if = "is_zero")]
    pub max_failed_trial_count: i32,
    /// The custom job each trial runs.
    pub trial_job_spec: CustomJobSpec,
    /// `JOB_STATE_*` (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// Why it failed (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Status>,
    /// When it was made (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    /// When its first trial started (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// When it ended (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// When it last changed (output only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<DateTime<Utc>>,
    /// The user's labels and the console's request label.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The trials so far (output only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trials: Vec<Trial>,
}

/// `GoogleCloudAiplatformV1StudySpec` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StudySpec {
    /// The one metric optimized.
    pub metrics: Vec<MetricSpec>,
    /// The parameters searched.
    pub parameters: Vec<ParameterSpecVx>,
    /// `ALGORITHM_UNSPECIFIED` (Bayesian), `GRID_SEARCH` or `RANDOM_SEARCH`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub algorithm: String,
    /// Median stopping, when early stopping is on (an empty object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_automated_stopping_spec: Option<Value>,
}

/// `GoogleCloudAiplatformV1StudySpecMetricSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricSpec {
    /// The metric's tag, as the trainer reports it.
    pub metric_id: String,
    /// `MAXIMIZE` or `MINIMIZE`.
    pub goal: String,
}

/// `GoogleCloudAiplatformV1StudySpecParameterSpec` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ParameterSpecVx {
    /// The trainer's argument name.
    pub parameter_id: String,
    /// A real range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub double_value_spec: Option<Range>,
    /// A whole range (int64s as text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integer_value_spec: Option<IntRange>,
    /// Text choices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categorical_value_spec: Option<Values<String>>,
    /// Number choices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discrete_value_spec: Option<Values<f64>>,
    /// `UNIT_LINEAR_SCALE`, `UNIT_LOG_SCALE` or `UNIT_REVERSE_LOG_SCALE`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scale_type: String,
}

/// A `doubleValueSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Range {
    /// Low end.
    pub min_value: f64,
    /// High end.
    pub max_value: f64,
}

/// An `integerValueSpec` (int64s as text on the wire).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IntRange {
    /// Low end.
    #[serde(with = "int64")]
    pub min_value: Option<i64>,
    /// High end.
    #[serde(with = "int64")]
    pub max_value: Option<i64>,
}

/// A `categoricalValueSpec` or `discreteValueSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Values<T> {
    /// The choices.
    pub values: Vec<T>,
}

/// `GoogleCloudAiplatformV1Trial` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Trial {
    /// `1`, `2`, …
    pub id: String,
    /// `REQUESTED`, `ACTIVE`, `STOPPING`, `SUCCEEDED` or `INFEASIBLE`.
    pub state: String,
    /// The values it runs with.
    pub parameters: Vec<TrialParameter>,
    /// Its last (or best) measurement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_measurement: Option<Measurement>,
    /// When it started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Why it could not run, when infeasible.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub infeasible_reason: String,
}

/// `GoogleCloudAiplatformV1TrialParameter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TrialParameter {
    /// The parameter.
    pub parameter_id: String,
    /// Its value: a number or text.
    pub value: Value,
}

/// `GoogleCloudAiplatformV1Measurement` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Measurement {
    /// The step it was taken at (int64 as text).
    #[serde(with = "int64")]
    pub step_count: Option<i64>,
    /// The metrics measured.
    pub metrics: Vec<MeasuredMetric>,
}

/// `GoogleCloudAiplatformV1MeasurementMetric`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MeasuredMetric {
    /// The metric's tag.
    pub metric_id: String,
    /// Its value.
    pub value: f64,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// The tuning job to create for a console job studying `spec`.
pub fn tuning_job_for(
    job: &Job,
    input: &TrainingInput,
    spec: &HyperparameterSpec,
) -> Result<TuningJob, String> {
    let mut trial_input = input.clone();
    trial_input.hyperparameters = None;
    let custom = jobs::custom_job_for(job, &trial_input)?;
    let goal = match spec.goal {
        Goal::Minimize => "MINIMIZE",
        _ => "MAXIMIZE",
    };
    Ok(TuningJob {
        display_name: job.job_id.clone(),
        study_spec: StudySpec {
            metrics: vec![MetricSpec {
                metric_id: spec.metric_tag().to_owned(),
                goal: goal.into(),
            }],
            parameters: spec.params.iter().map(parameter_for).collect(),
            algorithm: match spec.algorithm {
                Algorithm::GridSearch => "GRID_SEARCH",
                Algorithm::RandomSearch => "RANDOM_SEARCH",
                Algorithm::AlgorithmUnspecified => "ALGORITHM_UNSPECIFIED",
            }
            .into(),
            median_automated_stopping_spec: spec
                .enable_trial_early_stopping
                .then(|| serde_json::json!({})),
        },
        max_trial_count: spec.max_trials.max(1),
        parallel_trial_count: spec.max_parallel_trials.max(1),
        max_failed_trial_count: spec.max_failed_trials,
        trial_job_spec: custom.job_spec,
        labels: job.labels.clone(),
        ..TuningJob::default()
    })
}

/// The `gcloud ai hp-tuning-jobs create` lines that run the study of `job` again as
/// `display_name` in `project` and `region`: the study, trial counts and trial job spec
/// written to a file (gcloud's `--config`, a HyperparameterTuningJob), then the call.
pub fn create_command(
    job: &Job,
    display_name: &str,
    project: &str,
    region: &str,
) -> Result<String, String> {
    let job = job.resubmission(display_name);
    let input = job
        .training_input
        .as_ref()
        .ok_or("this job has no training input to run again")?;
    let spec = input
        .hyperparameters
        .as_deref()
        .ok_or("this job is not a hyperparameter tuning job")?;
    let tuning = tuning_job_for(&job, input, spec)?;
    let mut config = serde_json::to_value(&tuning).map_err(|e| e.to_string())?;
    if let Some(fields) = config.as_object_mut() {
        // Given as flags instead, as a user would.
        fields.remove("displayName");
        fields.remove("labels");
    }
    let line = jobs::gcloud_create(
        "hp-tuning-jobs",
        project,
        region,
        display_name,
        &tuning.labels,
    );
    jobs::spec_then(&job.job_id, &config, line)
}

fn parameter_for(p: &ParameterSpec) -> ParameterSpecVx {
    let scale = match p.scale_type {
        ScaleType::UnitLogScale => "UNIT_LOG_SCALE",
        ScaleType::UnitReverseLogScale => "UNIT_REVERSE_LOG_SCALE",
        ScaleType::UnitLinearScale => "UNIT_LINEAR_SCALE",
        ScaleType::None => "",
    };
    let mut vx = ParameterSpecVx {
        parameter_id: p.parameter_name.clone(),
        ..ParameterSpecVx::default()
    };
    match p.kind {
        ParameterType::Integer => {
            vx.integer_value_spec = Some(IntRange {
                min_value: p.min_value.map(|v| v as i64),
                max_value: p.max_value.map(|v| v as i64),
            });
            vx.scale_type = scale.into();
        }
        ParameterType::Categorical => {
            vx.categorical_value_spec = Some(Values {
                values: p.categorical_values.clone(),
            });
        }
        ParameterType::Discrete => {
            vx.discrete_value_spec = Some(Values {
                values: p.discrete_values.clone(),
            });
        }
        _ => {
            vx.double_value_spec = Some(Range {
                min_value: p.min_value.unwrap_or(0.0),
                max_value: p.max_value.unwrap_or(1.0),
            });
            vx.scale_type = scale.into();
        }
    }
    vx
}

/// The console's job for a tuning job: its trial job as the input, its study as the
/// input's `hyperparameters`, its trials as the output.
pub fn from_tuning_job(tuning: &TuningJob) -> Job {
    let trial_job = jobs::from_custom_job(&CustomJob {
        job_spec: tuning.trial_job_spec.clone(),
        ..CustomJob::default()
    });
    let metric = tuning
        .study_spec
        .metrics
        .first()
        .cloned()
        .unwrap_or_default();
    let goal = if metric.goal == "MINIMIZE" {
        Goal::Minimize
    } else {
        Goal::Maximize
    };
    let spec = HyperparameterSpec {
        goal,
        hyperparameter_metric_tag: metric.metric_id.clone(),
        max_trials: tuning.max_trial_count,
        max_parallel_trials: tuning.parallel_trial_count,
        max_failed_trials: tuning.max_failed_trial_count,
        enable_trial_early_stopping: tuning.study_spec.median_automated_stopping_spec.is_some(),
        algorithm: match tuning.study_spec.algorithm.as_str() {
            "GRID_SEARCH" => Algorithm::GridSearch,
            "RANDOM_SEARCH" => Algorithm::RandomSearch,
            _ => Algorithm::AlgorithmUnspecified,
        },
        params: tuning
            .study_spec
            .parameters
            .iter()
            .map(parameter_of)
            .collect(),
        ..HyperparameterSpec::default()
    };
    let mut output = TrainingOutput {
        is_hyperparameter_tuning_job: true,
        hyperparameter_metric_tag: metric.metric_id.clone(),
        trials: tuning
            .trials
            .iter()
            .map(|t| trial_of(t, &metric.metric_id))
            .collect(),
        ..TrainingOutput::default()
    };
    output.sort_trials(goal);
    let mut input = trial_job.training_input.unwrap_or_default();
    input.hyperparameters = Some(Box::new(spec));
    Job {
        job_id: id_of(&tuning.name).to_owned(),
        display_name: Some(tuning.display_name.clone()).filter(|n| !n.is_empty()),
        labels: super::models::users_labels(&tuning.labels),
        training_input: Some(input),
        create_time: tuning.create_time,
        start_time: tuning.start_time,
        end_time: tuning.end_time,
        update_time: tuning.update_time.or(tuning.create_time),
        state: job_state(&tuning.state),
        error_message: tuning.error.as_ref().map(Status::in_full),
        training_output: Some(Box::new(output)),
        ..Job::default()
    }
}

fn parameter_of(vx: &ParameterSpecVx) -> ParameterSpec {
    let mut p = ParameterSpec {
        parameter_name: vx.parameter_id.clone(),
        scale_type: match vx.scale_type.as_str() {
            "UNIT_LOG_SCALE" => ScaleType::UnitLogScale,
            "UNIT_REVERSE_LOG_SCALE" => ScaleType::UnitReverseLogScale,
            "UNIT_LINEAR_SCALE" => ScaleType::UnitLinearScale,
            _ => ScaleType::None,
        },
        ..ParameterSpec::default()
    };
    if let Some(r) = &vx.double_value_spec {
        p.kind = ParameterType::Double;
        (p.min_value, p.max_value) = (Some(r.min_value), Some(r.max_value));
    } else if let Some(r) = &vx.integer_value_spec {
        p.kind = ParameterType::Integer;
        p.min_value = r.min_value.map(|v| v as f64);
        p.max_value = r.max_value.map(|v| v as f64);
    } else if let Some(v) = &vx.categorical_value_spec {
        p.kind = ParameterType::Categorical;
        p.categorical_values = v.values.clone();
    } else if let Some(v) = &vx.discrete_value_spec {
        p.kind = ParameterType::Discrete;
        p.discrete_values = v.values.clone();
    }
    p
}

fn trial_of(trial: &Trial, metric: &str) -> HyperparameterOutput {
    let final_metric = trial.final_measurement.as_ref().and_then(|m| {
        let value = m.metrics.iter().find(|x| x.metric_id == metric)?.value;
        Some(HyperparameterMetric {
            training_step: m.step_count.unwrap_or(0),
            objective_value: value,
        })
    });
    HyperparameterOutput {
        trial_id: trial.id.clone(),
        hyperparameters: trial
            .parameters
            .iter()
            .map(|p| {
                let value = match &p.value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => {
                        crate::domain::tuning::number_text(n.as_f64().unwrap_or(0.0))
                    }
                    other => other.to_string(),
                };
                (p.parameter_id.clone(), value)
            })
            .collect(),
        final_metric,
        state: match trial.state.as_str() {
            "REQUESTED" => JobState::Queued,
            "ACTIVE" => JobState::Running,
            "STOPPING" => JobState::Cancelling,
            "SUCCEEDED" => JobState::Succeeded,
            "INFEASIBLE" => JobState::Failed,
            _ => JobState::StateUnspecified,
        },
        start_time: trial.start_time,
        end_time: trial.end_time,
        ..HyperparameterOutput::default()
    }
}
