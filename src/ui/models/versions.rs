//! The Models tab's table of versions (state, runtime, replicas, traffic, actions), their
//! inputs and outputs, the traffic chart and the default history.

use egui::{Color32, RichText, Ui};
use egui_plot::{Legend, Line, Plot, PlotPoints};

use chrono::Utc;

use super::{ModelsAction, ModelsTab, PendingDelete, TRAFFIC_WINDOW};
use crate::backend::{ModelChange, ModelView};
use crate::domain::{ConnectionId, ServingRuntimes, TensorSpec, Version, VersionState};
use crate::ui::{format, theme};

impl ModelsTab {
    /// `refused` says why changes are refused, on a read-only connection.
    pub(super) fn versions_table(
        &mut self,
        ui: &mut Ui,
        view: &ModelView,
        refused: Option<&str>,
        actions: &mut Vec<ModelsAction>,
        dark: bool,
    ) {
        let model = view.model.short_name().to_owned();
        let connection = view.connection.clone();
        let refused = refused.unwrap_or_default();
        if view.versions.is_empty() {
            ui.label("No versions yet.");
            return;
        }
        // The signatures, whose width follows the model, go under the table: the rows
        // fit a 1280-pixel window and Try/Delete stay where they are.
        egui::Grid::new("versions")
            .striped(true)
            .num_columns(7)
            .spacing([14.0, 6.0])
            .show(ui, |ui| {
                for title in [
                    "Version", "State", "Runtime", "Replicas", "Traffic", "", "Created",
                ] {
                    ui.label(RichText::new(title).strong());
                }
                ui.end_row();
                for v in &view.versions {
                    self.version_row(ui, v, (&connection, &model), refused, actions);
                    ui.end_row();
                }
            });
        egui::CollapsingHeader::new("Inputs and outputs")
            .id_salt(("signatures", &model))
            .default_open(view.versions.len() <= 3)
            .show(ui, |ui| {
                for v in &view.versions {
                    ui.add(
                        egui::Label::new(format!(
                            "{}   in: {}   out: {}",
                            v.short_name(),
                            signature(&v.inputs),
                            signature(&v.outputs)
                        ))
                        .wrap(),
                    );
                }
            });
        if let Some(failed) = view
            .versions
            .iter()
            .find(|v| v.state == VersionState::Failed)
        {
            ui.colored_label(
                theme::error_color(dark),
                format!(
                    "{} failed: {}",
                    failed.short_name(),
                    failed.error_message.as_deref().unwrap_or("no message")
                ),
            );
        }
    }

