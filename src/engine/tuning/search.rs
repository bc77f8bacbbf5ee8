//! Choosing a trial's values: every grid point in order, values at random within the
//! ranges (on their scale), or a Tree-structured Parzen Estimator (the `tpe` crate) fed
//! with the finished trials, standing in for CMLE's Bayesian default.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::domain::tuning::number_text;
use crate::domain::{Algorithm, Goal, HyperparameterSpec, ParameterSpec, ParameterType, ScaleType};

/// Finished trials a model-based search waits for before it models (before: random).
const STARTUP_TRIALS: usize = 3;

/// A finished trial: the values it ran with and its objective.
pub struct Finished<'a> {
    /// Values by parameter name, as passed to the trainer.
    pub values: &'a BTreeMap<String, String>,
    /// Its final objective.
    pub objective: f64,
}

/// Which search chose a trial's values, as the parent's log says it.
pub fn describe(spec: &HyperparameterSpec) -> &'static str {
    match spec.algorithm {
        Algorithm::GridSearch => "grid search",
        Algorithm::RandomSearch => "random search",
        Algorithm::AlgorithmUnspecified => {
            "model-based search (Tree-structured Parzen Estimator, random for the first 3 trials)"
        }
    }
}

/// The values of the trial at `index` (0-based, counting a resumed study's trials) of
/// the study `seed` names, given the trials finished so far.
pub fn propose(
    spec: &HyperparameterSpec,
    index: usize,
    seed: u64,
    finished: &[Finished<'_>],
) -> BTreeMap<String, String> {
    let mut rng = StdRng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match spec.algorithm {
        Algorithm::GridSearch => grid_point(&spec.params, index),
        Algorithm::RandomSearch => random_point(&spec.params, &mut rng),
        Algorithm::AlgorithmUnspecified if finished.len() < STARTUP_TRIALS => {
            random_point(&spec.params, &mut rng)
        }
        Algorithm::AlgorithmUnspecified => spec
            .params
            .iter()
            .map(|p| {
                let value = modelled(p, spec.goal, finished, &mut rng)
                    .unwrap_or_else(|| random_value(p, &mut rng));
                (p.parameter_name.clone(), value)
            })
            .collect(),
    }
}

/// The grid point at `index`: the first parameter changes slowest.
fn grid_point(params: &[ParameterSpec], index: usize) -> BTreeMap<String, String> {
    let mut rest = index;
    let mut values = BTreeMap::new();
    for param in params.iter().rev() {
        let len = param.grid_len().max(1);
        values.insert(param.parameter_name.clone(), param.grid_value(rest % len));
        rest /= len;
    }
    values
}

fn random_point(params: &[ParameterSpec], rng: &mut StdRng) -> BTreeMap<String, String> {
    params
        .iter()
        .map(|p| (p.parameter_name.clone(), random_value(p, rng)))
        .collect()
}

/// A value drawn uniformly on the parameter's scale.
fn random_value(param: &ParameterSpec, rng: &mut StdRng) -> String {
    match param.kind {
        ParameterType::Categorical | ParameterType::Discrete => {
            let n = param.grid_len().max(1);
            param.grid_value(rng.random_range(0..n))
        }
        _ => {
            let (low, high) = scaled_range(param);
            let unit: f64 = rng.random();
            value_of(param, low + unit * (high - low))
        }
    }
}

/// The parameter's range on its search scale (log for the log scales).
fn scaled_range(param: &ParameterSpec) -> (f64, f64) {
    let (min, max) = (
        param.min_value.unwrap_or(0.0),
        param.max_value.unwrap_or(1.0),
    );
    let (min, max) = match param.kind {
        // Every whole number gets an equal share of [min, max + 1).
        ParameterType::Integer => (min, max + 1.0),
        _ => (min, max),
    };
    match param.scale_type {
        ScaleType::UnitLogScale | ScaleType::UnitReverseLogScale => (min.ln(), max.ln()),
        _ => (min, max),
    }
}

/// The trainer's value for a point on the search scale.
fn value_of(param: &ParameterSpec, scaled: f64) -> String {
    let (min, max) = (
        param.min_value.unwrap_or(0.0),
        param.max_value.unwrap_or(1.0),
    );
    let raw = match param.scale_type {
        ScaleType::UnitLogScale => scaled.exp(),
        // Reflected: as dense near the top as the log scale is near the bottom.
        ScaleType::UnitReverseLogScale => {
            let top = if param.kind == ParameterType::Integer {
                max + 1.0
            } else {
                max
            };
            min + top - scaled.exp()
        }
        _ => scaled,
    };
    match param.kind {
        ParameterType::Integer => format!("{}", (raw.floor() as i64).clamp(min as i64, max as i64)),
        _ => number_text(raw.clamp(min, max)),
    }
}

/// Where a trainer's value sits on the search scale (or its choice's index).
fn position_of(param: &ParameterSpec, text: &str) -> Option<f64> {
    match param.kind {
        ParameterType::Categorical => param
            .categorical_values
            .iter()
            .position(|v| v == text)
            .map(|i| i as f64 + 0.5),
        ParameterType::Discrete => {
            let value: f64 = text.parse().ok()?;
            param
                .discrete_values
                .iter()
                .position(|v| (v - value).abs() <= f64::EPSILON * v.abs().max(1.0))
                .map(|i| i as f64 + 0.5)
        }
        _ => {
            let value: f64 = text.parse().ok()?;
            let (min, max) = (param.min_value?, param.max_value?);
            let value = if param.kind == ParameterType::Integer {
                value + 0.5
            } else {
                value
            };
            Some(match param.scale_type {
                ScaleType::UnitLogScale => value.ln(),
                ScaleType::UnitReverseLogScale => {
                    let top = if param.kind == ParameterType::Integer {
                        max + 1.0
                    } else {
                        max
                    };
                    (min + top - value).max(f64::MIN_POSITIVE).ln()
                }
                _ => value,
            })
        }
    }
}

/// One parameter's next value from a TPE fed with the finished trials (lower is better
/// to the estimator, so a maximized objective goes in negated).
fn modelled(
    param: &ParameterSpec,
    goal: Goal,
    finished: &[Finished<'_>],
    rng: &mut StdRng,
) -> Option<String> {
    let choices = matches!(
        param.kind,
        ParameterType::Categorical | ParameterType::Discrete
    );
    let mut optimizer = if choices {
        tpe::TpeOptimizer::new(
            tpe::histogram_estimator(),
            tpe::categorical_range(param.grid_len()).ok()?,
        )
    } else {
        let (low, high) = scaled_range(param);
        tpe::TpeOptimizer::new(tpe::parzen_estimator(), tpe::range(low, high).ok()?)
    };
    for trial in finished {
        let Some(position) = trial
            .values
            .get(&param.parameter_name)
            .and_then(|v| position_of(param, v))
        else {
            continue;
        };
        let value = match goal {
            Goal::Maximize => -trial.objective,
            _ => trial.objective,
        };
        if value.is_finite() {
            optimizer.tell(position, value).ok()?;
        }
    }
    let next = optimizer.ask(rng).ok()?;
    Some(if choices {
        param.grid_value(next.floor().max(0.0) as usize)
    } else {
        value_of(param, next)
    })
}

#[cfg(test)]
mod tests;
