//! Serving one model version: a pool of replicas that grows under concurrent load up to
//! the version's maximum, shrinks after idle down to its minimum (zero unloads the model;
//! the next request loads it again), and per-second request metrics.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::combine::{Answer, Combiner, Gathering, Joined, Member};
use super::runtime::python::{Pool, Refusal};
use super::runtime::{self, Choice, LoadedModel, Session};
use crate::domain::predict::{self, Batch, Tensor};
use crate::domain::{ServingMetrics, ServingSample, TensorSpec};

/// Seconds of per-second samples a version keeps.
pub const SAMPLES_KEPT: usize = 3600;
/// Runs slower than this (moving average) leave the async workers for the blocking pool.
const INLINE_LIMIT_US: u64 = 1000;
/// Most instances one combined run takes; more run in further runs.
const MAX_COMBINED: usize = 1024;

/// Why a prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// The request is malformed; the message names the instance.
    #[error("{0}")]
    BadRequest(String),
    /// The model could not be loaded or run.
    #[error("{0}")]
    Failed(String),
}

struct Replica {
    session: Session,
    idle_since: Instant,
}

/// A version being served.
pub struct Serving {
    path: PathBuf,
    inputs: Vec<TensorSpec>,
    outputs: Vec<TensorSpec>,
    min: u32,
    /// How long a replica may idle, when the version says (else the engine's setting).
    idle: Option<Duration>,
    /// The runtime the version asked for.
    choice: Choice,
    /// What serves the version since it last loaded.
    runtime: Mutex<Option<String>>,
    model: Mutex<Option<LoadedModel>>,
    cold_start: tokio::sync::Mutex<()>,
    /// Idle replicas. Shared with runs on the blocking pool, which put their replica
    /// back themselves: a request dropped mid-run loses none.
    free: Arc<Mutex<Vec<Replica>>>,
    permits: Semaphore,
    replicas: AtomicU32,
    /// Moving average of run time, µs.
    run_us: AtomicU64,
    runs: AtomicU64,
    slow: AtomicBool,
    last_use_ms: AtomicI64,
    metrics: Metrics,
    /// Set when every input and output has a batch axis, so requests can run together.
    combiner: Option<Combiner>,
    /// The framework's own workers, for a version not served in the engine.
    workers: Option<Arc<Pool>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Serving {
    /// Serves the model at `path` with `(min, max)` replicas, loading it with the
    /// runtime `choice` picks. `model`, when given, is already loaded (saves a load right
    /// after the version is created).
    pub fn new(
        path: PathBuf,
        inputs: Vec<TensorSpec>,
        outputs: Vec<TensorSpec>,
        (min, max): (u32, u32),
        idle: Option<Duration>,
        choice: Choice,
        model: Option<LoadedModel>,
    ) -> Serving {
        let batched = |specs: &[TensorSpec]| {
            !specs.is_empty() && specs.iter().all(|s| s.shape.first() == Some(&None))
        };
        let combiner = (batched(&inputs) && batched(&outputs)).then(|| Combiner::new(max as usize));
        Serving {
            path,
            inputs,
            outputs,
            min,
            idle,
            choice,
            runtime: Mutex::new(model.as_ref().map(|m| m.runtime.clone())),
            model: Mutex::new(model),
            cold_start: tokio::sync::Mutex::new(()),
            free: Arc::default(),
            permits: Semaphore::new(max.max(1) as usize),
            replicas: AtomicU32::new(0),
            run_us: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            slow: AtomicBool::new(false),
            last_use_ms: AtomicI64::new(0),
            metrics: Metrics::default(),
            combiner,
            workers: None,
        }
    }

    /// Serves a version with the framework's own workers.
    pub fn with_workers(
        pool: Arc<Pool>,
        inputs: Vec<TensorSpec>,
        outputs: Vec<TensorSpec>,
        idle: Option<Duration>,
    ) -> Serving {
        let mut serving = Serving::new(
            PathBuf::new(),
            inputs,
            outputs,
            (0, 1),
            idle,
            Choice::Auto,
            None,
        );
        serving.combiner = None;
        serving.workers = Some(pool);
        serving
    }

    /// The framework's workers, when they serve the version.
    pub fn workers(&self) -> Option<&Arc<Pool>> {
        self.workers.as_ref()
    }

    /// What serves the version, once it has loaded in this engine.
    pub fn runtime(&self) -> Option<String> {
        if let Some(pool) = &self.workers {
            return pool.ready().map(|r| r.runtime);
        }
        lock(&self.runtime).clone()
    }

    /// Replicas running now.
    pub fn replicas(&self) -> u32 {
        if let Some(pool) = &self.workers {
            return pool.replicas();
        }
        self.replicas.load(Ordering::Relaxed)
    }

    /// Model runs so far; fewer than requests when requests ran together.
    pub fn model_runs(&self) -> u64 {
        if let Some(pool) = &self.workers {
            return pool.calls();
        }
        self.runs.load(Ordering::Relaxed)
    }

    /// When the version last answered a prediction.
    pub fn last_use(&self) -> Option<DateTime<Utc>> {
        match self.last_use_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }

    /// Starts the minimum number of replicas.
    pub async fn warm_up(&self) -> Result<(), String> {
        if let Some(pool) = &self.workers {
            return pool.warm_up().await;
        }
        let mut started = Vec::new();
        while self.replicas() < self.min {
            let model = self.model().await?;
            started.push(self.new_replica(&model)?);
        }
        lock(&self.free).extend(started);
        Ok(())
    }

    /// Answers a request body with `{"predictions": [...]}` text.
    pub async fn predict(&self, body: &[u8]) -> Result<String, PredictError> {
        let start = Instant::now();
        let answer = self.predict_inner(body).await;
        self.metrics
            .record(start.elapsed().as_micros() as u64, answer.is_err());
        self.last_use_ms
            .store(Utc::now().timestamp_millis(), Ordering::Relaxed);
        answer
    }

    async fn predict_inner(&self, body: &[u8]) -> Result<String, PredictError> {
        if let Some(pool) = &self.workers {
            return pool.predict(body).await.map_err(|refusal| match refusal {
                Refusal::Bad(m) => PredictError::BadRequest(m),
                Refusal::Failed(m) => PredictError::Failed(m),
            });
        }
        let mut batches =
            predict::parse_request(body, &self.inputs).map_err(PredictError::BadRequest)?;
        if let (Some(combiner), 1) = (&self.combiner, batches.len())
            && let Some(batch) = batches.pop()
        {
            let instances = batch.instances;
            let outputs = match combiner.join(batch) {
                Joined::Lead(gathering, batch) => self.lead(gathering, batch).await?,
                Joined::Member(answer) => match answer.await {
                    Ok(Answer::Done(outputs)) => outputs,
                    Ok(Answer::Yours(batch)) => self.run_combined(batch, Vec::new()).await?,
                    Err(_) => Err("the combined run was lost".to_owned()),
                },
            };
            let outputs = outputs.map_err(PredictError::Failed)?;
            return Ok(predict::write_predictions(
                &[(instances, outputs)],
                &self.outputs,
            ));
        }
        let held = self.replica().await?;
        let outputs = self
            .run_on(held, move |session, times| {
                run_all(session, &batches, times)
            })
            .await?
            .map_err(PredictError::Failed)?;
        Ok(predict::write_predictions(&outputs, &self.outputs))
    }

    /// Leads a combined run: gathers the requests this thread has in hand, runs them
    /// with `own`, answers each, and returns the outputs for `own`.
    async fn lead(
        &self,
        mut gathering: Gathering<'_>,
        own: Batch,
    ) -> Result<Result<Vec<Tensor>, String>, PredictError> {
        gathering.gather().await;
        self.run_combined(own, std::mem::take(&mut gathering.members))
            .await
    }

    /// Runs `own` with `members` on a replica: inline for a fast model, on the blocking
    /// pool for a slow one. Every member is answered, even if this request is dropped
    /// while the run goes on.
    async fn run_combined(
        &self,
        own: Batch,
        members: Vec<Member>,
    ) -> Result<Result<Vec<Tensor>, String>, PredictError> {
        let held = match self.replica().await {
            Ok(held) => held,
            Err(e) => {
                for member in members {
                    member.answer(Err(e.to_string()));
                }
                return Err(e);
            }
        };
        self.run_on(held, move |session, times| {
            run_together(session, &own, members, times)
        })
        .await
    }

    /// Runs `work` on a held replica: inline for a fast model, on the blocking pool for
    /// a slow one (where the run puts the replica back itself, so a request dropped
    /// mid-run loses none). Notes how long each of its model runs took.
    async fn run_on<T: Send + 'static>(
        &self,
        (permit, mut replica): (SemaphorePermit<'_>, Replica),
        work: impl FnOnce(&mut Session, &mut Vec<Duration>) -> T + Send + 'static,
    ) -> Result<T, PredictError> {
        let (out, times) = if self.slow.load(Ordering::Relaxed) {
            let free = self.free.clone();
            tokio::task::spawn_blocking(move || {
                let mut times = Vec::new();
                let out = work(&mut replica.session, &mut times);
                put_back(&free, replica);
                (out, times)
            })
            .await
            .map_err(|e| self.lost(&e))?
        } else {
            let mut times = Vec::new();
            let out = work(&mut replica.session, &mut times);
            put_back(&self.free, replica);
            (out, times)
        };
        drop(permit);
        self.runs.fetch_add(times.len() as u64, Ordering::Relaxed);
        for took in times {
            self.note_run_time(took);
        }
        Ok(out)
    }

    /// Takes a free replica, waiting for a permit, or starts one. The permit is to be
    /// dropped after the replica is put back.
    async fn replica(&self) -> Result<(SemaphorePermit<'_>, Replica), PredictError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| PredictError::Failed(e.to_string()))?;
        let popped = lock(&self.free).pop();
        let replica = match popped {
            Some(r) => r,
            None => {
                let model = self.model().await.map_err(PredictError::Failed)?;
                self.new_replica(&model).map_err(PredictError::Failed)?
            }
        };
        Ok((permit, replica))
    }

    /// A run on the blocking pool panicked: its replica is gone.
    fn lost(&self, e: &tokio::task::JoinError) -> PredictError {
        self.replicas.fetch_sub(1, Ordering::Relaxed);
        PredictError::Failed(format!("the model run was lost: {e}"))
    }

    fn note_run_time(&self, took: Duration) {
        let us = took.as_micros() as u64;
        let old = self.run_us.load(Ordering::Relaxed);
        // Start from 0 rather than the first run: a first run pays for cold caches.
        let avg = (old * 7 + us) / 8;
        self.run_us.store(avg, Ordering::Relaxed);
        self.slow.store(avg > INLINE_LIMIT_US, Ordering::Relaxed);
    }

    async fn model(&self) -> Result<LoadedModel, String> {
        if let Some(model) = lock(&self.model).clone() {
            return Ok(model);
        }
        // One request loads the model; the others wait for it.
        let _loading = self.cold_start.lock().await;
        if let Some(model) = lock(&self.model).clone() {
            return Ok(model);
        }
        let (path, choice) = (self.path.clone(), self.choice);
        let loaded = tokio::task::spawn_blocking(move || runtime::load(&path, choice))
            .await
            .map_err(|e| format!("loading the model was lost: {e}"))??;
        *lock(&self.runtime) = Some(loaded.runtime.clone());
        *lock(&self.model) = Some(loaded.clone());
        Ok(loaded)
    }

    fn new_replica(&self, model: &LoadedModel) -> Result<Replica, String> {
        let session = runtime::session(model)?;
        self.replicas.fetch_add(1, Ordering::Relaxed);
        Ok(Replica {
            session,
            idle_since: Instant::now(),
        })
    }

    /// Once a second: takes the second's sample and removes one replica idle for longer
    /// than `idle`, keeping the minimum; without replicas the model is unloaded.
    pub fn tick(&self, idle: Duration) {
        let idle = self.idle.unwrap_or(idle);
        if let Some(pool) = &self.workers {
            pool.set_idle(idle);
            self.metrics.sample(pool.replicas());
            return;
        }
        {
            let mut free = lock(&self.free);
            if self.replicas() > self.min
                && let Some(oldest) = free
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, r)| r.idle_since)
                    .filter(|(_, r)| r.idle_since.elapsed() >= idle)
                    .map(|(i, _)| i)
            {
                free.swap_remove(oldest);
                self.replicas.fetch_sub(1, Ordering::Relaxed);
            }
            if self.replicas() == 0 && self.min == 0 {
                *lock(&self.model) = None;
            }
        }
        self.metrics.sample(self.replicas());
    }

    /// Totals and per-second samples, oldest first, after `since`.
    pub fn metrics(&self, since: Option<DateTime<Utc>>) -> ServingMetrics {
        self.metrics.read(since)
    }
}

