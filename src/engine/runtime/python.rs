//! Serving with the framework itself: TensorFlow, scikit-learn, XGBoost, LightGBM and
//! custom prediction routines run in worker processes of the user's Python (one per
//! replica) that speak `assets/python/mlconsole_predictor.py`'s frames over their pipes.
//! A worker that crashes fails the requests it held, never the engine; the next request
//! starts another.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::domain::predict::MAX_INSTANCES;
use crate::domain::{Framework, TensorSpec};

/// The predictor the workers run, shipped inside the engine.
pub const PREDICTOR: &str = include_str!("../../../assets/python/mlconsole_predictor.py");
/// The predictor's file name where the engine writes it.
pub const PREDICTOR_FILE: &str = "mlconsole_predictor.py";
/// How long a worker may take to load its model (TensorFlow takes seconds).
const LOAD_TIMEOUT: Duration = Duration::from_secs(180);
/// Most request bodies one worker call takes together.
const MAX_TOGETHER: usize = 64;
/// The longest answer frame read from a worker.
const MAX_FRAME: usize = 256 << 20;
/// Lines of a worker's stderr kept to explain its failure.
const STDERR_KEPT: usize = 20;
/// How often an idle worker checks whether it should retire.
const IDLE_CHECK: Duration = Duration::from_millis(500);

/// How to start a version's workers.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The interpreter (the engine's `--python`).
    pub python: String,
    /// Where the engine wrote the predictor.
    pub script: PathBuf,
    /// The artifact's folder (or file).
    pub model_dir: PathBuf,
    /// What made it.
    pub framework: Framework,
    /// A custom prediction routine's class.
    pub prediction_class: Option<String>,
    /// Where its packages are installed.
    pub site: Option<PathBuf>,
    /// Names the version in the engine's log.
    pub label: String,
}

/// What a worker says once its model is loaded.
#[derive(Debug, Clone, Deserialize)]
pub struct Ready {
    /// The framework the artifact turned out to be (a pickled XGBoost model says so).
    pub framework: String,
    /// What serves it, e.g. `tensorflow 2.21.0 in Python 3.11.7 (/usr/bin/python3)`.
    pub runtime: String,
    /// The model's inputs.
    pub inputs: Vec<TensorSpec>,
    /// The model's outputs.
    pub outputs: Vec<TensorSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Hello {
    Ready(Ready),
    Failed(String),
}

/// Why a request got no predictions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The request or an instance is wrong; the message names it.
    Bad(String),
    /// The model or its worker failed.
    Failed(String),
}

/// One running worker process.
pub struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    stderr: Arc<Mutex<VecDeque<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl WorkerSpec {
    /// The arguments after the interpreter, for `command` (`serve` or `batch`).
    pub fn args(&self, command: &str) -> Vec<String> {
        let mut args = vec![
            self.script.display().to_string(),
            command.into(),
            "--model-dir".into(),
            self.model_dir.display().to_string(),
        ];
        let framework = self.framework.api_name();
        if !framework.is_empty() {
            args.extend(["--framework".into(), framework.into()]);
        }
        if let Some(class) = &self.prediction_class {
            args.extend(["--prediction-class".into(), class.clone()]);
        }
        if let Some(site) = &self.site {
            args.extend(["--site".into(), site.display().to_string()]);
        }
        args
    }

    /// Starts a worker and waits until its model is loaded. The error is for the
    /// version's `errorMessage`.
    pub async fn start(&self) -> Result<(Worker, Ready), String> {
        let mut command = Command::new(&self.python);
        // A worker is one replica: replicas give the parallelism, so each runs its model
        // on one thread (measured: more throughput under load, a shorter tail alone),
        // unless the user's environment says otherwise.
        for var in ["TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"] {
            if std::env::var_os(var).is_none() {
                command.env(var, "1");
            }
        }
        let mut child = command
            .args(self.args("serve"))
            .env("PYTHONUNBUFFERED", "1")
            .env("TF_CPP_MIN_LOG_LEVEL", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start {} to serve the {} model: {e}; start the engine with --python naming an interpreter that has the framework",
                    self.python, self.framework
                )
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the worker's pipes were not opened".into());
        };
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        tokio::spawn(forward_stderr(stderr, kept.clone(), self.label.clone()));
        let mut worker = Worker {
            child,
            stdin,
            stdout,
            stderr: kept,
        };
        let hello = tokio::time::timeout(LOAD_TIMEOUT, read_frame(&mut worker.stdout))
            .await
            .map_err(|_| format!("the model did not load within {} s", LOAD_TIMEOUT.as_secs()))?;
        let hello = match hello {
            Ok(frame) => serde_json::from_slice::<Hello>(&frame)
                .map_err(|e| format!("the worker answered something unreadable: {e}"))?,
            Err(e) => return Err(worker.death(&e).await),
        };
        match hello {
            Hello::Ready(ready) => Ok((worker, ready)),
            Hello::Failed(message) => Err(message),
        }
    }
}

