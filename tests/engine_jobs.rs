//! Jobs on a real engine: real processes, real files, real HTTP.

#![allow(clippy::too_many_lines)] // a story is one test; the shared fakes are long

mod common;

use std::time::Duration;

use common::{
    TestEngine, command_job, find_wrapper_pid, group_alive, group_gone, is_state, python_job,
};
use mlconsole::domain::{JobState, LogStream, Severity, TrainingInput};
use mlconsole::platform::Platform;

#[tokio::test(flavor = "multi_thread")]
async fn a_command_job_succeeds_and_records_how_it_ran() {
    let engine = TestEngine::start(&[]);
    let submitted = engine
        .platform
        .submit_job(&command_job(
            "hello",
            &["sh", "-c", "echo hello from the job"],
        ))
        .await
        .unwrap();
    assert_eq!(submitted.state, JobState::Queued);
    assert!(submitted.create_time.is_some());

    let job = engine.wait_finished("hello").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert!(job.start_time.is_some() && job.end_time >= job.start_time);
    assert_eq!(job.error_message, None);
    let invocation = job.invocation.unwrap();
    // A command gets its default job dir in the environment, not as an argument.
    assert_eq!(invocation.argv, ["sh", "-c", "echo hello from the job"]);
    assert!(invocation.working_dir.ends_with("jobs/hello"));
    let default_dir = engine.data_dir.join("job-dirs/hello");
    assert_eq!(
        job.training_input.unwrap().job_dir.as_deref(),
        Some(default_dir.to_str().unwrap())
    );
    assert_eq!(
        invocation.env.get("MLCONSOLE_JOB_DIR").map(String::as_str),
        default_dir.to_str()
    );
    assert!(default_dir.is_dir());

    let logs = engine.all_logs("hello").await;
    let texts: Vec<_> = logs.iter().map(|e| e.text.as_str()).collect();
    assert_eq!(texts[0], "Job queued.");
    assert!(texts.contains(&"hello from the job"));
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Job started (pid") && t.contains("echo hello from the job"))
    );
    assert_eq!(*texts.last().unwrap(), "Job exited with code 0.");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_module_runs_from_its_package_with_the_job_dir() {
    let engine = TestEngine::start(&[]);
    let pkg = tempfile::tempdir().unwrap();
    let trainer = pkg.path().join("trainer");
    std::fs::create_dir(&trainer).unwrap();
    std::fs::write(trainer.join("__init__.py"), "").unwrap();
    std::fs::write(
        trainer.join("task.py"),
        "import sys, os\nprint('ARGS', ' '.join(sys.argv[1:]))\nprint('CWD', os.getcwd())\nprint('LR', os.environ['LR'])\n",
    )
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let job_dir = work.path().join("outputs/run1");
    let mut job = command_job("module_job", &[]);
    job.training_input = Some(TrainingInput {
        python_module: Some("trainer.task".into()),
        package_uris: vec![pkg.path().display().to_string()],
        args: vec!["--epochs".into(), "3".into()],
        working_dir: Some(work.path().display().to_string()),
        env: [("LR".to_owned(), "0.01".to_owned())].into(),
        job_dir: Some(job_dir.display().to_string()),
        ..Default::default()
    });
    engine.platform.submit_job(&job).await.unwrap();
    let job = engine.wait_finished("module_job").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    assert!(job_dir.is_dir(), "the job dir is created for the trainer");

    let texts: Vec<String> = engine
        .all_logs("module_job")
        .await
        .into_iter()
        .map(|e| e.text)
        .collect();
    let expected_args = format!("ARGS --epochs 3 --job-dir {}", job_dir.display());
    assert!(texts.contains(&expected_args), "{texts:#?}");
    assert!(texts.contains(&format!("CWD {}", work.path().display())));
    assert!(texts.contains(&"LR 0.01".to_owned()));
    let argv = job.invocation.clone().unwrap().argv;
    assert_eq!(argv[..3], ["python3", "-m", "trainer.task"]);

    // Without a jobDir, the trainer gets a default one under the engine's data dir.
    let mut job = job.clone();
    job.job_id = "module_default".into();
    if let Some(input) = &mut job.training_input {
        input.job_dir = None;
    }
    engine.platform.submit_job(&job).await.unwrap();
    let done = engine.wait_finished("module_default").await;
    assert_eq!(done.state, JobState::Succeeded, "{done:#?}");
    let default_dir = engine.data_dir.join("job-dirs/module_default");
    let texts: Vec<String> = engine
        .all_logs("module_default")
        .await
        .into_iter()
        .map(|e| e.text)
        .collect();
    let expected_args = format!("ARGS --epochs 3 --job-dir {}", default_dir.display());
    assert!(texts.contains(&expected_args), "{texts:#?}");
    assert!(default_dir.is_dir());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_job_says_its_exit_code_and_last_stderr_lines() {
    let engine = TestEngine::start(&[]);
    let script = "echo working; echo 'Traceback (most recent call last):' >&2; echo 'ValueError: bad shape' >&2; exit 3";
    engine
        .platform
        .submit_job(&command_job("fails", &["sh", "-c", script]))
        .await
        .unwrap();
    let job = engine.wait_finished("fails").await;
    assert_eq!(job.state, JobState::Failed);
    let message = job.error_message.unwrap();
    assert!(
        message.starts_with("The job exited with code 3."),
        "{message}"
    );
    assert!(message.contains("ValueError: bad shape"), "{message}");

    engine
        .platform
        .submit_job(&command_job("no_such_program", &["/nonexistent/trainer"]))
        .await
        .unwrap();
    let job = engine.wait_finished("no_such_program").await;
    assert_eq!(job.state, JobState::Failed);
    let message = job.error_message.unwrap();
    assert!(
        message.contains("could not start") && message.contains("/nonexistent/trainer"),
        "{message}"
    );

    engine
        .platform
        .submit_job(&command_job("killed", &["sh", "-c", "kill -9 $$"]))
        .await
        .unwrap();
    let job = engine.wait_finished("killed").await;
    assert!(job.error_message.unwrap().contains("signal 9 (SIGKILL)"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_running_job_stops_its_whole_process_group() {
    let engine = TestEngine::start(&["--cancel-grace-secs", "1"]);
    // A shell with a background child: both must go.
    engine
        .platform
        .submit_job(&command_job(
            "long",
            &["sh", "-c", "sleep 300 & sleep 300; wait"],
        ))
        .await
        .unwrap();
    // This one ignores SIGTERM, so only SIGKILL after the grace period stops it.
    engine
        .platform
        .submit_job(&command_job(
            "stubborn",
            &["sh", "-c", "trap '' TERM; sleep 300 & sleep 300; wait"],
        ))
        .await
        .unwrap();
    for id in ["long", "stubborn"] {
        engine
            .wait_job(id, Duration::from_secs(10), is_state(JobState::Running))
            .await;
    }
    let (long_pid, stubborn_pid) = (engine.job_pid("long"), engine.job_pid("stubborn"));
    assert!(group_alive(long_pid) && group_alive(stubborn_pid));

    let job = engine.platform.cancel_job("long").await.unwrap();
    assert_eq!(job.state, JobState::Cancelling);
    let job = engine.platform.cancel_job("stubborn").await.unwrap();
    assert_eq!(job.state, JobState::Cancelling);

    let long = engine.wait_finished("long").await;
    assert_eq!(long.state, JobState::Cancelled);
    let stubborn = engine.wait_finished("stubborn").await;
    assert_eq!(stubborn.state, JobState::Cancelled);
    assert!(
        group_gone(long_pid).await,
        "every process of the cancelled job is gone"
    );
    assert!(group_gone(stubborn_pid).await);
    let texts: Vec<String> = engine
        .all_logs("stubborn")
        .await
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert!(
        texts.iter().any(|t| t.contains("sent SIGKILL")),
        "{texts:#?}"
    );
    assert_eq!(texts.last().unwrap(), "Job cancelled.");

    let err = engine.platform.cancel_job("long").await.unwrap_err();
    assert!(err.to_string().contains("already CANCELLED"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_queue_beyond_the_running_limit_and_a_queued_job_can_be_cancelled() {
    let engine = TestEngine::start(&["--max-running", "2"]);
    for i in 0..4 {
        let job = command_job(&format!("q{i}"), &["sleep", "1"]);
        engine.platform.submit_job(&job).await.unwrap();
    }
    engine
        .platform
        .submit_job(&command_job(
            "q_cancel",
            &["sh", "-c", "echo should never run"],
        ))
        .await
        .unwrap();
    let cancelled = engine.platform.cancel_job("q_cancel").await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);

    let mut most_at_once = 0;
    loop {
        let page = engine
            .platform
            .list_jobs("jobId:q", 100, None)
            .await
            .unwrap();
        let running = page.jobs.iter().filter(|j| j.state.holds_slot()).count();
        most_at_once = most_at_once.max(running);
        if page.jobs.iter().all(|j| j.state.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(most_at_once, 2, "two slots, both used, never more");
    let mut jobs = Vec::new();
    for i in 0..4 {
        jobs.push(engine.platform.get_job(&format!("q{i}")).await.unwrap());
    }
    assert!(jobs.iter().all(|j| j.state == JobState::Succeeded));
    // The later two waited for the first two.
    let first_end = jobs[..2].iter().map(|j| j.end_time.unwrap()).min().unwrap();
    for late in &jobs[2..] {
        assert!(late.start_time.unwrap() >= first_end, "{late:#?}");
    }
    let q = engine.platform.get_job("q_cancel").await.unwrap();
    assert_eq!(q.state, JobState::Cancelled);
    assert_eq!(q.start_time, None);
    let texts: Vec<String> = engine
        .all_logs("q_cancel")
        .await
        .into_iter()
        .map(|e| e.text)
        .collect();
    assert_eq!(texts, ["Job queued.", "Job cancelled before it started."]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_log_reads_queued_then_started_then_the_jobs_first_line() {
    let engine = TestEngine::start(&[]);
    // Jobs that print at once, and a lot: the start must still come before their output.
    let ids: Vec<String> = (0..6).map(|i| format!("prints_at_once_{i}")).collect();
    for id in &ids {
        let job = python_job(
            id,
            "import sys\nfor i in range(2000): sys.stdout.write(f'out {i}\\n')",
        );
        engine.platform.submit_job(&job).await.unwrap();
    }
    for id in &ids {
        assert_eq!(engine.wait_finished(id).await.state, JobState::Succeeded);
        let logs = engine.all_logs(id).await;
        let first: Vec<(LogStream, &str)> = logs
            .iter()
            .take(3)
            .map(|e| (e.stream, e.text.as_str()))
            .collect();
        assert_eq!(
            first[0],
            (LogStream::Engine, "Job queued."),
            "{id}: {first:?}"
        );
        assert_eq!(first[1].0, LogStream::Engine, "{id}: {first:?}");
        assert!(
            first[1].1.starts_with("Job started (pid "),
            "{id}: {first:?}"
        );
        assert_eq!(first[2], (LogStream::Stdout, "out 0"), "{id}: {first:?}");
        let last = logs.last().unwrap();
        assert_eq!(last.stream, LogStream::Engine);
        assert!(last.text.starts_with("Job exited with code 0"), "{last:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_of_100k_lines_are_complete_and_in_order() {
    let engine = TestEngine::start(&[]);
    let job = python_job(
        "many_lines",
        "import sys\nfor i in range(100000): sys.stdout.write(f'line {i}\\n')",
    );
    engine.platform.submit_job(&job).await.unwrap();
    let job = engine.wait_finished("many_lines").await;
    assert_eq!(job.state, JobState::Succeeded);

    let logs = engine.all_logs("many_lines").await;
    let seqs_ok = logs.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1);
    assert!(seqs_ok, "seq runs from 1 without gaps");
    let printed: Vec<&str> = logs
        .iter()
        .filter(|e| e.stream == LogStream::Stdout)
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(printed.len(), 100_000);
    assert!(
        printed
            .iter()
            .enumerate()
            .all(|(i, t)| *t == format!("line {i}"))
    );
    let last = engine
        .platform
        .read_logs("many_lines", logs.len() as u64, 10)
        .await
        .unwrap();
    assert!(last.entries.is_empty() && last.complete);
    let middle = engine
        .platform
        .read_logs("many_lines", 50_000, 3)
        .await
        .unwrap();
    assert_eq!(middle.entries.len(), 3);
    assert_eq!(middle.entries[0].seq, 50_001);
    assert_eq!(middle.next_after, 50_003);
    assert!(!middle.complete);
}

#[tokio::test(flavor = "multi_thread")]
async fn severities_follow_what_lines_state_and_their_stream() {
    let engine = TestEngine::start(&[]);
    let code = r#"
import logging, sys
logging.basicConfig(level=logging.DEBUG)
print("plain stdout")
print("plain stderr", file=sys.stderr)
logging.debug("a debug line")
logging.info("an info line")
logging.warning("a warning line")
logging.error("an error line")
logging.critical("a critical line")
print("W1124 10:00:00.123456  42 trainer.cc:7] glog warning", file=sys.stderr)
print("I1124 10:00:00.123456  42 trainer.cc:8] glog info", file=sys.stderr)
"#;
    engine
        .platform
        .submit_job(&python_job("levels", code))
        .await
        .unwrap();
    engine.wait_finished("levels").await;
    let logs = engine.all_logs("levels").await;
    let severity_of = |needle: &str| {
        logs.iter()
            .find(|e| e.stream != LogStream::Engine && e.text.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}: {logs:#?}"))
            .severity
    };
    assert_eq!(severity_of("plain stdout"), Severity::Info);
    assert_eq!(severity_of("plain stderr"), Severity::Error);
    assert_eq!(severity_of("a debug line"), Severity::Debug);
    assert_eq!(severity_of("an info line"), Severity::Info);
    assert_eq!(severity_of("a warning line"), Severity::Warning);
    assert_eq!(severity_of("an error line"), Severity::Error);
    assert_eq!(severity_of("a critical line"), Severity::Critical);
    assert_eq!(severity_of("glog warning"), Severity::Warning);
    assert_eq!(severity_of("glog info"), Severity::Info);
    let queued = logs.iter().find(|e| e.text == "Job queued.").unwrap();
    assert_eq!(queued.severity, Severity::Info);
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_are_readable_while_the_job_runs() {
    let engine = TestEngine::start(&[]);
    let code = "import time\nprint('first line', flush=True)\ntime.sleep(30)";
    engine
        .platform
        .submit_job(&python_job("follow", code))
        .await
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        let page = engine.platform.read_logs("follow", 0, 100).await.unwrap();
        if page.entries.iter().any(|e| e.text == "first line") {
            assert!(!page.complete);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{page:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let job = engine.platform.get_job("follow").await.unwrap();
    assert_eq!(job.state, JobState::Running);
    engine.platform.cancel_job("follow").await.unwrap();
    engine.wait_finished("follow").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_survives_an_engine_crash_with_every_line() {
    let mut engine = TestEngine::start(&[]);
    let long =
        "import time\nfor i in range(30):\n    print(f'tick {i}', flush=True)\n    time.sleep(0.1)";
    let short = "import time\ntime.sleep(0.5)\nprint('done while the engine was down')\nraise SystemExit(4)";
    engine
        .platform
        .submit_job(&python_job("survivor", long))
        .await
        .unwrap();
    engine
        .platform
        .submit_job(&python_job("ends_meanwhile", short))
        .await
        .unwrap();
    engine
        .wait_job("survivor", Duration::from_secs(10), |j| {
            j.state == JobState::Running
        })
        .await;
    engine
        .wait_job(
            "ends_meanwhile",
            Duration::from_secs(10),
            is_state(JobState::Running),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = engine.job_pid("survivor");

    engine.kill_engine();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(group_alive(pid), "the job keeps running without the engine");
    engine.restart();

    let job = engine.wait_finished("survivor").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let logs = engine.all_logs("survivor").await;
    let ticks: Vec<&str> = logs
        .iter()
        .filter(|e| e.stream == LogStream::Stdout)
        .map(|e| e.text.as_str())
        .collect();
    let expected: Vec<String> = (0..30).map(|i| format!("tick {i}")).collect();
    assert_eq!(ticks, expected, "every line once, in order");
    assert!(logs.iter().any(|e| e.text.contains("Engine restarted")));
    assert!(logs.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1));

    let job = engine.wait_finished("ends_meanwhile").await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error_message.unwrap().contains("code 4"));
    let logs = engine.all_logs("ends_meanwhile").await;
    assert!(
        logs.iter()
            .any(|e| e.text == "done while the engine was down")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_engine_killed_before_saving_the_supervisors_pid_does_not_start_the_job_twice() {
    let mut engine = TestEngine::start(&[]);
    let marker = tempfile::NamedTempFile::new().unwrap();
    let code = format!(
        "import time\nopen({:?}, 'a').write('start\\n')\ntime.sleep(2)",
        marker.path().display().to_string()
    );
    engine
        .platform
        .submit_job(&python_job("once", &code))
        .await
        .unwrap();
    engine
        .wait_job("once", Duration::from_secs(10), is_state(JobState::Running))
        .await;
    engine.kill_engine();
    // As if the engine died between starting the supervisor and saving its pid.
    let db = rusqlite::Connection::open(engine.data_dir.join("state.db")).unwrap();
    let cleared = db
        .execute(
            "UPDATE jobs SET wrapper_pid = NULL WHERE job_id = 'once'",
            [],
        )
        .unwrap();
    assert_eq!(cleared, 1);
    drop(db);
    engine.restart();
    let job = engine.wait_finished("once").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let starts = std::fs::read_to_string(marker.path()).unwrap();
    assert_eq!(starts, "start\n", "the job ran once");
    let logs = engine.all_logs("once").await;
    assert!(
        logs.iter().any(|e| e.text.contains("Engine restarted")),
        "{logs:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_whose_supervisor_vanished_is_failed_with_the_reason() {
    let mut engine = TestEngine::start(&[]);
    engine
        .platform
        .submit_job(&command_job("orphan", &["sleep", "300"]))
        .await
        .unwrap();
    engine
        .wait_job(
            "orphan",
            Duration::from_secs(10),
            is_state(JobState::Running),
        )
        .await;
    let pid = engine.job_pid("orphan");
    engine.kill_engine();
    // Kill the wrapper and the job together: nobody is left to record how it ended.
    let wrapper = find_wrapper_pid(&engine.data_dir.join("jobs/orphan"));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(wrapper),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    engine.restart();
    let job = engine.wait_finished("orphan").await;
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error_message.unwrap().contains("lost track"));
}

#[tokio::test(flavor = "multi_thread")]
async fn resources_of_the_whole_process_tree_are_sampled() {
    let engine = TestEngine::start(&[]);
    // The shell starts python as a child: the sample must include it.
    let burn = "python3 -c 'import time\nx = bytearray(80_000_000)\nt = time.time()\nwhile time.time() - t < 3: pass'";
    engine
        .platform
        .submit_job(&command_job("busy", &["sh", "-c", burn]))
        .await
        .unwrap();
    let job = engine.wait_finished("busy").await;
    assert_eq!(job.state, JobState::Succeeded);
    let samples = engine
        .platform
        .read_metrics("busy", None)
        .await
        .unwrap()
        .samples;
    assert!(samples.len() >= 2, "{samples:#?}");
    let peak_cpu = samples.iter().map(|s| s.cpu_percent).fold(0.0, f64::max);
    let peak_memory = samples.iter().map(|s| s.memory_bytes).max().unwrap();
    assert!(peak_cpu > 30.0, "{samples:#?}");
    assert!(peak_memory > 80_000_000, "{samples:#?}");
    assert!(samples.windows(2).all(|w| w[0].time < w[1].time));
    let later = engine
        .platform
        .read_metrics("busy", Some(samples[0].time))
        .await
        .unwrap()
        .samples;
    assert_eq!(later.len(), samples.len() - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sample_trainer_runs_as_a_job_and_writes_scalars_and_a_model() {
    let engine = TestEngine::start(&[]);
    let out = tempfile::tempdir().unwrap();
    let job_dir = out.path().join("sample_1");
    let mut job = command_job(
        "sample_1",
        &[
            env!("CARGO_BIN_EXE_mlconsole"),
            "sample-train",
            "--epochs=4",
        ],
    );
    if let Some(input) = job.training_input.as_mut() {
        input.job_dir = Some(job_dir.display().to_string());
    }
    engine.platform.submit_job(&job).await.unwrap();
    let job = engine.wait_finished("sample_1").await;
    assert_eq!(job.state, JobState::Succeeded, "{job:#?}");
    let logs = engine.all_logs("sample_1").await;
    assert!(
        logs.iter().any(|e| e.text.contains("held-out accuracy")),
        "{logs:#?}"
    );
    let epochs = logs
        .iter()
        .filter(|e| e.text.contains("INFO:sample_train:epoch "))
        .count();
    assert_eq!(epochs, 4, "a line every epoch");

    let mut logdir = mlconsole::tensorboard::LogDir::new(&job_dir);
    logdir.refresh().unwrap();
    let train = &logdir.runs()["train"].tags;
    let loss = &train["loss"];
    assert_eq!(loss.len(), 4);
    assert!(
        loss[3].value < loss[0].value / 1.5,
        "the loss falls: {} -> {}",
        loss[0].value,
        loss[3].value
    );
    let rates = &train["learning_rate"];
    assert!(rates[3].value < rates[0].value, "the learning rate decays");
    // Four epochs of a debug build: far from the ~98 % of a full run, well above chance.
    let eval_accuracy = logdir.runs()["eval"].tags["accuracy"][3].value;
    assert!(eval_accuracy >= 0.6, "held-out accuracy {eval_accuracy}");

    // model.onnx, served by the engine's runtime, gives what the trainer's own maths does.
    let model: mlconsole::sample_train::Mlp =
        serde_json::from_slice(&std::fs::read(job_dir.join("model.json")).unwrap()).unwrap();
    use mlconsole::engine::runtime;
    let loaded = runtime::load(&job_dir.join("model.onnx"), runtime::Choice::Tract).unwrap();
    assert_eq!(loaded.inputs[0].shape, vec![None, Some(64)]);
    let mut session = runtime::session(&loaded).unwrap();
    let digits = mlconsole::sample_train::load_digits().unwrap();
    let instances: Vec<serde_json::Value> = digits
        .iter()
        .take(50)
        .map(|(pixels, _)| serde_json::json!(pixels))
        .collect();
    let batches = mlconsole::domain::predict::assemble(&instances, &loaded.inputs).unwrap();
    let outputs = runtime::run(&mut session, &batches[0]).unwrap();
    let served = match &outputs[0].data {
        mlconsole::domain::predict::TensorData::F32(v) => v.clone(),
        other => panic!("probabilities are float32: {other:?}"),
    };
    let mut right = 0;
    for (i, (pixels, digit)) in digits.iter().take(50).enumerate() {
        let own = model.predict(pixels);
        let row = &served[i * 10..(i + 1) * 10];
        for (a, b) in own.iter().zip(row) {
            assert!((a - b).abs() < 1e-4, "image {i}: {own:?} vs {row:?}");
        }
        let best = (0..10).max_by(|a, b| row[*a].total_cmp(&row[*b])).unwrap();
        right += usize::from(best == *digit);
    }
    assert!(right >= 30, "{right}/50 digits read right");
}
