//! A Ray job's log, read the way Ray offers it: a finished job's whole file at once
//! (`/api/v0/logs/file?…&lines=-1`), a running job's live through the WebSocket
//! `/api/jobs/{id}/logs/tail`, which replays the file on every (re)connection, so what
//! is already held is skipped. Lines are kept here and handed out by position, as the
//! local engine does; Ray merges stdout and stderr and gives no per-line time or level,
//! so a line's level is the one it states, if any.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt as _;
use reqwest::Method;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite;

use super::client::{RayHttp, USER_AGENT};
use super::jobs::RayJob;
use crate::domain::logs::stated_severity;
use crate::domain::{LogEntry, LogPage, LogStream, Severity};
use crate::platform::PlatformError;

/// Jobs whose logs are kept at once (the one followed and the one before).
const KEPT: usize = 2;

/// The lines of one job so far.
#[derive(Default)]
struct JobLog {
    entries: Vec<LogEntry>,
    /// Bytes of the file received, to skip on a reconnection's replay.
    received: usize,
    /// An unfinished last line.
    partial: String,
    /// The job has ended and every line is here.
    complete: bool,
    error: Option<String>,
}

impl JobLog {
    /// Takes text that continues the file.
    fn push_text(&mut self, text: &str) {
        self.received += text.len();
        self.partial.push_str(text);
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            self.push_line(line.trim_end_matches(['\n', '\r']));
        }
    }

    fn push_line(&mut self, text: &str) {
        self.entries.push(LogEntry {
            seq: self.entries.len() as u64 + 1,
            timestamp: Utc::now(),
            severity: stated_severity(text.as_bytes()).unwrap_or(Severity::Default),
            stream: LogStream::Stdout,
            text: text.to_owned(),
        });
    }

    fn finish(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.push_line(&rest);
        }
        self.complete = true;
    }
}

struct Kept {
    job_id: String,
    log: Arc<Mutex<JobLog>>,
    reader: JoinHandle<()>,
}

/// The logs being read, newest last.
#[derive(Default)]
pub(super) struct Logs {
    kept: Mutex<VecDeque<Kept>>,
}

impl Drop for Logs {
    fn drop(&mut self) {
        if let Ok(kept) = self.kept.lock() {
            for k in kept.iter() {
                k.reader.abort();
            }
        }
    }
}

impl Logs {
    /// Entries after position `after`, starting to read the job's log on first use.
    pub(super) fn read(
        &self,
        http: &Arc<RayHttp>,
        job_id: &str,
        after: u64,
        page_size: usize,
    ) -> Result<LogPage, PlatformError> {
        let log = self.log_of(http, job_id)?;
        let log = log
            .lock()
            .map_err(|_| PlatformError::Protocol("the log reader failed".into()))?;
        if let Some(error) = &log.error
            && log.entries.is_empty()
        {
            return Err(PlatformError::Server(error.clone()));
        }
        let from = (after as usize).min(log.entries.len());
        let to = (from + page_size).min(log.entries.len());
        Ok(LogPage {
            entries: log.entries[from..to].to_vec(),
            next_after: to as u64,
            complete: log.complete && to == log.entries.len(),
        })
    }

    fn log_of(
        &self,
        http: &Arc<RayHttp>,
        job_id: &str,
    ) -> Result<Arc<Mutex<JobLog>>, PlatformError> {
        let mut kept = self
            .kept
            .lock()
            .map_err(|_| PlatformError::Protocol("the log reader failed".into()))?;
        if let Some(k) = kept.iter().find(|k| k.job_id == job_id) {
            return Ok(k.log.clone());
        }
        while kept.len() >= KEPT {
            if let Some(old) = kept.pop_front() {
                old.reader.abort();
            }
        }
        let log = Arc::new(Mutex::new(JobLog::default()));
        let reader = tokio::spawn(read_log(http.clone(), job_id.to_owned(), log.clone()));
        kept.push_back(Kept {
            job_id: job_id.to_owned(),
            log: log.clone(),
            reader,
        });
        Ok(log)
    }
}

async fn job(http: &RayHttp, job_id: &str) -> Result<RayJob, PlatformError> {
    http.json(http.dashboard(Method::GET, &format!("/api/jobs/{job_id}")))
        .await
}

fn with_log(log: &Mutex<JobLog>, f: impl FnOnce(&mut JobLog)) {
    if let Ok(mut log) = log.lock() {
        f(&mut log);
    }
}

