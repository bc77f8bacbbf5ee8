//! What went wrong in a job, read from its log and its resource samples: the exception
//! with its traceback (Python, a Rust panic), out-of-memory signs, the first NaN/inf,
//! the last lines before exit and the memory and CPU at the end.
//!
//! The log is fed as it streams ([`FailureScan::feed`]), keeping only a bounded tail and
//! the last traceback, so a long log costs no more than a short one.

use std::collections::VecDeque;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;

use super::{LogEntry, ResourceSample};

/// Lines kept from the end of the log.
const TAIL: usize = 400;
/// Lines of a traceback kept (its first and last frames matter; the middle is folded).
const MAX_TRACE: usize = 200;
/// The last lines before exit the card shows.
const LAST_LINES: usize = 12;
/// Memory at the end within this share of the peak counts as "at its peak".
const AT_PEAK: f64 = 0.9;

/// A log line the card points at.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRef {
    /// The entry's position in the job's log.
    pub seq: u64,
    /// When it was written.
    pub time: DateTime<Utc>,
    /// Its text.
    pub text: String,
}

impl From<&LogEntry> for LineRef {
    fn from(e: &LogEntry) -> LineRef {
        LineRef {
            seq: e.seq,
            time: e.timestamp,
            text: e.text.clone(),
        }
    }
}

/// The exception (or panic) the job ended on.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// `ValueError`, `torch.OutOfMemoryError`, `panic`…
    pub kind: String,
    /// What it said.
    pub message: String,
    /// The line that names it.
    pub line: LineRef,
    /// The traceback, first line (`Traceback …`) to the exception line.
    pub trace: Vec<LineRef>,
}

/// Why a job is thought to have run out of memory.
#[derive(Debug, Clone, PartialEq)]
pub struct OutOfMemory {
    /// In words, e.g. "killed by SIGKILL with memory at its peak (3.1 GiB)".
    pub reason: String,
    /// The log line that says so, when one does.
    pub line: Option<LineRef>,
}

/// A resource sample the card points at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleRef {
    /// When it was taken.
    pub time: DateTime<Utc>,
    /// Resident memory then.
    pub memory_bytes: u64,
    /// CPU then.
    pub cpu_percent: f64,
}

impl From<&ResourceSample> for SampleRef {
    fn from(s: &ResourceSample) -> SampleRef {
        SampleRef {
            time: s.time,
            memory_bytes: s.memory_bytes,
            cpu_percent: s.cpu_percent,
        }
    }
}

/// A scalar the card points at: where it was written and its value there.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarRef {
    /// The log dir it was read from.
    pub dir: String,
    /// `run/tag`, or the tag of the dir's own run.
    pub tag: String,
    /// The step it was written at.
    pub step: i64,
    /// Its value (NaN or an infinity).
    pub value: f64,
    /// Seconds since the epoch.
    pub wall_time: f64,
}

/// What went wrong in one job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FailureCard {
    /// The last exception or panic in the log.
    pub exception: Option<Exception>,
    /// Signs that it ran out of memory.
    pub out_of_memory: Option<OutOfMemory>,
    /// The first line that printed a NaN or an infinity.
    pub non_finite: Option<LineRef>,
    /// The first scalar in the job dir that is a NaN or an infinity.
    pub non_finite_scalar: Option<ScalarRef>,
    /// The last lines before exit.
    pub last_lines: Vec<LineRef>,
    /// The last resource sample.
    pub end: Option<SampleRef>,
    /// The sample with the most memory.
    pub peak: Option<SampleRef>,
}

impl FailureCard {
    /// Whether the card has anything beyond the last lines.
    pub fn has_findings(&self) -> bool {
        self.exception.is_some()
            || self.out_of_memory.is_some()
            || self.non_finite.is_some()
            || self.non_finite_scalar.is_some()
    }
}

/// Reads a log as it streams and keeps what a [`FailureCard`] needs.
#[derive(Debug, Default)]
pub struct FailureScan {
    tail: VecDeque<LogEntry>,
    trace: Option<Trace>,
    last_exception: Option<Exception>,
    oom_line: Option<LineRef>,
    non_finite: Option<LineRef>,
}

