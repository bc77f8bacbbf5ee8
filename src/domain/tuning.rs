//! Hyperparameter tuning as Cloud ML Engine's v1 API shapes it: the study a job asks for
//! (`trainingInput.hyperparameters`), the trials it reports (`trainingOutput.trials`),
//! and the rules a study must follow before any trial runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use super::JobState;

/// The tag a trainer reports its objective under when the study names none (CMLE's).
pub const DEFAULT_METRIC_TAG: &str = "training/hptuning/metric";

/// Most trials one study may ask for.
pub const MAX_TRIALS: i32 = 10_000;

/// Largest INTEGER bound (2^53: every whole number up to it is an exact f64).
const MAX_WHOLE: f64 = 9_007_199_254_740_992.0;

/// Most metric points kept per trial (spread over its steps, the last always kept): the
/// study is saved whole whenever a trial reports, so a 1 000-trial study stays small.
pub const MAX_METRICS_PER_TRIAL: usize = 100;

/// Whether a higher or a lower objective is better.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Goal {
    /// Not given: refused at submit.
    #[default]
    GoalTypeUnspecified,
    /// Higher is better.
    Maximize,
    /// Lower is better.
    Minimize,
}

/// How the next trial's values are chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Algorithm {
    /// Model-based (Bayesian on CMLE; a Tree-structured Parzen Estimator here).
    #[default]
    AlgorithmUnspecified,
    /// Every combination of the values, in order.
    GridSearch,
    /// Values drawn at random within the ranges.
    RandomSearch,
}

/// What kind of values a parameter takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ParameterType {
    /// Not given: refused at submit.
    #[default]
    ParameterTypeUnspecified,
    /// A real number in `[minValue, maxValue]`.
    Double,
    /// A whole number in `[minValue, maxValue]`.
    Integer,
    /// One of `categoricalValues` (text).
    Categorical,
    /// One of `discreteValues` (numbers, increasing).
    Discrete,
}

/// How a numeric range is searched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScaleType {
    /// No scaling (linear).
    #[default]
    None,
    /// Linear over the range.
    UnitLinearScale,
    /// Logarithmic: every decade equally likely (the range must be above 0).
    UnitLogScale,
    /// Denser near the top of the range (the range must be above 0).
    UnitReverseLogScale,
}

/// One hyperparameter a study searches.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParameterSpec {
    /// The trainer's argument name (passed as `--name=value`).
    pub parameter_name: String,
    /// Its kind of values.
    #[serde(rename = "type", default)]
    pub kind: ParameterType,
    /// The range's low end (DOUBLE, INTEGER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    /// The range's high end (DOUBLE, INTEGER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    /// The choices (CATEGORICAL).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categorical_values: Vec<String>,
    /// The choices (DISCRETE), increasing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discrete_values: Vec<f64>,
    /// How the range is searched.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scale_type: ScaleType,
}

/// `trainingInput.hyperparameters`: the study a tuning job runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HyperparameterSpec {
    /// Whether to maximize or minimize the metric.
    #[serde(default)]
    pub goal: Goal,
    /// The metric's tag (default `training/hptuning/metric`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hyperparameter_metric_tag: String,
    /// How many trials in all (default 1).
    #[serde(default, deserialize_with = "int32", skip_serializing_if = "is_zero")]
    pub max_trials: i32,
    /// How many trials at once (default 1).
    #[serde(default, deserialize_with = "int32", skip_serializing_if = "is_zero")]
    pub max_parallel_trials: i32,
    /// Failed trials past which the study fails (0: CMLE's default, the study fails
    /// once as many trials failed as may run at once and none succeeded).
    #[serde(default, deserialize_with = "int32", skip_serializing_if = "is_zero")]
    pub max_failed_trials: i32,
    /// Stop a trial whose metric falls behind the median of completed trials.
    #[serde(default, skip_serializing_if = "is_default")]
    pub enable_trial_early_stopping: bool,
    /// A finished tuning job whose trials this one continues from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_previous_job_id: Option<String>,
    /// How values are chosen.
    #[serde(default, skip_serializing_if = "is_default")]
    pub algorithm: Algorithm,
    /// The parameters searched.
    #[serde(default)]
    pub params: Vec<ParameterSpec>,
}

/// One reported value of the objective.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HyperparameterMetric {
    /// The step it was reported at (an int64: a string on the wire).
    #[serde(default, serialize_with = "int64_text", deserialize_with = "int64")]
    pub training_step: i64,
    /// The objective's value.
    #[serde(default)]
    pub objective_value: f64,
}

