//! A real engine on a random loopback port in a temp dir, and helpers to wait on it.

#![allow(dead_code)] // each test binary uses a different part of this module
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers of tests: a broken expectation panics

pub mod buckets;
pub mod console;
pub mod discovery;
pub mod ray;
pub mod vertex;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mlconsole::domain::{Job, JobState, LogEntry, TrainingInput};
use mlconsole::platform::{LocalPlatform, Platform};

/// An engine process of our own binary, killed when dropped.
pub struct TestEngine {
    pub data_dir: PathBuf,
    pub base: String,
    pub token: String,
    pub platform: LocalPlatform,
    pub http: reqwest::Client,
    child: Child,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Kill the jobs' processes on drop (not when handing over to a restarted engine).
    kill_jobs_on_drop: bool,
    _tmp: Option<tempfile::TempDir>,
}

impl TestEngine {
    /// Starts an engine in a new temp dir with extra command-line `args`.
    pub fn start(args: &[&str]) -> TestEngine {
        let tmp = tempfile::tempdir().unwrap();
        let mut engine = TestEngine::start_in(tmp.path(), args);
        engine._tmp = Some(tmp);
        engine
    }

    /// Starts an engine in a new temp dir with extra environment variables (an
    /// emulator's endpoints, say).
    pub fn start_with_env(args: &[&str], env: &[(&str, String)]) -> TestEngine {
        let tmp = tempfile::tempdir().unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let mut engine = TestEngine::launch(tmp.path(), args, env);
        engine._tmp = Some(tmp);
        engine
    }

    /// Starts an engine on `data_dir` (kept by the caller).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> TestEngine {
        TestEngine::launch(data_dir, args, Vec::new())
    }

    fn launch(data_dir: &Path, args: &[&str], env: Vec<(String, String)>) -> TestEngine {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mlconsole"))
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("engine")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--port", "0"])
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the engine did not start: {line:?} {err}");
        };
        let base = base.to_owned();
        let token = std::fs::read_to_string(data_dir.join("token")).unwrap();
        TestEngine {
            data_dir: data_dir.to_owned(),
            platform: LocalPlatform::new(base.clone(), token.clone()),
            base,
            token,
            http: reqwest::Client::new(),
            child,
            args,
            env,
            kill_jobs_on_drop: true,
            _tmp: None,
        }
    }

    /// The engine process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the engine with SIGKILL, as a crash would.
    pub fn kill_engine(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts a new engine on the same data dir and arguments (after `kill_engine`).
    pub fn restart(&mut self) {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let fresh = TestEngine::launch(&self.data_dir, &args, self.env.clone());
        let old_tmp = self._tmp.take();
        let mut old = std::mem::replace(self, fresh);
        self._tmp = old_tmp;
        old.kill_jobs_on_drop = false;
        drop(old);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn jobs_url(&self) -> String {
        self.url("/v1/projects/local/jobs")
    }

    /// GET with the token; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// POST a raw body with the token; returns status and JSON body.
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// The pid of a started job's process.
    pub fn job_pid(&self, id: &str) -> i32 {
        std::fs::read_to_string(self.data_dir.join("jobs").join(id).join("child.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    /// Waits until job `id` satisfies `done`, or panics after `timeout`.
    pub async fn wait_job(&self, id: &str, timeout: Duration, done: impl Fn(&Job) -> bool) -> Job {
        let start = Instant::now();
        loop {
            let job = self.platform.get_job(id).await.unwrap();
            if done(&job) {
                return job;
            }
            assert!(
                start.elapsed() < timeout,
                "job {id} did not get there in {timeout:?}; it is {job:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until job `id` has finished.
    pub async fn wait_finished(&self, id: &str) -> Job {
        self.wait_job(id, Duration::from_secs(60), |j| j.state.is_finished())
            .await
    }

    /// Every log entry of a job, read page by page.
    pub async fn all_logs(&self, id: &str) -> Vec<LogEntry> {
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let page = self.platform.read_logs(id, after, 10_000).await.unwrap();
            if page.entries.is_empty() {
                return entries;
            }
            after = page.next_after;
            entries.extend(page.entries);
        }
    }
}

impl Drop for TestEngine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Leave no job behind: kill every job's process group.
        if !self.kill_jobs_on_drop {
            return;
        }
        if let Ok(dirs) = std::fs::read_dir(self.data_dir.join("jobs")) {
            for dir in dirs.flatten() {
                if let Ok(pid) = std::fs::read_to_string(dir.path().join("child.pid"))
                    && let Ok(pid) = pid.trim().parse::<i32>()
                {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
    }
}

/// A job that runs `argv`.
pub fn command_job(id: &str, argv: &[&str]) -> Job {
    Job {
        job_id: id.into(),
        training_input: Some(TrainingInput {
            command: argv.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A job that runs a Python snippet.
pub fn python_job(id: &str, code: &str) -> Job {
    command_job(id, &["python3", "-c", code])
}

/// True while any live (not zombie) process is in the process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        // Fields after the command name, which is in parentheses: state ppid pgrp ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string()
    })
}

/// Waits up to 5 s for the process group `pgid` to be gone.
pub async fn group_gone(pgid: i32) -> bool {
    for _ in 0..100 {
        if !group_alive(pgid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

pub fn is_state(state: JobState) -> impl Fn(&Job) -> bool {
    move |j| j.state == state
}

/// The wrapper is the process whose command line names the job's state dir.
pub fn find_wrapper_pid(state_dir: &std::path::Path) -> i32 {
    let needle = state_dir.display().to_string();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline);
            if cmdline.contains("job-wrapper") && cmdline.contains(&needle) {
                return pid;
            }
        }
    }
    panic!("no wrapper for {needle}");
}
