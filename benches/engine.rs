//! Engine benchmarks: `cargo bench --bench engine`.
//!
//! 1. Listing with a filter over 100k stored jobs, in process and over HTTP.
//! 2. Ingest of a job printing 1M lines as fast as it can: lines/s and engine CPU; and
//!    how soon a line is readable over the API after the job wrote it.
//! 3. Sampler cost with 50 jobs running.
//! 4. Tuning: how soon the next trial of a study starts after one ends (one at a time).
//! 5. GPU sampling: 100 jobs using GPUs, sampled at 1 Hz (the fake device source of
//!    `--fake-gpus`, which scans /proc for its test processes; NVML needs a GPU).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)] // a benchmark may stop on a broken assumption; it reuses the tests' fakes

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use mlconsole::domain::{Filter, Job, JobState, TrainingInput};
use mlconsole::engine::joblog::{self, JobLog};
use mlconsole::engine::sampler::sample_trees;
use mlconsole::engine::store::Store;
use mlconsole::platform::Platform;

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let wants = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    if wants("list") {
        bench_list(&runtime);
    }
    if wants("ingest") {
        bench_ingest(&runtime);
    }
    if wants("sampler") {
        bench_sampler(&runtime);
    }
    if wants("tuning") {
        bench_tuning(&runtime);
    }
    if wants("gpu") {
        bench_gpu_sampling(&runtime);
    }
}

/// The engine's CPU while 100 jobs run, sampled once a second: without GPUs, then on
/// (fake) GPUs with their use attributed to each job's process tree — the difference
/// is what GPU sampling costs.
fn bench_gpu_sampling(runtime: &tokio::runtime::Runtime) {
    const JOBS: usize = 100;
    println!("\n== GPU sampling with {JOBS} jobs");
    let mut costs = Vec::new();
    for on_gpus in [false, true] {
        let data = tempfile::tempdir().unwrap();
        let mut args = vec!["--max-running", "128"];
        if on_gpus {
            args.extend(["--fake-gpus", "128"]);
        }
        let engine = Engine::start_in(data.path(), &args);
        let cpu = runtime.block_on(async {
            for i in 0..JOBS {
                let mut body = serde_json::json!({
                    "jobId": format!("gpu_{i}"),
                    "trainingInput": {
                        "command": ["sh", "-c", "exec python3 -c 'import time; time.sleep(60)' --fake-gpu-mib=10"]
                    }
                });
                if on_gpus {
                    body["trainingInput"]["masterConfig"] =
                        serde_json::json!({"acceleratorConfig": {"count": 1}});
                }
                let (code, answer) = engine
                    .post_raw("/v1/projects/local/jobs", &body.to_string())
                    .await;
                assert_eq!(code, 200, "{answer}");
            }
            loop {
                let page = engine.platform.list_jobs("state=RUNNING", 200, None).await.unwrap();
                if page.jobs.len() == JOBS {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            tokio::time::sleep(Duration::from_secs(3)).await;
            let start = cpu_time(&engine);
            tokio::time::sleep(Duration::from_secs(10)).await;
            let busy = cpu_time(&engine) - start;
            let page = engine.platform.read_metrics("gpu_0", None).await.unwrap();
            assert_eq!(
                page.samples.iter().any(|s| s.gpu_memory_bytes.is_some()),
                on_gpus
            );
            for i in 0..JOBS {
                let _ = engine.platform.cancel_job(&format!("gpu_{i}")).await;
            }
            busy.as_secs_f64() / 10.0 * 100.0
        });
        println!(
            "engine CPU with {JOBS} jobs sampled at 1 Hz, {}: {cpu:.2} % of a core",
            if on_gpus { "on GPUs" } else { "no GPUs" }
        );
        costs.push(cpu);
    }
    println!(
        "GPU sampling adds {:.2} % of a core for {JOBS} jobs (the fake source scans /proc; NVML asks the driver)",
        costs[1] - costs[0]
    );
}

/// A study of 40 trials, one at a time, each a process that exits at once: from each
/// trial's end (its slot freed) to the next trial's job existing and to its process
/// running.
fn bench_tuning(runtime: &tokio::runtime::Runtime) {
    const TRIALS: usize = 40;
    let engine = Engine::start(&["--max-running", "1"]);
    let body = serde_json::json!({
        "jobId": "study",
        "trainingInput": {
            "command": ["true"],
            "hyperparameters": {
                "goal": "MAXIMIZE",
                "maxTrials": TRIALS,
                "maxParallelTrials": 1,
                "algorithm": "RANDOM_SEARCH",
                "params": [{"parameterName": "x", "type": "INTEGER", "minValue": 1, "maxValue": 100}]
            }
        }
    })
    .to_string();
    runtime.block_on(async {
        let (code, answer) = engine.post_raw("/v1/projects/local/jobs", &body).await;
        assert_eq!(code, 200, "{answer}");
        engine
            .wait_job("study", Duration::from_secs(300), |j| j.state.is_finished())
            .await;
        let mut trials = Vec::new();
        for n in 1..=TRIALS {
            trials.push(
                engine
                    .platform
                    .get_job(&format!("study_trial_{n}"))
                    .await
                    .unwrap(),
            );
        }
        let gap = |a: Option<chrono::DateTime<Utc>>, b: Option<chrono::DateTime<Utc>>| {
            (b.unwrap() - a.unwrap()).to_std().unwrap_or_default()
        };
        let created: Vec<Duration> = trials
            .windows(2)
            .map(|w| gap(w[0].end_time, w[1].create_time))
            .collect();
        let running: Vec<Duration> = trials
            .windows(2)
            .map(|w| gap(w[0].end_time, w[1].start_time))
            .collect();
        println!(
            "tuning: a trial ends → the next trial submitted  {}",
            summary(created)
        );
        println!(
            "tuning: a trial ends → the next trial's process running  {}",
            summary(running)
        );
    });
}

/// Median and 99th percentile of durations, in milliseconds.
fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {:>7.3} ms  p99 {:>7.3} ms  (n={})",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples.len()
    )
}

