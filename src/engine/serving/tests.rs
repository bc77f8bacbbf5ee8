//! Tests of `engine/serving`.

use super::*;
use crate::domain::predict::TensorData;

/// Labels equal, probabilities within float rounding (a batch may sum in another order).
fn assert_close(outputs: &[Tensor], expected: &[Tensor]) {
    assert_eq!(outputs[0], expected[0], "labels");
    assert_eq!(outputs[1].shape, expected[1].shape);
    let (got, want) = match (&outputs[1].data, &expected[1].data) {
        (TensorData::F32(got), TensorData::F32(want)) => (got, want),
        (TensorData::Maps(got), TensorData::Maps(want)) => {
            assert_eq!(got.keys, want.keys, "classes");
            (&got.values, &want.values)
        }
        _ => panic!("probabilities are float32 or maps of them"),
    };
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "{g} vs {w}");
    }
}

fn serve(fixture: &str, choice: Choice) -> (Serving, LoadedModel) {
    if choice == Choice::OnnxRuntime {
        let found = runtime::onnxruntime::init(&runtime::locate::OrtSetting::Search, "python3");
        assert!(
            matches!(found, Ok(runtime::onnxruntime::Availability::Ready(_))),
            "ONNX Runtime not found: run the tests through .ci/run, which installs it"
        );
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    let model = runtime::load(&path, choice).unwrap();
    let serving = Serving::new(
        path,
        model.inputs.clone(),
        model.outputs.clone(),
        (1, 1),
        None,
        choice,
        Some(model.clone()),
    );
    (serving, model)
}

fn iris() -> (Serving, LoadedModel) {
    serve("models/iris_logreg.onnx", Choice::Tract)
}

#[tokio::test]
async fn requests_run_together_get_what_they_would_get_alone() {
    for (fixture, choice) in [
        ("models/iris_logreg.onnx", Choice::Tract),
        ("models/iris_logreg.onnx", Choice::OnnxRuntime),
        // ZipMap: one map of class to probability per instance.
        ("exported/sk_scaler_logreg.onnx", Choice::OnnxRuntime),
    ] {
        let (serving, model) = serve(fixture, choice);
        requests_run_together(&serving, &model);
    }
}

fn requests_run_together(serving: &Serving, model: &LoadedModel) {
    assert!(
        serving.combiner.is_some(),
        "iris has a batch axis in and out"
    );
    let bodies = [
        r#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#,
        r#"{"instances": [[6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]]}"#,
        r#"{"instances": [[4.9, 3.0, 1.4, 0.2]]}"#,
    ];
    let mut session = runtime::session(model).unwrap();
    let batches: Vec<Batch> = bodies
        .iter()
        .map(|b| {
            predict::parse_request(b.as_bytes(), &model.inputs)
                .unwrap()
                .remove(0)
        })
        .collect();
    let alone: Vec<_> = batches
        .iter()
        .map(|b| runtime::run(&mut session, b).unwrap())
        .collect();
    let (members, answers): (Vec<_>, Vec<_>) =
        batches[1..].iter().cloned().map(Member::new).unzip();
    let own = run_together(&mut session, &batches[0], members, &mut Vec::new());
    assert_close(&own.unwrap(), &alone[0]);
    for (mut answer, expected) in answers.into_iter().zip(&alone[1..]) {
        match answer.try_recv() {
            Ok(Answer::Done(Ok(outputs))) => assert_close(&outputs, expected),
            _ => panic!("every member is answered with its outputs"),
        }
    }
}

#[tokio::test]
async fn a_slow_model_runs_concurrent_requests_together_on_the_blocking_pool() {
    let (serving, _) = iris();
    serving.slow.store(true, Ordering::Relaxed);
    let serving = std::sync::Arc::new(serving);
    let flowers = [
        ([5.1, 3.5, 1.4, 0.2], 0),
        ([6.7, 3.0, 5.2, 2.3], 2),
        ([5.9, 3.0, 4.2, 1.5], 1),
    ];
    // On this one-thread runtime every request is read before the first one's
    // yield returns, so they all run in one model run.
    let mut requests = tokio::task::JoinSet::new();
    for (flower, label) in flowers.into_iter().cycle().take(12) {
        let serving = serving.clone();
        requests.spawn(async move {
            let body = serde_json::json!({ "instances": [flower] }).to_string();
            (serving.predict(body.as_bytes()).await, label)
        });
    }
    while let Some(done) = requests.join_next().await {
        let (answer, label) = done.unwrap();
        let answer: serde_json::Value = serde_json::from_str(&answer.unwrap()).unwrap();
        assert_eq!(answer["predictions"][0]["label"], label, "{answer}");
    }
    assert_eq!(serving.model_runs(), 1, "one run answered all twelve");
}

#[tokio::test]
async fn a_request_dropped_while_its_slow_run_goes_on_loses_no_replica() {
    let (serving, _) = iris();
    serving.slow.store(true, Ordering::Relaxed);
    let body = br#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;
    let mut request = Box::pin(serving.predict(body));
    // The first poll gathers (yields), the second hands the run to the blocking pool.
    for _ in 0..2 {
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(request.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
    }
    drop(request);
    for _ in 0..100 {
        if !lock(&serving.free).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(lock(&serving.free).len(), 1, "the replica came back");
    assert_eq!(serving.replicas(), 1);
}

#[test]
fn outputs_without_the_combined_batch_axis_are_not_split() {
    let own = Batch {
        first: 0,
        instances: 1,
        inputs: Vec::new(),
    };
    let (member, _answer) = Member::new(own.clone());
    let whole = Tensor {
        shape: vec![3],
        data: TensorData::F32(vec![0.0; 3]),
    };
    assert!(split_rows(std::slice::from_ref(&whole), &own, &[member]).is_none());
}

#[test]
fn buckets_are_within_an_eighth() {
    for us in [0, 1, 15, 16, 17, 100, 1000, 12_345, 1_000_000, 60_000_000] {
        let v = bucket_value(bucket(us));
        assert!(
            (v - us as f64).abs() <= (us as f64 / 8.0).max(0.5),
            "{us} → {v}"
        );
    }
}

#[test]
fn percentiles_come_from_the_seconds_requests() {
    let m = Metrics::default();
    for _ in 0..99 {
        m.record(100, false);
    }
    m.record(10_000, true);
    m.sample(2);
    let read = m.read(None);
    assert_eq!((read.total_requests, read.total_errors), (100, 1));
    let s = read.samples[0];
    assert!((s.latency_p50_ms - 0.1).abs() < 0.01, "{s:?}");
    assert!((s.latency_p99_ms - 0.1).abs() < 0.01, "{s:?}");
    assert_eq!(s.replicas, 2);
}
