//! Online prediction's parts, timed one at a time (one instance a request) on each
//! runtime that loads the model: the Iris logistic regression and the scikit-learn
//! StandardScaler + LogisticRegression pipeline (ONNX-ML operators and ZipMap, which
//! only ONNX Runtime serves). Parsing the request, running the model (alone, and with
//! others as combined requests run), writing the answer, and the whole
//! `Serving::predict`. `cargo bench --bench predict`; ONNX Runtime is found as the
//! engine finds it (`ORT_DYLIB_PATH`, python3's onnxruntime package, the system). The
//! HTTP comparison with the Python peer and a bare axum server is
//! `benches/compare_predict.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption; it reuses the tests' fakes

use std::path::Path;
use std::time::Instant;

use mlconsole::domain::predict::{parse_request, write_predictions};
use mlconsole::engine::runtime::{self, Choice, locate::OrtSetting};
use mlconsole::engine::serving::Serving;

fn time(what: &str, runs: u32, mut f: impl FnMut()) {
    for _ in 0..runs / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    let per = started.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
    println!("  {what:<28} {per:8.2} µs");
}

fn bench(path: &Path, body: &'static [u8], choice: Choice) {
    let model = match runtime::load(path, choice) {
        Ok(model) => model,
        Err(e) => {
            println!("{} on {choice:?}: not served ({e})", path.display());
            return;
        }
    };
    println!(
        "{} on {}",
        path.file_name().unwrap().to_string_lossy(),
        model.runtime
    );
    let mut session = runtime::session(&model).unwrap();
    let batches = parse_request(body, &model.inputs).unwrap();
    let outputs = runtime::run(&mut session, &batches[0]).unwrap();
    time("parse request", 100_000, || {
        std::hint::black_box(parse_request(body, &model.inputs).unwrap());
    });
    time("run model (batch of 1)", 100_000, || {
        std::hint::black_box(runtime::run(&mut session, &batches[0]).unwrap());
    });
    time("write answer", 100_000, || {
        let runs = [(batches[0].instances, outputs.clone())];
        std::hint::black_box(write_predictions(&runs, &model.outputs));
    });
    // Requests that arrive together run together: what one run of n instances costs.
    let instance = parse_request(body, &model.inputs).unwrap().remove(0);
    for n in [8, 64] {
        let mut combined = instance.clone();
        for _ in 1..n {
            combined.append(&instance);
        }
        let runs = 50_000 / n as u32;
        let started = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(runtime::run(&mut session, &combined).unwrap());
        }
        let per_run = started.elapsed().as_secs_f64() * 1e6 / f64::from(runs);
        let what = format!("run {n} instances together");
        println!(
            "  {what:<28} {per_run:8.2} µs ({:.2} µs an instance)",
            per_run / n as f64
        );
    }
    let serving = Serving::new(
        path.to_owned(),
        model.inputs.clone(),
        model.outputs.clone(),
        (1, 1),
        None,
        choice,
        Some(model.clone()),
    );
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    time("Serving::predict (all)", 100_000, || {
        std::hint::black_box(tokio.block_on(serving.predict(body)).unwrap());
    });
}

fn main() {
    match runtime::onnxruntime::init(&OrtSetting::Search, "python3") {
        Ok(runtime::onnxruntime::Availability::Ready(ort)) => {
            println!(
                "ONNX Runtime {} from {}",
                ort.version,
                ort.library.display()
            );
        }
        Ok(runtime::onnxruntime::Availability::Missing { summary, tried, .. }) => {
            println!("ONNX Runtime {summary} ({tried})");
        }
        Err(e) => println!("{e}"),
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let iris = fixtures.join("models/iris_logreg.onnx");
    let pipeline = fixtures.join("exported/sk_scaler_logreg.onnx");
    let body: &[u8] = br#"{"instances": [[5.1, 3.5, 1.4, 0.2]]}"#;
    for choice in [Choice::OnnxRuntime, Choice::Tract] {
        bench(&iris, body, choice);
        bench(&pipeline, body, choice);
    }
}
