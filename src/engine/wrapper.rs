//! `mlconsole job-wrapper`: the small supervisor between the engine and a job.
//!
//! It leaves the engine's session, starts the job in a process group of its own with
//! stdout and stderr going to files, writes the job's pid, waits, and records how the
//! job ended in `exit.json`. The engine can die and restart meanwhile: the job keeps
//! running and its outcome is not lost.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::joblog::{STDERR_FILE, STDOUT_FILE};

/// The file holding the job process's pid, written once it started.
pub const PID_FILE: &str = "child.pid";
/// The file recording how the job ended.
pub const EXIT_FILE: &str = "exit.json";

/// How a job's process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExitRecord {
    /// Exit code, when it exited normally.
    pub code: Option<i32>,
    /// The signal that killed it.
    pub signal: Option<i32>,
    /// Why it could not be started at all.
    pub spawn_error: Option<String>,
}

/// Runs `argv` as the job whose state lives in `state_dir`; returns when the job ended.
/// The job's output files are private; the job itself runs with `umask` when given (the
/// user's own, where the engine runs under a stricter one).
pub fn run(state_dir: &Path, argv: &[String], umask: Option<u32>) -> io::Result<()> {
    // Our own session: no terminal hang-up or Ctrl+C aimed at the engine reaches the job.
    let _ = nix::unistd::setsid();
    let record = match spawn_and_wait(state_dir, argv, umask) {
        Ok(status) => ExitRecord {
            code: status.code(),
            signal: status.signal(),
            spawn_error: None,
        },
        Err(e) => ExitRecord {
            code: None,
            signal: None,
            spawn_error: Some(format!(
                "{e} (running {:?})",
                argv.first().map_or("", String::as_str)
            )),
        },
    };
    write_atomically(&state_dir.join(EXIT_FILE), &serde_json::to_vec(&record)?)
}

fn spawn_and_wait(
    state_dir: &Path,
    argv: &[String],
    umask: Option<u32>,
) -> io::Result<std::process::ExitStatus> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command line"))?;
    let open = |name: &str| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(state_dir.join(name))
    };
    let (stdout, stderr) = (open(STDOUT_FILE)?, open(STDERR_FILE)?);
    if let Some(mask) = umask {
        super::private_dir::set_umask(mask);
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0)
        .spawn()?;
    write_atomically(&state_dir.join(PID_FILE), child.id().to_string().as_bytes())?;
    child.wait()
}

/// Writes a file so that readers see all of it or nothing, readable only by this user.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    crate::atomic_file::write_private(path, bytes)
}

/// The job's pid, once the wrapper started it.
pub fn read_pid(state_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(state_dir.join(PID_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How the job ended, once it did.
pub fn read_exit(state_dir: &Path) -> Option<ExitRecord> {
    let bytes = std::fs::read(state_dir.join(EXIT_FILE)).ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or(ExitRecord {
        code: None,
        signal: None,
        spawn_error: Some(format!(
            "the job's exit record is unreadable: {}",
            String::from_utf8_lossy(&bytes)
        )),
    }))
}
