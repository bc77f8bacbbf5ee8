//! Tests of `domain/predict`.

use super::*;

fn spec(name: &str, dtype: &str, shape: &[Option<u64>]) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        dtype: dtype.into(),
        shape: shape.to_vec(),
    }
}

#[test]
fn batches_that_fit_run_together_and_split_back_into_their_rows() {
    let inputs = [spec("x", "float32", &[None, Some(2)])];
    let a = parse_request(br#"{"instances": [[1, 2]]}"#, &inputs).unwrap();
    let b = parse_request(br#"{"instances": [[3, 4], [5, 6]]}"#, &inputs).unwrap();
    assert!(a[0].fits_with(&b[0]));
    let mut merged = a[0].clone();
    merged.append(&b[0]);
    assert_eq!(merged.instances, 3);
    assert_eq!(merged.inputs[0].shape, vec![3, 2]);
    assert_eq!(
        merged.inputs[0].data,
        TensorData::F32(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    );
    let rows = merged.inputs[0].rows(1, 2).unwrap();
    assert_eq!(rows, b[0].inputs[0]);
    assert_eq!(merged.inputs[0].rows(2, 2), None);

    let wider = [spec("x", "float32", &[None, None])];
    let c = parse_request(br#"{"instances": [[1, 2, 3]]}"#, &wider).unwrap();
    assert!(!a[0].fits_with(&c[0]), "another shape past the batch axis");
    let ints = [spec("x", "int64", &[None, Some(2)])];
    let d = parse_request(br#"{"instances": [[1, 2]]}"#, &ints).unwrap();
    assert!(!a[0].fits_with(&d[0]), "another element type");
}

#[test]
fn batches_arrays_for_a_single_dynamic_input() {
    let inputs = [spec("X", "float32", &[None, Some(2)])];
    let batches = parse_request(br#"{"instances": [[1, 2], [3.5, 4]]}"#, &inputs).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].inputs[0].shape, vec![2, 2]);
    assert_eq!(
        batches[0].inputs[0].data,
        TensorData::F32(vec![1.0, 2.0, 3.5, 4.0])
    );
}

#[test]
fn named_inputs_and_errors_name_the_instance() {
    let inputs = [
        spec("a", "float32", &[None, Some(1)]),
        spec("b", "int64", &[None]),
    ];
    let ok = parse_request(br#"{"instances": [{"a": [1], "b": 7}]}"#, &inputs).unwrap();
    assert_eq!(ok[0].inputs[1].data, TensorData::I64(vec![7]));
    let err = |body: &[u8]| parse_request(body, &inputs).unwrap_err();
    assert!(
        err(br#"{"instances": [{"a": [1], "b": 7}, {"a": [1]}]}"#)
            .contains("instance 1: input \"b\" is missing")
    );
    assert!(err(br#"{"instances": [{"a": [1], "b": 7.5}]}"#).contains("whole numbers"));
    assert!(err(br#"{"instances": [{"a": [1, 2], "b": 7}]}"#).contains("expected 1 values"));
    assert!(err(br#"{"instances": [[1]]}"#).contains("several inputs"));
    assert!(err(br#"{"instances": [{"c": 1}]}"#).contains("unknown input \"c\""));
    assert!(err(br#"{"instance": []}"#).contains("needs \"instances\""));
    assert!(err(b"{").contains("not valid JSON"));
}

#[test]
fn fixed_batch_of_one_runs_each_instance() {
    let inputs = [spec("x", "float32", &[Some(1), Some(3)])];
    let batches = parse_request(br#"{"instances": [[1,2,3],[4,5,6]]}"#, &inputs).unwrap();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[1].inputs[0].shape, vec![1, 3]);
    assert_eq!(batches[1].first, 1);
}

#[test]
fn b64_fills_uint8_inputs() {
    let inputs = [spec("img", "uint8", &[None, None])];
    let batches = parse_request(br#"{"instances": [{"b64": "AQID"}]}"#, &inputs).unwrap();
    assert_eq!(batches[0].inputs[0].shape, vec![1, 3]);
    assert_eq!(batches[0].inputs[0].data, TensorData::U8(vec![1, 2, 3]));
    let floats = [spec("x", "float32", &[None, None])];
    assert!(
        parse_request(br#"{"instances": [{"b64": "AQID"}]}"#, &floats)
            .unwrap_err()
            .contains("only uint8")
    );
}

#[test]
fn predictions_split_the_batch() {
    let batch = Batch {
        first: 0,
        instances: 2,
        inputs: vec![],
    };
    let label = Tensor {
        shape: vec![2],
        data: TensorData::I64(vec![0, 2]),
    };
    let probs = Tensor {
        shape: vec![2, 2],
        data: TensorData::F32(vec![0.25, 0.75, 1.0, f32::NAN]),
    };
    let outputs = [
        spec("label", "int64", &[None]),
        spec("p", "float32", &[None, Some(2)]),
    ];
    let text = write_predictions(&[(batch.instances, vec![label.clone(), probs])], &outputs);
    assert_eq!(
        text,
        r#"{"predictions":[{"label":0,"p":[0.25,0.75]},{"label":2,"p":[1,null]}]}"#
    );
    let single = write_predictions(&[(batch.instances, vec![label])], &outputs[..1]);
    assert_eq!(single, r#"{"predictions":[0,2]}"#);
}
