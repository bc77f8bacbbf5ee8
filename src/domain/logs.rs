//! Log entries of a job: what it printed, with a severity, plus the engine's own notes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How serious a log entry is, as Cloud Logging names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// No level known: the platform does not report one and the line states none (Cloud
    /// Logging's DEFAULT). Sorts below every level.
    Default,
    /// Detail for debugging.
    Debug,
    /// Ordinary progress.
    Info,
    /// Something may be wrong.
    Warning,
    /// Something failed.
    Error,
    /// The job cannot go on.
    Critical,
}

impl Severity {
    /// Every severity, least serious first.
    pub const ALL: [Severity; 6] = [
        Severity::Default,
        Severity::Debug,
        Severity::Info,
        Severity::Warning,
        Severity::Error,
        Severity::Critical,
    ];

    /// The wire name, e.g. `WARNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Default => "DEFAULT",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Compact code for storage (stable: logs written before DEFAULT existed keep theirs).
    pub fn to_code(self) -> u8 {
        match self {
            Severity::Debug => 0,
            Severity::Info => 1,
            Severity::Warning => 2,
            Severity::Error => 3,
            Severity::Critical => 4,
            Severity::Default => 5,
        }
    }

    /// The severity of a storage code; unknown codes read as INFO.
    pub fn from_code(code: u8) -> Severity {
        Severity::ALL
            .into_iter()
            .find(|s| s.to_code() == code)
            .unwrap_or(Severity::Info)
    }
}

/// Where a log entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    /// The job's standard output.
    Stdout,
    /// The job's standard error.
    Stderr,
    /// The engine, about the job (queued, started, exited…).
    Engine,
}

impl LogStream {
    /// Compact code for storage.
    pub fn to_code(self) -> u8 {
        match self {
            LogStream::Stdout => 0,
            LogStream::Stderr => 1,
            LogStream::Engine => 2,
        }
    }

    /// The stream of a storage code.
    pub fn from_code(code: u8) -> Option<LogStream> {
        match code {
            0 => Some(LogStream::Stdout),
            1 => Some(LogStream::Stderr),
            2 => Some(LogStream::Engine),
            _ => None,
        }
    }
}

/// One line of a job's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Position in the job's log, from 1, without gaps.
    pub seq: u64,
    /// When the engine read the line.
    pub timestamp: DateTime<Utc>,
    /// The line's own level if it states one, else INFO for stdout and ERROR for stderr.
    pub severity: Severity,
    /// Where the line came from.
    pub stream: LogStream,
    /// The line, without its line ending.
    pub text: String,
}

/// A test log: `lines` as stderr entries numbered from 0, written a second apart from
/// 2023-11-14 22:13:20 UTC (1 700 000 000 s).
#[cfg(test)]
pub(crate) fn test_log(lines: &[&str]) -> Vec<LogEntry> {
    lines
        .iter()
        .enumerate()
        .map(|(i, text)| LogEntry {
            seq: i as u64,
            timestamp: DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap_or_default(),
            severity: Severity::Info,
            stream: LogStream::Stderr,
            text: (*text).to_owned(),
        })
        .collect()
}

/// A run of log entries and where to continue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogPage {
    /// Entries in order.
    pub entries: Vec<LogEntry>,
    /// Pass as `after` to read on from here.
    pub next_after: u64,
    /// True when the job has finished and every entry has been read.
    pub complete: bool,
}

/// The severity a line states for itself, if any: Python logging (`WARNING:root:…`,
/// `2026-11-24 10:00:00,123 - WARNING - …`, `[ERROR] …`) or glog (`E1124 10:00:00.123 …`).
pub fn stated_severity(line: &[u8]) -> Option<Severity> {
    if let Some(s) = glog_severity(line) {
        return Some(s);
    }
    // A level counts when it comes first, after only timestamps and numbers (the words
    // before it hold digits): "WARNING:root:…", "2026-11-24 10:00:00,123 - ERROR - …".
    let head = &line[..line.len().min(96)];
    for word in head
        .split(|b| b.is_ascii_whitespace() || matches!(b, b':' | b'[' | b']' | b'|'))
        .filter(|w| !w.is_empty() && *w != b"-")
    {
        if let Some(severity) = severity_word(word) {
            return Some(severity);
        }
        if !word.iter().any(u8::is_ascii_digit) {
            return None;
        }
    }
    None
}