#[derive(Debug)]
struct Trace {
    lines: Vec<LineRef>,
    folded: usize,
    /// A Rust panic's message is on the line after its header.
    panic: bool,
}

// The patterns are fixed and tested: `None` (never) would mean "no match".
static PYTHON_EXCEPTION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Fault)|[A-Za-z_][\w.]*\.[A-Z]\w*)(?::\s?(.*))?$")
        .ok()
});
static NON_FINITE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[\s=:,(\[])[-+]?(?:nan|inf|infinity)(?:$|[\s,;)\]])").ok()
});
static OOM: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)out of memory|OutOfMemoryError|MemoryError|std::bad_alloc|ResourceExhausted|OOM when allocating|oom-kill|running low on memory|ran out-of-memory|Cannot allocate memory")
        .ok()
});

impl FailureScan {
    /// Takes the next entries of the log, in order.
    pub fn feed(&mut self, entries: &[LogEntry]) {
        for entry in entries {
            self.line(entry);
            if self.tail.len() == TAIL {
                self.tail.pop_front();
            }
            self.tail.push_back(entry.clone());
        }
    }

    fn line(&mut self, entry: &LogEntry) {
        let text = entry.text.trim_end();
        if self.non_finite.is_none() && is_match(&NON_FINITE, text) {
            self.non_finite = Some(entry.into());
        }
        if is_match(&OOM, text) {
            self.oom_line = Some(entry.into());
        }
        if let Some(trace) = &mut self.trace {
            if trace.panic {
                // `thread 'main' panicked at src/main.rs:4:5:` then the message.
                trace.lines.push(entry.into());
                let header = trace.lines[0].text.trim_end();
                let message = match header.split_once("panicked at ") {
                    Some((_, rest)) if rest.ends_with(':') => text.to_owned(),
                    Some((_, rest)) => rest.to_owned(),
                    None => text.to_owned(),
                };
                self.finish_trace("panic".into(), message, entry);
                return;
            }
            let frame = text.starts_with(' ') || text.starts_with('\t') || text.is_empty();
            if frame {
                if trace.lines.len() < MAX_TRACE {
                    trace.lines.push(entry.into());
                } else {
                    trace.folded += 1;
                }
                return;
            }
            if let Some(caps) = PYTHON_EXCEPTION.as_ref().and_then(|r| r.captures(text)) {
                let kind = caps.get(1).map_or("", |m| m.as_str()).to_owned();
                let message = caps.get(2).map_or("", |m| m.as_str()).to_owned();
                trace.lines.push(entry.into());
                self.finish_trace(kind, message, entry);
                return;
            }
            // Something else interleaved (another stream): the traceback goes on.
            trace_push(trace, entry);
            return;
        }
        if text.starts_with("Traceback (most recent call last)") {
            self.trace = Some(Trace {
                lines: vec![entry.into()],
                folded: 0,
                panic: false,
            });
        } else if text.starts_with("thread '") && text.contains("' panicked at ") {
            let header = text.split_once("panicked at ").map_or("", |(_, r)| r);
            self.trace = Some(Trace {
                lines: vec![entry.into()],
                folded: 0,
                panic: true,
            });
            // Before Rust 1.73 the message was in the header: `panicked at 'boom', src/…`.
            if !header.ends_with(':') {
                self.finish_trace("panic".into(), header.to_owned(), entry);
            }
        }
    }

    fn finish_trace(&mut self, kind: String, message: String, entry: &LogEntry) {
        if let Some(trace) = self.trace.take() {
            let mut lines = trace.lines;
            if trace.folded > 0 {
                let at = lines.len().saturating_sub(1).max(1);
                lines.insert(
                    at,
                    LineRef {
                        seq: entry.seq,
                        time: entry.timestamp,
                        text: format!("    … {} more lines …", trace.folded),
                    },
                );
            }
            self.last_exception = Some(Exception {
                kind,
                message,
                line: entry.into(),
                trace: lines,
            });
        }
    }

