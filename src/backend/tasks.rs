//! The backend's long-lived work: keeping connected, syncing the job list, following a
//! log, watching resource samples, and one-off requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::connection::{self, ConnectionSettings};
use super::models;
use super::{
    ConnectionStatus, ModelWatch, PickTarget, Request, RequestReceiver, SnippetKind, Update,
    Updates,
};
use crate::domain::Job;
use crate::platform::{Platform, PlatformError};

/// How often the job list is synced while connected.
const JOB_SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often a followed log is polled while its job runs.
const LOG_POLL_EVERY: Duration = Duration::from_millis(200);
/// How often watched metrics are polled (the engine samples once a second).
const METRICS_POLL_EVERY: Duration = Duration::from_secs(1);
/// Entries asked for per log request.
const LOG_PAGE: usize = 10_000;

/// The platform in use, if connected, and a counter that changes with each connection.
#[derive(Default)]
pub(super) struct Current {
    platform: RwLock<Option<Arc<dyn Platform>>>,
    generation: AtomicU64,
    lost: Notify,
}

impl Current {
    pub(super) fn get(&self) -> Option<Arc<dyn Platform>> {
        self.platform.read().ok()?.clone()
    }

    fn set(&self, platform: Option<Arc<dyn Platform>>) {
        if let Ok(mut slot) = self.platform.write() {
            *slot = platform;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Reports a failed call: an unreachable platform makes the connection task retry.
    pub(super) fn failed(&self, error: &PlatformError) {
        if matches!(error, PlatformError::Unreachable { .. }) {
            self.lost.notify_one();
        }
    }
}

/// Serves requests until the UI goes away.
pub(super) async fn run(
    settings: ConnectionSettings,
    mut requests: RequestReceiver,
    updates: Updates,
) {
    let current = Arc::new(Current::default());
    let (data_dir, sample_trainer) = (settings.data_dir.clone(), settings.sample_trainer.clone());
    let reconnect = Arc::new(Notify::new());
    let refresh_jobs = Arc::new(Notify::new());
    tokio::spawn(keep_connected(
        settings,
        current.clone(),
        reconnect.clone(),
        updates.clone(),
    ));
    tokio::spawn(sync_jobs(
        current.clone(),
        refresh_jobs.clone(),
        updates.clone(),
    ));
    let watching_models = Arc::new(AtomicU8::new(ModelWatch::Off as u8));
    let refresh_models = Arc::new(Notify::new());
    tokio::spawn(models::sync_models(
        current.clone(),
        watching_models.clone(),
        refresh_models.clone(),
        updates.clone(),
    ));
    let mut log_follower: Option<JoinHandle<()>> = None;
    let mut metrics_watcher: Option<JoinHandle<()>> = None;
    let mut logdir_watcher: Option<JoinHandle<()>> = None;
    while let Some(request) = requests.recv().await {
        match request {
            Request::Reconnect => reconnect.notify_one(),
            Request::RefreshJobs => refresh_jobs.notify_one(),
            Request::FollowLogs(job) => {
                if let Some(task) = log_follower.take() {
                    task.abort();
                }
                log_follower =
                    job.map(|id| tokio::spawn(follow_logs(current.clone(), id, updates.clone())));
            }
            Request::WatchMetrics { jobs, generation } => {
                if let Some(task) = metrics_watcher.take() {
                    task.abort();
                }
                if !jobs.is_empty() {
                    let task = watch_metrics(current.clone(), jobs, generation, updates.clone());
                    metrics_watcher = Some(tokio::spawn(task));
                }
            }
            Request::RunSampleJob => {
                let job = sample_job(&data_dir, sample_trainer.as_deref());
                spawn_submit(current.clone(), job, updates.clone(), refresh_jobs.clone());
            }
            Request::SubmitJob(job) => {
                spawn_submit(
                    current.clone(),
                    Ok(*job),
                    updates.clone(),
                    refresh_jobs.clone(),
                );
            }
            Request::CancelJob(job_id) => {
                let (current, updates, refresh) =
                    (current.clone(), updates.clone(), refresh_jobs.clone());
                tokio::spawn(async move {
                    let result = match current.get() {
                        Some(p) => p.cancel_job(&job_id).await.map_err(|e| {
                            current.failed(&e);
                            e.to_string()
                        }),
                        None => Err("not connected to the engine".into()),
                    };
                    updates.send(Update::CancelResult { job_id, result });
                    refresh.notify_one();
                });
            }
            Request::SaveText { file_name, text } => {
                tokio::spawn(save_text(file_name, text, updates.clone()));
            }
            Request::WatchLogDir(dir) => {
                if let Some(task) = logdir_watcher.take() {
                    task.abort();
                }
                logdir_watcher = dir.map(|dir| tokio::spawn(watch_logdir(dir, updates.clone())));
            }
            Request::OpenTensorBoard(dir) => {
                tokio::spawn(open_tensorboard(dir, updates.clone()));
            }
            Request::WatchModels(watch) => {
                watching_models.store(watch as u8, Ordering::Relaxed);
                if watch != ModelWatch::Off {
                    refresh_models.notify_one();
                }
            }
            Request::ChangeModels(change) => {
                tokio::spawn(models::change(
                    current.clone(),
                    change,
                    refresh_models.clone(),
                    updates.clone(),
                ));
            }
            Request::Predict {
                model,
                version,
                body,
            } => {
                tokio::spawn(models::predict(
                    current.clone(),
                    model,
                    version,
                    body,
                    updates.clone(),
                ));
            }
            Request::LoadPredictFile { path, inputs } => {
                tokio::spawn(models::load_predict_file(path, inputs, updates.clone()));
            }
            Request::CopySnippet {
                kind,
                model,
                version,
                body,
            } => {
                let text = current.get().map(|p| {
                    let url = p.predict_url(&model, version.as_deref());
                    models::snippet(kind, &url, &data_dir.join("token"), &body)
                });
                match text {
                    Some(text) => updates.send(Update::CopyText {
                        text,
                        what: match kind {
                            SnippetKind::Curl => "curl command".into(),
                            SnippetKind::Python => "Python snippet".into(),
                        },
                    }),
                    None => updates.send(Update::Notice {
                        text: "Not connected to the engine.".into(),
                        error: true,
                    }),
                }
            }
            Request::PickPath { target, folder } => {
                tokio::spawn(pick_path(target, folder, updates.clone()));
            }
        }
    }
}

/// Submits `job` (or reports why there is none) and syncs the job list right after.
fn spawn_submit(
    current: Arc<Current>,
    job: Result<Job, String>,
    updates: Updates,
    refresh: Arc<Notify>,
) {
    tokio::spawn(async move {
        let result = match (job, current.get()) {
            (Err(message), _) => Err(message),
            (Ok(_), None) => Err("not connected to the engine; the job was not submitted".into()),
            (Ok(job), Some(platform)) => platform.submit_job(&job).await.map_err(|e| {
                current.failed(&e);
                e.to_string()
            }),
        };
        updates.send(Update::Submitted(result));
        refresh.notify_one();
    });
}

async fn keep_connected(
    settings: ConnectionSettings,
    current: Arc<Current>,
    reconnect: Arc<Notify>,
    updates: Updates,
) {
    let mut last_start = None;
    updates.send(Update::Connection(ConnectionStatus::Connecting));
    loop {
        match connection::connect(&settings, &mut last_start).await {
            Ok(connected) => {
                let description = connected.platform.describe();
                current.set(Some(connected.platform.clone()));
                updates.send(Update::Connection(ConnectionStatus::Connected {
                    description,
                    note: connected.note,
                }));
                // Watch the connection: a failed call elsewhere or a failed check ends it.
                loop {
                    tokio::select! {
                        () = current.lost.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                    if let Err(e) = connected.platform.check_connection().await {
                        current.set(None);
                        updates.send(Update::Connection(ConnectionStatus::Reconnecting {
                            error: e.to_string(),
                        }));
                        break;
                    }
                }
            }
            Err(failure) => {
                current.set(None);
                updates.send(Update::Connection(ConnectionStatus::Failed {
                    error: failure.error,
                    hint: failure.hint,
                }));
                tokio::select! {
                    () = reconnect.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}

/// Keeps the UI's job list in step: everything once per connection, then only the jobs
/// changed since the newest change seen (`updateTime>=T`).
async fn sync_jobs(current: Arc<Current>, refresh: Arc<Notify>, updates: Updates) {
    let mut synced_generation = None;
    let mut newest_change: Option<DateTime<Utc>> = None;
    loop {
        tokio::select! {
            () = refresh.notified() => {}
            () = tokio::time::sleep(JOB_SYNC_EVERY) => {}
        }
        let Some(platform) = current.get() else {
            continue;
        };
        let generation = current.generation.load(Ordering::SeqCst);
        let full = synced_generation != Some(generation);
        let filter = match (full, newest_change) {
            (false, Some(t)) => format!(
                "updateTime>=\"{}\"",
                t.to_rfc3339_opts(SecondsFormat::Micros, true)
            ),
            _ => String::new(),
        };
        match list_all(platform.as_ref(), &filter).await {
            Ok(jobs) => {
                let newest = jobs.iter().filter_map(|j| j.update_time).max();
                newest_change = newest_change.max(newest);
                if full {
                    synced_generation = Some(generation);
                    updates.send(Update::JobsReplaced(jobs));
                } else if !jobs.is_empty() {
                    updates.send(Update::JobsChanged(jobs));
                }
            }
            Err(e) => {
                current.failed(&e);
                updates.send(Update::JobsFailed(e.to_string()));
            }
        }
    }
}

async fn list_all(platform: &dyn Platform, filter: &str) -> Result<Vec<Job>, PlatformError> {
    let mut jobs = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = platform.list_jobs(filter, 1000, token.as_deref()).await?;
        jobs.extend(page.jobs);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(jobs),
        }
    }
}

async fn follow_logs(current: Arc<Current>, job_id: String, updates: Updates) {
    let mut after = 0;
    loop {
        let Some(platform) = current.get() else {
            tokio::time::sleep(LOG_POLL_EVERY).await;
            continue;
        };
        match platform.read_logs(&job_id, after, LOG_PAGE).await {
            Ok(page) => {
                let full = page.entries.len() == LOG_PAGE;
                after = page.next_after;
                if !page.entries.is_empty() || page.complete {
                    updates.send(Update::Logs {
                        job_id: job_id.clone(),
                        entries: page.entries,
                        complete: page.complete,
                    });
                }
                if page.complete {
                    return;
                }
                if full {
                    continue; // catching up: no pause
                }
            }
            Err(e) => {
                current.failed(&e);
                let gone = matches!(e, PlatformError::NotFound(_));
                updates.send(Update::LogsFailed {
                    job_id: job_id.clone(),
                    message: e.to_string(),
                });
                if gone {
                    return; // no such job here (e.g. another engine): nothing to follow
                }
            }
        }
        tokio::time::sleep(LOG_POLL_EVERY).await;
    }
}

async fn watch_metrics(
    current: Arc<Current>,
    jobs: Vec<String>,
    generation: u64,
    updates: Updates,
) {
    let mut since: HashMap<String, Option<DateTime<Utc>>> =
        jobs.iter().map(|j| (j.clone(), None)).collect();
    loop {
        if let Some(platform) = current.get() {
            for job_id in &jobs {
                let last = since.get(job_id).copied().flatten();
                match platform.read_metrics(job_id, last).await {
                    Ok(samples) if !samples.is_empty() => {
                        since.insert(job_id.clone(), samples.last().map(|s| s.time));
                        updates.send(Update::Metrics {
                            generation,
                            job_id: job_id.clone(),
                            samples,
                        });
                    }
                    Ok(_) => {}
                    Err(e) => current.failed(&e),
                }
            }
        }
        tokio::time::sleep(METRICS_POLL_EVERY).await;
    }
}

async fn save_text(file_name: String, text: String, updates: Updates) {
    let Some(file) = rfd::AsyncFileDialog::new()
        .set_file_name(&file_name)
        .save_file()
        .await
    else {
        return; // cancelled, or no file dialog service
    };
    let path = file.path().to_owned();
    let started = Instant::now();
    let update = match tokio::fs::write(&path, text.as_bytes()).await {
        Ok(()) => Update::Notice {
            text: format!(
                "Saved {} lines to {} ({} ms).",
                text.lines().count(),
                path.display(),
                started.elapsed().as_millis()
            ),
            error: false,
        },
        Err(e) => Update::Notice {
            text: format!("Could not save {}: {e}", path.display()),
            error: true,
        },
    };
    updates.send(update);
}

async fn pick_path(target: PickTarget, folder: bool, updates: Updates) {
    let dialog = rfd::AsyncFileDialog::new();
    let picked = if folder {
        dialog.pick_folder().await
    } else {
        dialog.pick_file().await
    };
    if let Some(handle) = picked {
        updates.send(Update::Picked {
            target,
            path: handle.path().to_owned(),
        });
    }
}

/// How often a watched log dir is read again while a job may be writing to it.
const LOGDIR_POLL_EVERY: Duration = Duration::from_secs(2);

/// Reads a log dir now and every few seconds, sending only the points not sent before.
async fn watch_logdir(dir: std::path::PathBuf, updates: Updates) {
    let mut logdir = Some(crate::tensorboard::LogDir::new(&dir));
    let mut sent: HashMap<(String, String), usize> = HashMap::new();
    loop {
        let Some(mut reader) = logdir.take() else {
            return;
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = reader.refresh();
            (reader, result)
        })
        .await;
        let Ok((reader, result)) = joined else {
            return;
        };
        match result {
            Ok(_) => {
                let mut runs = Vec::new();
                for (run, data) in reader.runs() {
                    let mut tags = Vec::new();
                    for (tag, points) in &data.tags {
                        let done = sent.entry((run.clone(), tag.clone())).or_insert(0);
                        if points.len() > *done {
                            tags.push((tag.clone(), points[*done..].to_vec()));
                            *done = points.len();
                        }
                    }
                    if !tags.is_empty() {
                        runs.push((run.clone(), tags));
                    }
                }
                if !runs.is_empty() || sent.is_empty() {
                    updates.send(Update::Scalars {
                        dir: dir.clone(),
                        runs,
                        corrupt_records: reader.problems().corrupt_records,
                    });
                }
            }
            Err(e) => updates.send(Update::ScalarsFailed {
                dir: dir.clone(),
                message: e.to_string(),
            }),
        }
        logdir = Some(reader);
        tokio::time::sleep(LOGDIR_POLL_EVERY).await;
    }
}

/// Starts `tensorboard --logdir DIR` when it is installed and reports where it serves.
async fn open_tensorboard(dir: std::path::PathBuf, updates: Updates) {
    let port = 6006 + (std::process::id() % 1000) as u16;
    let started = tokio::process::Command::new("tensorboard")
        .arg("--logdir")
        .arg(&dir)
        .args(["--port", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(false)
        .spawn();
    match started {
        Ok(_child) => {
            // Give it a moment to bind before the browser asks.
            tokio::time::sleep(Duration::from_secs(3)).await;
            updates.send(Update::TensorBoardStarted(format!("http://localhost:{port}/")));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => updates.send(Update::Notice {
            text: "TensorBoard is not installed: install it with `pip install tensorboard`, then try again.".into(),
            error: true,
        }),
        Err(e) => updates.send(Update::Notice {
            text: format!("Could not start TensorBoard: {e}"),
            error: true,
        }),
    }
}

/// The sample training job: `mlconsole sample-train`, its job dir under the data dir.
fn sample_job(
    data_dir: &std::path::Path,
    trainer: Option<&std::path::Path>,
) -> Result<Job, String> {
    let trainer = trainer.ok_or("this console has no sample trainer to run")?;
    let id = format!("sample_{}", chrono::Local::now().format("%Y%m%d_%H%M%S"));
    let job_dir = data_dir.join("sample-runs").join(&id);
    Ok(Job {
        job_id: id,
        labels: [("kind".to_owned(), "sample".to_owned())].into(),
        training_input: Some(crate::domain::TrainingInput {
            command: vec![trainer.display().to_string(), "sample-train".into()],
            job_dir: Some(job_dir.display().to_string()),
            ..Default::default()
        }),
        ..Default::default()
    })
}
