//! A study's trials in parallel coordinates: one vertical axis per parameter and one for
//! the objective, each trial a line across them, the better trials brighter — which
//! values the good trials share shows at a glance.

use egui::{Color32, Ui};
use egui_plot::{Line, Plot, PlotPoints};

use crate::domain::{Goal, HyperparameterOutput, HyperparameterSpec, ParameterType};

/// Most trials drawn as lines.
const MAX_LINES: usize = 200;

/// Draws the chart (nothing for fewer than two measured trials).
pub(super) fn parallel_coordinates(
    ui: &mut Ui,
    spec: &HyperparameterSpec,
    trials: &[HyperparameterOutput],
    metric: &str,
) {
    // Trials come best first: the best are the lines worth telling apart, and a bound
    // keeps the frame's cost flat however long the study.
    let mut measured: Vec<&HyperparameterOutput> =
        trials.iter().filter(|t| t.final_metric.is_some()).collect();
    if measured.len() < 2 {
        return;
    }
    if measured.len() > MAX_LINES {
        ui.label(
            egui::RichText::new(format!(
                "The best {MAX_LINES} of {} measured trials:",
                measured.len()
            ))
            .weak(),
        );
        measured.truncate(MAX_LINES);
    }
    let mut axes: Vec<String> = spec
        .params
        .iter()
        .map(|p| p.parameter_name.clone())
        .collect();
    axes.push(metric.to_owned());
    // Each axis's position for each trial, between 0 and 1.
    let mut columns: Vec<Vec<f64>> = spec
        .params
        .iter()
        .map(|p| {
            let raw: Vec<f64> = measured
                .iter()
                .map(|t| {
                    let text = t.hyperparameters.get(&p.parameter_name);
                    match p.kind {
                        ParameterType::Categorical => text
                            .and_then(|v| p.categorical_values.iter().position(|c| c == v))
                            .map_or(0.0, |i| i as f64),
                        _ => text.and_then(|v| v.parse().ok()).unwrap_or(0.0),
                    }
                })
                .collect();
            unit_scale(&raw)
        })
        .collect();
    let objectives: Vec<f64> = measured
        .iter()
        .map(|t| t.final_metric.map_or(0.0, |m| m.objective_value))
        .collect();
    let objective_axis = unit_scale(&objectives);
    columns.push(objective_axis.clone());
    let names = axes.clone();
    Plot::new("trial_coordinates")
        .height(160.0)
        .allow_scroll(false)
        .allow_zoom(false)
        .allow_drag(false)
        .show_y(false)
        .y_axis_formatter(|_, _| String::new())
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            for (row, trial) in measured.iter().enumerate() {
                let points: Vec<[f64; 2]> = columns
                    .iter()
                    .enumerate()
                    .map(|(axis, column)| [axis as f64, column[row]])
                    .collect();
                // The better the objective, the brighter the line.
                let good = match spec.goal {
                    Goal::Minimize => 1.0 - objective_axis[row],
                    _ => objective_axis[row],
                };
                let alpha = (40.0 + 215.0 * good) as u8;
                let color = Color32::from_rgba_unmultiplied(66, 133, 244, alpha);
                plot.line(
                    Line::new(
                        format!("trial {}", trial.trial_id),
                        PlotPoints::from(points),
                    )
                    .color(color),
                );
            }
        });
}

/// Values mapped onto 0..1 (all 0.5 when they are all equal).
fn unit_scale(values: &[f64]) -> Vec<f64> {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| {
            if high > low {
                (v - low) / (high - low)
            } else {
                0.5
            }
        })
        .collect()
}