/// Returns a replica to the idle ones.
fn put_back(free: &Mutex<Vec<Replica>>, mut replica: Replica) {
    replica.idle_since = Instant::now();
    lock(free).push(replica);
}

/// Runs every batch, answering each one's outputs with its number of instances; `times`
/// gets how long each run took.
fn run_all(
    session: &mut Session,
    batches: &[Batch],
    times: &mut Vec<Duration>,
) -> Result<Vec<(usize, Vec<Tensor>)>, String> {
    batches
        .iter()
        .map(|batch| {
            let started = Instant::now();
            let outputs = runtime::run(session, batch)?;
            times.push(started.elapsed());
            Ok((batch.instances, outputs))
        })
        .collect()
}

/// Runs `own` and the members that fit with it in one run (up to [`MAX_COMBINED`]
/// instances) and the rest one by one, answering every member; `times` gets how long
/// each run took.
fn run_together(
    session: &mut Session,
    own: &Batch,
    members: Vec<Member>,
    times: &mut Vec<Duration>,
) -> Result<Vec<Tensor>, String> {
    let mut run = |batch: &Batch| {
        let started = Instant::now();
        let outputs = runtime::run(session, batch);
        times.push(started.elapsed());
        outputs
    };
    let mut total = own.instances;
    let (group, rest): (Vec<Member>, Vec<Member>) = members.into_iter().partition(|m| {
        let fits = own.fits_with(&m.batch) && total + m.batch.instances <= MAX_COMBINED;
        if fits {
            total += m.batch.instances;
        }
        fits
    });
    for member in rest {
        let outputs = run(&member.batch);
        member.answer(outputs);
    }
    if group.is_empty() {
        return run(own);
    }
    let mut merged = own.clone();
    for member in &group {
        merged.append(&member.batch);
    }
    let parts = run(&merged)
        .ok()
        .and_then(|outputs| split_rows(&outputs, own, &group));
    let Some(mut parts) = parts else {
        // One member's instances may have failed the run, or the outputs don't keep
        // the batch axis: every request runs by itself and gets its own answer.
        for member in group {
            let outputs = run(&member.batch);
            member.answer(outputs);
        }
        return run(own);
    };
    for (member, outputs) in group.into_iter().zip(parts.drain(1..)) {
        member.answer(Ok(outputs));
    }
    Ok(parts.swap_remove(0))
}

