//! Cloud Monitoring's timeSeries of the jobs' CPU, memory and accelerators.

use super::*;

pub(super) fn time_series(
    s: &State,
    config: &FakeConfig,
    query: &[(String, String)],
) -> (u16, Value) {
    let filter = param(query, "filter").unwrap_or_default();
    let metric = regex::Regex::new(r#"metric\.type="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned())
        .unwrap_or_default();
    let job_id = regex::Regex::new(r#"resource\.labels\.job_id="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned());
    if param(query, "interval.endTime").is_none() {
        return error(
            400,
            "INVALID_ARGUMENT",
            "Field interval.end_time had an invalid value: the interval is required.",
        );
    }
    let mut series = Vec::new();
    for job in s.jobs.iter().filter(|j| j.kind == "customJobs") {
        let accelerated =
            job.value["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorCount"]
                .as_i64()
                .unwrap_or(0)
                > 0;
        if metric.contains("/accelerator/") && !accelerated {
            continue;
        }
        let id = job.value["name"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if job_id.as_deref().is_some_and(|j| j != id) {
            continue;
        }
        let pools = job.value["jobSpec"]["workerPoolSpecs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let replicas: Vec<String> = pools
            .iter()
            .enumerate()
            .flat_map(|(p, pool)| {
                let n: usize = pool["replicaCount"]
                    .as_str()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                (0..n).map(move |r| format!("workerpool{p}-{r}"))
            })
            .collect();
        let start = job.created_at + chrono::Duration::from_std(config.pending_for).unwrap();
        let end = job.created_at
            + chrono::Duration::from_std(config.pending_for + config.run_for).unwrap();
        for (r, replica) in replicas.iter().enumerate() {
            let mut points = Vec::new();
            let mut t = start + chrono::Duration::milliseconds(100);
            while t <= end.min(Utc::now()) {
                let value = if metric.ends_with("cpu/utilization") {
                    0.5 + 0.1 * r as f64
                } else if metric.ends_with("accelerator/utilization") {
                    0.8
                } else {
                    0.25
                };
                points.push(json!({"interval": {"startTime": stamp(t), "endTime": stamp(t)}, "value": {"doubleValue": value}}));
                t += chrono::Duration::milliseconds(200);
            }
            points.reverse();
            if points.is_empty() {
                continue;
            }
            series.push(json!({
                "metric": {"type": metric, "labels": {}},
                "resource": {"type": "cloudml_job", "labels": {"job_id": id, "project_id": config.project, "task_name": replica}},
                "metricKind": "GAUGE",
                "valueType": "DOUBLE",
                "points": points,
            }));
        }
    }
    (200, page(&series, "timeSeries", query))
}
