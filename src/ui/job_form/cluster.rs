//! The fields a Ray cluster takes: pip requirements and the resources the entrypoint
//! reserves.

use egui::Ui;

use super::widgets::{error_row, lines_edit, small_edit};
use super::{Errors, Field};
use crate::domain::{EntrypointResources, TrainingInput};

/// What was typed in the cluster fields.
#[derive(Debug, Clone, Default)]
pub struct ClusterFields {
    /// pip requirements, one a line.
    pub pip: String,
    /// CPUs the entrypoint reserves.
    pub cpus: String,
    /// GPUs the entrypoint reserves.
    pub gpus: String,
    /// Memory the entrypoint reserves, e.g. `2GiB`.
    pub memory: String,
}

impl ClusterFields {
    /// The fields of a job's input, to resubmit it.
    pub fn from_input(input: &TrainingInput) -> ClusterFields {
        let mut fields = ClusterFields {
            pip: input.pip_requirements.join("\n"),
            ..ClusterFields::default()
        };
        if let Some(r) = input.resources {
            fields.cpus = r.cpus.map(|v| v.to_string()).unwrap_or_default();
            fields.gpus = r.gpus.map(|v| v.to_string()).unwrap_or_default();
            fields.memory = r.memory_bytes.map(|v| v.to_string()).unwrap_or_default();
        }
        fields
    }

    /// Puts the requirements and reservations into `input`; errors go by field.
    pub fn parse(&self, input: &mut TrainingInput, errors: &mut Errors) {
        input.pip_requirements = self
            .pip
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let resources = EntrypointResources {
            cpus: number(Field::Cpus, &self.cpus, errors),
            gpus: number(Field::Gpus, &self.gpus, errors),
            memory_bytes: parse_bytes(&self.memory).unwrap_or_else(|message| {
                errors.insert(Field::Memory, message);
                None
            }),
        };
        if resources != EntrypointResources::default() {
            input.resources = Some(resources);
        }
    }

    /// Draws the fields as grid rows.
    pub fn draw(&mut self, ui: &mut Ui, errors: &Errors) {
        ui.label("pip");
        lines_edit(
            ui,
            &mut self.pip,
            "requirements installed for this job, one a line",
        );
        ui.end_row();
        error_row(ui, errors, Field::Pip);
        ui.label("Reserves");
        ui.horizontal(|ui| {
            small_edit(ui, &mut self.cpus, "CPUs", "CPUs");
            small_edit(ui, &mut self.gpus, "GPUs", "GPUs");
            small_edit(ui, &mut self.memory, "Memory", "e.g. 2GiB");
        });
        ui.end_row();
        for field in [Field::Cpus, Field::Gpus, Field::Memory] {
            error_row(ui, errors, field);
        }
    }
}

/// A number of 0 or more, or nothing when the field is empty.
fn number(field: Field, text: &str, errors: &mut Errors) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
        _ => {
            errors.insert(field, format!("{text:?} is not a number of 0 or more"));
            None
        }
    }
}

/// Bytes from `2GiB`, `512 MiB`, `1.5GB` or a plain number; `None` when empty.
pub fn parse_bytes(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let wrong = || format!("{text:?}: give bytes, or a size such as 512MiB or 2GiB");
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(wrong()),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(Some((n * scale).round() as u64)),
        _ => Err(wrong()),
    }
}