/// Cuts a combined run's outputs into `own`'s and each member's rows, in order; `None`
/// when an output lacks the combined batch axis.
fn split_rows(outputs: &[Tensor], own: &Batch, members: &[Member]) -> Option<Vec<Vec<Tensor>>> {
    let sizes = std::iter::once(own.instances).chain(members.iter().map(|m| m.batch.instances));
    let total: usize = sizes.clone().sum();
    if outputs.iter().any(|t| t.shape.first() != Some(&total)) {
        return None;
    }
    let mut start = 0;
    sizes
        .map(|n| {
            let part = outputs.iter().map(|t| t.rows(start, n)).collect();
            start += n;
            part
        })
        .collect()
}

/// Latency histogram buckets: exact below 16 µs, then 8 per power of two.
const BUCKETS: usize = 16 + 8 * 40;

fn bucket(us: u64) -> usize {
    if us < 16 {
        return us as usize;
    }
    let exp = 63 - u64::from(us.leading_zeros());
    let sub = (us >> (exp - 3)) & 7;
    (16 + (exp as usize - 4) * 8 + sub as usize).min(BUCKETS - 1)
}

/// The middle of a bucket, µs.
fn bucket_value(b: usize) -> f64 {
    if b < 16 {
        return b as f64;
    }
    let exp = (b - 16) / 8 + 4;
    let sub = ((b - 16) % 8) as u64;
    let low = (8 + sub) << (exp - 3);
    low as f64 + (1u64 << (exp - 3)) as f64 / 2.0
}

