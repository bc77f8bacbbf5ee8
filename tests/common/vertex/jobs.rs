//! Custom, batch prediction and hyperparameter tuning jobs: create, list (filtered,
//! paged), get, cancel; a tuning job's trials follow its state.

use super::*;

/// The jobs calls; `None` when the call is not one of them.
pub(super) fn route(s: &mut State, config: &FakeConfig, call: &Call<'_>) -> Option<(u16, Value)> {
    let Call {
        method,
        parent,
        parts,
        verb,
        query,
        body,
        ..
    } = *call;
    Some(match (method.as_str(), parts, verb) {
        (
            "POST",
            [kind @ ("customJobs" | "batchPredictionJobs" | "hyperparameterTuningJobs")],
            None,
        ) => {
            let Some(body) = body else {
                return Some(error(400, "INVALID_ARGUMENT", "empty body"));
            };
            if body["displayName"].as_str().unwrap_or_default().is_empty() {
                return Some(error(400, "INVALID_ARGUMENT", "display_name is required"));
            }
            s.next_id += 1;
            let id = s.next_id;
            let mut value = body.clone();
            value["name"] = json!(format!("{parent}/{kind}/{id}"));
            let fail = body.to_string().contains("--fail");
            let job = FakeJob {
                value,
                created: Instant::now(),
                created_at: Utc::now(),
                cancelled: None,
                fail,
                kind: (*kind).to_owned(),
            };
            let view = job_view(&job, config);
            s.jobs.push(job);
            (200, view)
        }
        (
            "GET",
            [kind @ ("customJobs" | "batchPredictionJobs" | "hyperparameterTuningJobs")],
            None,
        ) => {
            let filter = param(query, "filter");
            let mut items: Vec<Value> = s
                .jobs
                .iter()
                .filter(|j| j.kind == *kind)
                .map(|j| job_view(j, config))
                .filter(|v| matches_filter(v, filter))
                .collect();
            items.reverse();
            (200, page(&items, kind, query))
        }
        (
            "GET",
            [
                kind @ ("customJobs" | "batchPredictionJobs" | "hyperparameterTuningJobs"),
                id,
            ],
            None,
        ) => {
            let name = format!("{parent}/{kind}/{id}");
            match s.jobs.iter().find(|j| j.value["name"] == name.as_str()) {
                Some(job) => (200, job_view(job, config)),
                None => error(
                    404,
                    "NOT_FOUND",
                    &format!("The CustomJob \"{name}\" does not exist."),
                ),
            }
        }
        (
            "POST",
            [
                kind @ ("customJobs" | "batchPredictionJobs" | "hyperparameterTuningJobs"),
                id,
            ],
            Some("cancel"),
        ) => {
            let name = format!("{parent}/{kind}/{id}");
            let Some(job) = s.jobs.iter_mut().find(|j| j.value["name"] == name.as_str()) else {
                return Some(error(404, "NOT_FOUND", "no such job"));
            };
            let state = job_view(job, config)["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if matches!(
                state.as_str(),
                "JOB_STATE_SUCCEEDED" | "JOB_STATE_FAILED" | "JOB_STATE_CANCELLED"
            ) {
                return Some(error(
                    400,
                    "FAILED_PRECONDITION",
                    &format!("Cannot cancel the job {name} in state {state}."),
                ));
            }
            job.cancelled = Some(Instant::now());
            (200, json!({}))
        }
        _ => return None,
    })
}

