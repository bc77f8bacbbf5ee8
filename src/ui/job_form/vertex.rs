//! The fields Vertex AI takes: the image, the machine, workers and accelerators.

use egui::Ui;

use super::widgets::{error_row, labeled_edit, small_edit};
use super::{Errors, Field};
use crate::domain::{AcceleratorConfig, ReplicaConfig, TrainingInput};

/// What was typed in the Vertex AI fields.
#[derive(Debug, Clone, Default)]
pub struct VertexFields {
    /// The container image (command jobs) or prebuilt training image (module jobs).
    pub image: String,
    /// The machine type, e.g. `n1-standard-4`.
    pub machine_type: String,
    /// Replicas beside the first.
    pub workers: String,
    /// Accelerator type, e.g. `NVIDIA_TESLA_T4`.
    pub accelerator: String,
    /// Accelerators per replica.
    pub accelerator_count: String,
}

impl VertexFields {
    /// The fields of a job's input, to resubmit it.
    pub fn from_input(input: &TrainingInput) -> VertexFields {
        let mut fields = VertexFields {
            machine_type: input.master_type.clone().unwrap_or_default(),
            workers: input
                .worker_count
                .map(|w| w.to_string())
                .unwrap_or_default(),
            ..VertexFields::default()
        };
        if let Some(config) = &input.master_config {
            fields.image = config.image_uri.clone().unwrap_or_default();
            if let Some(accelerator) = &config.accelerator_config {
                fields.accelerator = accelerator.kind.clone();
                fields.accelerator_count = accelerator.count.to_string();
            }
        }
        fields
    }

    /// Puts the image, machine, workers and accelerators into `input`.
    pub fn parse(&self, input: &mut TrainingInput, errors: &mut Errors) {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let image = text(&self.image);
        if image.is_none() {
            errors.insert(
                Field::Image,
                "give the container image (for a command) or a prebuilt training image (for a Python module)".into(),
            );
        }
        let accelerator = match (
            text(&self.accelerator),
            count(Field::Accelerator, &self.accelerator_count, errors),
        ) {
            (Some(kind), n) => Some(AcceleratorConfig {
                count: n.unwrap_or(1),
                kind: kind.to_ascii_uppercase(),
            }),
            (None, Some(_)) => {
                errors.insert(
                    Field::Accelerator,
                    "give the accelerator type, e.g. NVIDIA_TESLA_T4".into(),
                );
                None
            }
            (None, None) => None,
        };
        input.master_config = Some(ReplicaConfig {
            image_uri: image,
            accelerator_config: accelerator,
        });
        input.master_type = text(&self.machine_type);
        input.worker_count = count(Field::Workers, &self.workers, errors).filter(|w| *w > 0);
    }

    /// Draws the fields as grid rows.
    pub fn draw(&mut self, ui: &mut Ui, errors: &Errors) {
        ui.label("Image");
        labeled_edit(
            ui,
            &mut self.image,
            "Image",
            "us-docker.pkg.dev/my-project/trainers/mnist:1",
        );
        ui.end_row();
        error_row(ui, errors, Field::Image);
        ui.label("Machine");
        ui.horizontal(|ui| {
            labeled_edit(ui, &mut self.machine_type, "Machine type", "n1-standard-4");
            small_edit(ui, &mut self.workers, "Workers", "workers");
        });
        ui.end_row();
        error_row(ui, errors, Field::Workers);
        ui.label("Accelerator");
        ui.horizontal(|ui| {
            labeled_edit(
                ui,
                &mut self.accelerator,
                "Accelerator",
                "(none) e.g. NVIDIA_TESLA_T4",
            );
            small_edit(ui, &mut self.accelerator_count, "Accelerators", "count");
        });
        ui.end_row();
        error_row(ui, errors, Field::Accelerator);
    }
}

/// A whole number, or nothing when the field is empty.
fn count(field: Field, value: &str, errors: &mut Errors) -> Option<u32> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    value
        .parse::<u32>()
        .map_err(|_| {
            errors.insert(field, format!("{value:?} is not a whole number"));
        })
        .ok()
}
