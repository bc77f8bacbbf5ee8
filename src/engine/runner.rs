//! Running jobs: submission, the queue, starting processes through the wrapper,
//! supervising them to their end, cancelling, and picking up after a restart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::sys::signal::Signal;
use nix::unistd::Pid;

mod checks;
mod invocation;

use super::joblog::{self, JobLog};
use super::process_group::signal_job_group;
use super::store::{JobRecord, StoreError};
use super::wrapper::{self, ExitRecord};
use super::{Engine, gpus};
use crate::domain::{Invocation, Job, JobState, Severity, shell_words};
use checks::check_paths;

/// How often a supervisor looks at its job: bounds how late a log line shows up.
const SUPERVISE_EVERY: Duration = Duration::from_millis(100);

/// A request the engine turned down, and why.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The request is malformed or names something that does not exist on disk.
    #[error("{0}")]
    InvalidArgument(String),
    /// The job does not exist.
    #[error("there is no job named {0:?}")]
    NotFound(String),
    /// The job id is taken.
    #[error("a job named {0:?} already exists; choose another jobId")]
    AlreadyExists(String),
    /// The job is not in a state that allows this.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The engine's own storage failed.
    #[error(transparent)]
    Store(StoreError),
    /// A file of the engine's could not be read or written.
    #[error("the engine could not {what}: {source}")]
    Io {
        /// What the engine was doing.
        what: String,
        /// What went wrong underneath.
        source: std::io::Error,
    },
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(id) => EngineError::AlreadyExists(id),
            StoreError::NotFound(id) => EngineError::NotFound(id),
            other => EngineError::Store(other),
        }
    }
}

