//! Alerts on running jobs, kept in `alerts.json` beside the connections: the rules load
//! at start and save when changed; a watcher reads the covered jobs' new log lines,
//! memory and (where the job dir is on this machine) new scalars every few seconds and
//! notifies each alert once.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::messages::{Update, Updates};
use super::shared::Current;
use crate::domain::ConnectionId;
use crate::domain::alerts::{AlertRule, AlertWatch};
use crate::tensorboard::{LogDir, ScalarsByRun};

/// The file's name in the config dir.
pub const ALERTS_FILE: &str = "alerts.json";
/// Largest alerts file read.
const MAX_FILE: u64 = 1 << 20;
/// Most rules kept.
pub const MAX_RULES: usize = 200;

/// The saved rules, and what went wrong reading them.
pub fn load(config_dir: &Path) -> (Vec<AlertRule>, Option<String>) {
    let path = config_dir.join(ALERTS_FILE);
    let bytes = match std::fs::File::open(&path).and_then(|file| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE + 1), &mut bytes)?;
        Ok(bytes)
    }) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), None),
        Err(e) => {
            return (
                Vec::new(),
                Some(format!("Cannot read {}: {e}", path.display())),
            );
        }
    };
    if bytes.len() as u64 > MAX_FILE {
        return (
            Vec::new(),
            Some(format!("{} is over 1 MiB: not read", path.display())),
        );
    }
    match serde_json::from_slice::<Vec<AlertRule>>(&bytes) {
        Ok(mut rules) => {
            rules.truncate(MAX_RULES);
            (rules, None)
        }
        Err(e) => (
            Vec::new(),
            Some(format!(
                "{} is not a list of alert rules ({e}); alerts are off until they are set again",
                path.display()
            )),
        ),
    }
}

/// Saves the rules (atomically).
pub fn save(config_dir: &Path, rules: &[AlertRule]) -> std::io::Result<()> {
    std::fs::create_dir_all(config_dir)?;
    let bytes = serde_json::to_vec_pretty(rules).map_err(std::io::Error::other)?;
    crate::atomic_file::write(&config_dir.join(ALERTS_FILE), &bytes)
}

/// Watches the jobs the rules cover, every `every`, and notifies each alert once.
pub(super) async fn watch(
    rules: Vec<AlertRule>,
    connections: Vec<(ConnectionId, Arc<Current>)>,
    every: Duration,
    updates: Updates,
) {
    let mut watch = AlertWatch::default();
    // The job dirs of watched jobs, each read on from where it was.
    let mut dirs: HashMap<DirKey, LogDir> = HashMap::new();
    loop {
        let mut watched = BTreeSet::new();
        for (connection, current) in &connections {
            let mine: Vec<&AlertRule> = rules
                .iter()
                .filter(|r| &r.connection == connection)
                .collect();
            let Some(platform) = current.get().filter(|_| !mine.is_empty()) else {
                continue;
            };
            let Ok(page) = platform.list_jobs("state=RUNNING", 1000, None).await else {
                continue;
            };
            let machine = if mine.iter().any(|r| r.memory_percent.is_some()) {
                platform
                    .cluster_summary()
                    .await
                    .ok()
                    .flatten()
                    .map_or(0, |s| s.memory_total)
            } else {
                0
            };
            for job in &page.jobs {
                let Some(rule) = mine.iter().find(|r| r.covers(connection, job)) else {
                    continue;
                };
                let id = &job.job_id;
                watched.insert(id.clone());
                let mut alerts = Vec::new();
                let after = watch.log_position(id);
                if let Ok(logs) = platform.read_logs(id, after, 10_000).await {
                    alerts.extend(watch.observe_log(
                        id,
                        &logs.entries,
                        logs.next_after,
                        rule,
                        Utc::now(),
                    ));
                }
                if rule.memory_percent.is_some()
                    && let Ok(metrics) = platform
                        .read_metrics(id, Some(Utc::now() - chrono::Duration::seconds(30)))
                        .await
                    && let Some(last) = metrics.samples.last()
                {
                    alerts.extend(watch.observe_memory(id, last.memory_bytes, machine, rule));
                }
                if (rule.non_finite || rule.stall_secs.is_some())
                    && let Some(dir) = super::tasks::local_job_dir(&*platform, job)
                {
                    let key = (connection.clone(), id.clone());
                    let scalars = new_scalars(&mut dirs, key, dir).await;
                    let points = scalars.iter().flat_map(|(_, tags)| {
                        tags.iter().flat_map(|(tag, points)| {
                            points.iter().map(move |p| (tag.as_str(), p.step, p.value))
                        })
                    });
                    alerts.extend(watch.observe_scalars(id, points, rule, Utc::now()));
                }
                alerts.extend(watch.check_stall(id, rule, Utc::now()));
                for alert in alerts {
                    updates.send(Update::Notice {
                        text: format!("⚠ {}", alert.text),
                        error: true,
                    });
                }
            }
        }
        watch.retain(&watched);
        dirs.retain(|(_, id), _| watched.contains(id));
        tokio::time::sleep(every).await;
    }
}

/// A watched job's dir reader: by connection and job id.
type DirKey = (ConnectionId, String);

/// The scalars written to `dir` since the last poll read it (off the async workers); its
/// reader stays in `dirs` for the next poll. A dir not made yet gives none, and is read
/// on a later poll.
async fn new_scalars(dirs: &mut HashMap<DirKey, LogDir>, key: DirKey, dir: String) -> ScalarsByRun {
    let mut reader = dirs.remove(&key).unwrap_or_else(|| LogDir::new(dir));
    let read = tokio::task::spawn_blocking(move || {
        let _ = reader.refresh();
        let scalars = reader.drain();
        (reader, scalars)
    })
    .await;
    match read {
        Ok((reader, scalars)) => {
            dirs.insert(key, reader);
            scalars
        }
        Err(_) => ScalarsByRun::new(),
    }
}
