//! A custom job's log from Cloud Logging `entries:list`: read in pages, then followed by
//! polling with `timestamp>=` the newest entry seen, de-duplicated by `insertId`. One
//! request at a time per connection, and a pause after a 429, to stay inside the read
//! quota (60 requests a minute per project).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::client::VertexHttp;
use crate::domain::{LogEntry, LogPage, LogStream, Severity};
use crate::platform::PlatformError;

/// Entries asked for per page (the API's maximum is 1000).
const PAGE: usize = 1000;
/// Entries still arrive this long after a job ends (Logging's ingestion delay).
const INGESTION_LAG: Duration = Duration::from_secs(20);

/// `ListLogEntriesRequest`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest<'a> {
    resource_names: Vec<String>,
    filter: String,
    order_by: &'static str,
    page_size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_token: Option<&'a str>,
}

/// `ListLogEntriesResponse`.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ListResponse {
    entries: Vec<CloudEntry>,
    next_page_token: Option<String>,
}

/// `LogEntry` (the fields used).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CloudEntry {
    insert_id: String,
    timestamp: Option<DateTime<Utc>>,
    receive_timestamp: Option<DateTime<Utc>>,
    severity: String,
    text_payload: Option<String>,
    json_payload: Option<serde_json::Value>,
    log_name: String,
}

impl CloudEntry {
    fn text(&self) -> String {
        if let Some(text) = &self.text_payload {
            return text.clone();
        }
        match &self.json_payload {
            Some(json) => json
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| json.to_string(), str::to_owned),
            None => String::new(),
        }
    }
}

/// A Cloud Logging severity name as the console's.
pub fn severity(name: &str) -> Severity {
    match name {
        "DEBUG" => Severity::Debug,
        "INFO" | "NOTICE" => Severity::Info,
        "WARNING" => Severity::Warning,
        "ERROR" => Severity::Error,
        "CRITICAL" | "ALERT" | "EMERGENCY" => Severity::Critical,
        _ => Severity::Default,
    }
}

#[derive(Default)]
struct JobLog {
    entries: Vec<LogEntry>,
    seen: HashSet<String>,
    newest: Option<DateTime<Utc>>,
    fetched: Option<Instant>,
    /// When the last fetch started, in wall time (for "complete").
    fetched_at: Option<DateTime<Utc>>,
}

/// The logs read so far, per job.
pub(super) struct Logs {
    jobs: std::sync::Mutex<HashMap<String, JobLog>>,
    /// One `entries:list` at a time; holds when the quota allows the next one.
    gate: tokio::sync::Mutex<Option<Instant>>,
    /// Least time between two reads of one job's new entries.
    pub min_poll: Duration,
    /// How long after a job ends its log is still read.
    pub lag: Duration,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            jobs: std::sync::Mutex::default(),
            gate: tokio::sync::Mutex::new(None),
            min_poll: Duration::from_secs(3),
            lag: INGESTION_LAG,
        }
    }
}

impl Logs {
    /// Entries of job `id` after position `after`; `ended` is when the job ended, if it has.
    pub async fn read(
        &self,
        http: &VertexHttp,
        id: &str,
        ended: Option<DateTime<Utc>>,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError> {
        let due = {
            let jobs = lock(&self.jobs);
            match jobs.get(id) {
                Some(log) if (after as usize) < log.entries.len() => {
                    return Ok(slice(log, after, page_size, ended, self.lag));
                }
                Some(log) => {
                    let done = complete(log, ended, self.lag);
                    !done && log.fetched.is_none_or(|t| t.elapsed() >= self.min_poll)
                }
                None => true,
            }
        };
        if due {
            self.fetch(http, id).await?;
        }
        let jobs = lock(&self.jobs);
        Ok(jobs
            .get(id)
            .map(|log| slice(log, after, page_size, ended, self.lag))
            .unwrap_or(LogPage {
                entries: Vec::new(),
                next_after: after,
                complete: false,
            }))
    }

    async fn fetch(&self, http: &VertexHttp, id: &str) -> Result<(), PlatformError> {
        let mut gate = self.gate.lock().await;
        if let Some(until) = *gate
            && Instant::now() < until
        {
            return Ok(()); // quota pause; the next poll tries again
        }
        let started = Utc::now();
        let newest = lock(&self.jobs).get(id).and_then(|l| l.newest);
        let mut filter = format!("resource.type=\"ml_job\" AND resource.labels.job_id=\"{id}\"");
        if let Some(t) = newest {
            // `>=`, not `>`: entries written in the same instant as the newest one seen
            // may not have been indexed yet; insertId drops the ones already read.
            filter.push_str(&format!(
                " AND timestamp>=\"{}\"",
                t.to_rfc3339_opts(SecondsFormat::Nanos, true)
            ));
        }
        let url = format!("{}/v2/entries:list", http.logging);
        let mut token: Option<String> = None;
        loop {
            let request = ListRequest {
                resource_names: vec![format!("projects/{}", http.project)],
                filter: filter.clone(),
                order_by: "timestamp asc",
                page_size: PAGE,
                page_token: token.as_deref(),
            };
            let page: Result<ListResponse, _> = http
                .call(
                    "read the job's log",
                    Method::POST,
                    &url,
                    &[],
                    Some(&request),
                )
                .await;
            let page = match page {
                Ok(page) => page,
                Err(PlatformError::Rejected { status, .. }) if status == "RESOURCE_EXHAUSTED" => {
                    *gate = Some(Instant::now() + Duration::from_secs(30));
                    return Ok(());
                }
                Err(e) => return Err(e),
            };
            let mut jobs = lock(&self.jobs);
            let log = jobs.entry(id.to_owned()).or_default();
            for entry in page.entries {
                if !entry.insert_id.is_empty() && !log.seen.insert(entry.insert_id.clone()) {
                    continue;
                }
                let timestamp = entry
                    .timestamp
                    .or(entry.receive_timestamp)
                    .unwrap_or_else(Utc::now);
                log.newest = log.newest.max(Some(timestamp));
                let stream = if entry.log_name.ends_with("%2Fstderr")
                    || entry.log_name.ends_with("/stderr")
                {
                    LogStream::Stderr
                } else {
                    LogStream::Stdout
                };
                log.entries.push(LogEntry {
                    seq: log.entries.len() as u64,
                    timestamp,
                    severity: severity(&entry.severity),
                    stream,
                    text: entry.text(),
                });
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => {
                    log.fetched = Some(Instant::now());
                    log.fetched_at = Some(started);
                    return Ok(());
                }
            }
        }
    }
}

fn complete(log: &JobLog, ended: Option<DateTime<Utc>>, lag: Duration) -> bool {
    match (ended, log.fetched_at) {
        (Some(end), Some(fetched)) => {
            fetched - end > chrono::Duration::from_std(lag).unwrap_or_default()
        }
        _ => false,
    }
}

fn slice(
    log: &JobLog,
    after: u64,
    page_size: usize,
    ended: Option<DateTime<Utc>>,
    lag: Duration,
) -> LogPage {
    let start = (after as usize).min(log.entries.len());
    let end = (start + page_size.max(1)).min(log.entries.len());
    LogPage {
        entries: log.entries[start..end].to_vec(),
        next_after: end as u64,
        complete: end == log.entries.len() && complete(log, ended, lag),
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