impl Engine {
    /// Validates and queues a new job; returns it as stored.
    pub fn submit(self: &Arc<Self>, mut job: Job) -> Result<Job, EngineError> {
        job.validate_submission()
            .map_err(|e| EngineError::InvalidArgument(e.message))?;
        check_paths(&job)?;
        self.check_gpus(&job)?;
        self.prepare_study(&mut job)?;
        if let Some(input) = &mut job.prediction_input {
            // Pin the version now, so that a later default switch does not change the job.
            let (model, version) = self.registry.resolve_batch(input).map_err(|e| match e {
                super::registry::ModelError::NotFound(m) => EngineError::InvalidArgument(m),
                other => EngineError::FailedPrecondition(other.to_string()),
            })?;
            input.version_name = Some(format!("projects/local/models/{model}/versions/{version}"));
        }
        if let Some(input) = &mut job.training_input
            && input.job_dir.is_none()
        {
            input.job_dir = Some(self.default_job_dir(&job.job_id).display().to_string());
        }
        job.state = JobState::Queued;
        job.create_time = Some(Utc::now());
        job.start_time = None;
        job.end_time = None;
        job.error_message = None;
        job.invocation = None;
        let plan = job.study().map(Engine::study_plan);
        let id = job.job_id.clone();
        let record = self.store.insert(job)?;
        let dir = self.job_state_dir(&id);
        // A directory left by a job whose row never made it to the database.
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            let message = format!("The engine could not create {}: {e}", dir.display());
            return Ok(self
                .finish(&id, JobState::Failed, Some(message))?
                .job
                .clone());
        }
        match plan {
            // A study runs no process: its trials are started by the scheduler.
            Some(plan) => self.log(&id, Severity::Info, &plan),
            None => {
                self.log(&id, Severity::Info, "Job queued.");
                lock(&self.slots).queue.push_back(id);
            }
        }
        self.wake_scheduler.notify_one();
        Ok(record.job.clone())
    }

    /// Cancels a queued job at once, or asks a running one to stop (SIGTERM to its
    /// process group, SIGKILL after the grace period).
    pub fn cancel(self: &Arc<Self>, id: &str) -> Result<Job, EngineError> {
        let mut was = JobState::StateUnspecified;
        let record = self.store.try_update(id, |r| {
            was = r.job.state;
            match r.job.state {
                JobState::Queued | JobState::StateUnspecified => {
                    r.job.state = JobState::Cancelled;
                    r.job.end_time = Some(Utc::now());
                    Ok(())
                }
                JobState::Preparing | JobState::Running => {
                    r.job.state = JobState::Cancelling;
                    r.process.cancel_requested = true;
                    Ok(())
                }
                JobState::Cancelling => Ok(()),
                done => Err(EngineError::FailedPrecondition(format!(
                    "job {id:?} is already {done}; only queued or running jobs can be cancelled"
                ))),
            }
        })?;
        match was {
            JobState::Queued | JobState::StateUnspecified => {
                self.log(id, Severity::Warning, "Job cancelled before it started.");
                self.close_log(id);
            }
            JobState::Preparing | JobState::Running => {
                self.log(id, Severity::Warning, "Cancel requested: stopping the job.");
            }
            _ => {}
        }
        Ok(record.job.clone())
    }

    /// Starts queued jobs while slots are free; wakes on submissions and job ends.
    pub async fn schedule(self: Arc<Self>) {
        loop {
            self.drive_studies();
            self.start_ready_jobs();
            tokio::select! {
                () = self.wake_scheduler.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn start_ready_jobs(self: &Arc<Self>) {
        loop {
            let Some((id, devices)) = self.next_startable() else {
                return;
            };
            match self.start(&id, &devices) {
                Ok(()) => {}
                // Cancelled between the check above and the start: just free the slot.
                Err(EngineError::FailedPrecondition(_)) => {
                    let mut slots = lock(&self.slots);
                    slots.running.remove(&id);
                    slots.gpus.release(&id);
                }
                Err(e) => {
                    let _ = self.finish(&id, JobState::Failed, Some(e.to_string()));
                }
            }
        }
    }

    /// Takes the first queued job that can start now (a slot free, and the GPUs it asks
    /// for), with the devices it gets; a job waiting for GPUs lets the ones behind it
    /// that need none (or fewer) go first, and its log says what it waits for.
    fn next_startable(&self) -> Option<(String, Vec<u32>)> {
        let mut slots = lock(&self.slots);
        if slots.running.len() >= self.config.max_running.max(1) {
            return None;
        }
        let mut waiting = Vec::new();
        let mut pick = None;
        let mut position = 0;
        while position < slots.queue.len() {
            let id = slots.queue[position].clone();
            let record = self.store.get(&id);
            if record.as_ref().map(|r| r.job.state) != Some(JobState::Queued)
                || record.as_ref().is_some_and(|r| r.job.study().is_some())
            {
                // Cancelled while queued, or a study (it runs no process).
                slots.queue.remove(position);
                continue;
            }
            let wanted = record.as_ref().map_or(0, |r| gpus::wanted(&r.job));
            if let Some(devices) = slots.gpus.take(&id, wanted) {
                slots.queue.remove(position);
                slots.running.insert(id.clone());
                slots.waiting_for_gpus.remove(&id);
                pick = Some((id, devices));
                break;
            }
            if slots.waiting_for_gpus.insert(id.clone()) {
                waiting.push((id, wanted));
            }
            position += 1;
        }
        let holders: Vec<String> = slots
            .gpus
            .holders()
            .iter()
            .map(|(job, devices)| format!("{job} (GPU {})", gpus::visible_devices(devices)))
            .collect();
        drop(slots);
        for (id, wanted) in waiting {
            let plural = if wanted == 1 { "GPU" } else { "GPUs" };
            self.log(
                &id,
                Severity::Info,
                &format!(
                    "Waiting for {wanted} free {plural}; in use by {}.",
                    holders.join(", ")
                ),
            );
        }
        pick
    }

    /// Refuses a job asking for more GPUs than the machine has.
    fn check_gpus(&self, job: &Job) -> Result<(), EngineError> {
        let wanted = gpus::wanted(job);
        if wanted as usize > self.gpu_inventory.devices.len() {
            return Err(EngineError::InvalidArgument(format!(
                "trainingInput.masterConfig.acceleratorConfig.count {wanted}: this machine has {}",
                self.gpu_inventory.describe()
            )));
        }
        Ok(())
    }

    fn start(self: &Arc<Self>, id: &str, devices: &[u32]) -> Result<(), EngineError> {
        let record = self
            .store
            .get(id)
            .ok_or_else(|| EngineError::NotFound(id.into()))?;
        let dir = self.job_state_dir(id);
        let mut invocation = self.invocation(&record.job, &dir);
        // On a machine with GPUs a job sees only those it was given ("" hides them all).
        if !self.gpu_inventory.devices.is_empty() {
            let visible = gpus::visible_devices(devices);
            for key in ["CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES"] {
                invocation.env.insert(key.into(), visible.clone());
            }
        }
        self.store.try_update(id, |r| {
            if r.job.state != JobState::Queued {
                return Err(EngineError::FailedPrecondition(format!(
                    "{id} is no longer queued"
                )));
            }
            r.job.state = JobState::Preparing;
            r.job.invocation = Some(invocation.clone());
            Ok(())
        })?;
        if let Some(job_dir) = record
            .job
            .training_input
            .as_ref()
            .and_then(|i| i.job_dir.as_ref())
        {
            std::fs::create_dir_all(job_dir).map_err(|source| EngineError::Io {
                what: format!("create the job directory {job_dir}"),
                source,
            })?;
        }
        let io_err = |what: &str| {
            let what = what.to_owned();
            move |source| EngineError::Io { what, source }
        };
        let wrapper_log = std::fs::File::create(dir.join("wrapper.log"))
            .map_err(io_err("create the wrapper's log"))?;
        let wrapper_log2 = wrapper_log
            .try_clone()
            .map_err(io_err("create the wrapper's log"))?;
        let mut wrapper = tokio::process::Command::new(&self.config.wrapper_exe);
        wrapper.arg("job-wrapper").arg("--state-dir").arg(&dir);
        if let Some(mask) = self.config.job_umask {
            wrapper.arg("--umask").arg(format!("{mask:03o}"));
        }
        let child = wrapper
            .arg("--")
            .args(&invocation.argv)
            .current_dir(&invocation.working_dir)
            .envs(&invocation.env)
            .stdin(std::process::Stdio::null())
            .stdout(wrapper_log)
            .stderr(wrapper_log2)
            .spawn()
            .map_err(|source| EngineError::Io {
                what: format!(
                    "start the job supervisor {}",
                    self.config.wrapper_exe.display()
                ),
                source,
            })?;
        let wrapper_pid = child.id().and_then(|p| i32::try_from(p).ok());
        self.store
            .update(id, |r| r.process.wrapper_pid = wrapper_pid)?;
        tokio::spawn(self.clone().supervise(id.to_owned(), Some(child)));
        Ok(())
    }

    /// Follows a job to its end: indexes its output, notices it start, carries out a
    /// cancel, and settles it from its exit record. `wrapper` is `None` for a job
    /// picked up after an engine restart.
    async fn supervise(self: Arc<Self>, id: String, mut wrapper: Option<tokio::process::Child>) {
        let dir = self.job_state_dir(&id);
        let log = self.open_log(&id);
        let mut term_sent: Option<Instant> = None;
        let mut kill_sent = false;
        let mut wrapper_gone: Option<Instant> = None;
        let mut ticker = tokio::time::interval(SUPERVISE_EVERY);
        loop {
            ticker.tick().await;
            let Some(mut record) = self.store.get(&id) else {
                return;
            };
            // The start is logged before any output is indexed, so that the log reads
            // queued, started, the job's lines, exited: in the order they happened.
            if record.process.child_pid.is_none()
                && let Some(pid) = wrapper::read_pid(&dir)
            {
                self.mark_running(&id, pid);
                let Some(updated) = self.store.get(&id) else {
                    return;
                };
                record = updated;
            }
            if record.process.child_pid.is_some()
                && let Some(log) = &log
            {
                ingest(log, false).await;
            }
            if record.process.cancel_requested
                && let Some(pid) = record.process.child_pid
            {
                match term_sent {
                    None => {
                        signal_job_group(pid, &id, Signal::SIGTERM);
                        term_sent = Some(Instant::now());
                    }
                    Some(at) if !kill_sent && at.elapsed() >= self.config.cancel_grace => {
                        signal_job_group(pid, &id, Signal::SIGKILL);
                        kill_sent = true;
                        self.log(
                            &id,
                            Severity::Warning,
                            &format!(
                                "The job did not stop within {:?} of SIGTERM; sent SIGKILL.",
                                self.config.cancel_grace
                            ),
                        );
                    }
                    _ => {}
                }
            }
            if let Some(exit) = wrapper::read_exit(&dir) {
                // The job's main process is gone; like a container's teardown, stop
                // whatever it left running in its process group.
                if let Some(pid) = record.process.child_pid {
                    signal_job_group(pid, &id, Signal::SIGKILL);
                }
                if let Some(log) = &log {
                    ingest(log, true).await;
                }
                let (state, message) = self.settle(&record, &exit);
                self.finish_surely(&id, state, message).await;
                break;
            }
            let wrapper_alive = match &mut wrapper {
                Some(child) => matches!(child.try_wait(), Ok(None)),
                None => record
                    .process
                    .wrapper_pid
                    .is_some_and(|pid| process_alive(pid, &dir)),
            };
            if !wrapper_alive {
                // The exit record is written before the wrapper exits; look once more.
                match wrapper_gone {
                    None => wrapper_gone = Some(Instant::now()),
                    Some(at) if at.elapsed() > Duration::from_secs(1) => {
                        if let Some(log) = &log {
                            ingest(log, true).await;
                        }
                        let message = "The engine lost track of this job: its supervisor process \
                            ended without recording how the job ended (no exit.json: was the machine \
                            restarted, the supervisor killed, or the disk full?). Its output up to \
                            then is in the logs.";
                        self.finish_surely(&id, JobState::Failed, Some(message.to_owned()))
                            .await;
                        break;
                    }
                    Some(_) => {}
                }
            }
        }
    }

    fn mark_running(&self, id: &str, pid: i32) {
        let updated = self.store.update(id, |r| {
            r.process.child_pid = Some(pid);
            if r.job.state == JobState::Preparing {
                r.job.state = JobState::Running;
            }
            r.job.start_time = Some(Utc::now());
        });
        if let Ok(record) = updated {
            let invocation = record.job.invocation.clone().unwrap_or_default();
            self.log(
                id,
                Severity::Info,
                &format!(
                    "Job started (pid {pid}) in {}: {}",
                    invocation.working_dir,
                    shell_words(&invocation.argv)
                ),
            );
        }
    }

    /// How a job ended, from its exit record; notes it in the job's log.
    fn settle(&self, record: &JobRecord, exit: &ExitRecord) -> (JobState, Option<String>) {
        let id = &record.job.job_id;
        let dir = self.job_state_dir(id);
        let stderr_tail = || {
            let lines = joblog::tail_lines(&dir.join(joblog::STDERR_FILE), 10);
            if lines.is_empty() {
                String::new()
            } else {
                format!(" Last lines of stderr:\n{}", lines.join("\n"))
            }
        };
        let (state, message, note) = if record.process.cancel_requested {
            (JobState::Cancelled, None, "Job cancelled.".to_owned())
        } else if let Some(err) = &exit.spawn_error {
            let m = format!("The job could not start: {err}.");
            (JobState::Failed, Some(m.clone()), m)
        } else if exit.code == Some(0) {
            (
                JobState::Succeeded,
                None,
                "Job exited with code 0.".to_owned(),
            )
        } else if let Some(code) = exit.code {
            let m = format!("The job exited with code {code}.");
            (JobState::Failed, Some(format!("{m}{}", stderr_tail())), m)
        } else {
            let signal = exit.signal.unwrap_or(0);
            let name = Signal::try_from(signal).map_or("unknown signal", |s| s.as_str());
            let m = format!("The job was killed by signal {signal} ({name}).");
            (JobState::Failed, Some(format!("{m}{}", stderr_tail())), m)
        };
        let severity = match state {
            JobState::Succeeded => Severity::Info,
            JobState::Cancelled => Severity::Warning,
            _ => Severity::Error,
        };
        self.log(id, severity, &note);
        (state, message)
    }

    /// Puts a job in its final state, trying again while the database refuses (a full
    /// disk, a lock held too long): a job never stays RUNNING once its process ended.
    async fn finish_surely(&self, id: &str, state: JobState, message: Option<String>) {
        let mut wait = Duration::from_millis(200);
        for attempt in 1.. {
            match self.finish(id, state, message.clone()) {
                Ok(_) | Err(StoreError::NotFound(_)) => return,
                Err(e) => {
                    tracing::error!(
                        "could not record that job {id} ended {state} (attempt {attempt}): {e}; trying again in {wait:?}"
                    );
                    if attempt == 1 {
                        self.log(
                            id,
                            Severity::Error,
                            &format!(
                                "The engine could not record the job's end ({e}); it keeps trying."
                            ),
                        );
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Puts a job in a final state, frees its slot and closes its log.
    pub(super) fn finish(
        &self,
        id: &str,
        state: JobState,
        error_message: Option<String>,
    ) -> Result<Arc<JobRecord>, StoreError> {
        let record = self.store.update(id, |r| {
            r.job.state = state;
            r.job.end_time = Some(Utc::now());
            r.job.error_message = error_message;
        });
        self.close_log(id);
        let mut slots = lock(&self.slots);
        slots.running.remove(id);
        slots.gpus.release(id);
        drop(slots);
        self.wake_scheduler.notify_one();
        record
    }

    /// Re-queues jobs that were waiting and picks up jobs left running by an earlier
    /// engine: their processes kept running and their output kept being written.
    pub fn recover(self: &Arc<Self>) -> Result<(), StoreError> {
        let mut requeue = Vec::new();
        for record in
            self.store
                .in_states(&[JobState::Preparing, JobState::Running, JobState::Cancelling])
        {
            let id = record.job.job_id.clone();
            if record.job.study().is_some() {
                continue; // driven by the scheduler, not a process
            }
            let dir = self.job_state_dir(&id);
            let mut wrapper_pid = record.process.wrapper_pid;
            if wrapper_pid.is_none() {
                // The engine may have stopped between starting the supervisor and saving
                // its pid: a supervisor at work (or its exit record) means the job runs.
                wrapper_pid = find_wrapper(&dir);
                if let Some(pid) = wrapper_pid {
                    self.store
                        .update(&id, |r| r.process.wrapper_pid = Some(pid))?;
                }
            }
            if wrapper_pid.is_none() && !dir.join(super::wrapper::EXIT_FILE).exists() {
                self.store.update(&id, |r| r.job.state = JobState::Queued)?;
                self.log(
                    &id,
                    Severity::Warning,
                    "The engine stopped before this job started; queued again.",
                );
                requeue.push(id);
                continue;
            }
            self.log(
                &id,
                Severity::Info,
                "Engine restarted; following the job again.",
            );
            let held = record
                .job
                .invocation
                .as_ref()
                .and_then(|i| i.env.get("CUDA_VISIBLE_DEVICES"))
                .map(|v| gpus::devices_in(v))
                .unwrap_or_default();
            let mut slots = lock(&self.slots);
            slots.running.insert(id.clone());
            slots.gpus.hold(&id, held);
            drop(slots);
            tokio::spawn(self.clone().supervise(id, None));
        }
        let mut slots = lock(&self.slots);
        slots.queue.extend(requeue);
        for record in self.store.in_states(&[JobState::Queued]) {
            if record.job.study().is_none() && !slots.queue.contains(&record.job.job_id) {
                slots.queue.push_back(record.job.job_id.clone());
            }
        }
        drop(slots);
        self.wake_scheduler.notify_one();
        Ok(())
    }

    /// Jobs holding a slot whose process has started: `(job id, pid)`.
    pub fn running_processes(&self) -> Vec<(String, i32)> {
        let ids: Vec<String> = lock(&self.slots).running.iter().cloned().collect();
        ids.into_iter()
            .filter_map(|id| {
                let pid = self.store.get(&id)?.process.child_pid?;
                Some((id, pid))
            })
            .collect()
    }

    /// The GPUs each job holds now.
    pub fn gpu_holders(&self) -> Vec<(String, Vec<u32>)> {
        lock(&self.slots)
            .gpus
            .holders()
            .into_iter()
            .map(|(job, devices)| (job.to_owned(), devices.to_vec()))
            .collect()
    }

    fn open_log(&self, id: &str) -> Option<Arc<Mutex<JobLog>>> {
        let mut logs = lock(&self.open_logs);
        if let Some(log) = logs.get(id) {
            return Some(log.clone());
        }
        match JobLog::open(&self.job_state_dir(id)) {
            Ok(log) => {
                let log = Arc::new(Mutex::new(log));
                logs.insert(id.to_owned(), log.clone());
                Some(log)
            }
            Err(e) => {
                tracing::error!("cannot open the log of job {id}: {e}");
                None
            }
        }
    }

    fn close_log(&self, id: &str) {
        lock(&self.open_logs).remove(id);
    }

    /// Adds an entry of the engine's own to a job's log.
    pub(super) fn log(&self, id: &str, severity: Severity, text: &str) {
        if let Some(log) = self.open_log(id)
            && let Err(e) = lock(&log).append_engine(severity, text)
        {
            tracing::error!("cannot write to the log of job {id}: {e}");
        }
    }
}

async fn ingest(log: &Arc<Mutex<JobLog>>, final_pass: bool) {
    let log = log.clone();
    let done = tokio::task::spawn_blocking(move || lock(&log).ingest(final_pass)).await;
    if let Ok(Err(e)) = done {
        tracing::error!("cannot index a job's output: {e}");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// True if `pid` runs and is the wrapper of the job in `state_dir` (not a reused pid).
/// A live `job-wrapper` of the job whose state is in `state_dir`, found in `/proc`.
fn find_wrapper(state_dir: &Path) -> Option<i32> {
    // `--state-dir DIR` is one argument: match it whole (NUL on both sides), so job `a`
    // never takes job `ab`'s supervisor.
    let mut needle = vec![0u8];
    needle.extend_from_slice(state_dir.as_os_str().as_encoded_bytes());
    needle.push(0);
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let wrapper = cmdline.split(|b| *b == 0).any(|arg| arg == b"job-wrapper");
            let ours = wrapper
                && cmdline
                    .windows(needle.len())
                    .any(|w| w == needle.as_slice());
            ours.then_some(pid)
        })
}

fn process_alive(pid: i32, state_dir: &Path) -> bool {
    if nix::sys::signal::kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let dir = state_dir.as_os_str().as_encoded_bytes();
            cmdline.windows(dir.len()).any(|w| w == dir)
        }
        Err(_) => true, // no /proc: trust the signal check
    }
}

#[cfg(test)]
mod tests;