/// A real engine process on a random port (the tests' helper).
#[path = "../tests/common/mod.rs"]
mod common;

use common::TestEngine as Engine;

/// User + system CPU time the engine process has used.
fn cpu_time(engine: &Engine) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", engine.pid())).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // /proc counts in USER_HZ clock ticks, 100 a second on Linux.
    Duration::from_secs_f64(ticks as f64 / 100.0)
}

fn stored_job(i: usize) -> Job {
    let states = [JobState::Succeeded, JobState::Failed, JobState::Cancelled];
    let teams = ["vision", "nlp", "speech", "ranking"];
    let created = Utc::now() - chrono::Duration::seconds(100_000 - i as i64);
    Job {
        job_id: format!("job_{i:06}"),
        labels: [
            ("team".to_owned(), teams[i % teams.len()].to_owned()),
            ("sweep".to_owned(), format!("s{}", i / 100)),
        ]
        .into(),
        training_input: Some(TrainingInput {
            python_module: Some("trainer.task".into()),
            package_uris: vec!["/srv/pkgs/trainer".into()],
            args: vec!["--lr".into(), format!("0.{i}")],
            job_dir: Some(format!("/srv/runs/job_{i:06}")),
            ..Default::default()
        }),
        create_time: Some(created),
        start_time: Some(created + chrono::Duration::seconds(1)),
        end_time: Some(created + chrono::Duration::seconds(60)),
        state: states[i % states.len()],
        error_message: (i % 3 == 1).then(|| "The job exited with code 1.".to_owned()),
        ..Default::default()
    }
}