    /// One row of the versions table; `refused` says why changes are refused, empty
    /// when they are not.
    fn version_row(
        &mut self,
        ui: &mut Ui,
        v: &Version,
        (connection, model): (&ConnectionId, &str),
        refused: &str,
        actions: &mut Vec<ModelsAction>,
    ) {
        let writable = refused.is_empty();
        let dark = ui.visuals().dark_mode;
        let name = v.short_name().to_owned();
        ui.horizontal(|ui| {
            ui.label(RichText::new(&name).monospace());
            if v.is_default {
                default_badge(ui);
            }
        });
        match &v.progress {
            Some(progress) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(progress);
                });
            }
            None => {
                let state = ui.colored_label(state_color(v.state, dark), v.state.as_str());
                if let Some(message) = &v.error_message {
                    state.on_hover_text(message);
                }
            }
        }
        // A serving container image (Vertex AI) shows by its last part.
        let runtime = v.runtime.as_deref().unwrap_or(&v.framework);
        // The framework's own runtime shows by name; its interpreter on hover.
        let shown = match runtime.split_once(" in Python ") {
            Some((framework, _)) => framework,
            None => runtime.rsplit('/').next().unwrap_or(runtime),
        };
        let runtime_label = ui.label(shown);
        runtime_label.on_hover_text(match &v.requested_runtime {
            Some(asked) => format!("{} model; asked for {asked}", v.framework),
            None if shown.len() < runtime.len() && !runtime.contains("://") => {
                format!("{} model served by {runtime}", framework_name(&v.framework))
            }
            None if runtime.contains('/') => format!("{} model served by {runtime}", v.framework),
            None => format!(
                "{} model; runtime picked by the platform (ONNX Runtime where it has it)",
                v.framework
            ),
        });
        ui.label(replicas_text(v));
        if v.traffic.is_empty() && v.platform_id.is_some() {
            // A platform that routes through endpoints: this version is on none.
            ui.label(RichText::new("not on an endpoint").weak());
        } else if v.traffic.is_empty() {
            let key = (connection.clone(), model.to_owned(), name.clone());
            let (total, errors) = self.totals.get(&key).copied().unwrap_or_default();
            ui.label(format!(
                "{} req/s · {total} total{}",
                self.latest_rate(connection, model, &name),
                if errors > 0 {
                    format!(" · {errors} errors")
                } else {
                    String::new()
                }
            ));
        } else {
            ui.label(endpoint_traffic_text(v));
        }
        ui.horizontal(|ui| {
            let ready = v.state == VersionState::Ready;
            let key = (connection.clone(), model.to_owned(), name.clone());
            if let Some(message) = self.failed.get(&key) {
                let short: String = message.chars().take(48).collect();
                ui.colored_label(theme::error_color(dark), format!("⚠ {short}"))
                    .on_hover_text(message);
            }
            if self.switching.contains(&key) {
                ui.spinner();
                ui.label("switching…");
            } else if !v.is_default
                && ui
                    .add_enabled(ready && writable, egui::Button::new("Make default"))
                    .on_hover_text("Send the model's traffic to this version")
                    .on_disabled_hover_text(if writable { "Not ready yet" } else { refused })
                    .clicked()
            {
                actions.push(ModelsAction::Change(
                    connection.clone(),
                    ModelChange::SetDefault {
                        model: model.to_owned(),
                        version: name.clone(),
                    },
                ));
            }
            if ui.add_enabled(ready, egui::Button::new("Try")).clicked() {
                actions.push(ModelsAction::Try {
                    connection: connection.clone(),
                    model: model.to_owned(),
                    version: Some(name.clone()),
                });
            }
            if ui
                .button("📋 Copy as command")
                .on_hover_text("The command line that creates a copy of this version")
                .clicked()
            {
                actions.push(ModelsAction::CopyCommand(
                    connection.clone(),
                    model.to_owned(),
                    Box::new(v.clone()),
                ));
            }
            if ui
                .add_enabled(writable, egui::Button::new("Delete"))
                .on_disabled_hover_text(refused)
                .clicked()
            {
                self.pending_delete = Some(PendingDelete::Version(
                    connection.clone(),
                    model.to_owned(),
                    name.clone(),
                ));
            }
        });
        ui.label(v.create_time.map(format::local_time).unwrap_or_default());
    }

    pub(super) fn traffic_chart(&self, ui: &mut Ui, view: &ModelView) {
        ui.label(RichText::new("Traffic (requests per second)").strong());
        let model = view.model.short_name();
        let key = |v: &Version| {
            (
                view.connection.clone(),
                model.to_owned(),
                v.short_name().to_owned(),
            )
        };
        let now = Utc::now();
        let peak = view
            .versions
            .iter()
            .filter_map(|v| self.traffic.get(&key(v)))
            .flatten()
            .map(|s| s.requests)
            .max()
            .unwrap_or(0);
        Plot::new(("traffic", view.connection.as_str(), model))
            .include_y(peak.max(1) as f64 * 1.1)
            .height(180.0)
            .legend(Legend::default())
            .allow_scroll(false)
            .x_axis_label("seconds ago")
            .include_y(0.0)
            .include_x(-(TRAFFIC_WINDOW as f64))
            .include_x(0.0)
            .show(ui, |plot| {
                for (index, v) in view.versions.iter().enumerate() {
                    let Some(series) = self.traffic.get(&key(v)) else {
                        continue;
                    };
                    let points: PlotPoints = series
                        .iter()
                        .map(|s| {
                            let ago = (s.time - now).num_milliseconds() as f64 / 1000.0;
                            [ago, s.requests as f64]
                        })
                        .collect();
                    plot.line(
                        Line::new(v.short_name().to_owned(), points)
                            .color(theme::series_color(index)),
                    );
                }
            });
    }
}

