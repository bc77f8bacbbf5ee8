//! One entry point per parser of outside input, shared by the cargo-fuzz targets in
//! `fuzz/` and by `tests/fuzz_regressions.rs`, which replays the kept inputs (seeds and
//! every crash the fuzzers found) on each test run. Each takes arbitrary bytes and must
//! return without a panic, unbounded recursion or an allocation sized by the input's
//! claims rather than its length.

use crate::domain::{Filter, Job, JobState, TensorSpec, predict};
use crate::engine::system_params::FieldMask;
use crate::tensorboard::{ReadProblems, decode_records};

/// The gcloud filter: parse as a job filter and evaluate it on a few jobs.
pub fn filter_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(filter) = Filter::parse::<Job>(&text) {
        for job in sample_jobs() {
            let _ = filter.matches(&job);
        }
        let _ = filter.required_values("state");
        let _ = filter.lower_bound("createTime");
    }
}

/// A `fields` mask: parse and apply to a page of jobs.
pub fn fields_one(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(mask) = FieldMask::parse(&text) {
        let page = serde_json::json!({
            "jobs": sample_jobs(),
            "nextPageToken": "12",
        });
        let _ = mask.apply(&page);
    }
}

/// The tail of a TensorBoard event file: framing, CRCs and Event decoding.
pub fn tfrecord_one(data: &[u8]) {
    let mut problems = ReadProblems::default();
    let _ = decode_records(data, &mut problems);
}

/// A prediction request against a float vector input, and against a named string and
/// int64 pair (a pipeline's columns).
pub fn instances_one(data: &[u8]) {
    let vector = [TensorSpec {
        name: "x".into(),
        dtype: "float32".into(),
        shape: vec![None, Some(4)],
    }];
    let columns = [
        TensorSpec {
            name: "color".into(),
            dtype: "string".into(),
            shape: vec![None, Some(1)],
        },
        TensorSpec {
            name: "count".into(),
            dtype: "int64".into(),
            shape: vec![None, Some(1)],
        },
    ];
    let _ = predict::parse_request(data, &vector);
    let _ = predict::parse_request(data, &columns);
}

fn sample_jobs() -> Vec<Job> {
    let mut running = Job {
        job_id: "train_a".into(),
        state: JobState::Running,
        ..Job::default()
    };
    running.labels.insert("team".into(), "vision".into());
    let done = Job {
        job_id: "eval_b".into(),
        state: JobState::Failed,
        create_time: Some(chrono::Utc::now()),
        ..Job::default()
    };
    vec![running, done]
}
