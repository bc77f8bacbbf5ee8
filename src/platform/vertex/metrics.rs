//! A custom job's CPU and memory (and accelerators) from Cloud Monitoring
//! `timeSeries.list`: the `ml.googleapis.com/training/{cpu,memory}/utilization` series
//! of resource `cloudml_job` (and `training/accelerator/{,memory/}utilization` when the
//! job has accelerators), sampled once a minute, read at most every `min_poll` per job
//! and turned from fractions of the machine into cores, bytes and percent of a device.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;

use super::client::VertexHttp;
use crate::domain::{Job, MetricsPage, ReplicaSeries, ResourceSample};
use crate::platform::PlatformError;

const CPU: &str = "ml.googleapis.com/training/cpu/utilization";
const MEMORY: &str = "ml.googleapis.com/training/memory/utilization";
const ACCELERATOR: &str = "ml.googleapis.com/training/accelerator/utilization";
const ACCELERATOR_MEMORY: &str = "ml.googleapis.com/training/accelerator/memory/utilization";

/// Memory of one accelerator of a type, for the common ones.
fn accelerator_memory(kind: &str) -> Option<f64> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    Some(
        match kind {
            "NVIDIA_TESLA_K80" => 12.0,
            "NVIDIA_TESLA_P4" => 8.0,
            "NVIDIA_TESLA_T4" | "NVIDIA_TESLA_P100" | "NVIDIA_TESLA_V100" => 16.0,
            "NVIDIA_L4" => 24.0,
            "NVIDIA_TESLA_A100" => 40.0,
            "NVIDIA_A100_80GB" | "NVIDIA_H100_80GB" => 80.0,
            _ => return None,
        } * GIB,
    )
}

/// A job's accelerators: how many per replica, and each one's memory when known.
#[derive(Clone, Copy)]
struct Accelerators {
    count: f64,
    memory: Option<f64>,
}

/// Adds accelerator use (fractions) to samples, as percent of one device summed over
/// the replica's devices, and bytes of device memory when the type's size is known.
fn add_accelerators(
    samples: &mut Vec<ResourceSample>,
    utilization: &BTreeMap<DateTime<Utc>, f64>,
    memory: &BTreeMap<DateTime<Utc>, f64>,
    accelerators: Accelerators,
) {
    let mut merged: BTreeMap<DateTime<Utc>, ResourceSample> =
        samples.drain(..).map(|s| (s.time, s)).collect();
    for (time, fraction) in utilization {
        merged
            .entry(*time)
            .or_insert_with(|| blank(*time))
            .gpu_percent = Some(fraction * 100.0 * accelerators.count);
    }
    if let Some(per_device) = accelerators.memory {
        for (time, fraction) in memory {
            merged
                .entry(*time)
                .or_insert_with(|| blank(*time))
                .gpu_memory_bytes =
                Some((fraction * per_device * accelerators.count).max(0.0) as u64);
        }
    }
    samples.extend(merged.into_values());
}

