//! The Models tab's left column: the new-model field and every connection's models.

use egui::{RichText, Ui};

use super::{ModelsAction, ModelsTab, key_of, state};
use crate::backend::ModelChange;
use crate::domain::model::validate_resource_name;
use crate::ui::state::connections::Connections;
use crate::ui::theme;

impl ModelsTab {
    pub(super) fn model_list(
        &mut self,
        ui: &mut Ui,
        models: &state::Models,
        connections: &Connections,
        actions: &mut Vec<ModelsAction>,
    ) {
        ui.heading("Models");
        let writable = connections.writable();
        if !writable
            .iter()
            .any(|c| Some(&c.id) == self.new_model_on.as_ref())
        {
            self.new_model_on = writable.first().map(|c| c.id.clone());
        }
        let label = ui.label("New model");
        if writable.len() > 1 {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("on").weak());
                for config in &writable {
                    let text = RichText::new(&config.name)
                        .color(theme::rgb(connections.color(&config.id)));
                    let on = self.new_model_on.as_ref() == Some(&config.id);
                    if ui.selectable_label(on, text).clicked() {
                        self.new_model_on = Some(config.id.clone());
                    }
                }
            });
        }
        ui.horizontal(|ui| {
            let edit = ui
                .add(
                    egui::TextEdit::singleline(&mut self.new_model)
                        .hint_text("e.g. iris")
                        .desired_width(130.0),
                )
                .labelled_by(label.id);
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let create = ui.add_enabled(
                self.new_model_on.is_some(),
                egui::Button::new("Create model"),
            );
            let create =
                create.on_disabled_hover_text("Every connection is read-only or disconnected");
            if create.clicked() || (enter && self.new_model_on.is_some()) {
                let name = self.new_model.trim().to_owned();
                let Some(on) = self.new_model_on.clone() else {
                    return;
                };
                match validate_resource_name("model name", &name) {
                    Ok(()) if models.find(&(on.clone(), name.clone())).is_some() => {
                        self.new_model_error = Some(format!("{name} already exists"));
                    }
                    Ok(()) => {
                        self.new_model_error = None;
                        self.new_model.clear();
                        self.select(&on, &name, models);
                        actions.push(ModelsAction::Change(on, ModelChange::CreateModel(name)));
                    }
                    Err(e) => self.new_model_error = Some(e),
                }
            }
        });
        if let Some(error) = &self.new_model_error {
            ui.colored_label(theme::error_color(ui.visuals().dark_mode), error);
        }
        ui.separator();
        let several = connections.list().len() > 1;
        egui::ScrollArea::vertical().show(ui, |ui| {
            for view in &models.list {
                let name = view.model.short_name();
                let key = key_of(view);
                let default = view
                    .model
                    .default_version
                    .as_ref()
                    .map_or("no default".to_owned(), |v| v.short_name().to_owned());
                let count = view.versions.len();
                let plural = if count == 1 { "" } else { "s" };
                let mut text = egui::text::LayoutJob::default();
                if several {
                    text.append(
                        &format!("{}  ", connections.name(&view.connection)),
                        0.0,
                        egui::TextFormat::simple(
                            egui::FontId::proportional(11.0),
                            theme::rgb(connections.color(&view.connection)),
                        ),
                    );
                }
                text.append(
                    &format!("{name}   ({count} version{plural}, {default})"),
                    0.0,
                    egui::TextFormat::simple(
                        egui::FontId::proportional(14.0),
                        ui.visuals().text_color(),
                    ),
                );
                if ui
                    .selectable_label(self.selected.as_ref() == Some(&key), text)
                    .clicked()
                {
                    self.selected = Some(key);
                }
            }
        });
    }
}
