//! CPU, memory and GPU use from Ray's nodes: a job's driver and workers from each node's
//! process list (`/nodes/{node_id}`, refreshed by Ray every 5 s; GPU memory and
//! utilization per process where the node has GPUs), summed per job; and the cluster's
//! size and load for the status bar.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Method;
use serde::Deserialize;

use super::client::RayHttp;
use super::jobs::RayJob;
use crate::domain::{ClusterSummary, MetricsPage, ReplicaSeries, ResourceSample};
use crate::platform::PlatformError;

/// How often Ray refreshes a node's process list.
pub(super) const REFRESH: Duration = Duration::from_secs(5);
/// How long the list of nodes is trusted.
const NODES_FOR: Duration = Duration::from_secs(30);

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct NodeListData {
    result: NodeListResult,
}

#[derive(Deserialize)]
struct NodeListResult {
    result: Vec<NodeState>,
}

#[derive(Deserialize, Clone)]
struct NodeState {
    node_id: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    resources_total: HashMap<String, f64>,
}

#[derive(Deserialize)]
struct NodeDetailData {
    detail: NodeDetail,
}

#[derive(Deserialize)]
struct NodeDetail {
    #[serde(default)]
    workers: Vec<Worker>,
    #[serde(default)]
    actors: HashMap<String, ActorOnNode>,
    /// The node's GPUs (`GpuUtilizationInfo` of the reporter), absent without GPUs.
    #[serde(default)]
    gpus: Vec<NodeGpu>,
}

/// One GPU of a node: its totals and the processes on it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeGpu {
    index: u32,
    /// Percent of the device.
    #[serde(default)]
    utilization_gpu: Option<f64>,
    /// MB in use.
    #[serde(default)]
    memory_used: f64,
    /// Processes using it (`null` when none).
    #[serde(default)]
    processes_pids: Option<Vec<GpuProcess>>,
}

#[derive(Deserialize)]
struct GpuProcess {
    pid: i64,
}

impl NodeGpu {
    fn in_use(&self) -> bool {
        self.processes_pids.as_ref().is_some_and(|p| !p.is_empty())
    }

