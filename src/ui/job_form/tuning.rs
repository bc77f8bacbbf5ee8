//! The form's Tuning part: run the job as a hyperparameter tuning study — the goal and
//! metric, how many trials and how many at once, the search, and a row per parameter
//! (its kind, range and scale, or its values). Parsed apart from drawing; the study's
//! own rules (`HyperparameterSpec::validate`) are checked before sending.

use egui::Ui;

use super::widgets::{error_row, labeled_edit, small_edit};
use super::{Errors, Field};
use crate::domain::{
    Algorithm, Goal, HyperparameterSpec, ParameterSpec, ParameterType, ScaleType, TrainingInput,
};

/// One parameter row as typed.
#[derive(Debug, Clone, Default)]
pub struct ParameterRow {
    /// The trainer's argument name.
    pub name: String,
    /// Its kind of values.
    pub kind: ParameterType,
    /// The range's low end (DOUBLE, INTEGER).
    pub min: String,
    /// The range's high end (DOUBLE, INTEGER).
    pub max: String,
    /// Comma-separated choices (CATEGORICAL, DISCRETE).
    pub values: String,
    /// How the range is searched.
    pub scale: ScaleType,
}

/// The Tuning part as typed.
#[derive(Debug, Clone)]
pub struct TuningFields {
    /// Run the job as a study.
    pub enabled: bool,
    /// Maximize or minimize.
    pub goal: Goal,
    /// The metric's tag (empty: CMLE's default).
    pub metric: String,
    /// Trials in all.
    pub max_trials: String,
    /// Trials at once.
    pub parallel: String,
    /// How values are chosen.
    pub algorithm: Algorithm,
    /// Median early stopping.
    pub early_stopping: bool,
    /// The parameters.
    pub params: Vec<ParameterRow>,
}

impl Default for TuningFields {
    fn default() -> Self {
        TuningFields {
            enabled: false,
            goal: Goal::Maximize,
            metric: String::new(),
            max_trials: "10".into(),
            parallel: "2".into(),
            algorithm: Algorithm::AlgorithmUnspecified,
            early_stopping: false,
            params: vec![ParameterRow {
                kind: ParameterType::Double,
                ..ParameterRow::default()
            }],
        }
    }
}

impl TuningFields {
    /// The fields of a cloned job's study, if it runs one.
    pub fn from_input(input: &TrainingInput) -> TuningFields {
        let Some(spec) = &input.hyperparameters else {
            return TuningFields::default();
        };
        let number = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        TuningFields {
            enabled: true,
            goal: spec.goal,
            metric: spec.hyperparameter_metric_tag.clone(),
            max_trials: spec.max_trials.max(1).to_string(),
            parallel: spec.max_parallel_trials.max(1).to_string(),
            algorithm: spec.algorithm,
            early_stopping: spec.enable_trial_early_stopping,
            params: spec
                .params
                .iter()
                .map(|p| ParameterRow {
                    name: p.parameter_name.clone(),
                    kind: p.kind,
                    min: number(p.min_value),
                    max: number(p.max_value),
                    values: match p.kind {
                        ParameterType::Categorical => p.categorical_values.join(", "),
                        _ => p
                            .discrete_values
                            .iter()
                            .map(|v| format!("{v}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    },
                    scale: p.scale_type,
                })
                .collect(),
        }
    }

    /// The study, when tuning is on; errors go to [`Field::Tuning`].
    pub fn parse(&self, input: &mut TrainingInput, errors: &mut Errors) {
        if !self.enabled {
            return;
        }
        match self.spec() {
            Ok(spec) => match spec.validate() {
                Ok(()) => input.hyperparameters = Some(Box::new(spec)),
                Err(message) => {
                    errors.insert(Field::Tuning, message);
                }
            },
            Err(message) => {
                errors.insert(Field::Tuning, message);
            }
        }
    }

    fn spec(&self) -> Result<HyperparameterSpec, String> {
        let whole = |text: &str, what: &str| {
            text.trim()
                .parse::<i32>()
                .map_err(|_| format!("{what}: give a whole number (got {text:?})"))
        };
        let params = self
            .params
            .iter()
            .enumerate()
            .map(|(i, row)| row.spec(i + 1))
            .collect::<Result<Vec<_>, String>>()?;
        Ok(HyperparameterSpec {
            goal: self.goal,
            hyperparameter_metric_tag: self.metric.trim().to_owned(),
            max_trials: whole(&self.max_trials, "Trials")?,
            max_parallel_trials: whole(&self.parallel, "At once")?,
            algorithm: self.algorithm,
            enable_trial_early_stopping: self.early_stopping,
            params,
            ..HyperparameterSpec::default()
        })
    }

    /// Draws the part: a switch, then (when on) the study's settings and parameter rows.
    pub fn draw(&mut self, ui: &mut Ui, errors: &Errors, why_not: Option<&str>) {
        ui.label("Tuning");
        ui.vertical(|ui| {
            if let Some(why) = why_not {
                ui.label(egui::RichText::new(why).weak().small());
                self.enabled = false;
                return;
            }
            ui.checkbox(
                &mut self.enabled,
                "Tune hyperparameters (run trials of this job)",
            );
            if !self.enabled {
                return;
            }
            ui.horizontal(|ui| {
                egui::ComboBox::from_id_salt("tuning_goal")
                    .selected_text(match self.goal {
                        Goal::Minimize => "Minimize",
                        _ => "Maximize",
                    })
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.goal, Goal::Maximize, "Maximize");
                        ui.selectable_value(&mut self.goal, Goal::Minimize, "Minimize");
                    });
                labeled_edit(
                    ui,
                    &mut self.metric,
                    "Metric tag",
                    "training/hptuning/metric",
                );
            });
            ui.horizontal(|ui| {
                ui.label("Trials");
                small_edit(ui, &mut self.max_trials, "Trials", "10");
                ui.label("at once");
                small_edit(ui, &mut self.parallel, "At once", "2");
                egui::ComboBox::from_id_salt("tuning_algorithm")
                    .selected_text(algorithm_name(self.algorithm))
                    .show_ui(ui, |ui| {
                        for a in [
                            Algorithm::AlgorithmUnspecified,
                            Algorithm::GridSearch,
                            Algorithm::RandomSearch,
                        ] {
                            ui.selectable_value(&mut self.algorithm, a, algorithm_name(a));
                        }
                    });
                ui.checkbox(&mut self.early_stopping, "Stop bad trials early");
            });
            let mut remove = None;
            for (i, row) in self.params.iter_mut().enumerate() {
                ui.horizontal(|ui| {
                    row.draw(ui, i + 1);
                    if ui
                        .small_button("✖")
                        .on_hover_text("Remove this parameter")
                        .clicked()
                    {
                        remove = Some(i);
                    }
                });
            }
            if let Some(i) = remove {
                self.params.remove(i);
            }
            if ui.button("➕ Add parameter").clicked() {
                self.params.push(ParameterRow {
                    kind: ParameterType::Double,
                    ..ParameterRow::default()
                });
            }
        });
        ui.end_row();
        error_row(ui, errors, Field::Tuning);
    }
}