pub(super) fn job_view(job: &FakeJob, config: &FakeConfig) -> Value {
    let mut v = job.value.clone();
    let age = job.created.elapsed();
    let at = |d: Duration| job.created_at + chrono::Duration::from_std(d).unwrap();
    let running_from = config.pending_for;
    let ends = config.pending_for + config.run_for;
    let (state, start, end, update) = match job.cancelled {
        Some(c) => {
            let since = c.duration_since(job.created);
            let started = (since >= running_from).then(|| at(running_from));
            if age < since + Duration::from_millis(300) {
                ("JOB_STATE_CANCELLING", started, None, at(since))
            } else {
                let end = at(since + Duration::from_millis(300));
                ("JOB_STATE_CANCELLED", started, Some(end), end)
            }
        }
        None if age < running_from => ("JOB_STATE_PENDING", None, None, job.created_at),
        None if age < ends => (
            "JOB_STATE_RUNNING",
            Some(at(running_from)),
            None,
            at(running_from),
        ),
        None if job.fail => (
            "JOB_STATE_FAILED",
            Some(at(running_from)),
            Some(at(ends)),
            at(ends),
        ),
        None => (
            "JOB_STATE_SUCCEEDED",
            Some(at(running_from)),
            Some(at(ends)),
            at(ends),
        ),
    };
    v["state"] = json!(state);
    v["createTime"] = json!(stamp(job.created_at));
    v["updateTime"] = json!(stamp(update));
    if let Some(t) = start {
        v["startTime"] = json!(stamp(t));
    }
    if let Some(t) = end {
        v["endTime"] = json!(stamp(t));
    }
    if state == "JOB_STATE_FAILED" {
        v["error"] = json!({"code": 3, "message": "The replica workerpool0-0 exited with a non-zero status of 1. To find out more about why your job exited please check the logs: https://console.cloud.google.com/logs/viewer?project=mlc-test-project&resource=ml_job%2Fjob_id%2F1"});
    }
    if state == "JOB_STATE_CANCELLED" {
        v["error"] = json!({"code": 1, "message": "CANCELED"});
    }
    if job.kind == "hyperparameterTuningJobs" {
        v["trials"] = json!(trials(&job.value, state));
    }
    if job.kind == "batchPredictionJobs" && state == "JOB_STATE_SUCCEEDED" {
        v["completionStats"] =
            json!({"successfulCount": "3", "failedCount": "0", "incompleteCount": "0"});
        v["outputInfo"] = json!({"gcsOutputDirectory": format!("{}/prediction-1", v["outputConfig"]["gcsDestination"]["outputUriPrefix"].as_str().unwrap_or_default())});
    }
    v
}

