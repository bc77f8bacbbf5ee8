//! A job's log held compactly in memory: one text buffer and a small fixed record per
//! line, so a million lines cost tens of megabytes, not a String each.

use chrono::{DateTime, Utc};

use crate::domain::{JobKey, LogEntry, LogStream, Severity};

/// One line's place in the buffer.
#[derive(Debug, Clone, Copy)]
pub struct LineMeta {
    start: usize,
    len: u32,
    /// The line's severity.
    pub severity: Severity,
    /// Where it came from.
    pub stream: LogStream,
    time_us: i64,
    /// The entry's position in the job's log.
    pub seq: u64,
}

impl LineMeta {
    /// When the engine read the line.
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.time_us).unwrap_or_default()
    }
}

/// The log of one job, in order.
#[derive(Default)]
pub struct LogBuffer {
    job: Option<JobKey>,
    text: String,
    lines: Vec<LineMeta>,
    complete: bool,
    /// Changes when the buffer is reset to another job.
    generation: u64,
}

impl LogBuffer {
    /// Empties the buffer for `job`.
    pub fn reset(&mut self, job: Option<JobKey>) {
        self.job = job;
        self.text = String::new();
        self.lines = Vec::new();
        self.complete = false;
        self.generation += 1;
    }

    /// Appends entries that continue the log.
    pub fn append(&mut self, entries: &[LogEntry]) {
        self.lines.reserve(entries.len());
        for entry in entries {
            let start = self.text.len();
            self.text.push_str(&entry.text);
            self.lines.push(LineMeta {
                start,
                len: entry.text.len() as u32,
                severity: entry.severity,
                stream: entry.stream,
                time_us: entry.timestamp.timestamp_micros(),
                seq: entry.seq,
            });
        }
    }

    /// Marks the log as complete: the job ended and every line is here.
    pub fn set_complete(&mut self, complete: bool) {
        self.complete = complete;
    }

    /// True once the job ended and every line is here.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// The job whose log this is.
    pub fn job_id(&self) -> Option<&str> {
        self.job.as_ref().map(|k| k.job_id.as_str())
    }

    /// The job the buffer holds the log of.
    pub fn job(&self) -> Option<&JobKey> {
        self.job.as_ref()
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when there are no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Changes when the buffer is reset.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Line `i`'s record.
    pub fn meta(&self, i: usize) -> &LineMeta {
        &self.lines[i]
    }

    /// Line `i`'s text.
    pub fn text(&self, i: usize) -> &str {
        let m = &self.lines[i];
        &self.text[m.start..m.start + m.len as usize]
    }

    /// The line holding entry `seq`, if it is here.
    pub fn line_of_seq(&self, seq: u64) -> Option<usize> {
        let i = self.lines.partition_point(|m| m.seq < seq);
        (self.lines.get(i)?.seq == seq).then_some(i)
    }

    /// The lines written from `from` up to (not including) `to`: lines are in the order
    /// they were read, which is time order to within the engine's read interval.
    pub fn lines_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> std::ops::Range<usize> {
        let (from, to) = (from.timestamp_micros(), to.timestamp_micros());
        let start = self.lines.partition_point(|m| m.time_us < from);
        let end = self.lines.partition_point(|m| m.time_us < to).max(start);
        start..end
    }

    /// Bytes held, for the memory benchmark.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.lines.capacity() * std::mem::size_of::<LineMeta>()
    }
}
