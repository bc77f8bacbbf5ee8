//! Alerts on running jobs: a job that stops writing its log or advancing its step for a
//! while, a NaN or infinity in its log or scalars, memory over a share of the machine.
//! Rules are set per job or per filter; [`AlertWatch`] turns what is observed into
//! alerts, each raised once per job.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use regex::Regex;
use serde::{Deserialize, Serialize};

use super::{ConnectionId, Filter, Job, LogEntry};

/// What an alert watches, and which jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    /// The jobs' connection.
    pub connection: ConnectionId,
    /// One job, or…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// …every running job this gcloud-style filter matches (empty: every job).
    #[serde(default)]
    pub filter: String,
    /// Raise when the log and the step stand still this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_secs: Option<u64>,
    /// Raise when the log prints a NaN or an infinity, or a scalar becomes one.
    #[serde(default)]
    pub non_finite: bool,
    /// Raise when resident memory passes this share of the machine's (percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_percent: Option<f64>,
}

impl AlertRule {
    /// A rule on one job with the usual limits: 10 minutes still, NaN/inf, 90 % memory.
    pub fn for_job(connection: &ConnectionId, job_id: &str) -> AlertRule {
        AlertRule {
            connection: connection.clone(),
            job_id: Some(job_id.to_owned()),
            filter: String::new(),
            stall_secs: Some(600),
            non_finite: true,
            memory_percent: Some(90.0),
        }
    }

    /// Whether the rule covers `job` of `connection`.
    pub fn covers(&self, connection: &ConnectionId, job: &Job) -> bool {
        if &self.connection != connection {
            return false;
        }
        match &self.job_id {
            Some(id) => id == &job.job_id,
            None => Filter::parse::<Job>(&self.filter).is_ok_and(|f| f.matches(job)),
        }
    }

    /// What the rule covers, in words.
    pub fn scope(&self) -> String {
        match &self.job_id {
            Some(id) => format!("job {id}"),
            None if self.filter.trim().is_empty() => "every running job".into(),
            None => format!("running jobs matching {}", self.filter),
        }
    }
}

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertKind {
    /// Log and step stood still.
    Stalled,
    /// A NaN or infinity was printed or written as a scalar.
    NonFinite,
    /// Memory passed its share.
    Memory,
}

/// An alert to tell the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The job's id.
    pub job_id: String,
    /// Why.
    pub kind: AlertKind,
    /// In words, for the notification.
    pub text: String,
}

/// What is known of one watched job.
#[derive(Debug, Clone)]
struct Progress {
    /// Log entries read so far.
    after: u64,
    /// The highest step printed.
    step: Option<u64>,
    /// The highest step among the job dir's scalars.
    scalar_step: Option<i64>,
    /// When the log or the step last moved (or the job was first seen).
    moved: DateTime<Utc>,
}