fn bench_list(runtime: &tokio::runtime::Runtime) {
    const JOBS: usize = 100_000;
    println!("== list with a filter over {JOBS} stored jobs");
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    {
        let store = Store::open(&dir.path().join("state.db")).unwrap();
        for i in 0..JOBS {
            store.insert(stored_job(i)).unwrap();
        }
    }
    println!(
        "stored {JOBS} jobs in {:.1} s (one transaction each)",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let store = Store::open(&dir.path().join("state.db")).unwrap();
    println!(
        "engine start-up load of {} jobs: {:.0} ms",
        store.len(),
        started.elapsed().as_secs_f64() * 1e3
    );

    let midpoint = (Utc::now() - chrono::Duration::seconds(50_000)).to_rfc3339();
    let filters = [
        "".to_owned(),
        "state=FAILED".to_owned(),
        "labels.team=vision AND state=SUCCEEDED".to_owned(),
        format!("createTime>\"{midpoint}\" AND NOT labels.team=nlp"),
        "jobId:099999".to_owned(),
        "labels.sweep=s999 OR errorMessage:\"code 7\"".to_owned(),
        // Worst cases: few or no matches, so every job is looked at.
        "labels.sweep=s5".to_owned(),
        "errorMessage:\"code 7\"".to_owned(),
        "trainingInput.args:\"--lr 0.5x\"".to_owned(),
        "errorMessage:\"code 7\" OR trainingInput.args:\"--lr 0.5x\"".to_owned(),
    ];
    for filter_text in &filters {
        let filter = Filter::parse::<Job>(filter_text).unwrap();
        let times: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                let (page, _) = store.list(&filter, 100, None);
                std::hint::black_box(page);
                t.elapsed()
            })
            .collect();
        println!(
            "in process  {:<58} {}",
            format!("{filter_text:?}"),
            summary(times)
        );
    }
    drop(store);

    let engine = Engine::start_in(dir.path(), &[]);
    runtime.block_on(async {
        for filter_text in &filters {
            let mut times = Vec::new();
            for _ in 0..100 {
                let t = Instant::now();
                let page = engine
                    .platform
                    .list_jobs(filter_text, 100, None)
                    .await
                    .unwrap();
                std::hint::black_box(page);
                times.push(t.elapsed());
            }
            println!(
                "over HTTP   {:<58} {}",
                format!("{filter_text:?}"),
                summary(times)
            );
        }
    });
    println!("(engine at {})", engine.base);
}

