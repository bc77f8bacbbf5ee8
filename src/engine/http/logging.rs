//! A subset of Cloud Logging v2 over the jobs' logs: `POST /v2/entries:list`, the call
//! `gcloud ai-platform jobs stream-logs` and the Logs Explorer read a job's log with.
//! Entries come from the engine's own log index (no copy), in the `LogEntry` shape,
//! filtered with the Logging query language the console's filter parser reads
//! (`resource.labels.job_id="…"`, `timestamp>="…"`, `severity>=WARNING`,
//! `textPayload:"…"`, AND/OR/NOT, parentheses).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::constants::PROJECT;
use super::error::{ApiError, ErrorBody};
use super::extract::json_body;
use crate::domain::filter::{FieldKind, FieldValue, Filterable};
use crate::domain::{Filter, Job, LogEntry, LogStream, Severity};
use crate::engine::{Engine, joblog};

/// Entries per page when `pageSize` is not given, and the most allowed (as Logging).
pub const ENTRIES_PAGE: (usize, usize) = (50, 1000);
/// How far before a time bound a job's log is read from: lines of stdout and stderr are
/// indexed in turns, so their times are in order only to within this.
const TIME_SLACK_US: i64 = 10_000_000;
/// The task every entry of a local job belongs to, as Cloud ML Engine names its chief.
const TASK: &str = "master-replica-0";

/// Cloud Logging's severities and their numbers.
pub const SEVERITIES: [(&str, i64); 9] = [
    ("DEFAULT", 0),
    ("DEBUG", 100),
    ("INFO", 200),
    ("NOTICE", 300),
    ("WARNING", 400),
    ("ERROR", 500),
    ("CRITICAL", 600),
    ("ALERT", 700),
    ("EMERGENCY", 800),
];

fn severity_rank(text: &str) -> Option<i64> {
    SEVERITIES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, n)| *n)
        .or_else(|| text.parse().ok())
}

fn logging_severity(s: Severity) -> (&'static str, i64) {
    let name = s.as_str();
    (name, severity_rank(name).unwrap_or(0))
}

/// The body of `entries:list`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListLogEntriesRequest {
    /// Where to read: `projects/local`.
    #[serde(default)]
    pub resource_names: Vec<String>,
    /// Deprecated form of `resourceNames`: `["local"]`.
    #[serde(default)]
    pub project_ids: Vec<String>,
    /// A Logging query, e.g. `resource.labels.job_id="train_1" AND severity>=WARNING`.
    #[serde(default)]
    pub filter: String,
    /// `timestamp asc` (the default) or `timestamp desc`.
    #[serde(default)]
    pub order_by: String,
    /// Entries a page, 1–1000 (default 50).
    #[serde(default)]
    pub page_size: Option<i64>,
    /// From `nextPageToken` of the page before.
    #[serde(default)]
    pub page_token: Option<String>,
}

/// A page of entries.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListLogEntriesResponse {
    /// The entries, in the order asked for.
    pub entries: Vec<LoggingEntry>,
    /// Pass as `pageToken` for the next page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// A log line in Cloud Logging's `LogEntry` shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggingEntry {
    /// `projects/local/logs/ml.googleapis.com%2F<job>`.
    pub log_name: String,
    /// The job the line belongs to.
    pub resource: MonitoredResource,
    /// The line as the job wrote it.
    pub text_payload: String,
    /// When the engine read the line (RFC 3339, microseconds).
    pub timestamp: String,
    /// The same: the engine receives a line when it reads it.
    pub receive_timestamp: String,
    /// `DEFAULT`, `DEBUG`, `INFO`, `WARNING`, `ERROR` or `CRITICAL`.
    pub severity: String,
    /// Unique within the job and ordered as its log: the position, zero-padded.
    pub insert_id: String,
    /// `ml.googleapis.com/task_name` and where the line came from (`stream`).
    pub labels: BTreeMap<String, String>,
}

/// What a log entry is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonitoredResource {
    /// `ml_job`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `job_id`, `project_id`, `task_name`.
    pub labels: BTreeMap<String, String>,
}

/// One line of one job, as the filter sees it.
struct Candidate<'a> {
    job_id: &'a str,
    entry: &'a LogEntry,
    insert_id: &'a str,
}