/// A tuning job's trials in `state`: none while pending, the first parallel ones active
/// while running, every one measured once it succeeded (trial i scores i / 10).
fn trials(value: &Value, state: &str) -> Vec<Value> {
    let count = |v: &Value| v.as_i64().or_else(|| v.as_str()?.parse().ok()).unwrap_or(1);
    let total = count(&value["maxTrialCount"]);
    let parallel = count(&value["parallelTrialCount"]);
    let metric = value["studySpec"]["metrics"][0]["metricId"].clone();
    let (shown, done) = match state {
        "JOB_STATE_RUNNING" | "JOB_STATE_CANCELLING" | "JOB_STATE_CANCELLED" => {
            (parallel.min(total), false)
        }
        "JOB_STATE_SUCCEEDED" | "JOB_STATE_FAILED" => (total, true),
        _ => (0, false),
    };
    let params = value["studySpec"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    (1..=shown)
        .map(|i| {
            let parameters: Vec<Value> = params
                .iter()
                .map(|p| {
                    let value = if let Some(values) = p["categoricalValueSpec"]["values"].as_array()
                    {
                        values[(i as usize - 1) % values.len()].clone()
                    } else if let Some(values) = p["discreteValueSpec"]["values"].as_array() {
                        values[(i as usize - 1) % values.len()].clone()
                    } else if p["integerValueSpec"].is_object() {
                        json!(count(&p["integerValueSpec"]["minValue"]) + i - 1)
                    } else {
                        json!(p["doubleValueSpec"]["minValue"].as_f64().unwrap_or(0.0) * i as f64)
                    };
                    json!({"parameterId": p["parameterId"], "value": value})
                })
                .collect();
            let mut trial = json!({"id": i.to_string(), "parameters": parameters,
                                   "state": if done { "SUCCEEDED" } else { "ACTIVE" }});
            if done {
                trial["finalMeasurement"] = json!({"stepCount": "10",
                    "metrics": [{"metricId": metric, "value": i as f64 / 10.0}]});
            }
            trial
        })
        .collect()
}

/// The log lines a job has written by now: (timestamp, severity, text, stream).
pub(super) fn job_log(
    job: &FakeJob,
    config: &FakeConfig,
) -> Vec<(DateTime<Utc>, &'static str, String, &'static str)> {
    let at = |d: Duration| job.created_at + chrono::Duration::from_std(d).unwrap();
    let mut lines = vec![(
        at(Duration::ZERO),
        "INFO",
        "Waiting for job to be provisioned.".to_owned(),
        "stdout",
    )];
    let start = config.pending_for;
    let stop = job
        .cancelled
        .map(|c| c.duration_since(job.created))
        .unwrap_or(start + config.run_for);
    lines.push((at(start), "INFO", "Job is running.".into(), "stdout"));
    for epoch in 1..=5u32 {
        let t = start + config.run_for * epoch / 6;
        if t >= stop {
            break;
        }
        let severity = if epoch == 3 { "WARNING" } else { "INFO" };
        lines.push((
            at(t),
            severity,
            format!("epoch {epoch}/5 loss={:.3}", 1.0 / f64::from(epoch)),
            "stderr",
        ));
    }
    if job.cancelled.is_some() {
        lines.push((at(stop), "INFO", "Job was cancelled.".into(), "stdout"));
    } else if job.fail {
        lines.push((
            at(stop),
            "ERROR",
            "ValueError: the training data has no rows".into(),
            "stderr",
        ));
        lines.push((
            at(stop),
            "ERROR",
            "The replica workerpool0-0 exited with a non-zero status of 1.".into(),
            "stdout",
        ));
    } else {
        lines.push((
            at(stop),
            "INFO",
            "Job completed successfully.".into(),
            "stdout",
        ));
    }
    let now = Utc::now();
    lines.retain(|(t, ..)| *t <= now);
    lines
}

/// `update_time>="T"` style terms of a list filter, applied to a job's JSON.
pub(super) fn matches_filter(job: &Value, filter: Option<&str>) -> bool {
    let Some(filter) = filter else { return true };
    // The AIP-160 forms the client sends: time comparisons, `state=` (alone or an OR
    // group in parentheses), `display_name=` and `labels.KEY=`; others pass.
    let equal = regex::Regex::new(r#"^(state|display_name|labels\.[\w-]+)="([^"]*)"$"#).unwrap();
    let time = regex::Regex::new(r#"^(update_time|create_time)(>=|>|<=|<|=)"([^"]+)"$"#).unwrap();
    filter.split(" AND ").all(|term| {
        let term = term.trim();
        if let Some(group) = term.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            return group
                .split(" OR ")
                .any(|alt| matches_filter(job, Some(alt)));
        }
        if let Some(caps) = equal.captures(term) {
            let have = match &caps[1] {
                "state" => job["state"].as_str(),
                "display_name" => job["displayName"].as_str(),
                label => job["labels"][label.trim_start_matches("labels.")].as_str(),
            };
            return have == Some(&caps[2]);
        }
        let Some(caps) = time.captures(term) else {
            return true;
        };
        let field = if &caps[1] == "update_time" {
            "updateTime"
        } else {
            "createTime"
        };
        let (Some(have), Ok(want)) = (
            job[field]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
            DateTime::parse_from_rfc3339(&caps[3]),
        ) else {
            return false;
        };
        match &caps[2] {
            ">=" => have >= want,
            ">" => have > want,
            "<=" => have <= want,
            "<" => have < want,
            _ => have == want,
        }
    })
}