/// Copies a worker's stderr into the engine's log, keeping its last lines.
async fn forward_stderr(
    stderr: tokio::process::ChildStderr,
    kept: Arc<Mutex<VecDeque<String>>>,
    label: String,
) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!("{label}: {line}");
        let mut kept = lock(&kept);
        if kept.len() == STDERR_KEPT {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

async fn read_frame(stdout: &mut ChildStdout) -> std::io::Result<Vec<u8>> {
    let mut header = [0u8; 4];
    stdout.read_exact(&mut header).await?;
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "the worker sent a {len}-byte frame, more than {MAX_FRAME}"
        )));
    }
    let mut frame = vec![0u8; len];
    stdout.read_exact(&mut frame).await?;
    Ok(frame)
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    bad: bool,
}

impl Worker {
    /// Runs request bodies together; one answer each. An error means the worker is gone.
    async fn call(&mut self, bodies: &[Vec<u8>]) -> Result<Vec<Result<String, Refusal>>, String> {
        let mut frame = Vec::with_capacity(bodies.iter().map(|b| b.len() + 1).sum::<usize>() + 5);
        frame.extend_from_slice(&[0; 4]);
        frame.push(b'[');
        for (i, body) in bodies.iter().enumerate() {
            if i > 0 {
                frame.push(b',');
            }
            frame.extend_from_slice(body);
        }
        frame.push(b']');
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_le_bytes());
        let exchange = async {
            self.stdin.write_all(&frame).await?;
            self.stdin.flush().await?;
            read_frame(&mut self.stdout).await
        };
        let answer = match exchange.await {
            Ok(answer) => answer,
            Err(e) => return Err(self.death(&e).await),
        };
        let answers: Vec<&RawValue> = serde_json::from_slice(&answer)
            .map_err(|e| format!("the worker answered something unreadable: {e}"))?;
        if answers.len() != bodies.len() {
            return Err(format!(
                "the worker answered {} of {} requests",
                answers.len(),
                bodies.len()
            ));
        }
        Ok(answers
            .into_iter()
            .map(|raw| match serde_json::from_str::<Probe>(raw.get()) {
                Ok(Probe {
                    error: Some(message),
                    bad,
                }) => Err(if bad {
                    Refusal::Bad(message)
                } else {
                    Refusal::Failed(message)
                }),
                _ => Ok(raw.get().to_owned()),
            })
            .collect())
    }

    /// What became of a worker that stopped answering: its exit and last words.
    async fn death(&mut self, error: &std::io::Error) -> String {
        let status = tokio::time::timeout(Duration::from_secs(2), self.child.wait()).await;
        // Give its stderr a moment to reach the log.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let how = match status {
            Ok(Ok(status)) => describe_exit(status),
            _ => format!("stopped answering ({error})"),
        };
        let said: Vec<String> = lock(&self.stderr).iter().cloned().collect();
        let last = said
            .iter()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| format!("; its last words: {}", l.trim()))
            .unwrap_or_default();
        format!("the model's worker process {how}{last}")
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (_, Some(9)) => "was killed (SIGKILL: out of memory, or killed by hand)".into(),
        (_, Some(signal)) => format!("was killed by signal {signal}"),
        (Some(code), _) => format!("exited with status {code}"),
        _ => "exited".into(),
    }
}

/// Checks a prediction request before it goes to a worker: a JSON object with a
/// non-empty `"instances"` list.
pub fn check_request(body: &[u8]) -> Result<(), String> {
    #[derive(Deserialize)]
    struct Shape<'a> {
        #[serde(borrow, default)]
        instances: Option<Vec<&'a RawValue>>,
    }
    let shape: Shape<'_> = serde_json::from_slice(body)
        .map_err(|e| format!("the request body is not a JSON object: {e}"))?;
    match shape.instances {
        None => {
            Err("the request body needs \"instances\": a list with one entry per prediction".into())
        }
        Some(i) if i.is_empty() => Err("\"instances\" is empty: send at least one instance".into()),
        Some(i) if i.len() > MAX_INSTANCES => Err(format!(
            "too many instances: {} in one request, at most {MAX_INSTANCES}; split the request or run a batch prediction job",
            i.len()
        )),
        Some(_) => Ok(()),
    }
}

struct Pending {
    body: Vec<u8>,
    answer: oneshot::Sender<Result<String, Refusal>>,
}