impl Filterable for Candidate<'_> {
    fn field_kind(key: &str) -> Option<FieldKind> {
        match key {
            "resource.type"
            | "resource.labels.job_id"
            | "resource.labels.project_id"
            | "resource.labels.task_name"
            | "logName"
            | "textPayload"
            | "insertId" => Some(FieldKind::Text),
            "timestamp" | "receiveTimestamp" => Some(FieldKind::Time),
            "severity" => Some(FieldKind::Rank {
                rank: severity_rank,
                names: "a severity (DEFAULT, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL, ALERT, EMERGENCY) or its number",
            }),
            k if k.starts_with("labels.") && k.len() > 7 => Some(FieldKind::Text),
            _ => None,
        }
    }

    fn known_fields() -> Vec<&'static str> {
        vec![
            "resource.type",
            "resource.labels.job_id",
            "resource.labels.project_id",
            "resource.labels.task_name",
            "logName",
            "timestamp",
            "receiveTimestamp",
            "severity",
            "textPayload",
            "insertId",
            "labels.*",
        ]
    }

    fn field(&self, key: &str) -> FieldValue<'_> {
        let text = |t: &'static str| FieldValue::Text(Cow::Borrowed(t));
        match key {
            "resource.type" => text("ml_job"),
            "resource.labels.job_id" => FieldValue::Text(Cow::Borrowed(self.job_id)),
            "resource.labels.project_id" => text(PROJECT),
            "resource.labels.task_name" | "labels.ml.googleapis.com/task_name" => text(TASK),
            "logName" => FieldValue::Text(Cow::Owned(log_name(self.job_id))),
            "textPayload" => FieldValue::Text(Cow::Borrowed(&self.entry.text)),
            "insertId" => FieldValue::Text(Cow::Borrowed(self.insert_id)),
            "timestamp" | "receiveTimestamp" => FieldValue::Time(self.entry.timestamp),
            "severity" => FieldValue::Rank(logging_severity(self.entry.severity).1),
            "labels.stream" => text(stream_name(self.entry.stream)),
            "labels.task_name" => text(TASK),
            _ => FieldValue::Missing,
        }
    }
}

fn log_name(job_id: &str) -> String {
    format!("projects/{PROJECT}/logs/ml.googleapis.com%2F{job_id}")
}

fn stream_name(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::Engine => "engine",
    }
}

fn insert_id(seq: u64) -> String {
    format!("{seq:020}")
}

fn to_logging(job_id: &str, entry: &LogEntry) -> LoggingEntry {
    let time = entry.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true);
    LoggingEntry {
        log_name: log_name(job_id),
        resource: MonitoredResource {
            kind: "ml_job".into(),
            labels: [
                ("job_id".to_owned(), job_id.to_owned()),
                ("project_id".to_owned(), PROJECT.to_owned()),
                ("task_name".to_owned(), TASK.to_owned()),
            ]
            .into(),
        },
        text_payload: entry.text.clone(),
        timestamp: time.clone(),
        receive_timestamp: time,
        severity: logging_severity(entry.severity).0.to_owned(),
        insert_id: insert_id(entry.seq),
        labels: [
            ("ml.googleapis.com/task_name".to_owned(), TASK.to_owned()),
            ("stream".to_owned(), stream_name(entry.stream).to_owned()),
        ]
        .into(),
    }
}

/// Where a page ends: the last entry's time, job and position. The next page starts
/// after it (ascending) or before it (descending).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Cursor {
    time_us: i64,
    job: String,
    seq: u64,
}

impl Cursor {
    fn token(&self, descending: bool) -> String {
        let order = if descending { "d" } else { "a" };
        format!("{order}.{}.{}.{}", self.time_us, self.seq, self.job)
    }

    fn parse(token: &str, descending: bool) -> Option<Cursor> {
        let mut parts = token.splitn(4, '.');
        let order = parts.next()?;
        if order != if descending { "d" } else { "a" } {
            return None;
        }
        Some(Cursor {
            time_us: parts.next()?.parse().ok()?,
            seq: parts.next()?.parse().ok()?,
            job: parts.next()?.to_owned(),
        })
    }
}

/// Lists log entries of the engine's jobs.
#[utoipa::path(post, path = "/v2/entries:list", tag = "logging", security(("bearer" = [])),
    request_body = ListLogEntriesRequest,
    responses(
        (status = 200, description = "A page of entries", body = ListLogEntriesResponse),
        (status = 400, description = "A resource name, filter, order or page token not understood (a filter error names its column)", body = ErrorBody)))]
