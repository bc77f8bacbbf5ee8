//! A trial's objective as its trainer reports it, either way trainers do: the
//! `cloudml-hypertune` file (`CLOUD_ML_HP_METRIC_FILE`, JSON lines rewritten on each
//! report), else a TensorBoard scalar with the metric's tag in the trial's job dir.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::domain::HyperparameterMetric;
use crate::tensorboard::LogDir;

/// The file a trial's `cloudml-hypertune` writes, inside its job dir.
pub const HYPERTUNE_FILE: &str = "hypertune/output.metrics";

/// Largest hypertune file read (it keeps the latest 100 reports).
const MAX_HYPERTUNE_BYTES: u64 = 4 * 1024 * 1024;

/// What was read of one running trial, so the next read takes only what changed.
pub struct TrialReader {
    job_dir: PathBuf,
    summaries: LogDir,
    /// The hypertune file's size and time when last read.
    hypertune_seen: Option<(u64, SystemTime)>,
    /// Every report read from it so far.
    hypertune_points: Vec<HyperparameterMetric>,
}

impl TrialReader {
    /// A reader of the trial whose job dir is `job_dir`.
    pub fn new(job_dir: &Path) -> TrialReader {
        TrialReader {
            job_dir: job_dir.to_owned(),
            summaries: LogDir::new(job_dir),
            hypertune_seen: None,
            hypertune_points: Vec::new(),
        }
    }

    /// Every report of `tag` found so far, by step: the hypertune file's when the trainer
    /// reports that way (it says what it means to), else the TensorBoard scalar's.
    pub fn read(&mut self, tag: &str) -> Vec<HyperparameterMetric> {
        let mut points = self.hypertune_points(tag);
        if points.is_empty() {
            points = self.summary_points(tag);
        }
        points.sort_by_key(|p| p.training_step);
        points
    }

    fn hypertune_points(&mut self, tag: &str) -> Vec<HyperparameterMetric> {
        let path = self.job_dir.join(HYPERTUNE_FILE);
        let Ok(meta) = std::fs::metadata(&path) else {
            return Vec::new();
        };
        let stamp = (
            meta.len(),
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        );
        if self.hypertune_seen == Some(stamp) {
            return self.hypertune_points.clone();
        }
        if meta.len() > MAX_HYPERTUNE_BYTES {
            return Vec::new();
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Vec::new();
        };
        self.hypertune_seen = Some(stamp);
        // The file keeps only the latest reports: earlier ones stay known.
        for point in parse_hypertune(&text, tag) {
            match self
                .hypertune_points
                .iter_mut()
                .find(|p| p.training_step == point.training_step)
            {
                Some(p) => *p = point,
                None => self.hypertune_points.push(point),
            }
        }
        self.hypertune_points.clone()
    }

    fn summary_points(&mut self, tag: &str) -> Vec<HyperparameterMetric> {
        // A job dir without summaries (yet) is not a problem: the file may report.
        if self.summaries.refresh().is_err() {
            return Vec::new();
        }
        let runs = self.summaries.runs();
        let exact: Vec<_> = runs.values().filter_map(|r| r.tags.get(tag)).collect();
        let points = match exact.first() {
            Some(points) => *points,
            // `run/tag`, e.g. `validation/epoch_accuracy` of a Keras job.
            None => match tag
                .rsplit_once('/')
                .and_then(|(run, tag)| runs.get(run)?.tags.get(tag))
            {
                Some(points) => points,
                None => return Vec::new(),
            },
        };
        points
            .iter()
            .map(|p| HyperparameterMetric {
                training_step: p.step,
                objective_value: p.value,
            })
            .collect()
    }
}

/// The reports of `tag` in a hypertune file: one JSON object a line, values as text
/// (`{"global_step": "10", "<tag>": "0.93", "trial": "1", "timestamp": …}`).
pub fn parse_hypertune(text: &str, tag: &str) -> Vec<HyperparameterMetric> {
    text.lines()
        .filter_map(|line| {
            let report: serde_json::Value = serde_json::from_str(line).ok()?;
            let number = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                other => other.as_f64(),
            };
            let value = number(report.get(tag)?)?;
            let step = report.get("global_step").and_then(number).unwrap_or(0.0);
            value.is_finite().then_some(HyperparameterMetric {
                training_step: step as i64,
                objective_value: value,
            })
        })
        .collect()
}
