//! The console's top bar (the tabs, the selected job, connections and theme) and status
//! bar (a chip per connection, the job count).

use egui::{RichText, Ui};

use super::App;
use super::nav::Tab;

impl App {
    pub(super) fn top_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("mlconsole").strong().size(16.0));
            ui.separator();
            for tab in Tab::ALL {
                let hint = match tab {
                    Tab::Jobs => "Every job, live (Ctrl+F filters)",
                    Tab::Logs => "The selected job's log (Ctrl+F searches, End follows)",
                    Tab::Resources => "CPU and memory of the selected job",
                    Tab::Scalars => "TensorBoard scalars of a log dir (drop a folder)",
                    Tab::Models => {
                        "Models, versions and their traffic (drop a model file or folder)"
                    }
                    Tab::Predict => "Try online prediction (drop a JSON, JSONL, CSV or image)",
                };
                if ui
                    .selectable_label(self.tab == tab, tab.title())
                    .on_hover_text(hint)
                    .clicked()
                {
                    self.tab = tab;
                }
            }
            if let Some(key) = &self.state.selected {
                ui.separator();
                ui.label(RichText::new(format!("Selected: {}", key.job_id)).weak());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                egui::widgets::global_theme_preference_buttons(ui);
                ui.separator();
                if ui
                    .button("🔌 Connections")
                    .on_hover_text("Add, edit, connect and disconnect platforms (Ctrl+K)")
                    .clicked()
                {
                    self.connections_panel.open = !self.connections_panel.open;
                }
            });
        });
    }

    pub(super) fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            self.connections_panel
                .status_chips(ui, &self.state.connections, &self.backend);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.label(format!("{} jobs", self.state.jobs.len()));
            });
        });
    }
}