    fn used_by(&self, pids: &[i64]) -> bool {
        self.processes_pids
            .iter()
            .flatten()
            .any(|p| pids.contains(&p.pid))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Worker {
    pid: i64,
    #[serde(default)]
    cpu_percent: f64,
    #[serde(default)]
    memory_info: Option<MemoryInfo>,
    #[serde(default)]
    job_id: Option<String>,
    /// GPU memory of the process in MB, which the dashboard adds from the node's
    /// `gpus[].processesPids` (absent on a node without GPUs).
    #[serde(default)]
    gpu_memory_usage: Option<f64>,
    /// GPU utilization of the process in percent, added alike.
    #[serde(default)]
    gpu_utilization: Option<f64>,
}

/// A job's processes summed, as one sample's numbers.
#[derive(Default)]
struct Sum {
    cpu: f64,
    rss: f64,
    /// (percent, MB) once a process reports GPU use.
    gpu: Option<(f64, f64)>,
}

impl Sum {
    fn take(&mut self, w: &Worker) {
        self.cpu += w.cpu_percent;
        self.rss += w.memory_info.as_ref().map_or(0.0, |m| m.rss);
        if w.gpu_memory_usage.is_some() || w.gpu_utilization.is_some() {
            let (percent, mb) = self.gpu.get_or_insert((0.0, 0.0));
            *percent += w.gpu_utilization.unwrap_or(0.0);
            *mb += w.gpu_memory_usage.unwrap_or(0.0);
        }
    }
}

#[derive(Deserialize)]
struct MemoryInfo {
    #[serde(default)]
    rss: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActorOnNode {
    #[serde(default)]
    pid: Option<i64>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
struct SummaryData {
    summary: Vec<NodeSummary>,
}

#[derive(Deserialize)]
struct NodeSummary {
    #[serde(default)]
    cpu: f64,
    /// `[total, available, percent, used]` bytes.
    #[serde(default)]
    mem: Vec<f64>,
    #[serde(default)]
    raylet: Option<RayletState>,
    #[serde(default)]
    gpus: Vec<NodeGpu>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RayletState {
    #[serde(default)]
    state: Option<String>,
}

/// What was last sampled for a job, so samples come as often as Ray refreshes.
struct LastSample {
    at: Instant,
    note: Option<String>,
}

/// Caches that keep the sampling cheap.
#[derive(Default)]
pub(super) struct Nodes {
    nodes: Mutex<Option<(Instant, Vec<NodeState>)>>,
    last: Mutex<HashMap<String, LastSample>>,
}

impl Nodes {
    async fn alive(&self, http: &RayHttp) -> Result<Vec<NodeState>, PlatformError> {
        if let Ok(cache) = self.nodes.lock()
            && let Some((at, nodes)) = cache.as_ref()
            && at.elapsed() < NODES_FOR
        {
            return Ok(nodes.clone());
        }
        let list: Envelope<NodeListData> = http
            .json(http.dashboard(Method::GET, "/api/v0/nodes?limit=1000"))
            .await?;
        let alive: Vec<NodeState> = list
            .data
            .result
            .result
            .into_iter()
            .filter(|n| n.state == "ALIVE")
            .collect();
        if let Ok(mut cache) = self.nodes.lock() {
            *cache = Some((Instant::now(), alive.clone()));
        }
        Ok(alive)
    }

    /// A new sample of `job` (at most one per Ray refresh), or none while it is not
    /// running; the note says what the sample covers when it is not the whole job.
    pub(super) async fn sample(
        &self,
        http: &RayHttp,
        job: &RayJob,
    ) -> Result<MetricsPage, PlatformError> {
        let id = job.submission_id.clone().unwrap_or_default();
        let previous_note = self
            .last
            .lock()
            .ok()
            .and_then(|l| l.get(&id).map(|s| s.note.clone()))
            .flatten();
        let due = self
            .last
            .lock()
            .map(|l| l.get(&id).is_none_or(|s| s.at.elapsed() >= REFRESH))
            .unwrap_or(true);
        if job.status != "RUNNING" || !due {
            return Ok(MetricsPage {
                note: previous_note,
                ..MetricsPage::default()
            });
        }
        let mut sum = Sum::default();
        let mut devices = Vec::new();
        let mut found = 0usize;
        let supervisor = format!("_ray_internal_job_actor_{id}");
        let mut supervisor_seen = false;
        for node in self.alive(http).await? {
            let detail: Envelope<NodeDetailData> = http
                .json(http.dashboard(Method::GET, &format!("/nodes/{}", node.node_id)))
                .await?;
            let detail = detail.data.detail;
            match &job.job_id {
                Some(hex) => {
                    let mine: Vec<&Worker> = detail
                        .workers
                        .iter()
                        .filter(|w| w.job_id.as_deref() == Some(hex))
                        .collect();
                    for w in &mine {
                        sum.take(w);
                        found += 1;
                    }
                    let pids: Vec<i64> = mine.iter().map(|w| w.pid).collect();
                    devices.extend(job_devices(&node.node_id, &detail.gpus, &pids));
                }
                None => {
                    // Without ray.init() Ray lists only the job's supervisor actor.
                    let pid = detail
                        .actors
                        .values()
                        .find(|a| a.name.as_deref() == Some(supervisor.as_str()))
                        .and_then(|a| a.pid);
                    if let Some(w) = pid.and_then(|p| detail.workers.iter().find(|w| w.pid == p)) {
                        sum.take(w);
                        supervisor_seen = true;
                    }
                }
            }
        }
        let note = match &job.job_id {
            Some(_) if found == 0 => Some("Ray lists no process of this job yet; its numbers refresh every 5 s".to_owned()),
            Some(_) => Some(format!("driver and workers: {found} process(es), as Ray reports them every 5 s")),
            None if supervisor_seen => Some("this job never called ray.init(), so Ray reports no driver or worker processes for it; the curve is its job supervisor, which starts the entrypoint".to_owned()),
            None => Some("this job never called ray.init(), so Ray reports no driver or worker processes for it".to_owned()),
        };
        if let Ok(mut last) = self.last.lock() {
            last.insert(
                id,
                LastSample {
                    at: Instant::now(),
                    note: note.clone(),
                },
            );
        }
        let samples = if found > 0 || supervisor_seen {
            vec![ResourceSample {
                time: Utc::now(),
                cpu_percent: sum.cpu,
                memory_bytes: sum.rss.max(0.0) as u64,
                gpu_percent: sum.gpu.map(|(percent, _)| percent),
                gpu_memory_bytes: sum
                    .gpu
                    .map(|(_, mb)| (mb.max(0.0) * 1024.0 * 1024.0) as u64),
            }]
        } else {
            Vec::new()
        };
        let time = samples.first().map_or_else(Utc::now, |s| s.time);
        let devices = devices
            .into_iter()
            .map(|(name, percent, mb)| ReplicaSeries {
                name,
                samples: vec![ResourceSample {
                    time,
                    cpu_percent: 0.0,
                    memory_bytes: 0,
                    gpu_percent: Some(percent),
                    gpu_memory_bytes: Some((mb * 1024.0 * 1024.0) as u64),
                }],
            })
            .collect();
        Ok(MetricsPage {
            samples,
            note,
            devices,
            ..MetricsPage::default()
        })
    }

    /// The cluster's nodes, CPUs and memory.
    pub(super) async fn summary(&self, http: &RayHttp) -> Result<ClusterSummary, PlatformError> {
        let nodes = self.alive(http).await?;
        let summary: Envelope<SummaryData> = http
            .json(http.dashboard(Method::GET, "/nodes?view=summary"))
            .await?;
        let live: Vec<&NodeSummary> = summary
            .data
            .summary
            .iter()
            .filter(|n| n.raylet.as_ref().and_then(|r| r.state.as_deref()) != Some("DEAD"))
            .collect();
        let cpu_percent = if live.is_empty() {
            0.0
        } else {
            live.iter().map(|n| n.cpu).sum::<f64>() / live.len() as f64
        };
        Ok(ClusterSummary {
            nodes: nodes.len() as u32,
            cpus: nodes
                .iter()
                .map(|n| n.resources_total.get("CPU").copied().unwrap_or(0.0))
                .sum(),
            gpus: nodes
                .iter()
                .map(|n| n.resources_total.get("GPU").copied().unwrap_or(0.0))
                .sum(),
            cpu_percent,
            memory_used: live
                .iter()
                .map(|n| n.mem.get(3).copied().unwrap_or(0.0))
                .sum::<f64>() as u64,
            memory_total: live
                .iter()
                .map(|n| n.mem.first().copied().unwrap_or(0.0))
                .sum::<f64>() as u64,
            // A GPU counts as in use while a process runs on it.
            gpus_in_use: live.iter().any(|n| !n.gpus.is_empty()).then(|| {
                live.iter()
                    .flat_map(|n| &n.gpus)
                    .filter(|g| g.in_use())
                    .count() as f64
            }),
        })
    }
}

/// The node's GPUs that `pids` use: (name, percent, MB), named `GPU i on <node>`.
fn job_devices(node_id: &str, gpus: &[NodeGpu], pids: &[i64]) -> Vec<(String, f64, f64)> {
    let node: String = node_id.chars().take(8).collect();
    gpus.iter()
        .filter(|g| g.used_by(pids))
        .map(|g| {
            (
                format!("GPU {} on {node}", g.index),
                g.utilization_gpu.unwrap_or(0.0),
                g.memory_used.max(0.0),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