/// Fills `log`: all at once for a finished job, else live until the job ends.
async fn read_log(http: Arc<RayHttp>, job_id: String, log: Arc<Mutex<JobLog>>) {
    loop {
        let ray = match job(&http, &job_id).await {
            Ok(ray) => ray,
            Err(e) => {
                with_log(&log, |l| l.error = Some(e.to_string()));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if ray.is_finished() {
            match history(&http, &ray).await {
                Ok(text) => {
                    with_log(&log, |l| {
                        let skip = l.received.min(text.len());
                        if text.is_char_boundary(skip) {
                            l.push_text(&text[skip..]);
                        }
                        l.finish();
                    });
                    return;
                }
                Err(e) => {
                    with_log(&log, |l| l.error = Some(e.to_string()));
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            }
        }
        if let Err(e) = tail(&http, &job_id, &log).await {
            with_log(&log, |l| l.error = Some(e));
        }
        // The server closes the tail a few seconds after the job ends; look again.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The whole log file of a finished job.
async fn history(http: &RayHttp, ray: &RayJob) -> Result<String, PlatformError> {
    let id = ray.submission_id.as_deref().unwrap_or_default();
    let body = match &ray.driver_node_id {
        Some(node) => {
            let path = format!("/api/v0/logs/file?node_id={node}&submission_id={id}&lines=-1");
            match http.send(http.dashboard(Method::GET, &path)).await {
                Ok(body) => String::from_utf8_lossy(&body).into_owned(),
                // A job whose driver never started has no file on a node.
                Err(PlatformError::NotFound(_)) => whole_text(http, id).await?,
                Err(e) => return Err(e),
            }
        }
        None => whole_text(http, id).await?,
    };
    Ok(body)
}

async fn whole_text(http: &RayHttp, id: &str) -> Result<String, PlatformError> {
    #[derive(serde::Deserialize)]
    struct Whole {
        logs: String,
    }
    let whole: Whole = http
        .json(http.dashboard(Method::GET, &format!("/api/jobs/{id}/logs")))
        .await?;
    Ok(whole.logs)
}

/// Follows the live tail until the server closes it, skipping the replay of what the
/// log already holds.
async fn tail(http: &RayHttp, job_id: &str, log: &Mutex<JobLog>) -> Result<(), String> {
    let url = format!(
        "{}/api/jobs/{job_id}/logs/tail",
        http.dashboard.replacen("http", "ws", 1)
    );
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url.as_str())
        .map_err(|e| format!("the log tail address {url} is not valid: {e}"))?;
    let headers = request.headers_mut();
    if let Ok(agent) = USER_AGENT.parse() {
        headers.insert("user-agent", agent);
    }
    if let Some(token) = &http.token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        headers.insert("authorization", value);
    }
    let (mut stream, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("cannot follow the log at {url}: {e}"))?;
    let mut skip = log.lock().map(|l| l.received).unwrap_or(0);
    while let Some(message) = stream.next().await {
        let text = match message {
            Ok(tungstenite::Message::Text(text)) => text.to_string(),
            Ok(tungstenite::Message::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(tungstenite::Message::Close(_)) => break,
            Ok(_) => continue,
            Err(e) => return Err(format!("the log tail broke off: {e}")),
        };
        // A reconnection replays the file from its start: drop what is already held.
        let Some(fresh) = unseen(&mut skip, &text) else {
            continue;
        };
        with_log(log, |l| {
            l.error = None;
            l.push_text(fresh);
        });
    }
    Ok(())
}

/// The part of a replayed frame after the `skip` bytes already held (counting `skip`
/// down), or `None` when all of it was held.
fn unseen<'a>(skip: &mut usize, text: &'a str) -> Option<&'a str> {
    if *skip >= text.len() {
        *skip -= text.len();
        return None;
    }
    let at = std::mem::take(skip);
    text.get(at..).filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_after_reconnecting_adds_only_what_is_new() {
        let mut log = JobLog::default();
        log.push_text("line 1\nline 2\nli");
        // The server replays everything in frames of its own choosing.
        let mut skip = log.received;
        for frame in ["line 1\n", "line 2\nline 3\n", "line 4\n"] {
            if let Some(fresh) = unseen(&mut skip, frame) {
                log.push_text(fresh);
            }
        }
        let texts: Vec<&str> = log.entries.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["line 1", "line 2", "line 3", "line 4"]);
    }

    #[test]
    fn text_becomes_numbered_lines_with_the_levels_they_state() {
        let mut log = JobLog::default();
        let parts = [
            "2026-12-01 21:06:39,049\tINFO job_manager.py:581 -- Runtime env is setting up.\nstep 0 lo",
            "ss=1.0\nWARNING:root:slow\n",
            "tail without newline",
        ];
        for part in parts {
            log.push_text(part);
        }
        assert_eq!(log.entries.len(), 3);
        assert_eq!(log.entries[0].severity, Severity::Info);
        assert_eq!(log.entries[1].text, "step 0 loss=1.0");
        assert_eq!(
            log.entries[1].severity,
            Severity::Default,
            "no level stated"
        );
        assert_eq!(log.entries[2].severity, Severity::Warning);
        assert_eq!(log.entries[2].seq, 3);
        log.finish();
        assert!(log.complete);
        assert_eq!(log.entries[3].text, "tail without newline");
        assert_eq!(log.received, parts.iter().map(|p| p.len()).sum::<usize>());
    }
}