/// One trial of a study.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HyperparameterOutput {
    /// `1`, `2`, … in the order trials started.
    pub trial_id: String,
    /// The values it ran with, by parameter name, as passed to the trainer.
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    /// The last objective it reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_metric: Option<HyperparameterMetric>,
    /// The objectives it reported (at most 100, spread over its steps; the last kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all_metrics: Vec<HyperparameterMetric>,
    /// Where it is.
    #[serde(default)]
    pub state: JobState,
    /// When its process started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// Whether early stopping ended it.
    #[serde(default, skip_serializing_if = "is_default")]
    pub is_trial_stopped_early: bool,
}

/// `trainingOutput`: what a tuning job reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrainingOutput {
    /// Trials that ended with a metric (an int64: a string on the wire).
    #[serde(default, serialize_with = "int64_text", deserialize_with = "int64")]
    pub completed_trial_count: i64,
    /// True for a tuning job.
    #[serde(default)]
    pub is_hyperparameter_tuning_job: bool,
    /// The metric's tag.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hyperparameter_metric_tag: String,
    /// The trials, best first for the goal, then the others by id.
    #[serde(default)]
    pub trials: Vec<HyperparameterOutput>,
}

impl HyperparameterSpec {
    /// The metric tag, defaulted.
    pub fn metric_tag(&self) -> &str {
        if self.hyperparameter_metric_tag.is_empty() {
            DEFAULT_METRIC_TAG
        } else {
            &self.hyperparameter_metric_tag
        }
    }

    /// Trials in all, defaulted to 1 and capped by the grid's size for a grid search.
    pub fn trial_budget(&self) -> usize {
        let asked = usize::try_from(self.max_trials.max(1)).unwrap_or(1);
        match self.algorithm {
            Algorithm::GridSearch => asked.min(grid_size(&self.params)),
            _ => asked,
        }
    }

    /// Trials at once, defaulted to 1.
    pub fn parallel(&self) -> usize {
        usize::try_from(self.max_parallel_trials.max(1)).unwrap_or(1)
    }

    /// Failed trials the study survives.
    pub fn failures_allowed(&self) -> usize {
        if self.max_failed_trials > 0 {
            usize::try_from(self.max_failed_trials).unwrap_or(usize::MAX)
        } else {
            self.parallel()
        }
    }