fn bench_ingest(runtime: &tokio::runtime::Runtime) {
    const LINES: u64 = 1_000_000;
    println!("\n== ingest of a job printing {LINES} lines");
    // The indexer alone, on a file already written.
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..LINES)
        .map(|i| format!("INFO:root:step {i} loss 0.{i}\n"))
        .collect();
    std::fs::write(dir.path().join(joblog::STDOUT_FILE), &text).unwrap();
    let t = Instant::now();
    let mut log = JobLog::open(dir.path()).unwrap();
    let added = log.ingest(true).unwrap();
    let took = t.elapsed();
    assert_eq!(added, LINES);
    println!(
        "indexer alone: {LINES} lines ({:.0} MB) in {:.0} ms = {:.1} M lines/s",
        text.len() as f64 / 1e6,
        took.as_secs_f64() * 1e3,
        LINES as f64 / took.as_secs_f64() / 1e6
    );
    let t = Instant::now();
    let page = joblog::read_entries(dir.path(), 500_000, 1000).unwrap();
    println!(
        "read 1000 entries at seq 500k: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(page.len(), 1000);

    // The whole engine: a real job writing as fast as it can.
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::start_in(data.path(), &[]);
    runtime.block_on(async {
        let producer = format!("import sys\nw = sys.stdout.write\nfor i in range({LINES}): w(f'step {{i}} loss 0.{{i}}\\n')");
        let t = Instant::now();
        let out = Command::new("python3").args(["-c", &producer]).stdout(Stdio::null()).status().unwrap();
        assert!(out.success());
        println!("the producer alone (to /dev/null): {:.0} ms", t.elapsed().as_secs_f64() * 1e3);

        let cpu_before = cpu_time(&engine);
        let job = Job {
            job_id: "million".into(),
            training_input: Some(TrainingInput {
                command: vec!["python3".into(), "-c".into(), producer],
                ..Default::default()
            }),
            ..Default::default()
        };
        let t = Instant::now();
        engine.platform.submit_job(&job).await.unwrap();
        loop {
            let job = engine.platform.get_job("million").await.unwrap();
            if job.state.is_finished() {
                assert_eq!(job.state, JobState::Succeeded);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let took = t.elapsed();
        let cpu = cpu_time(&engine) - cpu_before;
        let stdout_lines: u64 = {
            let mut n = 0;
            let mut after = 0;
            loop {
                let page = engine.platform.read_logs("million", after, 10_000).await.unwrap();
                if page.entries.is_empty() {
                    break;
                }
                n += page.entries.iter().filter(|e| e.stream == mlconsole::domain::LogStream::Stdout).count() as u64;
                after = page.next_after;
            }
            n
        };
        assert_eq!(stdout_lines, LINES, "every line captured");
        println!(
            "submit → SUCCEEDED with all {LINES} lines indexed: {:.2} s = {:.2} M lines/s; engine CPU {:.2} s ({:.0}% of one core over the run)",
            took.as_secs_f64(),
            LINES as f64 / took.as_secs_f64() / 1e6,
            cpu.as_secs_f64(),
            cpu.as_secs_f64() / took.as_secs_f64() * 100.0
        );

        // Latency from write to readable over the API, while following.
        let printer = "import time\nfor i in range(100):\n    print(time.time(), flush=True)\n    time.sleep(0.03)";
        let job = Job {
            job_id: "latency".into(),
            training_input: Some(TrainingInput {
                command: vec!["python3".into(), "-c".into(), printer.into()],
                ..Default::default()
            }),
            ..Default::default()
        };
        engine.platform.submit_job(&job).await.unwrap();
        let mut after = 0;
        let mut delays = Vec::new();
        while delays.len() < 100 {
            let page = engine.platform.read_logs("latency", after, 1000).await.unwrap();
            let now = Utc::now().timestamp_micros() as f64 / 1e6;
            for entry in &page.entries {
                if let Ok(written) = entry.text.parse::<f64>() {
                    delays.push(Duration::from_secs_f64((now - written).max(0.0)));
                }
            }
            after = page.next_after;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("write → readable over the API (polling every 5 ms): {}", summary(delays));
    });
}

fn bench_sampler(runtime: &tokio::runtime::Runtime) {
    const JOBS: usize = 50;
    println!("\n== sampler with {JOBS} jobs running");
    // In process: one sampling pass over 50 process trees (each a shell with a child).
    let mut children: Vec<Child> = (0..JOBS)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "sleep 60 & sleep 60; wait"])
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let roots: Vec<(String, i32)> = children
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("j{i}"), c.id() as i32))
        .collect();
    let mut sys = sysinfo::System::new().unwrap();
    let times: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            let samples = sample_trees(&mut sys, &roots, None);
            assert_eq!(samples.len(), JOBS);
            t.elapsed()
        })
        .collect();
    let processes = sys.processes().len();
    println!(
        "one sampling pass, {JOBS} trees, {processes} processes on the machine: {}",
        summary(times)
    );
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }

    // The engine: CPU over 10 s with 50 jobs running, against 10 s idle.
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::start_in(data.path(), &["--max-running", "64"]);
    runtime.block_on(async {
        let idle_start = cpu_time(&engine);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let idle = cpu_time(&engine) - idle_start;
        for i in 0..JOBS {
            let job = Job {
                job_id: format!("sleeper_{i}"),
                training_input: Some(TrainingInput {
                    command: vec!["sh".into(), "-c".into(), "sleep 60 & sleep 60; wait".into()],
                    ..Default::default()
                }),
                ..Default::default()
            };
            engine.platform.submit_job(&job).await.unwrap();
        }
        loop {
            let page = engine.platform.list_jobs("state=RUNNING", 100, None).await.unwrap();
            if page.jobs.len() == JOBS {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let busy_start = cpu_time(&engine);
        tokio::time::sleep(Duration::from_secs(10)).await;
        let busy = cpu_time(&engine) - busy_start;
        let samples = engine.platform.read_metrics("sleeper_0", None).await.unwrap().samples;
        println!(
            "engine CPU: idle {:.2}% of one core; with {JOBS} jobs running {:.2}% (supervisors + sampler); {} samples of one job so far",
            idle.as_secs_f64() * 10.0,
            busy.as_secs_f64() * 10.0,
            samples.len()
        );
        for i in 0..JOBS {
            let _ = engine.platform.cancel_job(&format!("sleeper_{i}")).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    });
}
