//! Shadow compare: the same request answered by two versions of a model, instance by
//! instance — labels that changed and how far the numbers (probabilities, scores,
//! values) moved — to decide whether the new version may become the default.

use serde_json::Value;

/// How one instance's answers differ.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceDiff {
    /// The instance's position in the request.
    pub index: usize,
    /// Its label (or class) from each version, where the answer has one.
    pub labels: [Option<String>; 2],
    /// The largest absolute difference between the numbers of the two answers.
    pub max_abs: f64,
    /// The largest difference relative to the larger of the two numbers.
    pub max_rel: f64,
    /// The answers are not the same shape (a field only one has).
    pub shape_differs: bool,
}

impl InstanceDiff {
    /// The label changed between the versions.
    pub fn label_changed(&self) -> bool {
        self.labels[0] != self.labels[1]
    }
}

/// The comparison of two answers to one request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Comparison {
    /// Each instance, in order.
    pub instances: Vec<InstanceDiff>,
    /// Instances whose label changed.
    pub label_changes: usize,
    /// The largest absolute difference over all instances.
    pub max_abs: f64,
    /// The largest relative difference over all instances.
    pub max_rel: f64,
}

/// Names of fields that hold a prediction's label (or class).
const LABEL_FIELDS: [&str; 6] = [
    "label",
    "labels",
    "class",
    "classes",
    "predicted_label",
    "output_label",
];

/// Compares two prediction answers (`{"predictions": [...]}`); an answer that is an
/// error or holds a different number of predictions is said so.
pub fn compare(a: &str, b: &str) -> Result<Comparison, String> {
    let predictions = |text: &str, which: &str| -> Result<Vec<Value>, String> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| format!("the {which} answer is not JSON: {e}"))?;
        if let Some(error) = value.get("error") {
            return Err(format!("the {which} answer is an error: {error}"));
        }
        match value.get("predictions") {
            Some(Value::Array(p)) => Ok(p.clone()),
            _ => Err(format!("the {which} answer has no predictions list")),
        }
    };
    let (pa, pb) = (predictions(a, "first")?, predictions(b, "second")?);
    if pa.len() != pb.len() {
        return Err(format!(
            "the versions answered {} and {} predictions for the same request",
            pa.len(),
            pb.len()
        ));
    }
    let mut out = Comparison::default();
    for (index, (x, y)) in pa.iter().zip(&pb).enumerate() {
        let d = instance(index, x, y);
        out.label_changes += usize::from(d.label_changed());
        out.max_abs = out.max_abs.max(d.max_abs);
        out.max_rel = out.max_rel.max(d.max_rel);
        out.instances.push(d);
    }
    Ok(out)
}

fn instance(index: usize, a: &Value, b: &Value) -> InstanceDiff {
    let mut d = InstanceDiff {
        index,
        labels: [label_of(a), label_of(b)],
        max_abs: 0.0,
        max_rel: 0.0,
        shape_differs: false,
    };
    numbers(a, b, &mut d, 0);
    d
}

/// The label of one prediction: a field named like a label, or the prediction itself
/// when it is a string or an integer.
fn label_of(p: &Value) -> Option<String> {
    match p {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        Value::Object(map) => LABEL_FIELDS
            .iter()
            .find_map(|f| map.get(*f))
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
        _ => None,
    }
}

/// Walks both answers side by side, keeping the largest differences of their numbers.
fn numbers(a: &Value, b: &Value, d: &mut InstanceDiff, depth: usize) {
    if depth > 32 {
        return;
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            let abs = (x - y).abs();
            let scale = x.abs().max(y.abs());
            d.max_abs = d.max_abs.max(abs);
            if scale > 0.0 {
                d.max_rel = d.max_rel.max(abs / scale);
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            d.shape_differs |= x.len() != y.len();
            for (x, y) in x.iter().zip(y) {
                numbers(x, y, d, depth + 1);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            d.shape_differs |= x.len() != y.len() || x.keys().any(|k| !y.contains_key(k));
            // A label is compared as a label, not as a number that moved.
            for (k, xv) in x
                .iter()
                .filter(|(k, _)| !LABEL_FIELDS.contains(&k.as_str()))
            {
                if let Some(yv) = y.get(k) {
                    numbers(xv, yv, d, depth + 1);
                }
            }
        }
        (x, y) => d.shape_differs |= std::mem::discriminant(x) != std::mem::discriminant(y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_that_changed_and_how_far_probabilities_moved() {
        let a = r#"{"predictions": [
            {"label": 0, "probabilities": [0.9, 0.1, 0.0]},
            {"label": 1, "probabilities": [0.2, 0.5, 0.3]}]}"#;
        let b = r#"{"predictions": [
            {"label": 0, "probabilities": [0.8, 0.2, 0.0]},
            {"label": 2, "probabilities": [0.1, 0.4, 0.5]}]}"#;
        let c = compare(a, b).unwrap();
        assert_eq!(c.label_changes, 1);
        assert!(!c.instances[0].label_changed() && c.instances[1].label_changed());
        assert_eq!(
            c.instances[1].labels,
            [Some("1".to_owned()), Some("2".to_owned())]
        );
        assert!((c.max_abs - 0.2).abs() < 1e-12, "{}", c.max_abs);
        assert!((c.instances[0].max_rel - 0.5).abs() < 1e-12);
        assert!(!c.instances[0].shape_differs);
    }

    #[test]
    fn plain_values_strings_and_shapes() {
        let c = compare(
            r#"{"predictions": [1.5, "cat", {"x": 1}]}"#,
            r#"{"predictions": [2.0, "dog", {"y": 1}]}"#,
        )
        .unwrap();
        assert_eq!(c.instances[0].labels, [None, None]);
        assert!((c.instances[0].max_abs - 0.5).abs() < 1e-12);
        assert!(c.instances[1].label_changed());
        assert!(c.instances[2].shape_differs);
    }

    #[test]
    fn errors_and_mismatched_counts_are_said() {
        assert!(
            compare(r#"{"error": "boom"}"#, r#"{"predictions": []}"#)
                .unwrap_err()
                .contains("first answer is an error")
        );
        assert!(
            compare(r#"{"predictions": [1]}"#, r#"{"predictions": [1, 2]}"#)
                .unwrap_err()
                .contains("1 and 2 predictions")
        );
        assert!(compare("nope", "{}").unwrap_err().contains("not JSON"));
    }
}