/// `ListTimeSeriesResponse`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListResponse {
    time_series: Vec<TimeSeries>,
    next_page_token: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TimeSeries {
    points: Vec<Point>,
    resource: Labelled,
    metric: Labelled,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Labelled {
    labels: BTreeMap<String, String>,
}

impl TimeSeries {
    /// The replica a series is about, from the labels that name one.
    fn replica(&self, index: usize) -> String {
        ["task_name", "replica_id", "instance_id"]
            .iter()
            .find_map(|k| {
                self.resource
                    .labels
                    .get(*k)
                    .or_else(|| self.metric.labels.get(*k))
            })
            .cloned()
            .unwrap_or_else(|| format!("series {}", index + 1))
    }
}

/// Values of one metric per replica, by time.
type PerReplica = BTreeMap<String, BTreeMap<DateTime<Utc>, f64>>;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Point {
    interval: Interval,
    value: TypedValue,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Interval {
    end_time: Option<DateTime<Utc>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TypedValue {
    double_value: Option<f64>,
    int64_value: Option<String>,
}

impl TypedValue {
    fn number(&self) -> Option<f64> {
        self.double_value
            .or_else(|| self.int64_value.as_deref()?.parse().ok())
    }
}

/// vCPUs and memory of a machine type, for the common families.
pub fn machine_size(machine_type: &str) -> Option<(f64, f64)> {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    let mut parts = machine_type.split('-');
    let family = parts.next()?;
    let class = parts.next()?;
    let cpus: f64 = parts.next()?.trim_end_matches('g').parse().ok()?;
    let per_cpu = match (family, class) {
        ("n1", "standard") => 3.75,
        ("n1", "highmem") => 6.5,
        ("n1", "highcpu") => 0.9,
        ("n2" | "n2d" | "e2" | "c2" | "c2d", "standard") => 4.0,
        ("n2" | "n2d" | "e2", "highmem") => 8.0,
        ("n2" | "n2d" | "e2", "highcpu") => 1.0,
        ("a2", "highgpu") => return Some((12.0 * cpus, 85.0 * cpus * GIB)),
        ("g2", "standard") => 4.0,
        _ => return None,
    };
    Some((cpus, cpus * per_cpu * GIB))
}

#[derive(Default)]
struct Cached {
    samples: Vec<ResourceSample>,
    replicas: Vec<ReplicaSeries>,
    fetched: Option<Instant>,
}

/// Samples from CPU and memory fractions of a machine of `cpus` cores and `bytes`.
fn samples_of(
    cpu: &BTreeMap<DateTime<Utc>, f64>,
    memory: &BTreeMap<DateTime<Utc>, f64>,
    (cpus, bytes): (f64, f64),
) -> Vec<ResourceSample> {
    let mut merged: BTreeMap<DateTime<Utc>, ResourceSample> = BTreeMap::new();
    for (time, fraction) in cpu {
        merged
            .entry(*time)
            .or_insert_with(|| blank(*time))
            .cpu_percent = fraction * cpus * 100.0;
    }
    for (time, fraction) in memory {
        merged
            .entry(*time)
            .or_insert_with(|| blank(*time))
            .memory_bytes = (fraction * bytes).max(0.0) as u64;
    }
    merged.into_values().collect()
}

/// The per-time sum over replicas.
fn total(per_replica: &PerReplica) -> BTreeMap<DateTime<Utc>, f64> {
    let mut sums = BTreeMap::new();
    for values in per_replica.values() {
        for (time, v) in values {
            *sums.entry(*time).or_insert(0.0) += v;
        }
    }
    sums
}

/// The samples read so far, per job.
pub(super) struct Metrics {
    jobs: std::sync::Mutex<HashMap<String, Cached>>,
    /// Least time between two reads of one job's series (Monitoring samples once a
    /// minute).
    pub min_poll: Duration,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            jobs: std::sync::Mutex::default(),
            min_poll: Duration::from_secs(30),
        }
    }
}

impl Metrics {
    /// Samples of `job` after `since`, summed over its replicas.
    pub async fn read(
        &self,
        http: &VertexHttp,
        job: &Job,
        since: Option<DateTime<Utc>>,
    ) -> Result<MetricsPage, PlatformError> {
        let machine = job
            .training_input
            .as_ref()
            .and_then(|i| i.master_type.clone())
            .unwrap_or_default();
        let size = machine_size(&machine);
        let due = lock(&self.jobs)
            .get(&job.job_id)
            .is_none_or(|c| c.fetched.is_none_or(|t| t.elapsed() >= self.min_poll));
        let finished_long_ago = job
            .end_time
            .is_some_and(|end| Utc::now() - end > chrono::Duration::minutes(15))
            && lock(&self.jobs).contains_key(&job.job_id);
        if due && !finished_long_ago && job.start_time.is_some() {
            let cpu = self.series(http, job, CPU).await?;
            let memory = self.series(http, job, MEMORY).await?;
            let accelerators = accelerators_of(job);
            let (gpu, gpu_memory) = match accelerators {
                Some(_) => (
                    self.series(http, job, ACCELERATOR).await?,
                    self.series(http, job, ACCELERATOR_MEMORY).await?,
                ),
                None => (PerReplica::new(), PerReplica::new()),
            };
            let machine = size.unwrap_or((1.0, 0.0));
            let mut samples = samples_of(&total(&cpu), &total(&memory), machine);
            if let Some(accelerators) = accelerators {
                add_accelerators(
                    &mut samples,
                    &total(&gpu),
                    &total(&gpu_memory),
                    accelerators,
                );
            }
            let names: std::collections::BTreeSet<&String> =
                cpu.keys().chain(memory.keys()).collect();
            let none = BTreeMap::new();
            let replicas = if names.len() > 1 {
                names
                    .into_iter()
                    .map(|name| {
                        let mut samples = samples_of(
                            cpu.get(name).unwrap_or(&none),
                            memory.get(name).unwrap_or(&none),
                            machine,
                        );
                        if let Some(accelerators) = accelerators {
                            add_accelerators(
                                &mut samples,
                                gpu.get(name).unwrap_or(&none),
                                gpu_memory.get(name).unwrap_or(&none),
                                accelerators,
                            );
                        }
                        ReplicaSeries {
                            name: name.clone(),
                            samples,
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let mut jobs = lock(&self.jobs);
            let cached = jobs.entry(job.job_id.clone()).or_default();
            cached.samples = samples;
            cached.replicas = replicas;
            cached.fetched = Some(Instant::now());
        }
        let jobs = lock(&self.jobs);
        let after = |samples: &[ResourceSample]| -> Vec<ResourceSample> {
            samples
                .iter()
                .filter(|s| since.is_none_or(|t| s.time > t))
                .copied()
                .collect()
        };
        let cached = jobs.get(&job.job_id);
        let samples = cached.map(|c| after(&c.samples)).unwrap_or_default();
        let replicas = cached
            .map(|c| {
                c.replicas
                    .iter()
                    .map(|r| ReplicaSeries {
                        name: r.name.clone(),
                        samples: after(&r.samples),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let note = match (size, job.start_time) {
            (_, None) => Some("the job has not started; Cloud Monitoring has no samples yet".to_owned()),
            (None, _) => Some(format!(
                "Cloud Monitoring reports CPU and memory as fractions of the machine; {machine:?} is not a machine type the console knows the size of, so CPU is shown as one core and memory is not shown"
            )),
            _ if samples.is_empty() && since.is_none() => Some(
                "Cloud Monitoring samples a job once a minute and shows it a few minutes late; samples appear here as it reports them".to_owned(),
            ),
            _ => None,
        };
        Ok(MetricsPage {
            samples,
            note,
            replicas,
            // Cloud Monitoring reports accelerators per replica, not per device.
            devices: Vec::new(),
        })
    }

    /// The points of one metric of the job, per replica.
    async fn series(
        &self,
        http: &VertexHttp,
        job: &Job,
        metric: &str,
    ) -> Result<PerReplica, PlatformError> {
        let start = job.start_time.unwrap_or_else(Utc::now) - chrono::Duration::minutes(5);
        let end = job
            .end_time
            .map_or_else(Utc::now, |e| e + chrono::Duration::minutes(10))
            .min(Utc::now());
        let stamp = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let url = format!(
            "{}/v3/projects/{}/timeSeries",
            http.monitoring, http.project
        );
        let mut per_replica = PerReplica::new();
        let mut seen = 0;
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                (
                    "filter",
                    format!(
                        "metric.type=\"{metric}\" AND resource.type=\"cloudml_job\" AND resource.labels.job_id=\"{}\"",
                        job.job_id
                    ),
                ),
                ("interval.startTime", stamp(start)),
                ("interval.endTime", stamp(end.max(start))),
                ("aggregation.alignmentPeriod", "60s".to_owned()),
                ("aggregation.perSeriesAligner", "ALIGN_MEAN".to_owned()),
            ];
            if let Some(t) = &token {
                query.push(("pageToken", t.clone()));
            }
            let page: ListResponse = http
                .call(
                    "read the job's CPU, memory and accelerators",
                    Method::GET,
                    &url,
                    &query,
                    None::<&()>,
                )
                .await?;
            for series in page.time_series {
                let values = per_replica.entry(series.replica(seen)).or_default();
                seen += 1;
                for point in &series.points {
                    if let (Some(time), Some(v)) = (point.interval.end_time, point.value.number()) {
                        *values.entry(time).or_insert(0.0) += v;
                    }
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(per_replica),
            }
        }
    }
}

/// The accelerators each replica of `job` has, if any.
fn accelerators_of(job: &Job) -> Option<Accelerators> {
    let config = job
        .training_input
        .as_ref()?
        .master_config
        .as_ref()?
        .accelerator_config
        .as_ref()
        .filter(|a| a.count > 0)?;
    Some(Accelerators {
        count: f64::from(config.count),
        memory: accelerator_memory(&config.kind),
    })
}

fn blank(time: DateTime<Utc>) -> ResourceSample {
    ResourceSample {
        time,
        cpu_percent: 0.0,
        memory_bytes: 0,
        gpu_percent: None,
        gpu_memory_bytes: None,
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_sizes_follow_the_families() {
        let gib = 1024.0 * 1024.0 * 1024.0;
        assert_eq!(machine_size("n1-standard-4"), Some((4.0, 15.0 * gib)));
        assert_eq!(machine_size("e2-highmem-2"), Some((2.0, 16.0 * gib)));
        assert_eq!(machine_size("a2-highgpu-1g"), Some((12.0, 85.0 * gib)));
        assert_eq!(machine_size("ct5lp-hightpu-4t"), None);
    }
}
