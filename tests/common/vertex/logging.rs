//! Cloud Logging's entries:list over the jobs' logs.

use super::*;

pub(super) fn entries_list(s: &State, config: &FakeConfig, body: Option<&Value>) -> (u16, Value) {
    let Some(body) = body else {
        return error(400, "INVALID_ARGUMENT", "empty body");
    };
    let filter = body["filter"].as_str().unwrap_or_default();
    let job_id = regex::Regex::new(r#"resource\.labels\.job_id="([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| c[1].to_owned());
    let bound = regex::Regex::new(r#"timestamp(>=|>)"([^"]+)""#)
        .unwrap()
        .captures(filter)
        .map(|c| {
            (
                c[1].to_owned(),
                DateTime::parse_from_rfc3339(&c[2]).map(|t| t.with_timezone(&Utc)),
            )
        });
    let mut entries = Vec::new();
    for job in &s.jobs {
        let id = job.value["name"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        if job_id.as_deref().is_some_and(|j| j != id) || job.kind != "customJobs" {
            continue;
        }
        for (n, (time, severity, text, stream)) in job_log(job, config).into_iter().enumerate() {
            match &bound {
                Some((op, Ok(t))) if op == ">=" && time < *t => continue,
                Some((op, Ok(t))) if op == ">" && time <= *t => continue,
                Some((_, Err(_))) => {
                    return error(400, "INVALID_ARGUMENT", "bad timestamp in filter");
                }
                _ => {}
            }
            entries.push(json!({
                "logName": format!("projects/{}/logs/workerpool0-0", config.project).replace("workerpool0-0", if stream == "stderr" { "stderr" } else { "stdout" }),
                "resource": {"type": "ml_job", "labels": {"job_id": id, "project_id": config.project, "task_name": "workerpool0-0"}},
                "textPayload": text,
                "timestamp": time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "receiveTimestamp": time.to_rfc3339_opts(SecondsFormat::Nanos, true),
                "severity": severity,
                "insertId": format!("{id}-{n}"),
                "labels": {"ml.googleapis.com/task_name": "workerpool0-0"},
            }));
        }
    }
    if body["orderBy"] == "timestamp desc" {
        entries.reverse();
    }
    let query = vec![
        (
            "pageSize".to_owned(),
            body["pageSize"].as_u64().unwrap_or(50).to_string(),
        ),
        (
            "pageToken".to_owned(),
            body["pageToken"].as_str().unwrap_or("0").to_owned(),
        ),
    ];
    (200, page(&entries, "entries", &query))
}
