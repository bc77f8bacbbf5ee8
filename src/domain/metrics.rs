//! Resource use of a job over time.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// CPU and memory of a job's whole process tree at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSample {
    /// When the sample was taken.
    pub time: DateTime<Utc>,
    /// CPU use as a percentage of one core (200 = two cores busy).
    pub cpu_percent: f64,
    /// Resident memory in bytes.
    pub memory_bytes: u64,
    /// GPU use, in percent of one device (200 = two devices busy), when the job uses a
    /// GPU the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_percent: Option<f64>,
    /// GPU memory in bytes, summed over the devices, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_bytes: Option<u64>,
}

/// A job's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPage {
    /// The samples taken after the requested time.
    pub samples: Vec<ResourceSample>,
    /// Why samples are missing or partial, when the platform knows (e.g. a Ray job that
    /// runs no Ray workers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The same samples per replica, where a job runs on several machines and the
    /// platform reports each (Vertex AI); `samples` holds their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaSeries>,
    /// Each GPU the job holds, its totals over time (`GPU 0`, …; only the GPU fields of
    /// the samples are set), where the platform reports devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<ReplicaSeries>,
}

/// One replica's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSeries {
    /// E.g. `workerpool0-0`.
    pub name: String,
    /// The job's own samples (all replicas together).
    pub samples: Vec<ResourceSample>,
}

/// A cluster's size and load, for the status bar (the local engine's machine too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSummary {
    /// Nodes alive in the cluster.
    pub nodes: u32,
    /// CPUs the cluster schedules.
    pub cpus: f64,
    /// GPUs the cluster schedules.
    pub gpus: f64,
    /// Mean CPU use of the nodes, in percent.
    pub cpu_percent: f64,
    /// Memory in use on the nodes, bytes.
    pub memory_used: u64,
    /// Memory of the nodes, bytes.
    pub memory_total: u64,
    /// GPUs held by jobs now, when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus_in_use: Option<f64>,
}