/// Requests waiting for a worker, and the workers waiting for a request (the most
/// recently idle last: it gets the next request, so one hot worker serves a lone client
/// and the others idle until they retire).
#[derive(Default)]
struct Dispatch {
    queue: VecDeque<Pending>,
    idle: Vec<(u64, oneshot::Sender<Vec<Pending>>)>,
}

/// A version's workers: grows under load up to `max`, shrinks after idle down to `min`.
pub struct Pool {
    spec: WorkerSpec,
    min: u32,
    max: u32,
    dispatch: Mutex<Dispatch>,
    live: AtomicU32,
    starting: AtomicU32,
    next_id: AtomicU64,
    idle_limit_ms: AtomicU64,
    ready: Mutex<Option<Ready>>,
    calls: AtomicU64,
    stopped: AtomicBool,
}

impl Pool {
    /// A pool of workers for `spec`, `(min, max)` of them.
    pub fn new(spec: WorkerSpec, (min, max): (u32, u32), idle: Duration) -> Arc<Pool> {
        Arc::new(Pool {
            spec,
            min,
            max: max.max(1),
            dispatch: Mutex::default(),
            live: AtomicU32::new(0),
            starting: AtomicU32::new(0),
            next_id: AtomicU64::new(0),
            idle_limit_ms: AtomicU64::new(idle.as_millis() as u64),
            ready: Mutex::new(None),
            calls: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        })
    }

    /// Workers running now (busy or idle).
    pub fn replicas(&self) -> u32 {
        self.live.load(Ordering::Relaxed)
    }

    /// Worker calls so far; fewer than requests when requests ran together.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// What the last worker to load said.
    pub fn ready(&self) -> Option<Ready> {
        lock(&self.ready).clone()
    }

    /// Sets how long a worker may idle (the engine's setting, or the version's).
    pub fn set_idle(&self, idle: Duration) {
        self.idle_limit_ms
            .store(idle.as_millis() as u64, Ordering::Relaxed);
    }

    /// Stops every worker (the version is deleted): they end as they next look up.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    /// Serves with a worker already started (the one that checked the version).
    pub fn adopt(self: &Arc<Self>, worker: Worker, ready: Ready) {
        *lock(&self.ready) = Some(ready);
        self.live.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(self.clone().work(worker));
    }

    /// Starts workers until the minimum are live.
    pub async fn warm_up(self: &Arc<Self>) -> Result<(), String> {
        while self.live.load(Ordering::Relaxed) + self.starting.load(Ordering::Relaxed) < self.min {
            self.starting.fetch_add(1, Ordering::Relaxed);
            let started = self.spec.start().await;
            self.starting.fetch_sub(1, Ordering::Relaxed);
            let (worker, ready) = started?;
            self.adopt(worker, ready);
        }
        Ok(())
    }

    /// Answers a request body with `{"predictions": [...]}` text.
    pub async fn predict(self: &Arc<Self>, body: &[u8]) -> Result<String, Refusal> {
        check_request(body).map_err(Refusal::Bad)?;
        let (answer, answered) = oneshot::channel();
        let mut pending = vec![Pending {
            body: body.to_vec(),
            answer,
        }];
        let queued = {
            let mut dispatch = lock(&self.dispatch);
            loop {
                match dispatch.idle.pop() {
                    Some((_, worker)) => match worker.send(pending) {
                        Ok(()) => break false,
                        // That worker just left: the next one, or the queue.
                        Err(back) => pending = back,
                    },
                    None => {
                        dispatch.queue.extend(pending);
                        break true;
                    }
                }
            }
        };
        if queued {
            self.grow();
        }
        answered
            .await
            .unwrap_or_else(|_| Err(Refusal::Failed("the request was lost".into())))
    }

    /// Starts a worker when none is free and the maximum allows.
    fn grow(self: &Arc<Self>) {
        if !lock(&self.dispatch).idle.is_empty() {
            return;
        }
        let busy = self.live.load(Ordering::Relaxed) + self.starting.load(Ordering::Relaxed);
        if busy >= self.max {
            return;
        }
        self.starting.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        tokio::spawn(async move {
            let started = pool.spec.start().await;
            pool.starting.fetch_sub(1, Ordering::Relaxed);
            match started {
                Ok((worker, ready)) => pool.adopt(worker, ready),
                Err(e) => {
                    tracing::warn!("{}: cannot start a worker: {e}", pool.spec.label);
                    pool.fail_waiting(&e);
                }
            }
        });
    }

