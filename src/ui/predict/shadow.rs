//! Shadow compare in the Predict tab: the request sent to the chosen version and to
//! another at once, their answers side by side with what changed (labels, how far the
//! numbers moved) and each one's latency — and the button that makes the other the
//! default once it looks right.

use super::*;
use crate::backend::VersionAnswer;
use crate::domain::shadow::Comparison;

/// Both answers of a shadow compare.
pub struct ShadowAnswer {
    /// Per version: name, answer (pretty) or error, latency.
    pub answers: [VersionAnswer; 2],
    /// What differs, or why it could not be compared.
    pub comparison: Result<Comparison, String>,
}

/// Rows of the instance table shown at most.
const MAX_ROWS: usize = 500;

impl PredictTab {
    /// Takes the answers of a shadow compare.
    pub(super) fn shadowed(
        &mut self,
        answers: &[VersionAnswer; 2],
        comparison: &Result<Comparison, String>,
    ) {
        let mut sent = self.in_flight.take();
        if let Some(s) = &mut sent {
            s.ok = answers.iter().all(|a| a.1.is_ok());
            s.outcome = answers
                .iter()
                .map(|(v, r, took)| match r {
                    Ok(_) => format!("{v} OK in {:.1} ms", took.as_secs_f64() * 1000.0),
                    Err(e) => format!("{v}: {e}"),
                })
                .collect::<Vec<_>>()
                .join("; ");
        }
        let pretty = |r: &Result<String, String>| {
            r.clone().map(|text| {
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or(text)
            })
        };
        self.shadow_answer = Some(ShadowAnswer {
            answers: [
                (answers[0].0.clone(), pretty(&answers[0].1), answers[0].2),
                (answers[1].0.clone(), pretty(&answers[1].1), answers[1].2),
            ],
            comparison: comparison.clone(),
        });
        if let Some(s) = sent {
            self.history.insert(0, s);
            self.history.truncate(HISTORY);
        }
    }

    /// The compare view in place of the single answer.
    pub(super) fn shadow_ui(
        &mut self,
        ui: &mut Ui,
        dark: bool,
        (connection, model): &ModelKey,
        actions: &mut Vec<PredictAction>,
    ) {
        let Some(shadow) = &self.shadow_answer else {
            ui.label(
                RichText::new("Send: the request goes to both versions at once, and this side shows what differs.")
                    .weak(),
            );
            return;
        };
        let [(a, _, took_a), (b, _, took_b)] = &shadow.answers;
        ui.label(RichText::new(format!("{a} vs {b}")).strong());
        ui.label(format!(
            "Latency: {a} {:.1} ms, {b} {:.1} ms",
            took_a.as_secs_f64() * 1000.0,
            took_b.as_secs_f64() * 1000.0
        ));
        match &shadow.comparison {
            Err(why) => {
                ui.colored_label(theme::error_color(dark), why);
            }
            Ok(c) => {
                ui.label(
                    RichText::new(format!(
                        "{} of {} labels changed; max |Δ| {:.4}, max relative {:.1} %",
                        c.label_changes,
                        c.instances.len(),
                        c.max_abs,
                        c.max_rel * 100.0
                    ))
                    .strong(),
                );
                if ui
                    .button(format!("Make {b} the default"))
                    .on_hover_text("Move the model's traffic to it")
                    .clicked()
                {
                    actions.push(PredictAction::MakeDefault {
                        connection: connection.clone(),
                        model: model.clone(),
                        version: b.clone(),
                    });
                }
                egui::ScrollArea::vertical()
                    .id_salt("shadow_rows")
                    .max_height(240.0)
                    .show(ui, |ui| {
                        egui::Grid::new("shadow_grid").striped(true).show(ui, |ui| {
                            for title in ["#", a.as_str(), b.as_str(), "max |Δ|", "max rel"] {
                                ui.strong(title);
                            }
                            ui.end_row();
                            for d in c.instances.iter().take(MAX_ROWS) {
                                let changed = d.label_changed();
                                let mark = |text: String| {
                                    let rich = RichText::new(text).monospace();
                                    if changed {
                                        rich.background_color(theme::mark_color(dark))
                                    } else {
                                        rich
                                    }
                                };
                                let label =
                                    |l: &Option<String>| l.clone().unwrap_or_else(|| "—".into());
                                ui.label(mark(d.index.to_string()));
                                ui.label(mark(label(&d.labels[0])));
                                ui.label(mark(label(&d.labels[1])));
                                ui.label(mark(format!("{:.4}", d.max_abs)));
                                ui.label(mark(format!("{:.1} %", d.max_rel * 100.0)));
                                ui.end_row();
                            }
                        });
                    });
            }
        }
        ui.columns(2, |cols| {
            for (col, (name, answer, _)) in cols.iter_mut().zip(&shadow.answers) {
                egui::CollapsingHeader::new(format!("{name} answer"))
                    .id_salt(("shadow_answer", name))
                    .show(col, |ui| match answer {
                        Ok(text) => {
                            let mut text = text.as_str();
                            ui.add(egui::TextEdit::multiline(&mut text).code_editor());
                        }
                        Err(e) => {
                            ui.colored_label(theme::error_color(dark), e);
                        }
                    });
            }
        });
    }
}