fn severity_word(word: &[u8]) -> Option<Severity> {
    Some(match word {
        b"DEBUG" => Severity::Debug,
        b"INFO" => Severity::Info,
        b"WARNING" | b"WARN" => Severity::Warning,
        b"ERROR" => Severity::Error,
        b"CRITICAL" | b"FATAL" => Severity::Critical,
        _ => return None,
    })
}

/// glog: `Lmmdd hh:mm:ss.uuuuuu threadid file:line] msg`, L one of I W E F.
fn glog_severity(line: &[u8]) -> Option<Severity> {
    let level = match line.first()? {
        b'I' => Severity::Info,
        b'W' => Severity::Warning,
        b'E' => Severity::Error,
        b'F' => Severity::Critical,
        _ => return None,
    };
    let date = line.get(1..5)?;
    let looks_like_glog = date.iter().all(u8::is_ascii_digit)
        && line.get(5) == Some(&b' ')
        && line.get(8) == Some(&b':');
    looks_like_glog.then_some(level)
}

/// The severity of a line read from `stream`.
pub fn classify(line: &[u8], stream: LogStream) -> Severity {
    stated_severity(line).unwrap_or(match stream {
        LogStream::Stderr => Severity::Error,
        LogStream::Stdout | LogStream::Engine => Severity::Info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_the_level_they_state() {
        let cases: &[(&str, LogStream, Severity)] = &[
            ("INFO:root:epoch 1", LogStream::Stderr, Severity::Info),
            (
                "WARNING:tensorflow:slow",
                LogStream::Stderr,
                Severity::Warning,
            ),
            ("ERROR:trainer:bad", LogStream::Stdout, Severity::Error),
            ("CRITICAL:root:dead", LogStream::Stdout, Severity::Critical),
            ("DEBUG:root:x", LogStream::Stdout, Severity::Debug),
            (
                "2026-11-24 10:00:00,123 - WARNING - disk",
                LogStream::Stdout,
                Severity::Warning,
            ),
            ("[ERROR] boom", LogStream::Stdout, Severity::Error),
            (
                "I1124 10:00:00.123456 1234 main.cc:10] hello",
                LogStream::Stderr,
                Severity::Info,
            ),
            (
                "W1124 10:00:00.123456 1234 main.cc:10] hm",
                LogStream::Stdout,
                Severity::Warning,
            ),
            (
                "E1124 10:00:00.123456 1234 main.cc:10] no",
                LogStream::Stdout,
                Severity::Error,
            ),
            (
                "F1124 10:00:00.123456 1234 main.cc:10] x",
                LogStream::Stdout,
                Severity::Critical,
            ),
            ("plain output", LogStream::Stdout, Severity::Info),
            (
                "Traceback (most recent call last):",
                LogStream::Stderr,
                Severity::Error,
            ),
            (
                "loss 0.3 no ERROR here in words far beyond",
                LogStream::Stdout,
                Severity::Info,
            ),
            ("Epoch 1/10", LogStream::Stdout, Severity::Info),
            ("I am a sentence", LogStream::Stderr, Severity::Error),
        ];
        for (line, stream, want) in cases {
            assert_eq!(classify(line.as_bytes(), *stream), *want, "{line}");
        }
    }

    #[test]
    fn codes_round_trip() {
        for s in Severity::ALL {
            assert_eq!(Severity::from_code(s.to_code()), s);
        }
        for s in [LogStream::Stdout, LogStream::Stderr, LogStream::Engine] {
            assert_eq!(LogStream::from_code(s.to_code()), Some(s));
        }
    }
}
