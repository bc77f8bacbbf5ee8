//! Online prediction's parts, timed one at a time on the tiny Iris model (one instance a
//! request): parsing the request, running the model (alone, and with others as combined
//! requests run), writing the answer, and the whole `Serving::predict`.
//! `cargo bench --bench predict`. The HTTP comparison with the Python peer and a bare
//! axum server is `benches/compare_predict.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark may stop on a broken assumption

use std::path::Path;
use std::time::Instant;

use mlconsole::domain::predict::{parse_request, write_predictions};
use mlconsole::engine::onnx_model;
use mlconsole::engine::serving::Serving;

const BODY: &[u8] = br#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;

fn time(what: &str, runs: u32, mut f: impl FnMut()) {
    for _ in 0..runs / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
    println!("{what:<28} {per:8.2} µs");
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/iris_logreg.onnx");
    let model = onnx_model::load(&path).unwrap();
    let mut session = onnx_model::session(&model).unwrap();
    let batches = parse_request(BODY, &model.inputs).unwrap();
    let outputs = onnx_model::run(&mut session, &batches[0]).unwrap();
    time("parse request", 200_000, || {
        std::hint::black_box(parse_request(BODY, &model.inputs).unwrap());
    });
    time("run model (batch of 1)", 200_000, || {
        std::hint::black_box(onnx_model::run(&mut session, &batches[0]).unwrap());
    });
    time("write answer", 200_000, || {
        let runs = [(batches[0].instances, outputs.clone())];
        std::hint::black_box(write_predictions(&runs, &model.outputs));
    });
    // Requests that arrive together run together: what one run of n instances costs.
    let instance = parse_request(BODY, &model.inputs).unwrap().remove(0);
    for n in [2, 4, 8, 16, 32, 64] {
        let mut combined = instance.clone();
        for _ in 1..n {
            combined.append(&instance);
        }
        let runs = 100_000 / n as u32;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(onnx_model::run(&mut session, &combined).unwrap());
        }
        let per_run = started.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
        let what = format!("run {n} instances together");
        println!(
            "{what:<28} {per_run:8.2} µs ({:.2} µs an instance)",
            per_run / n as f64
        );
    }
    let serving = Serving::new(
        path.clone(),
        model.inputs.clone(),
        model.outputs.clone(),
        (1, 1),
        None,
        Some(model.clone()),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    time("Serving::predict (all)", 200_000, || {
        std::hint::black_box(runtime.block_on(serving.predict(BODY)).unwrap());
    });
}