pub async fn list_entries(
    State(engine): State<Arc<Engine>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ListLogEntriesResponse>, ApiError> {
    let request: ListLogEntriesRequest = json_body(body, "ListLogEntriesRequest")?;
    let resources: Vec<String> = request
        .resource_names
        .iter()
        .cloned()
        .chain(request.project_ids.iter().map(|p| format!("projects/{p}")))
        .collect();
    if resources.is_empty() {
        return Err(ApiError::invalid(format!(
            "resourceNames: give [\"projects/{PROJECT}\"]"
        )));
    }
    if let Some(other) = resources
        .iter()
        .find(|r| *r != &format!("projects/{PROJECT}"))
    {
        return Err(ApiError::invalid(format!(
            "resourceNames: {other:?} is not here; the local engine's logs are under projects/{PROJECT}"
        )));
    }
    let filter = Filter::parse::<Candidate>(&request.filter)
        .map_err(|e| ApiError::invalid(format!("filter: {e}")))?;
    let descending = match request.order_by.trim().to_ascii_lowercase().as_str() {
        "" | "timestamp" | "timestamp asc" => false,
        "timestamp desc" => true,
        other => {
            return Err(ApiError::invalid(format!(
                "orderBy {other:?}: give \"timestamp asc\" or \"timestamp desc\""
            )));
        }
    };
    let (default, max) = ENTRIES_PAGE;
    let size = match request.page_size {
        None | Some(0) => default,
        Some(n) if n > 0 && n as usize <= max => n as usize,
        Some(n) => {
            return Err(ApiError::invalid(format!(
                "pageSize must be from 1 to {max}, not {n}"
            )));
        }
    };
    let cursor = match &request.page_token {
        None => None,
        Some(t) if t.is_empty() => None,
        Some(token) => Some(Cursor::parse(token, descending).ok_or_else(|| {
            ApiError::invalid(format!(
                "pageToken {token:?} is not one this call gave for this order"
            ))
        })?),
    };
    let jobs: Vec<String> = match filter.required_values("resource.labels.job_id") {
        Some(ids) => ids,
        None => every_job(&engine),
    };
    let dirs: Vec<(String, std::path::PathBuf)> = jobs
        .into_iter()
        .map(|id| {
            let dir = engine.job_state_dir(&id);
            (id, dir)
        })
        .collect();
    let page = tokio::task::spawn_blocking(move || {
        read_page(&dirs, &filter, descending, size, cursor.as_ref())
    })
    .await
    .map_err(|e| ApiError::internal(format!("reading the logs failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("reading the logs failed: {e}")))?;
    Ok(Json(page))
}

/// Every job's id, newest first.
pub fn every_job(engine: &Engine) -> Vec<String> {
    let Ok(all) = Filter::parse::<Job>("") else {
        return Vec::new();
    };
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let (jobs, next) = engine.store().list(&all, 1000, before);
        ids.extend(jobs.into_iter().map(|j| j.job_id));
        match next {
            Some(n) => before = Some(n),
            None => return ids,
        }
    }
}

/// One page across `dirs` (each a job's log), in time order.
fn read_page(
    dirs: &[(String, std::path::PathBuf)],
    filter: &Filter,
    descending: bool,
    size: usize,
    cursor: Option<&Cursor>,
) -> std::io::Result<ListLogEntriesResponse> {
    let lower = filter
        .lower_bound("timestamp")
        .map(|t| t.timestamp_micros());
    let from = match (lower, cursor) {
        (Some(l), Some(c)) if !descending => Some(l.max(c.time_us)),
        (None, Some(c)) if !descending => Some(c.time_us),
        (l, _) => l,
    };
    let mut found: Vec<(Cursor, LogEntry)> = Vec::new();
    for (job, dir) in dirs {
        let count = match joblog::entry_count(dir) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let mut after = match from {
            Some(t) => first_at_or_after(dir, count, t - TIME_SLACK_US)?,
            None => 0,
        };
        let mut taken = 0;
        while after < count {
            let entries = joblog::read_entries(dir, after, 10_000)?;
            let Some(last) = entries.last() else {
                break;
            };
            after = last.seq;
            for entry in entries {
                let key = Cursor {
                    time_us: entry.timestamp.timestamp_micros(),
                    job: job.clone(),
                    seq: entry.seq,
                };
                let past_cursor =
                    cursor.is_none_or(|c| if descending { key < *c } else { key > *c });
                let id = insert_id(entry.seq);
                let candidate = Candidate {
                    job_id: job,
                    entry: &entry,
                    insert_id: &id,
                };
                if past_cursor && filter.matches(&candidate) {
                    found.push((key, entry));
                    taken += 1;
                }
            }
            // Ascending, a job's first `size` matches are all a page can use.
            if !descending && taken > size {
                break;
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    if descending {
        found.reverse();
    }
    let more = found.len() > size;
    found.truncate(size);
    let next_page_token = if more {
        found.last().map(|(c, _)| c.token(descending))
    } else {
        None
    };
    Ok(ListLogEntriesResponse {
        entries: found.iter().map(|(c, e)| to_logging(&c.job, e)).collect(),
        next_page_token,
    })
}

/// The position after which a job's entries are at or after `time_us` (binary search
/// over the index; entries are in time order to within [`TIME_SLACK_US`]).
fn first_at_or_after(dir: &FsPath, count: u64, time_us: i64) -> std::io::Result<u64> {
    let time_of = |after: u64| -> std::io::Result<i64> {
        Ok(joblog::read_entries(dir, after, 1)?
            .first()
            .map_or(i64::MAX, |e| e.timestamp.timestamp_micros()))
    };
    let (mut lo, mut hi) = (0u64, count);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if time_of(mid)? < time_us {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// A time as Logging writes it (for tests and clients of this module).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn entry(seq: u64, severity: Severity, text: &str) -> LogEntry {
        LogEntry {
            seq,
            timestamp: DateTime::from_timestamp_micros(1_796_000_000_000_000 + seq as i64 * 1000)
                .unwrap(),
            severity,
            stream: LogStream::Stdout,
            text: text.into(),
        }
    }

    fn select(filter: &str, entries: &[LogEntry]) -> Vec<u64> {
        let f = Filter::parse::<Candidate>(filter).unwrap_or_else(|e| panic!("{filter}: {e}"));
        entries
            .iter()
            .filter(|e| {
                let id = insert_id(e.seq);
                f.matches(&Candidate {
                    job_id: "train_1",
                    entry: e,
                    insert_id: &id,
                })
            })
            .map(|e| e.seq)
            .collect()
    }

    #[test]
    fn the_filters_gcloud_and_the_logs_explorer_use_select_what_they_should() {
        let entries = [
            entry(1, Severity::Info, "epoch 1 loss 0.5"),
            entry(2, Severity::Warning, "slow step"),
            entry(3, Severity::Error, "NaN loss"),
            entry(4, Severity::Default, "plain"),
        ];
        let job = r#"(resource.type="ml_job" OR resource.type="cloudml_job") AND resource.labels.job_id="train_1""#;
        assert_eq!(select(job, &entries), [1, 2, 3, 4]);
        assert_eq!(
            select(r#"resource.labels.job_id="other""#, &entries),
            Vec::<u64>::new()
        );
        assert_eq!(
            select(&format!("{job} AND severity>=WARNING"), &entries),
            [2, 3]
        );
        assert_eq!(select("severity=DEFAULT", &entries), [4]);
        assert_eq!(select(r#"textPayload:"loss""#, &entries), [1, 3]);
        assert_eq!(
            select(r#"NOT textPayload:"loss" AND severity<ERROR"#, &entries),
            [2, 4]
        );
        let t2 = format_time(entries[1].timestamp);
        let gcloud_window = format!(
            r#"{job} AND ((timestamp="{t2}" AND insertId>"{}") OR timestamp>"{t2}") AND timestamp<"2099-01-01T00:00:00.000000+00:00""#,
            insert_id(1)
        );
        assert_eq!(select(&gcloud_window, &entries), [2, 3, 4]);
        let e = Filter::parse::<Candidate>("severity>=LOUD").unwrap_err();
        assert!(e.message.contains("severity"), "{e}");
        let e = Filter::parse::<Candidate>("jsonPayload.x=1").unwrap_err();
        assert_eq!(e.position, 0);
    }

    #[test]
    fn page_tokens_resume_after_their_entry() {
        let c = Cursor {
            time_us: 12,
            job: "a.b".into(),
            seq: 7,
        };
        assert_eq!(Cursor::parse(&c.token(false), false), Some(c.clone()));
        assert_eq!(Cursor::parse(&c.token(false), true), None);
        assert_eq!(Cursor::parse("garbage", false), None);
    }
}
