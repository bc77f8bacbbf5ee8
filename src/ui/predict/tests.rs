//! Tests of `ui/predict`.

use super::*;

#[test]
fn templates_follow_the_inputs_shapes() {
    let spec = TensorSpec {
        name: "X".into(),
        dtype: "float32".into(),
        shape: vec![None, Some(3)],
    };
    let body = template(std::slice::from_ref(&spec));
    assert!(parse_request(body.as_bytes(), &[spec]).is_ok(), "{body}");
    // A ColumnTransformer's inputs: one column each, strings among them.
    let columns = [
        TensorSpec {
            name: "color".into(),
            dtype: "string".into(),
            shape: vec![None, Some(1)],
        },
        TensorSpec {
            name: "age".into(),
            dtype: "int64".into(),
            shape: vec![None, Some(1)],
        },
    ];
    let body = template(&columns);
    let request: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        request["instances"][0],
        serde_json::json!({"color": "", "age": 0})
    );
    assert!(parse_request(body.as_bytes(), &columns).is_ok(), "{body}");
}

#[test]
fn a_wide_instance_is_one_line_of_the_template() {
    let digits = TensorSpec {
        name: "pixels".into(),
        dtype: "float32".into(),
        shape: vec![None, Some(64)],
    };
    let body = template(std::slice::from_ref(&digits));
    assert_eq!(body.lines().count(), 5, "{body}");
    assert!(body.contains("[0.0, 0.0,"), "{body}");
    assert!(parse_request(body.as_bytes(), &[digits]).is_ok(), "{body}");
}

#[test]
fn tables_come_from_object_and_list_predictions() {
    let t = table(&serde_json::json!({"predictions": [{"label": 1, "p": [0.25, 0.75]}]})).unwrap();
    assert_eq!(t.columns, ["label", "p"]);
    assert_eq!(t.rows[0], ["1", "[0.2500, 0.7500]"]);
    let t = table(&serde_json::json!({"predictions": [[1.5], [2.5]]})).unwrap();
    assert_eq!(t.rows.len(), 2);
    let t = table(&serde_json::json!({"predictions": [
        {"output_label": "tech", "output_probability": {"food": 0.125, "tech": 0.875}}
    ]}))
    .unwrap();
    assert_eq!(t.rows[0], ["tech", "food: 0.1250, tech: 0.8750"]);
}
