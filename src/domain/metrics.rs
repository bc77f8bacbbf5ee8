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
}

/// A job's samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricsPage {
    /// The samples taken after the requested time.
    pub samples: Vec<ResourceSample>,
}
