//! The backend's long-lived work: syncing a connection's job list, following a log,
//! watching resource samples and log dirs, and one-off requests (dialogs, TensorBoard).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::Notify;

use super::messages::{LogSearch, PickTarget, Update, Updates};
use super::shared::Current;
use crate::domain::failure::{FailureCard, FailureScan};
use crate::domain::{ConnectionId, Job, JobKey};
use crate::platform::{Platform, PlatformError};

/// How often the job list is synced while connected.
const JOB_SYNC_EVERY: Duration = Duration::from_secs(1);
/// How often a followed log is polled while its job runs.
const LOG_POLL_EVERY: Duration = Duration::from_millis(200);
/// How often watched metrics are polled (the engine samples once a second).
const METRICS_POLL_EVERY: Duration = Duration::from_secs(1);
/// Entries asked for per log request.
const LOG_PAGE: usize = 10_000;

/// Keeps the UI's job list in step: everything once per connection, then only the jobs
/// changed since the newest change seen (`updateTime>=T`).
pub(super) async fn sync_jobs(
    connection: ConnectionId,
    current: Arc<Current>,
    refresh: Arc<Notify>,
    updates: Updates,
) {
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
        let generation = current.generation();
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
                    updates.send(Update::JobsReplaced {
                        connection: connection.clone(),
                        jobs,
                    });
                } else if !jobs.is_empty() {
                    updates.send(Update::JobsChanged {
                        connection: connection.clone(),
                        jobs,
                    });
                }
            }
            Err(e) => {
                current.failed(&e);
                updates.send(Update::JobsFailed {
                    connection: connection.clone(),
                    message: e.to_string(),
                });
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

/// Sends a job's log from its first entry, then what it adds, until it ends.
pub(super) async fn follow_logs(current: Arc<Current>, job: JobKey, updates: Updates) {
    let job_id = job.job_id.clone();
    let mut after = 0;
    let mut scan = FailureScan::default();
    loop {
        let Some(platform) = current.get() else {
            tokio::time::sleep(LOG_POLL_EVERY).await;
            continue;
        };
        match platform.read_logs(&job_id, after, LOG_PAGE).await {
            Ok(page) => {
                let full = page.entries.len() == LOG_PAGE;
                after = page.next_after;
                scan.feed(&page.entries);
                if !page.entries.is_empty() || page.complete {
                    updates.send(Update::Logs {
                        job: job.clone(),
                        entries: page.entries,
                        complete: page.complete,
                    });
                }
                if page.complete {
                    let card = failure_card(&*platform, &job_id, &scan).await;
                    updates.send(Update::FailureCard {
                        job: job.clone(),
                        card: Box::new(card),
                    });
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
                    job: job.clone(),
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

/// The last value of each scalar in each job dir (`run/tag`, or `tag` for the dir's
/// own run); a dir that cannot be read gives none.
pub(super) fn final_scalars(
    dirs: &[(JobKey, String)],
) -> Vec<(JobKey, std::collections::BTreeMap<String, f64>)> {
    dirs.iter()
        .map(|(key, dir)| {
            let mut logdir = crate::tensorboard::LogDir::new(dir);
            let mut last = std::collections::BTreeMap::new();
            if logdir.refresh().is_ok() {
                for (run, data) in logdir.runs() {
                    for (tag, points) in &data.tags {
                        if let Some(p) = points.last() {
                            let name = if run == "." || run.is_empty() {
                                tag.clone()
                            } else {
                                format!("{run}/{tag}")
                            };
                            last.insert(name, p.value);
                        }
                    }
                }
            }
            (key.clone(), last)
        })
        .collect()
}

/// Most matches one search brings to the console (it stops asking for pages then).
const SEARCH_MATCHES: usize = 5_000;

/// Sends the pages of a search across logs until the last (or enough matches).
pub(super) async fn search_logs(current: Arc<Current>, search: LogSearch, updates: Updates) {
    let generation = search.generation;
    let mut request = search.request;
    let mut found = 0usize;
    loop {
        let Some(platform) = current.get() else {
            updates.send(Update::LogSearch {
                generation,
                page: Err(format!("{} is not connected.", search.connection)),
                done: true,
            });
            return;
        };
        let (page, done) = match platform.search_logs(&request).await {
            Ok(page) => {
                found += page.jobs.iter().map(|j| j.matches.len()).sum::<usize>();
                let done = page.next_page_token.is_none() || found >= SEARCH_MATCHES;
                request.page_token.clone_from(&page.next_page_token);
                (Ok(page), done)
            }
            Err(e) => (Err(e.to_string()), true),
        };
        updates.send(Update::LogSearch {
            generation,
            page,
            done,
        });
        if done {
            return;
        }
    }
}

/// The failure card of a job whose log was scanned to its end, with the platform's
/// reason and the job's samples (either missing leaves its part out).
async fn failure_card(platform: &dyn Platform, job_id: &str, scan: &FailureScan) -> FailureCard {
    let job = platform.get_job(job_id).await.ok();
    let reason = job.as_ref().and_then(|j| j.error_message.clone());
    let samples = platform
        .read_metrics(job_id, None)
        .await
        .map(|page| page.samples)
        .unwrap_or_default();
    let mut card = scan.card(reason.as_deref(), &samples);
    if let Some(dir) = job.and_then(|j| local_job_dir(platform, &j)) {
        card.non_finite_scalar = tokio::task::spawn_blocking(move || first_non_finite(&dir))
            .await
            .ok()
            .flatten();
    }
    card
}

/// The update that copies the command creating a copy of `version` (named after it, by
/// a name the model's versions leave free), or says why there is none.
pub(super) async fn version_command(
    current: Arc<Current>,
    connection: &crate::domain::ConnectionId,
    model: &str,
    version: &crate::domain::Version,
) -> Update {
    let Some(platform) = current.get() else {
        return Update::Notice {
            text: format!("{connection} is not connected."),
            error: true,
        };
    };
    let names: Vec<String> = platform
        .list_versions(model)
        .await
        .map(|vs| vs.iter().map(|v| v.short_name().to_owned()).collect())
        .unwrap_or_default();
    let taken: Vec<&str> = names.iter().map(String::as_str).collect();
    let name = version.short_name();
    let new_name = crate::domain::version_copy::next_version_name(name, &taken);
    match platform.version_command(model, version, &new_name) {
        Ok(text) => Update::CopyText {
            text,
            what: format!("command that creates {model}/{new_name} like {name}"),
        },
        Err(why) => Update::Notice {
            text: format!("No command for {model}/{name}: {why}"),
            error: true,
        },
    }
}

/// `job`'s job dir where it is a folder on this machine (the local engine's jobs):
/// where its scalars can be read.
pub(super) fn local_job_dir(platform: &dyn Platform, job: &crate::domain::Job) -> Option<String> {
    job.training_input
        .as_ref()?
        .job_dir
        .clone()
        .filter(|d| !crate::domain::bucket::BucketUrl::is_bucket(d))
        .filter(|_| platform.capabilities().local_job_dirs.yes())
}

/// The first NaN or infinity among a job dir's scalars (earliest wall time).
fn first_non_finite(dir: &str) -> Option<crate::domain::failure::ScalarRef> {
    let mut logdir = crate::tensorboard::LogDir::new(dir);
    logdir.refresh().ok()?;
    let mut first: Option<crate::domain::failure::ScalarRef> = None;
    for (run, data) in logdir.runs() {
        for (tag, points) in &data.tags {
            let Some(p) = points.iter().find(|p| !p.value.is_finite()) else {
                continue;
            };
            if first.as_ref().is_some_and(|f| f.wall_time <= p.wall_time) {
                continue;
            }
            first = Some(crate::domain::failure::ScalarRef {
                dir: dir.to_owned(),
                tag: if run == "." || run.is_empty() {
                    tag.clone()
                } else {
                    format!("{run}/{tag}")
                },
                step: p.step,
                value: p.value,
                wall_time: p.wall_time,
            });
        }
    }
    first
}

/// Sends the resource samples of `jobs` (each with its connection) as they are taken.
pub(super) async fn watch_metrics(
    jobs: Vec<(JobKey, Arc<Current>)>,
    generation: u64,
    updates: Updates,
) {
    let mut since: HashMap<JobKey, Option<DateTime<Utc>>> =
        jobs.iter().map(|(j, _)| (j.clone(), None)).collect();
    let mut notes: HashMap<JobKey, Option<String>> = HashMap::new();
    loop {
        for (job, current) in &jobs {
            let Some(platform) = current.get() else {
                continue;
            };
            let last = since.get(job).copied().flatten();
            match platform.read_metrics(&job.job_id, last).await {
                Ok(page) => {
                    let note_changed = notes.get(job) != Some(&page.note);
                    if page.samples.is_empty() && !note_changed {
                        continue;
                    }
                    if let Some(last) = page.samples.last() {
                        since.insert(job.clone(), Some(last.time));
                    }
                    notes.insert(job.clone(), page.note.clone());
                    updates.send(Update::Metrics {
                        generation,
                        job: job.clone(),
                        samples: page.samples,
                        replicas: page.replicas,
                        devices: page.devices,
                        note: page.note,
                    });
                }
                Err(e) => current.failed(&e),
            }
        }
        tokio::time::sleep(METRICS_POLL_EVERY).await;
    }
}

pub(super) async fn save_text(file_name: String, text: String, updates: Updates) {
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

pub(super) async fn pick_path(target: PickTarget, folder: bool, updates: Updates) {
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

/// Reads a log dir (a folder or a bucket prefix, opened with `auth`) now and every few
/// seconds, sending only the points not sent before.
pub(super) async fn watch_logdir(
    dir: crate::domain::bucket::Location,
    auth: crate::buckets::BucketAccess,
    updates: Updates,
) {
    let mut reader = match crate::tensorboard::AnyLogDir::open(&dir, &auth) {
        Ok(reader) => reader,
        Err(message) => return updates.send(Update::ScalarsFailed { dir, message }),
    };
    let mut sent: HashMap<(String, String), usize> = HashMap::new();
    loop {
        let (refreshed, result) = reader.refresh().await;
        reader = refreshed;
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
                // One failing file never hides the runs that loaded: both show.
                if let Some(message) = reader.partial_failure() {
                    updates.send(Update::ScalarsFailed {
                        dir: dir.clone(),
                        message,
                    });
                }
            }
            Err(message) => updates.send(Update::ScalarsFailed {
                dir: dir.clone(),
                message,
            }),
        }
        tokio::time::sleep(LOGDIR_POLL_EVERY).await;
    }
}

/// Starts `tensorboard --logdir DIR` when it is installed and reports where it serves.
/// A bucket log dir is passed through: TensorBoard's data server reads `gs://` itself,
/// and its Python side reads `s3://` with boto3 (asked for when missing).
pub(super) async fn open_tensorboard(dir: crate::domain::bucket::Location, updates: Updates) {
    use crate::domain::bucket::{BucketKind, Location};
    let port = 6006 + (std::process::id() % 1000) as u16;
    let mut command = tokio::process::Command::new("tensorboard");
    if let Location::Bucket(url) = &dir
        && url.kind == BucketKind::S3
    {
        let boto3 = tokio::process::Command::new("python3")
            .args(["-c", "import boto3"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await;
        if !boto3.is_ok_and(|s| s.success()) {
            return updates.send(Update::Notice {
                text: "TensorBoard reads s3:// log dirs with boto3: install it with `pip install boto3` (beside tensorboard), then try again. The Scalars tab reads them already.".into(),
                error: true,
            });
        }
        // TensorBoard's S3 reader names its endpoint S3_ENDPOINT.
        if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
            command.env("S3_ENDPOINT", endpoint);
        }
    }
    let started = command
        .arg("--logdir")
        .arg(dir.to_string())
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
pub(super) fn sample_job(
    data_dir: &std::path::Path,
    trainer: Option<&std::path::Path>,
    epochs: Option<usize>,
) -> Result<Job, String> {
    let trainer = trainer.ok_or("this console has no sample trainer to run")?;
    let id = format!("sample_{}", chrono::Local::now().format("%Y%m%d_%H%M%S"));
    let job_dir = data_dir.join("sample-runs").join(&id);
    Ok(Job {
        job_id: id,
        labels: [("kind".to_owned(), "sample".to_owned())].into(),
        training_input: Some(crate::domain::TrainingInput {
            command: [trainer.display().to_string(), "sample-train".into()]
                .into_iter()
                .chain(epochs.map(|n| format!("--epochs={n}")))
                .collect(),
            job_dir: Some(job_dir.display().to_string()),
            ..Default::default()
        }),
        ..Default::default()
    })
}