struct Metrics {
    total_requests: AtomicU64,
    total_errors: AtomicU64,
    requests: AtomicU64,
    errors: AtomicU64,
    latency: Box<[AtomicU64]>,
    samples: Mutex<VecDeque<ServingSample>>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            total_requests: AtomicU64::new(0),
            total_errors: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            samples: Mutex::new(VecDeque::new()),
        }
    }
}

impl Metrics {
    fn record(&self, us: u64, error: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency[bucket(us)].fetch_add(1, Ordering::Relaxed);
        if error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn sample(&self, replicas: u32) {
        let requests = self.requests.swap(0, Ordering::Relaxed);
        let errors = self.errors.swap(0, Ordering::Relaxed);
        let counts: Vec<u64> = self
            .latency
            .iter()
            .map(|c| c.swap(0, Ordering::Relaxed))
            .collect();
        self.total_requests.fetch_add(requests, Ordering::Relaxed);
        self.total_errors.fetch_add(errors, Ordering::Relaxed);
        let total: u64 = counts.iter().sum();
        let sample = ServingSample {
            time: Utc::now(),
            requests,
            errors,
            latency_p50_ms: percentile(&counts, total, 0.50) / 1000.0,
            latency_p99_ms: percentile(&counts, total, 0.99) / 1000.0,
            replicas,
        };
        let mut samples = lock(&self.samples);
        if samples.len() == SAMPLES_KEPT {
            samples.pop_front();
        }
        samples.push_back(sample);
    }

    fn read(&self, since: Option<DateTime<Utc>>) -> ServingMetrics {
        let samples = lock(&self.samples);
        ServingMetrics {
            total_requests: self.total_requests.load(Ordering::Relaxed),
            total_errors: self.total_errors.load(Ordering::Relaxed),
            samples: samples
                .iter()
                .filter(|s| since.is_none_or(|t| s.time > t))
                .copied()
                .collect(),
        }
    }
}

fn percentile(counts: &[u64], total: u64, q: f64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let rank = ((total as f64) * q).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (b, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return bucket_value(b);
        }
    }
    0.0
}

#[cfg(test)]
mod tests;
