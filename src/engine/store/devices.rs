//! Each GPU's totals while a job holds it, sampled with the job (the per-device lines of
//! the Resources tab).

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Store, StoreError};
use crate::domain::{ReplicaSeries, ResourceSample};

/// The device-samples table (created with the store).
pub(super) const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS device_samples (
        job_id TEXT NOT NULL,
        device INTEGER NOT NULL,
        time_us INTEGER NOT NULL,
        gpu_percent REAL NOT NULL,
        gpu_memory_bytes INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS device_samples_by_job ON device_samples (job_id, time_us);
";

/// One device's use at one moment, while `job` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSample {
    /// The job holding the device.
    pub job_id: String,
    /// The device's index.
    pub device: u32,
    /// When.
    pub time: DateTime<Utc>,
    /// The device's utilization, percent.
    pub percent: f64,
    /// The device's memory in use, bytes (every process on it).
    pub memory_bytes: u64,
}

impl Store {
    /// Saves device samples in one transaction.
    pub fn add_device_samples(&self, samples: &[DeviceSample]) -> Result<(), StoreError> {
        if samples.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO device_samples (job_id, device, time_us, gpu_percent, gpu_memory_bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for s in samples {
                stmt.execute(params![
                    s.job_id,
                    s.device,
                    s.time.timestamp_micros(),
                    s.percent,
                    i64::try_from(s.memory_bytes).unwrap_or(i64::MAX)
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A job's devices' samples after `since`, one series per device (`GPU 0`, …), oldest
    /// first. Only the GPU fields of each sample are set.
    pub fn device_series(
        &self,
        job_id: &str,
        since: Option<DateTime<Utc>>,
    ) -> Result<Vec<ReplicaSeries>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT device, time_us, gpu_percent, gpu_memory_bytes FROM device_samples
             WHERE job_id = ?1 AND time_us > ?2 ORDER BY device, time_us",
        )?;
        let since_us = since.map_or(i64::MIN, |t| t.timestamp_micros());
        let rows = stmt.query_map(params![job_id, since_us], |row| {
            let device: u32 = row.get(0)?;
            let time_us: i64 = row.get(1)?;
            let memory: i64 = row.get(3)?;
            Ok((
                device,
                ResourceSample {
                    time: DateTime::from_timestamp_micros(time_us).unwrap_or_default(),
                    cpu_percent: 0.0,
                    memory_bytes: 0,
                    gpu_percent: Some(row.get(2)?),
                    gpu_memory_bytes: Some(u64::try_from(memory).unwrap_or(0)),
                },
            ))
        })?;
        let mut series: Vec<ReplicaSeries> = Vec::new();
        for row in rows {
            let (device, sample) = row?;
            let name = device_name(device);
            match series.last_mut() {
                Some(last) if last.name == name => last.samples.push(sample),
                _ => series.push(ReplicaSeries {
                    name,
                    samples: vec![sample],
                }),
            }
        }
        Ok(series)
    }
}

/// How a device's series is named: `GPU 0`.
pub fn device_name(index: u32) -> String {
    format!("GPU {index}")
}
