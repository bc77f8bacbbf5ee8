//! The shapes of the playground's JSON: the request template a version's inputs give,
//! laid out compactly, and the answer's predictions as a table.

use egui::{RichText, Ui};
use serde_json::Value;

use super::TABLE_ROWS;
use crate::domain::TensorSpec;

#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) columns: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
}

/// A request with one instance of zeros (`false`, empty strings) shaped like the model's
/// inputs; an input of one value an instance (a table's column, `[N, 1]`) is that value.
pub fn template(inputs: &[TensorSpec]) -> String {
    fn value(spec: &TensorSpec) -> Value {
        let batched = spec
            .shape
            .first()
            .is_some_and(|d| d.is_none() || *d == Some(1));
        let dims = if batched {
            &spec.shape[1..]
        } else {
            &spec.shape[..]
        };
        let leaf = match spec.dtype.as_str() {
            "bool" => Value::Bool(false),
            "float32" | "float64" => serde_json::json!(0.0),
            "string" => Value::String(String::new()),
            _ => serde_json::json!(0),
        };
        if dims == [Some(1)] {
            return leaf;
        }
        dims.iter().rev().fold(leaf, |inner, d| {
            Value::Array(vec![inner; d.unwrap_or(1).min(64) as usize])
        })
    }
    let instance = match inputs {
        [one] => value(one),
        many => Value::Object(many.iter().map(|s| (s.name.clone(), value(s))).collect()),
    };
    compact_pretty(&serde_json::json!({ "instances": [instance] }))
}

/// JSON laid out one entry a line, except that a list of plain values (a row of
/// features, an image's row of pixels) stays on one line: a 64-feature instance is one
/// line, not 64.
fn compact_pretty(value: &Value) -> String {
    fn plain(v: &Value) -> bool {
        !matches!(v, Value::Array(_) | Value::Object(_))
    }
    fn write(out: &mut String, v: &Value, indent: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match v {
            Value::Array(items) if items.iter().all(plain) => {
                let parts: Vec<String> = items.iter().map(Value::to_string).collect();
                out.push('[');
                out.push_str(&parts.join(", "));
                out.push(']');
            }
            Value::Array(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    write(out, item, indent + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push(']');
            }
            Value::Object(map) if map.is_empty() => out.push_str("{}"),
            Value::Object(map) => {
                out.push_str("{\n");
                for (i, (key, item)) in map.iter().enumerate() {
                    out.push_str(&pad(indent + 1));
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push_str(": ");
                    write(out, item, indent + 1);
                    out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(indent));
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&mut out, value, 0);
    out
}

/// The predictions as a table, when they are objects, numbers or number lists.
pub(super) fn table(answer: &Value) -> Option<Table> {
    let predictions = answer.get("predictions")?.as_array()?;
    let first = predictions.first()?;
    let columns: Vec<String> = match first {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        Value::Number(_) | Value::Bool(_) | Value::String(_) => vec!["prediction".into()],
        Value::Null => return None,
    };
    let rows = predictions
        .iter()
        .take(TABLE_ROWS)
        .map(|p| match p {
            Value::Object(map) => columns
                .iter()
                .map(|c| map.get(c).map(cell_text).unwrap_or_default())
                .collect(),
            Value::Array(items) => items.iter().map(cell_text).collect(),
            other => vec![cell_text(other)],
        })
        .collect();
    Some(Table { columns, rows })
}

fn cell_text(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(cell_text).collect::<Vec<_>>().join(", ")
        ),
        Value::String(s) => s.clone(),
        // A map of class to probability, as ZipMap answers.
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", cell_text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

pub(super) fn table_ui(ui: &mut Ui, table: &Table) {
    egui::Grid::new("prediction_table")
        .striped(true)
        .show(ui, |ui| {
            ui.label(RichText::new("#").strong());
            for c in &table.columns {
                ui.label(RichText::new(c).strong());
            }
            ui.end_row();
            for (i, row) in table.rows.iter().enumerate() {
                ui.label(i.to_string());
                for c in row {
                    ui.label(RichText::new(c).monospace());
                }
                ui.end_row();
            }
        });
}
