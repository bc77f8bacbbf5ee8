//! GPUs on the local engine: a job asks for `masterConfig.acceleratorConfig.count`
//! devices, waits while they are taken, sees only its own, and is refused when the
//! machine has fewer. The machine here has none: the engine's fake device set
//! (`--fake-gpus`) stands in for NVML, as the scheduler sees only the device list.

mod common;

use common::TestEngine;
use mlconsole::domain::JobState;
use mlconsole::platform::Platform;
use serde_json::json;

/// Whether the engine found real GPUs (then the no-GPU checks do not apply).
async fn has_gpus(engine: &TestEngine) -> bool {
    let (_, machine) = engine.get("/v1/projects/local/machine").await;
    machine["gpus"].as_f64().unwrap_or(0.0) > 0.0
}

fn gpu_job(id: &str, count: &str, script: &str) -> String {
    json!({
        "jobId": id,
        "trainingInput": {
            "command": ["sh", "-c", script],
            "masterConfig": {"acceleratorConfig": {"count": count, "type": "NVIDIA_TESLA_T4"}}
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_jobs_asking_for_the_one_gpu_run_one_after_the_other_each_seeing_it() {
    let engine = TestEngine::start(&["--fake-gpus", "1", "--max-running", "4"]);
    let script =
        "echo \"devices=[$CUDA_VISIBLE_DEVICES] nvidia=[$NVIDIA_VISIBLE_DEVICES]\"; sleep 1";
    for id in ["first", "second"] {
        let (code, answer) = engine
            .post_raw("/v1/projects/local/jobs", &gpu_job(id, "1", script))
            .await;
        assert_eq!(code, 200, "{answer}");
        assert_eq!(
            answer["trainingInput"]["masterConfig"]["acceleratorConfig"]["count"], "1",
            "an int64 is answered as text"
        );
    }
    let (code, answer) = engine
        .post_raw(
            "/v1/projects/local/jobs",
            &json!({"jobId": "cpu_only", "trainingInput": {"command": ["sh", "-c", "echo devices=[$CUDA_VISIBLE_DEVICES]"]}})
                .to_string(),
        )
        .await;
    assert_eq!(code, 200, "{answer}");

    let first = engine.wait_finished("first").await;
    let second = engine.wait_finished("second").await;
    assert_eq!(
        (first.state, second.state),
        (JobState::Succeeded, JobState::Succeeded)
    );
    assert!(
        second.start_time.unwrap() >= first.end_time.unwrap(),
        "the second waited for the GPU: {first:#?} {second:#?}"
    );
    for job in ["first", "second"] {
        let logs = engine.all_logs(job).await;
        assert!(
            logs.iter()
                .any(|e| e.text.contains("devices=[0] nvidia=[0]")),
            "{job} sees GPU 0 only: {logs:#?}"
        );
    }
    // The machine's summary counts the GPU free again.
    let (code, machine) = engine.get("/v1/projects/local/machine").await;
    assert_eq!(code, 200, "{machine}");
    assert_eq!(
        (machine["nodes"].as_u64(), machine["gpus"].as_f64()),
        (Some(1), Some(1.0))
    );
    assert_eq!(machine["gpusInUse"], 0.0, "{machine}");
    assert!(machine["memoryTotal"].as_u64().unwrap() > 0, "{machine}");
    let waited = engine.all_logs("second").await;
    assert!(
        waited.iter().any(|e| e
            .text
            .contains("Waiting for 1 free GPU; in use by first (GPU 0)")),
        "{waited:#?}"
    );
    // A job that asked for none sees none, and did not wait behind them.
    let cpu = engine.wait_finished("cpu_only").await;
    let logs = engine.all_logs("cpu_only").await;
    assert!(
        logs.iter().any(|e| e.text.contains("devices=[]")),
        "{logs:#?}"
    );
    assert!(cpu.start_time.unwrap() < second.start_time.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_asking_for_more_gpus_than_the_machine_has_is_refused_saying_how_many() {
    let engine = TestEngine::start(&["--fake-gpus", "1"]);
    let (code, answer) = engine
        .post_raw("/v1/projects/local/jobs", &gpu_job("greedy", "2", "true"))
        .await;
    assert_eq!(code, 400, "{answer}");
    assert_eq!(answer["error"]["status"], "INVALID_ARGUMENT");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("this machine has 1 GPU (fake GPU 0)"),
        "{message}"
    );

    // Without a GPU (no driver here): 0, and why.
    let bare = TestEngine::start(&[]);
    if has_gpus(&bare).await {
        return; // a machine with a real GPU: the ignored test below covers it
    }
    let (code, answer) = bare
        .post_raw(
            "/v1/projects/local/jobs",
            &gpu_job("wants_one", "1", "true"),
        )
        .await;
    assert_eq!(code, 400, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("this machine has 0 GPUs (no NVIDIA GPU found"),
        "{message}"
    );
    // A job asking for none runs as before, its environment untouched.
    let job = bare
        .platform
        .submit_job(&common::command_job(
            "plain",
            &["sh", "-c", "echo [${CUDA_VISIBLE_DEVICES-unset}]"],
        ))
        .await
        .unwrap();
    let done = bare.wait_finished(&job.job_id).await;
    assert_eq!(done.state, JobState::Succeeded);
    let logs = bare.all_logs("plain").await;
    assert!(logs.iter().any(|e| e.text.contains("[unset]")), "{logs:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jobs_gpu_use_is_summed_over_its_processes() {
    let engine = TestEngine::start(&["--fake-gpus", "1"]);
    // Two children use the GPU (as the fake source tells from their command lines).
    let script = "python3 -c 'import time; time.sleep(6)' --fake-gpu-mib=100 & \
                  python3 -c 'import time; time.sleep(6)' --fake-gpu-mib=200 & wait";
    let (code, answer) = engine
        .post_raw("/v1/projects/local/jobs", &gpu_job("on_gpu", "1", script))
        .await;
    assert_eq!(code, 200, "{answer}");
    let started = std::time::Instant::now();
    loop {
        let page = engine.platform.read_metrics("on_gpu", None).await.unwrap();
        if let Some(sample) = page
            .samples
            .iter()
            .find(|s| s.gpu_memory_bytes == Some(300 << 20))
        {
            assert_eq!(sample.gpu_percent, Some(100.0), "{sample:?}");
            // The device it holds, with every process on it, sampled at the same time.
            let page = engine
                .platform
                .read_metrics(
                    "on_gpu",
                    Some(sample.time - chrono::Duration::milliseconds(1)),
                )
                .await
                .unwrap();
            let [device] = &page.devices[..] else {
                panic!("one device series: {page:#?}");
            };
            assert_eq!(device.name, "GPU 0");
            let same = device.samples.iter().find(|d| d.time == sample.time);
            let same =
                same.unwrap_or_else(|| panic!("a device sample at {}: {device:#?}", sample.time));
            assert_eq!(same.gpu_memory_bytes, Some(300 << 20));
            assert_eq!(same.gpu_percent, Some(100.0));
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "a sample with both children's GPU memory: {page:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A machine without GPUs reports none.
    let bare = TestEngine::start(&[]);
    if has_gpus(&bare).await {
        return;
    }
    bare.platform
        .submit_job(&common::command_job("cpu", &["sleep", "3"]))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let page = loop {
        let page = bare.platform.read_metrics("cpu", None).await.unwrap();
        if !page.samples.is_empty() || started.elapsed() > std::time::Duration::from_secs(10) {
            break page;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(!page.samples.is_empty());
    assert!(
        page.samples.iter().all(|s| s.gpu_percent.is_none()),
        "{page:#?}"
    );
}

/// The real NVML path: run where an NVIDIA GPU and driver exist
/// (`cargo test --test engine_gpus -- --ignored`).
#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an NVIDIA GPU and its driver"]
async fn on_a_real_gpu_a_job_gets_device_0_and_its_gpu_use_is_sampled() {
    let engine = TestEngine::start(&[]);
    let (code, answer) = engine
        .post_raw(
            "/v1/projects/local/jobs",
            &gpu_job(
                "real",
                "1",
                "echo \"devices=[$CUDA_VISIBLE_DEVICES]\"; sleep 4",
            ),
        )
        .await;
    assert_eq!(code, 200, "{answer}");
    let job = engine.wait_finished("real").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let logs = engine.all_logs("real").await;
    assert!(
        logs.iter().any(|e| e.text.contains("devices=[0]")),
        "{logs:#?}"
    );
    let page = engine.platform.read_metrics("real", None).await.unwrap();
    assert!(
        page.samples.iter().any(|s| s.gpu_percent.is_some()),
        "a machine with GPUs reports GPU use (0 when none): {page:#?}"
    );
    assert!(
        page.devices
            .iter()
            .any(|d| d.name == "GPU 0" && !d.samples.is_empty()),
        "the device it held, with its totals: {page:#?}"
    );
}