    /// The card for a job that ended with `error_message` (the platform's reason), given
    /// its resource samples.
    pub fn card(&self, error_message: Option<&str>, samples: &[ResourceSample]) -> FailureCard {
        let end = samples.last().map(SampleRef::from);
        let peak = samples
            .iter()
            .max_by_key(|s| s.memory_bytes)
            .map(SampleRef::from);
        let last_lines = self
            .tail
            .iter()
            .skip(self.tail.len().saturating_sub(LAST_LINES))
            .map(LineRef::from)
            .collect();
        FailureCard {
            exception: self.last_exception.clone(),
            out_of_memory: self.out_of_memory(error_message, end, peak),
            non_finite: self.non_finite.clone(),
            non_finite_scalar: None,
            last_lines,
            end,
            peak,
        }
    }

    fn out_of_memory(
        &self,
        error_message: Option<&str>,
        end: Option<SampleRef>,
        peak: Option<SampleRef>,
    ) -> Option<OutOfMemory> {
        let message = error_message.unwrap_or_default();
        let first_line = message.lines().next().unwrap_or_default();
        if is_match(&OOM, first_line) {
            return Some(OutOfMemory {
                reason: first_line.to_owned(),
                line: self.oom_line.clone(),
            });
        }
        if let Some(line) = &self.oom_line {
            return Some(OutOfMemory {
                reason: format!("the log says: {}", line.text.trim()),
                line: Some(line.clone()),
            });
        }
        let killed = first_line.contains("SIGKILL") || first_line.contains("signal 9");
        if let (true, Some(end), Some(peak)) = (killed, end, peak)
            && peak.memory_bytes > 0
            && end.memory_bytes as f64 >= AT_PEAK * peak.memory_bytes as f64
        {
            return Some(OutOfMemory {
                reason: format!(
                    "killed by SIGKILL with its memory at its peak ({}): most likely the \
                     kernel's out-of-memory killer or a memory limit",
                    bytes(peak.memory_bytes)
                ),
                line: None,
            });
        }
        None
    }
}

/// Whether a line prints a NaN or an infinity as a value (`loss=nan`, `inf`), not as
/// part of a word.
pub fn non_finite(text: &str) -> bool {
    is_match(&NON_FINITE, text)
}

fn is_match(pattern: &LazyLock<Option<Regex>>, text: &str) -> bool {
    pattern.as_ref().is_some_and(|r| r.is_match(text))
}

fn trace_push(trace: &mut Trace, entry: &LogEntry) {
    if trace.lines.len() < MAX_TRACE {
        trace.lines.push(entry.into());
    } else {
        trace.folded += 1;
    }
}