    /// Checks the study; the message names the field and what it wants.
    pub fn validate(&self) -> Result<(), String> {
        let at = "trainingInput.hyperparameters";
        if self.goal == Goal::GoalTypeUnspecified {
            return Err(format!("{at}.goal: give MAXIMIZE or MINIMIZE"));
        }
        if !(0..=MAX_TRIALS).contains(&self.max_trials) {
            return Err(format!(
                "{at}.maxTrials {}: give 1 to {MAX_TRIALS}",
                self.max_trials
            ));
        }
        if self.max_parallel_trials < 0 || self.max_failed_trials < 0 {
            return Err(format!(
                "{at}: maxParallelTrials and maxFailedTrials are 0 or more"
            ));
        }
        if self.params.is_empty() {
            return Err(format!("{at}.params: give at least one parameter to tune"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, param) in self.params.iter().enumerate() {
            let at = format!("{at}.params[{i}]");
            param.validate(&at)?;
            if !seen.insert(param.parameter_name.as_str()) {
                return Err(format!(
                    "{at}.parameterName {:?} is given twice",
                    param.parameter_name
                ));
            }
            if self.algorithm == Algorithm::GridSearch && param.kind == ParameterType::Double {
                return Err(format!(
                    "{at}: GRID_SEARCH takes INTEGER, CATEGORICAL or DISCRETE parameters; {:?} is DOUBLE (give it discreteValues)",
                    param.parameter_name
                ));
            }
        }
        if self.algorithm == Algorithm::GridSearch && grid_size(&self.params) == 0 {
            return Err(format!("{at}: the grid has no points"));
        }
        if self.metric_tag().contains('\n') {
            return Err(format!("{at}.hyperparameterMetricTag: one line of text"));
        }
        Ok(())
    }
}

impl ParameterSpec {
    fn validate(&self, at: &str) -> Result<(), String> {
        let name = &self.parameter_name;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        if name.is_empty() || !name.chars().all(plain) {
            return Err(format!(
                "{at}.parameterName {name:?}: letters, digits, '_', '-' and '.' (it becomes --{name}=VALUE)"
            ));
        }
        let log = matches!(
            self.scale_type,
            ScaleType::UnitLogScale | ScaleType::UnitReverseLogScale
        );
        match self.kind {
            ParameterType::ParameterTypeUnspecified => Err(format!(
                "{at}.type: give DOUBLE, INTEGER, CATEGORICAL or DISCRETE for {name:?}"
            )),
            ParameterType::Double | ParameterType::Integer => {
                let (Some(min), Some(max)) = (self.min_value, self.max_value) else {
                    return Err(format!("{at}: {name:?} needs minValue and maxValue"));
                };
                if !(min.is_finite() && max.is_finite() && min < max && (max - min).is_finite()) {
                    return Err(format!(
                        "{at}: {name:?} needs minValue < maxValue (got {min} and {max})"
                    ));
                }
                let whole = |v: f64| v.fract() == 0.0 && v.abs() <= MAX_WHOLE;
                if self.kind == ParameterType::Integer && !(whole(min) && whole(max)) {
                    return Err(format!(
                        "{at}: {name:?} is INTEGER; minValue and maxValue must be whole numbers within ±{MAX_WHOLE}"
                    ));
                }
                if log && min <= 0.0 {
                    return Err(format!(
                        "{at}: {name:?} is on a log scale, so minValue must be above 0"
                    ));
                }
                Ok(())
            }
            ParameterType::Categorical if self.categorical_values.is_empty() => Err(format!(
                "{at}: {name:?} is CATEGORICAL and needs categoricalValues"
            )),
            // A value becomes an argument `--name=value`, which cannot hold a NUL.
            ParameterType::Categorical
                if self.categorical_values.iter().any(|v| v.contains('\0')) =>
            {
                Err(format!(
                    "{at}: {name:?}'s categoricalValues cannot contain NUL characters"
                ))
            }
            ParameterType::Categorical => Ok(()),
            ParameterType::Discrete => {
                let values = &self.discrete_values;
                if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
                    return Err(format!(
                        "{at}: {name:?} is DISCRETE and needs discreteValues (numbers)"
                    ));
                }
                if values.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!("{at}: {name:?}'s discreteValues must increase"));
                }
                Ok(())
            }
        }
    }

    /// How many values a grid search tries (0 for DOUBLE).
    pub fn grid_len(&self) -> usize {
        match self.kind {
            ParameterType::Integer => match (self.min_value, self.max_value) {
                // Saturating: a range too wide to count is refused by `validate`.
                (Some(min), Some(max)) if max >= min => ((max - min) as usize).saturating_add(1),
                _ => 0,
            },
            ParameterType::Categorical => self.categorical_values.len(),
            ParameterType::Discrete => self.discrete_values.len(),
            _ => 0,
        }
    }

    /// The `i`-th value of the grid, as passed to the trainer.
    pub fn grid_value(&self, i: usize) -> String {
        match self.kind {
            ParameterType::Integer => {
                let step = i64::try_from(i).unwrap_or(i64::MAX);
                format!(
                    "{}",
                    (self.min_value.unwrap_or(0.0) as i64).saturating_add(step)
                )
            }
            ParameterType::Categorical => {
                self.categorical_values.get(i).cloned().unwrap_or_default()
            }
            ParameterType::Discrete => {
                number_text(self.discrete_values.get(i).copied().unwrap_or(0.0))
            }
            _ => String::new(),
        }
    }
}

/// Points in the grid of `params` (saturating).
pub fn grid_size(params: &[ParameterSpec]) -> usize {
    params
        .iter()
        .fold(1usize, |n, p| n.saturating_mul(p.grid_len()))
}

/// A number as passed to a trainer: integers without a fraction, others in full.
pub fn number_text(value: f64) -> String {
    format!("{value}")
}

impl TrainingOutput {
    /// Orders the trials best first for `goal` (those with a metric), then the others
    /// by trial number, and counts the completed ones.
    pub fn sort_trials(&mut self, goal: Goal) {
        let number = |t: &HyperparameterOutput| t.trial_id.parse::<u64>().unwrap_or(u64::MAX);
        self.trials.sort_by(|a, b| {
            let value = |t: &HyperparameterOutput| t.final_metric.map(|m| m.objective_value);
            match (value(a), value(b)) {
                (Some(x), Some(y)) => {
                    let order = x.total_cmp(&y);
                    let order = if goal == Goal::Maximize {
                        order.reverse()
                    } else {
                        order
                    };
                    order.then_with(|| number(a).cmp(&number(b)))
                }
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => number(a).cmp(&number(b)),
            }
        });
        self.completed_trial_count = self
            .trials
            .iter()
            .filter(|t| t.state.is_finished() && t.final_metric.is_some())
            .count() as i64;
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

fn int32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    super::wire::integer(d)
}

fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    super::wire::integer(d)
}

fn int64_text<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
    super::wire::int64::serialize(value, s)
}

#[cfg(test)]
mod tests;
