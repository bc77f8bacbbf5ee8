//! Ray connection benchmark: `cargo bench --bench ray` (needs `ray` on PATH or the venv
//! `.ci/run` makes). Starts its own head node, then measures:
//!
//! 1. time from submit to RUNNING, as the console sees it (polling the job);
//! 2. time from a line printed by a job to the console having it (the log tail, read
//!    as the Logs tab reads it: every 200 ms);
//! 3. online prediction through the Serve proxy at 1 and 16 concurrent clients, beside
//!    the same model on the local engine, same client, same run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption; it reuses the tests' fakes

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mlconsole::domain::{AutoScaling, Job, JobState, Model, TrainingInput, Version, VersionState};
use mlconsole::platform::{Platform, RayPlatform};

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let cluster = common::ray::RayCluster::start(None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ray = RayPlatform::new(&cluster.dashboard, Some(&cluster.serve), None);
    runtime.block_on(async {
        submit_to_running(&ray).await;
        line_to_console(&ray).await;
        predict(&ray).await;
    });
}

fn job(id: &str, code: &str) -> Job {
    Job {
        job_id: id.into(),
        training_input: Some(TrainingInput {
            command: vec!["python".into(), "-c".into(), code.into()],
            ..TrainingInput::default()
        }),
        ..Job::default()
    }
}

/// Median and 95th percentile.
fn quantiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    format!(
        "median {:>7.1} ms  p95 {:>7.1} ms  (n={})",
        at(0.5),
        at(0.95),
        v.len()
    )
}

async fn submit_to_running(ray: &RayPlatform) {
    let mut times = Vec::new();
    for i in 0..10 {
        let id = format!("to_running_{i}");
        let started = Instant::now();
        ray.submit_job(&job(&id, "import time; time.sleep(1)"))
            .await
            .unwrap();
        loop {
            if ray.get_job(&id).await.unwrap().state == JobState::Running {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        times.push(started.elapsed());
    }
    println!(
        "submit → RUNNING (Ray Jobs API)           {}",
        quantiles(times)
    );
}

async fn line_to_console(ray: &RayPlatform) {
    let code = "import time\nfor i in range(60):\n    print(f'stamp {time.time():.6f}', flush=True)\n    time.sleep(0.25)\n";
    ray.submit_job(&job("stamps", code)).await.unwrap();
    let mut after = 0;
    let mut latencies = Vec::new();
    let started = Instant::now();
    loop {
        let page = ray.read_logs("stamps", after, 10_000).await.unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        for entry in &page.entries {
            if let Some(t) = entry
                .text
                .strip_prefix("stamp ")
                .and_then(|t| t.parse::<f64>().ok())
            {
                latencies.push(Duration::from_secs_f64((now - t).max(0.0)));
            }
        }
        after = page.next_after;
        if page.complete || started.elapsed() > Duration::from_secs(90) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The first lines arrive with the tail's first frame, after the job's start-up.
    let live: Vec<Duration> = latencies.iter().skip(8).copied().collect();
    println!(
        "printed line → console (WebSocket tail)    {}",
        quantiles(live)
    );
}

/// Closed-loop load: `concurrency` clients each sending `body` as soon as the last answer
/// came, for `seconds`; answers the rate and every round trip.
async fn load(
    url: &str,
    body: &str,
    token: Option<&str>,
    concurrency: usize,
    seconds: u64,
) -> (f64, Vec<Duration>) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (stop, url, body) = (stop.clone(), url.to_owned(), body.to_owned());
        let token = token.map(str::to_owned);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .tcp_nodelay(true)
                .build()
                .unwrap();
            let mut times = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut request = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let r = request.send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
                times.push(t.elapsed());
            }
            times
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len() as f64 / seconds as f64, all)
}

fn report(what: &str, (rate, mut times): (f64, Vec<Duration>)) {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{what:<42} {rate:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        at(0.5),
        at(0.99)
    );
}

async fn predict(ray: &RayPlatform) {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/models/iris_logreg.onnx");
    let model = Model {
        name: "iris".into(),
        ..Model::default()
    };
    let version = Version {
        name: "v1".into(),
        deployment_uri: fixture.display().to_string(),
        auto_scaling: Some(AutoScaling {
            min_nodes: 1,
            max_nodes: Some(2),
            idle_seconds: None,
        }),
        ..Version::default()
    };
    ray.create_model(&model).await.unwrap();
    ray.create_version("iris", &version).await.unwrap();
    let started = Instant::now();
    while !ray
        .list_versions("iris")
        .await
        .unwrap()
        .iter()
        .all(|v| v.state == VersionState::Ready)
    {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the version never got ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("model deployed on Serve in {:?}", started.elapsed());
    let body = r#"{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}"#;
    let url = ray.predict_url("iris", None);
    load(&url, body, None, 4, 3).await; // warm up
    report("Ray Serve proxy, c=1", load(&url, body, None, 1, 10).await);
    report(
        "Ray Serve proxy, c=16",
        load(&url, body, None, 16, 10).await,
    );

    let engine = common::TestEngine::start(&[]);
    engine.platform.create_model(&model).await.unwrap();
    engine
        .platform
        .create_version("iris", &version)
        .await
        .unwrap();
    while engine.platform.list_versions("iris").await.unwrap()[0].state != VersionState::Ready {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = engine.platform.predict_url("iris", None);
    let token = Some(engine.token.as_str());
    load(&url, body, token, 4, 3).await; // warm up
    report("local engine, c=1", load(&url, body, token, 1, 10).await);
    report("local engine, c=16", load(&url, body, token, 16, 10).await);
}
