//! The form's small widgets: labelled text fields, a path field with a picker button,
//! and an error line under a field.

use std::collections::BTreeMap;

use egui::Ui;

use super::{Field, FormAction};
use crate::backend::PickTarget;
use crate::ui::theme;

/// A single-line field whose accessible label is `label`.
pub fn labeled_edit(ui: &mut Ui, text: &mut String, label: &str, hint: &str) -> egui::Response {
    let response = ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(380.0),
    );
    let label = label.to_owned();
    response.widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, &label));
    response
}

/// A narrow text field named `label` for screen readers and tests.
pub fn small_edit(ui: &mut Ui, text: &mut String, label: &str, hint: &str) {
    let response = ui.add(
        egui::TextEdit::singleline(text)
            .hint_text(hint)
            .desired_width(70.0),
    );
    let label = label.to_owned();
    response.widget_info(move || egui::WidgetInfo::labeled(egui::Role::TextInput, true, &label));
}

/// A multi-line field.
pub fn lines_edit(ui: &mut Ui, text: &mut String, hint: &str) {
    ui.add(
        egui::TextEdit::multiline(text)
            .desired_rows(2)
            .hint_text(hint),
    );
}

/// A single-line path field with a 📂 button that asks for a picker:
/// `pick` is (target, pick a folder, tooltip).
pub(super) fn path_field(
    ui: &mut Ui,
    text: &mut String,
    label: &str,
    hint: &str,
    (target, folder, tooltip): (PickTarget, bool, &str),
    actions: &mut Vec<FormAction>,
) {
    ui.horizontal(|ui| {
        labeled_edit(ui, text, label, hint);
        if ui.button("📂").on_hover_text(tooltip).clicked() {
            actions.push(FormAction::Pick { target, folder });
        }
    });
}

/// The error of `field`, if it has one, on a grid row of its own under it.
pub fn error_row(ui: &mut Ui, errors: &BTreeMap<Field, String>, field: Field) {
    if let Some(message) = errors.get(&field) {
        ui.label("");
        ui.colored_label(
            theme::error_color(ui.visuals().dark_mode),
            format!("⚠ {message}"),
        );
        ui.end_row();
    }
}