pub(super) fn default_history(
    ui: &mut Ui,
    view: &ModelView,
    writable: bool,
    actions: &mut Vec<ModelsAction>,
) {
    let history = &view.model.default_history;
    if history.is_empty() {
        return;
    }
    let model = view.model.short_name().to_owned();
    ui.label(RichText::new("Default history").strong());
    let current = view.model.default_version.as_ref().map(Version::short_name);
    // The previous default: the latest entry that is not the current default and still exists.
    let previous = history
        .iter()
        .rev()
        .map(|c| c.version.as_str())
        .find(|v| Some(*v) != current && view.versions.iter().any(|x| x.short_name() == *v));
    if let Some(previous) = previous
        && ui
            .add_enabled(
                writable,
                egui::Button::new(format!("Roll back to {previous}")),
            )
            .on_hover_text("Make the previous default the default again")
            .clicked()
    {
        actions.push(ModelsAction::Change(
            view.connection.clone(),
            ModelChange::SetDefault {
                model: model.clone(),
                version: previous.to_owned(),
            },
        ));
    }
    for change in history.iter().rev().take(20) {
        ui.label(format!(
            "{}   {} became the default",
            format::local_time(change.time),
            change.version
        ));
    }
}

/// The share of each endpoint's traffic a version gets, e.g. "100% of iris-endpoint".
pub(super) fn endpoint_traffic_text(v: &Version) -> String {
    v.traffic
        .iter()
        .map(|t| {
            let name = if t.endpoint_name.is_empty() {
                &t.endpoint
            } else {
                &t.endpoint_name
            };
            format!("{}% of {name}", t.percent)
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

/// A version's framework in words (a custom prediction routine has none).
pub(super) fn framework_name(framework: &str) -> &str {
    if framework.is_empty() {
        "custom prediction routine"
    } else {
        framework
    }
}

/// What serves a connection's models: "Serving with onnxruntime 1.32.0 (default), tract",
/// the library on hover; a warning when ONNX Runtime is missing.
pub(super) fn runtimes_line(ui: &mut Ui, runtimes: &ServingRuntimes, dark: bool) {
    let names: Vec<String> = runtimes
        .runtimes
        .iter()
        .map(|r| {
            if r.default && runtimes.runtimes.len() > 1 {
                format!("{} (default)", r.label())
            } else {
                r.label()
            }
        })
        .collect();
    let details: Vec<String> = runtimes
        .runtimes
        .iter()
        .map(|r| match (&r.library, &r.found_by) {
            (Some(library), Some(how)) => format!("{}: {library} (found through {how})", r.label()),
            (None, Some(how)) => format!("{}: {how}", r.label()),
            _ => r.label(),
        })
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(format!("Serving with {}", names.join(", "))).weak())
            .on_hover_text(details.join("\n"));
        if let Some(missing) = &runtimes.missing {
            ui.colored_label(
                theme::severity_color(crate::domain::Severity::Warning, dark),
                missing,
            );
        }
    });
}

pub(super) fn default_badge(ui: &mut Ui) {
    let color = Color32::from_rgb(0x2e, 0x7d, 0x32);
    egui::Frame::new()
        .fill(color)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(5, 1))
        .show(ui, |ui| {
            ui.label(RichText::new("default").color(Color32::WHITE).small());
        });
}

pub(super) fn state_color(state: VersionState, dark: bool) -> Color32 {
    use crate::domain::JobState;
    let job_state = match state {
        VersionState::Ready => JobState::Succeeded,
        VersionState::Creating => JobState::Running,
        VersionState::Failed => JobState::Failed,
        VersionState::Unknown => JobState::StateUnspecified,
    };
    theme::state_color(job_state, dark)
}

pub(super) fn signature(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| format!("{}: {} {}", s.name, s.dtype, s.shape_text()))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn replicas_text(v: &Version) -> String {
    match (v.manual_scaling, v.auto_scaling) {
        (Some(m), _) => format!("{} (fixed {})", v.replicas, m.nodes),
        (None, Some(a)) => format!(
            "{} ({}–{})",
            v.replicas,
            a.min_nodes,
            a.max_nodes.map_or("auto".to_owned(), |m| m.to_string())
        ),
        (None, None) => format!("{} (0–auto)", v.replicas),
    }
}
