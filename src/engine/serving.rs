//! Serving one model version: a pool of replicas that grows under concurrent load up to
//! the version's maximum, shrinks after idle down to its minimum (zero unloads the model;
//! the next request loads it again), and per-second request metrics.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use super::onnx_model::{self, LoadedModel, Session};
use crate::domain::predict::{self, Batch};
use crate::domain::{ServingMetrics, ServingSample, TensorSpec};

/// Seconds of per-second samples a version keeps.
pub const SAMPLES_KEPT: usize = 3600;
/// Runs slower than this (moving average) leave the async workers for the blocking pool.
const INLINE_LIMIT_US: u64 = 1000;

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
    model: Mutex<Option<LoadedModel>>,
    cold_start: tokio::sync::Mutex<()>,
    free: Mutex<Vec<Replica>>,
    permits: Semaphore,
    replicas: AtomicU32,
    /// Moving average of run time, µs.
    run_us: AtomicU64,
    slow: AtomicBool,
    last_use_ms: AtomicI64,
    metrics: Metrics,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Serving {
    /// Serves the model at `path` with `(min, max)` replicas. `model`, when given, is
    /// already loaded (saves a load right after the version is created).
    pub fn new(
        path: PathBuf,
        inputs: Vec<TensorSpec>,
        outputs: Vec<TensorSpec>,
        (min, max): (u32, u32),
        model: Option<LoadedModel>,
    ) -> Serving {
        Serving {
            path,
            inputs,
            outputs,
            min,
            model: Mutex::new(model),
            cold_start: tokio::sync::Mutex::new(()),
            free: Mutex::new(Vec::new()),
            permits: Semaphore::new(max.max(1) as usize),
            replicas: AtomicU32::new(0),
            run_us: AtomicU64::new(0),
            slow: AtomicBool::new(false),
            last_use_ms: AtomicI64::new(0),
            metrics: Metrics::default(),
        }
    }

    /// Live replicas.
    pub fn replicas(&self) -> u32 {
        self.replicas.load(Ordering::Relaxed)
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
        let batches =
            predict::parse_request(body, &self.inputs).map_err(PredictError::BadRequest)?;
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
        let (mut replica, outputs) = if self.slow.load(Ordering::Relaxed) {
            tokio::task::spawn_blocking(move || {
                let mut replica = replica;
                let out = run_all(&mut replica.session, batches);
                (replica, out)
            })
            .await
            .map_err(|e| {
                self.replicas.fetch_sub(1, Ordering::Relaxed);
                PredictError::Failed(format!("the model run was lost: {e}"))
            })?
        } else {
            let mut replica = replica;
            let out = run_all(&mut replica.session, batches);
            (replica, out)
        };
        let outputs = outputs.map(|(out, took)| {
            self.note_run_time(took);
            out
        });
        replica.idle_since = Instant::now();
        lock(&self.free).push(replica);
        drop(permit);
        let outputs = outputs.map_err(PredictError::Failed)?;
        let (batches, tensors): (Vec<Batch>, Vec<_>) = outputs.into_iter().unzip();
        let pairs: Vec<_> = batches.iter().zip(tensors).collect();
        Ok(predict::write_predictions(&pairs, &self.outputs))
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
        let path = self.path.clone();
        let loaded = tokio::task::spawn_blocking(move || onnx_model::load(&path))
            .await
            .map_err(|e| format!("loading the model was lost: {e}"))??;
        *lock(&self.model) = Some(loaded.clone());
        Ok(loaded)
    }

    fn new_replica(&self, model: &LoadedModel) -> Result<Replica, String> {
        let session = onnx_model::session(model)?;
        self.replicas.fetch_add(1, Ordering::Relaxed);
        Ok(Replica {
            session,
            idle_since: Instant::now(),
        })
    }

    /// Once a second: takes the second's sample and removes one replica idle for longer
    /// than `idle`, keeping the minimum; without replicas the model is unloaded.
    pub fn tick(&self, idle: Duration) {
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

/// Outputs of every batch, and how long the model took.
type RunOutput = (Vec<(Batch, Vec<predict::Tensor>)>, Duration);

fn run_all(session: &mut Session, batches: Vec<Batch>) -> Result<RunOutput, String> {
    let started = Instant::now();
    let outputs = batches
        .into_iter()
        .map(|batch| {
            let out = onnx_model::run(session, &batch)?;
            Ok((batch, out))
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((outputs, started.elapsed()))
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
mod tests {
    use super::*;

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
}
