//! Signalling a job's process group only while it is still the job's: a job's leader
//! can exit and its pid, and so the group id, be reused by an unrelated program; a
//! signal then would hit that program. Every process of a job carries
//! `MLCONSOLE_JOB_ID=<id>` in its environment (the engine sets it), which a reused pid
//! does not.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Who is in a process group, as far as `/proc` tells.
#[derive(Debug, PartialEq, Eq)]
pub enum GroupOwner {
    /// A process of the group belongs to the job.
    Job,
    /// The group has processes, none of them the job's.
    Other,
    /// No process is in the group.
    Empty,
    /// `/proc` cannot be read: nothing can be checked.
    Unknown,
}

/// Who holds process group `pgid`: job `job_id` or someone else.
pub fn owner(pgid: i32, job_id: &str) -> GroupOwner {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return GroupOwner::Unknown;
    };
    let marker = format!("MLCONSOLE_JOB_ID={job_id}");
    let mut members = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if process_group_of(pid) != Some(pgid) {
            continue;
        }
        members += 1;
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            return GroupOwner::Job;
        }
    }
    if members == 0 {
        GroupOwner::Empty
    } else {
        GroupOwner::Other
    }
}

/// The process group of `pid`, from `/proc/<pid>/stat` (field 5, after the command name
/// in parentheses, which may itself hold spaces and parentheses).
fn process_group_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(2)?.parse().ok()
}

/// Sends `signal` to the job's process group if it is still the job's; answers whether
/// it was sent.
pub fn signal_job_group(pgid: i32, job_id: &str, signal: Signal) -> bool {
    match owner(pgid, job_id) {
        GroupOwner::Job | GroupOwner::Unknown => killpg(Pid::from_raw(pgid), signal).is_ok(),
        GroupOwner::Other => {
            tracing::warn!(
                "not signalling process group {pgid}: it no longer belongs to job {job_id} (its pid was reused)"
            );
            false
        }
        GroupOwner::Empty => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn a_group_is_the_jobs_only_while_a_process_of_the_job_is_in_it() {
        let mut job = Command::new("sleep")
            .arg("30")
            .env("MLCONSOLE_JOB_ID", "j1")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(job.id()).unwrap();
        // Under load the new process's environment may not be readable at once.
        for _ in 0..100 {
            if owner(pgid, "j1") == GroupOwner::Job {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(owner(pgid, "j1"), GroupOwner::Job);
        // The same group seen as another job's: a reused pid.
        assert_eq!(owner(pgid, "j2"), GroupOwner::Other);
        assert!(!signal_job_group(pgid, "j2", Signal::SIGKILL));
        assert!(job.try_wait().unwrap().is_none(), "not signalled");
        assert!(signal_job_group(pgid, "j1", Signal::SIGKILL));
        job.wait().unwrap();
        assert_eq!(owner(pgid, "j1"), GroupOwner::Empty);
    }

    #[test]
    fn stat_names_with_spaces_and_parentheses_are_read() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(process_group_of(me).is_some());
    }
}