static STEP: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\bstep[\s=:#]*(\d+)").ok());

/// The alerts of every watched job: what was read of each, and what was raised.
#[derive(Debug, Default)]
pub struct AlertWatch {
    jobs: BTreeMap<String, Progress>,
    raised: BTreeSet<(String, AlertKind)>,
}

impl AlertWatch {
    /// Where to read `job`'s log from next.
    pub fn log_position(&self, job: &str) -> u64 {
        self.jobs.get(job).map_or(0, |p| p.after)
    }

    /// Takes new log entries of `job`; answers a NaN/inf alert when `rule` wants one.
    pub fn observe_log(
        &mut self,
        job: &str,
        entries: &[LogEntry],
        next_after: u64,
        rule: &AlertRule,
        now: DateTime<Utc>,
    ) -> Option<Alert> {
        let progress = self.progress(job, now);
        progress.after = next_after;
        let mut moved = false;
        let mut bad = None;
        for e in entries {
            let step = STEP
                .as_ref()
                .and_then(|r| r.captures(&e.text))
                .and_then(|c| c.get(1)?.as_str().parse::<u64>().ok());
            match (step, progress.step) {
                (Some(s), Some(best)) if s > best => {
                    progress.step = Some(s);
                    moved = true;
                }
                (Some(s), None) => {
                    progress.step = Some(s);
                    moved = true;
                }
                // Lines without a step move a job that never printed one.
                (None, None) => moved = true,
                _ => {}
            }
            if bad.is_none() && super::failure::non_finite(&e.text) {
                bad = Some(e.text.trim().to_owned());
            }
        }
        if moved {
            progress.moved = now;
        }
        let text = bad.filter(|_| rule.non_finite)?;
        self.raise(
            job,
            AlertKind::NonFinite,
            format!("{job} printed a NaN or infinity: {text}"),
        )
    }

    /// Takes new scalars of `job`'s job dir (tag, step, value, in the order written):
    /// a step past the highest seen is progress, and a NaN or infinity answers an alert
    /// when `rule` wants one.
    pub fn observe_scalars<'a>(
        &mut self,
        job: &str,
        scalars: impl IntoIterator<Item = (&'a str, i64, f64)>,
        rule: &AlertRule,
        now: DateTime<Utc>,
    ) -> Option<Alert> {
        let progress = self.progress(job, now);
        let mut bad = None;
        for (tag, step, value) in scalars {
            if progress.scalar_step.is_none_or(|best| step > best) {
                progress.scalar_step = Some(step);
                progress.moved = now;
            }
            if bad.is_none() && !value.is_finite() {
                bad = Some((tag.to_owned(), step, value));
            }
        }
        let (tag, step, value) = bad.filter(|_| rule.non_finite)?;
        self.raise(
            job,
            AlertKind::NonFinite,
            format!("{job}'s scalar {tag} became {value} at step {step}"),
        )
    }

    fn progress(&mut self, job: &str, now: DateTime<Utc>) -> &mut Progress {
        self.jobs.entry(job.to_owned()).or_insert(Progress {
            after: 0,
            step: None,
            scalar_step: None,
            moved: now,
        })
    }

    /// Answers a memory alert when `memory` passes `rule`'s share of `machine`.
    pub fn observe_memory(
        &mut self,
        job: &str,
        memory: u64,
        machine: u64,
        rule: &AlertRule,
    ) -> Option<Alert> {
        let limit = rule.memory_percent?;
        if machine == 0 {
            return None;
        }
        let share = memory as f64 * 100.0 / machine as f64;
        if share <= limit {
            return None;
        }
        self.raise(
            job,
            AlertKind::Memory,
            format!("{job} holds {share:.0} % of the machine's memory (alert above {limit:.0} %)"),
        )
    }

    /// Answers a stall alert when `job` has not moved for `rule`'s time.
    pub fn check_stall(
        &mut self,
        job: &str,
        rule: &AlertRule,
        now: DateTime<Utc>,
    ) -> Option<Alert> {
        let secs = rule.stall_secs?;
        let progress = self.jobs.get(job)?;
        let still = (now - progress.moved).num_seconds().max(0) as u64;
        if still < secs {
            return None;
        }
        let what = match (progress.step, progress.scalar_step) {
            (Some(step), _) => format!("its step has stayed at {step}"),
            (None, Some(step)) => format!("its scalars' step has stayed at {step}"),
            (None, None) => "its log has not grown".to_owned(),
        };
        self.raise(
            job,
            AlertKind::Stalled,
            format!("{job} looks stalled: {what} for {}", minutes(still)),
        )
    }

    /// Forgets jobs no longer watched (they ended or left every rule).
    pub fn retain(&mut self, watched: &BTreeSet<String>) {
        self.jobs.retain(|id, _| watched.contains(id));
    }

    fn raise(&mut self, job: &str, kind: AlertKind, text: String) -> Option<Alert> {
        self.raised.insert((job.to_owned(), kind)).then(|| Alert {
            job_id: job.to_owned(),
            kind,
            text,
        })
    }
}

fn minutes(secs: u64) -> String {
    if secs < 120 {
        format!("{secs} s")
    } else {
        format!("{} min", secs / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LogStream, Severity};

    fn entry(text: &str) -> LogEntry {
        LogEntry {
            seq: 1,
            timestamp: Utc::now(),
            severity: Severity::Info,
            stream: LogStream::Stdout,
            text: text.into(),
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    fn rule() -> AlertRule {
        AlertRule {
            stall_secs: Some(60),
            ..AlertRule::for_job(&ConnectionId::local(), "j")
        }
    }

    #[test]
    fn a_step_that_stands_still_stalls_once_even_while_lines_come() {
        let (mut w, r) = (AlertWatch::default(), rule());
        assert!(
            w.observe_log("j", &[entry("step 10 loss=1")], 1, &r, at(0))
                .is_none()
        );
        assert!(w.check_stall("j", &r, at(30)).is_none());
        w.observe_log("j", &[entry("waiting for data, step 10")], 2, &r, at(50));
        let alert = w.check_stall("j", &r, at(61)).unwrap();
        assert_eq!(alert.kind, AlertKind::Stalled);
        assert!(
            alert.text.contains("step has stayed at 10"),
            "{}",
            alert.text
        );
        assert!(w.check_stall("j", &r, at(200)).is_none(), "raised once");
        assert_eq!(w.log_position("j"), 2);
    }

    #[test]
    fn scalars_that_advance_are_progress_and_a_nan_among_them_alerts_once() {
        let (mut w, r) = (AlertWatch::default(), rule());
        // No step printed, but the job dir's scalars advance: not stalled.
        w.observe_log("j", &[entry("loading")], 1, &r, at(0));
        for t in 1..=5 {
            let step = t * 100;
            assert!(
                w.observe_scalars("j", [("loss", step, 0.5)], &r, at(t * 30))
                    .is_none()
            );
        }
        assert!(w.check_stall("j", &r, at(200)).is_none());
        // A step written again is not progress.
        w.observe_scalars("j", [("loss", 500, 0.4)], &r, at(160));
        let stalled = w.check_stall("j", &r, at(211)).unwrap();
        assert!(
            stalled.text.contains("scalars' step has stayed at 500"),
            "{}",
            stalled.text
        );
        let nan = w
            .observe_scalars(
                "j",
                [("acc", 600, 0.9), ("loss", 600, f64::NAN)],
                &r,
                at(250),
            )
            .unwrap();
        assert_eq!(nan.kind, AlertKind::NonFinite);
        assert_eq!(nan.text, "j's scalar loss became NaN at step 600");
        assert!(
            w.observe_scalars("j", [("loss", 700, f64::INFINITY)], &r, at(260))
                .is_none(),
            "raised once"
        );
    }

    #[test]
    fn nan_and_memory_alerts_follow_their_rule() {
        let (mut w, r) = (AlertWatch::default(), rule());
        let a = w
            .observe_log("j", &[entry("step 3 loss=nan")], 1, &r, at(0))
            .unwrap();
        assert_eq!(a.kind, AlertKind::NonFinite);
        assert!(
            w.observe_log("j", &[entry("step 4 loss=nan")], 2, &r, at(1))
                .is_none()
        );
        let off = AlertRule {
            non_finite: false,
            ..rule()
        };
        assert!(
            w.observe_log("k", &[entry("loss=inf")], 1, &off, at(0))
                .is_none()
        );
        assert!(w.observe_memory("j", 80, 100, &r).is_none());
        assert!(
            w.observe_memory("j", 95, 100, &r)
                .unwrap()
                .text
                .contains("95 %")
        );
    }

    #[test]
    fn rules_cover_a_job_or_a_filter_on_their_connection() {
        let job = Job {
            job_id: "train_1".into(),
            labels: [("team".to_owned(), "vision".to_owned())].into(),
            ..Job::default()
        };
        let local = ConnectionId::local();
        assert!(AlertRule::for_job(&local, "train_1").covers(&local, &job));
        let by_filter = AlertRule {
            job_id: None,
            filter: "labels.team=vision".into(),
            ..rule()
        };
        assert!(by_filter.covers(&local, &job));
        assert!(!by_filter.covers(&ConnectionId::new("other"), &job));
    }
}