impl ParameterRow {
    fn spec(&self, n: usize) -> Result<ParameterSpec, String> {
        let number = |text: &str, what: &str| -> Result<Option<f64>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            text.parse::<f64>()
                .map(Some)
                .map_err(|_| format!("parameter {n}: {what} {text:?} is not a number"))
        };
        let values = || {
            self.values
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut spec = ParameterSpec {
            parameter_name: self.name.trim().to_owned(),
            kind: self.kind,
            scale_type: self.scale,
            ..ParameterSpec::default()
        };
        match self.kind {
            ParameterType::Categorical => {
                spec.categorical_values = values().map(str::to_owned).collect();
            }
            ParameterType::Discrete => {
                spec.discrete_values = values()
                    .map(|v| number(v, "value").map(Option::unwrap_or_default))
                    .collect::<Result<_, _>>()?;
            }
            _ => {
                spec.min_value = number(&self.min, "min")?;
                spec.max_value = number(&self.max, "max")?;
            }
        }
        Ok(spec)
    }

    fn draw(&mut self, ui: &mut Ui, n: usize) {
        small_edit(ui, &mut self.name, &format!("Parameter {n} name"), "name");
        egui::ComboBox::from_id_salt(("parameter_kind", n))
            .selected_text(kind_name(self.kind))
            .show_ui(ui, |ui| {
                for kind in [
                    ParameterType::Double,
                    ParameterType::Integer,
                    ParameterType::Categorical,
                    ParameterType::Discrete,
                ] {
                    ui.selectable_value(&mut self.kind, kind, kind_name(kind));
                }
            });
        match self.kind {
            ParameterType::Categorical | ParameterType::Discrete => {
                labeled_edit(
                    ui,
                    &mut self.values,
                    &format!("Parameter {n} values"),
                    "values, comma-separated",
                );
            }
            _ => {
                small_edit(ui, &mut self.min, &format!("Parameter {n} min"), "min");
                small_edit(ui, &mut self.max, &format!("Parameter {n} max"), "max");
                egui::ComboBox::from_id_salt(("parameter_scale", n))
                    .selected_text(scale_name(self.scale))
                    .show_ui(ui, |ui| {
                        for scale in [
                            ScaleType::UnitLinearScale,
                            ScaleType::UnitLogScale,
                            ScaleType::UnitReverseLogScale,
                        ] {
                            ui.selectable_value(&mut self.scale, scale, scale_name(scale));
                        }
                    });
            }
        }
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::AlgorithmUnspecified => "Model-based (TPE)",
        Algorithm::GridSearch => "Grid search",
        Algorithm::RandomSearch => "Random search",
    }
}

fn kind_name(kind: ParameterType) -> &'static str {
    match kind {
        ParameterType::Integer => "Integer",
        ParameterType::Categorical => "Categorical",
        ParameterType::Discrete => "Discrete",
        _ => "Double",
    }
}

fn scale_name(scale: ScaleType) -> &'static str {
    match scale {
        ScaleType::UnitLogScale => "log",
        ScaleType::UnitReverseLogScale => "reverse log",
        _ => "linear",
    }
}