    /// A start failed: when no worker is left to answer them, the waiting requests get
    /// the reason.
    fn fail_waiting(&self, error: &str) {
        if self.live.load(Ordering::Relaxed) + self.starting.load(Ordering::Relaxed) > 0 {
            return;
        }
        let waiting = std::mem::take(&mut lock(&self.dispatch).queue);
        for pending in waiting {
            let _ = pending.answer.send(Err(Refusal::Failed(format!(
                "the model cannot be loaded: {error}"
            ))));
        }
    }

    /// What a worker does next: what is queued (all of it, up to [`MAX_TOGETHER`]), or
    /// what it is handed while it waits on top of the idle ones. `None` when it should
    /// go: the version was deleted, or it idled past the limit above the minimum.
    async fn next(&self, id: u64, idle_since: Instant) -> Option<Vec<Pending>> {
        let mut waiting = {
            let mut dispatch = lock(&self.dispatch);
            if !dispatch.queue.is_empty() {
                let n = dispatch.queue.len().min(MAX_TOGETHER);
                return Some(dispatch.queue.drain(..n).collect());
            }
            let (handed, waiting) = oneshot::channel();
            dispatch.idle.push((id, handed));
            waiting
        };
        loop {
            match tokio::time::timeout(IDLE_CHECK, &mut waiting).await {
                Ok(taken) => return taken.ok(),
                Err(_) => {
                    let limit = Duration::from_millis(self.idle_limit_ms.load(Ordering::Relaxed));
                    let retiring = idle_since.elapsed() >= limit
                        && self.live.load(Ordering::Relaxed) > self.min;
                    if self.stopped.load(Ordering::Relaxed) || retiring {
                        // Leave the idle ones; a request handed over meanwhile is ours.
                        lock(&self.dispatch).idle.retain(|(i, _)| *i != id);
                        return waiting.try_recv().ok();
                    }
                }
            }
        }
    }

    /// A worker's life: answer what it is handed in one call, and retire after idling
    /// past the limit while above the minimum.
    async fn work(self: Arc<Self>, mut worker: Worker) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut idle_since = Instant::now();
        loop {
            if self.stopped.load(Ordering::Relaxed) {
                break;
            }
            let Some(taken) = self.next(id, idle_since).await else {
                if self.stopped.load(Ordering::Relaxed) {
                    return self.gone(id, true);
                }
                if self.retire_one() {
                    return self.gone(id, false);
                }
                continue;
            };
            let (bodies, answers): (Vec<Vec<u8>>, Vec<_>) =
                taken.into_iter().map(|p| (p.body, p.answer)).unzip();
            self.calls.fetch_add(1, Ordering::Relaxed);
            match worker.call(&bodies).await {
                Ok(results) => {
                    for (answer, result) in answers.into_iter().zip(results) {
                        let _ = answer.send(result);
                    }
                }
                Err(death) => {
                    tracing::warn!("{}: {death}", self.spec.label);
                    for answer in answers {
                        let _ = answer.send(Err(Refusal::Failed(format!(
                            "{death}; the next request starts a new one"
                        ))));
                    }
                    self.live.fetch_sub(1, Ordering::Relaxed);
                    self.regrow();
                    return;
                }
            }
            idle_since = Instant::now();
        }
        self.gone(id, true);
    }

    /// A worker leaves: off the idle ones, and off the count unless it retired (which
    /// took it off already).
    fn gone(&self, id: u64, count: bool) {
        lock(&self.dispatch).idle.retain(|(i, _)| *i != id);
        if count {
            self.live.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// After a worker died: requests still queued get a new worker.
    fn regrow(self: &Arc<Self>) {
        if !lock(&self.dispatch).queue.is_empty() {
            self.grow();
        }
    }

    /// Takes one worker off the count when above the minimum; `false` when it must stay.
    fn retire_one(&self) -> bool {
        self.live
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |live| {
                (live > self.min).then(|| live - 1)
            })
            .is_ok()
    }
}

/// Writes the predictor into `dir` (the engine's data dir); answers its path.
pub fn install_predictor(dir: &Path) -> std::io::Result<PathBuf> {
    let path = dir.join(PREDICTOR_FILE);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(PREDICTOR) {
        let partial = path.with_extension("py.partial");
        std::fs::write(&partial, PREDICTOR)?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_a_worker_sees_them() {
        assert!(check_request(br#"{"instances": [[1, 2]], "signature_name": "x"}"#).is_ok());
        for (body, says) in [
            (&b"[1, 2]"[..], "not a JSON object"),
            (b"{\"inputs\": [1]}", "needs \"instances\""),
            (b"{\"instances\": []}", "is empty"),
            (b"{\"instances\": [1", "not a JSON object"),
        ] {
            let err = check_request(body).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }
}