/// Bytes in binary units, e.g. `3.1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::logs::test_log as log;

    fn sample(secs: i64, mib: u64) -> ResourceSample {
        ResourceSample {
            time: DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap(),
            cpu_percent: 90.0,
            memory_bytes: mib << 20,
            gpu_percent: None,
            gpu_memory_bytes: None,
        }
    }

    #[test]
    fn a_python_traceback_is_folded_into_its_exception() {
        let mut scan = FailureScan::default();
        scan.feed(&log(&[
            "epoch 1 loss=0.5",
            "Traceback (most recent call last):",
            "  File \"trainer/task.py\", line 12, in <module>",
            "    main()",
            "  File \"trainer/task.py\", line 9, in main",
            "    raise ValueError(\"learning rate must be positive\")",
            "ValueError: learning rate must be positive",
        ]));
        let card = scan.card(Some("The job exited with code 1."), &[]);
        let e = card.exception.unwrap();
        assert_eq!(e.kind, "ValueError");
        assert_eq!(e.message, "learning rate must be positive");
        assert_eq!(e.line.seq, 6);
        assert_eq!(e.trace.len(), 6);
        assert_eq!(e.trace[0].seq, 1);
        assert!(card.out_of_memory.is_none());
        assert!(card.non_finite.is_none());
        assert_eq!(card.last_lines.len(), 7);
    }

    #[test]
    fn a_chained_exception_reports_the_last_one_raised() {
        let mut scan = FailureScan::default();
        scan.feed(&log(&[
            "Traceback (most recent call last):",
            "  File \"a.py\", line 1, in <module>",
            "KeyError: 'lr'",
            "",
            "During handling of the above exception, another exception occurred:",
            "",
            "Traceback (most recent call last):",
            "  File \"a.py\", line 3, in <module>",
            "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        ]));
        let card = scan.card(Some("The job exited with code 1."), &[]);
        let e = card.exception.unwrap();
        assert_eq!(e.kind, "torch.OutOfMemoryError");
        assert!(e.message.starts_with("CUDA out of memory"));
        let oom = card.out_of_memory.unwrap();
        assert_eq!(oom.line.unwrap().seq, 8);
    }

    #[test]
    fn rust_panics_old_and_new() {
        let mut scan = FailureScan::default();
        scan.feed(&log(&[
            "thread 'main' panicked at src/main.rs:4:5:",
            "index out of bounds: the len is 3 but the index is 7",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
        ]));
        let e = scan.card(None, &[]).exception.unwrap();
        assert_eq!(e.kind, "panic");
        assert_eq!(
            e.message,
            "index out of bounds: the len is 3 but the index is 7"
        );
        assert_eq!(e.line.seq, 1);

        let mut scan = FailureScan::default();
        scan.feed(&log(&["thread 'main' panicked at 'boom', src/main.rs:2:5"]));
        let e = scan.card(None, &[]).exception.unwrap();
        assert_eq!(e.message, "'boom', src/main.rs:2:5");
    }

    #[test]
    fn a_sigkill_at_peak_memory_reads_as_out_of_memory_but_not_one_after_memory_fell() {
        let scan = FailureScan::default();
        let message = "The job was killed by signal 9 (SIGKILL). Last lines of stderr:\n…";
        let rising = [sample(0, 100), sample(1, 900), sample(2, 1000)];
        let oom = scan.card(Some(message), &rising).out_of_memory.unwrap();
        assert!(oom.reason.contains("peak (1000.0 MiB)"), "{}", oom.reason);
        let fell = [sample(0, 100), sample(1, 1000), sample(2, 200)];
        assert!(scan.card(Some(message), &fell).out_of_memory.is_none());
        assert!(
            scan.card(Some("The job exited with code 1."), &rising)
                .out_of_memory
                .is_none()
        );
    }

    #[test]
    fn platforms_own_reasons_count() {
        let scan = FailureScan::default();
        for reason in [
            "Task was killed due to the node running low on memory.",
            "The replica workerpool0-0 ran out-of-memory and exited with a non-zero status of 9(SIGKILL).",
        ] {
            let oom = scan.card(Some(reason), &[]).out_of_memory.unwrap();
            assert_eq!(oom.reason, reason);
        }
    }

    #[test]
    fn the_first_nan_is_found_and_words_that_contain_nan_are_not() {
        let mut scan = FailureScan::default();
        scan.feed(&log(&[
            "INFO took 3 nanoseconds, banana=1 info=2",
            "step 10 loss=0.31",
            "step 20 loss=nan",
            "step 30 loss=inf",
        ]));
        assert_eq!(scan.card(None, &[]).non_finite.unwrap().seq, 2);
        let mut scan = FailureScan::default();
        scan.feed(&log(&["loss: -Infinity", "x"]));
        assert_eq!(scan.card(None, &[]).non_finite.unwrap().seq, 0);
    }

    #[test]
    fn a_long_traceback_is_folded_and_the_tail_is_bounded() {
        let mut lines = vec!["Traceback (most recent call last):".to_owned()];
        for i in 0..1000 {
            lines.push(format!("  File \"f.py\", line {i}, in f"));
        }
        lines.push("RecursionError: maximum recursion depth exceeded".into());
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mut scan = FailureScan::default();
        scan.feed(&log(&refs));
        let e = scan.card(None, &[]).exception.unwrap();
        assert_eq!(e.kind, "RecursionError");
        assert_eq!(e.trace.len(), MAX_TRACE + 2);
        assert!(e.trace[MAX_TRACE].text.contains("801 more lines"));
        assert_eq!(scan.tail.len(), TAIL);
    }
}
