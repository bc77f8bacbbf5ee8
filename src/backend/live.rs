//! One connection at work: its platform client once connected, and the tasks that keep
//! it connected and its jobs and models in step. Each connection has its own, so one
//! that is slow or dead never holds up another.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::connection::{self, ConnectFailure};
use super::messages::{ConnectionStatus, Update, Updates};
use super::shared::{Current, Shared};
use super::{models, tasks};
use crate::domain::{ConnectionConfig, ConnectionId};

/// One connection's running tasks; dropping it stops them.
pub(super) struct Live {
    pub config: ConnectionConfig,
    pub current: Arc<Current>,
    pub reconnect: Arc<Notify>,
    pub refresh_jobs: Arc<Notify>,
    pub refresh_models: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl Live {
    /// Starts connecting `config` (when enabled) and syncing its jobs and models.
    /// `current` is kept across restarts so followers of its jobs carry on.
    pub(super) fn start(
        config: ConnectionConfig,
        current: Arc<Current>,
        shared: &Arc<Shared>,
    ) -> Live {
        let mut live = Live {
            config,
            current,
            reconnect: Arc::new(Notify::new()),
            refresh_jobs: Arc::new(Notify::new()),
            refresh_models: Arc::new(Notify::new()),
            tasks: Vec::new(),
        };
        let id = live.config.id.clone();
        if !live.config.enabled {
            live.current.set(None);
            shared.updates.send(Update::Connection {
                connection: id,
                status: ConnectionStatus::Disconnected,
            });
            return live;
        }
        live.tasks.push(tokio::spawn(keep_connected(
            live.config.clone(),
            live.current.clone(),
            live.reconnect.clone(),
            shared.clone(),
        )));
        live.tasks.push(tokio::spawn(tasks::sync_jobs(
            id.clone(),
            live.current.clone(),
            live.refresh_jobs.clone(),
            shared.updates.clone(),
        )));
        live.tasks.push(tokio::spawn(watch_cluster(
            id.clone(),
            live.current.clone(),
            shared.updates.clone(),
        )));
        live.tasks.push(tokio::spawn(models::sync_models(
            id,
            live.current.clone(),
            shared.watching_models.clone(),
            live.refresh_models.clone(),
            shared.updates.clone(),
        )));
        live
    }

    /// The connection's id.
    pub(super) fn id(&self) -> &ConnectionId {
        &self.config.id
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        self.current.set(None);
    }
}

/// How often a cluster's size and load are read (Ray refreshes them every 5 s).
const CLUSTER_EVERY: Duration = Duration::from_secs(5);

/// Sends the cluster's size and load when they change (rounded, so that small moves in
/// memory use do not repaint the console).
async fn watch_cluster(id: ConnectionId, current: Arc<Current>, updates: Updates) {
    let mut last = None;
    loop {
        if let Some(platform) = current.get() {
            match platform.cluster_summary().await {
                Ok(None) => return,
                Ok(Some(mut summary)) => {
                    const STEP: u64 = 100 * 1024 * 1024;
                    summary.memory_used = summary.memory_used / STEP * STEP;
                    summary.cpu_percent = summary.cpu_percent.round();
                    if last != Some(summary) {
                        last = Some(summary);
                        updates.send(Update::Cluster {
                            connection: id.clone(),
                            summary,
                        });
                    }
                }
                Err(e) => current.failed(&e),
            }
        }
        tokio::time::sleep(CLUSTER_EVERY).await;
    }
}

/// Connects, watches the connection, and connects again when it is lost, reporting
/// each change of state.
async fn keep_connected(
    config: ConnectionConfig,
    current: Arc<Current>,
    reconnect: Arc<Notify>,
    shared: Arc<Shared>,
) {
    let id = config.id.clone();
    let send = |status: ConnectionStatus| {
        shared.updates.send(Update::Connection {
            connection: id.clone(),
            status,
        });
    };
    let mut last_start = None;
    send(ConnectionStatus::Connecting);
    loop {
        match connection::connect(&config, &shared, &mut last_start).await {
            Ok(connected) => {
                let description = connected.platform.describe();
                let capabilities = connected.platform.capabilities();
                current.set(Some(connected.platform.clone()));
                send(ConnectionStatus::Connected {
                    description,
                    note: connected.note,
                    capabilities,
                });
                // Watch the connection: a failed call elsewhere or a failed check ends it.
                loop {
                    tokio::select! {
                        () = current.lost.notified() => {}
                        () = tokio::time::sleep(Duration::from_secs(2)) => {}
                    }
                    if let Err(e) = connected.platform.check_connection().await {
                        current.set(None);
                        send(match connection::explain(&config, &shared.settings, &e) {
                            ConnectFailure::SignedOut { error, hint } => {
                                ConnectionStatus::SignedOut { error, hint }
                            }
                            _ => ConnectionStatus::Reconnecting {
                                error: e.to_string(),
                            },
                        });
                        break;
                    }
                }
            }
            Err(failure) => {
                current.set(None);
                send(match failure {
                    ConnectFailure::SignedOut { error, hint } => {
                        ConnectionStatus::SignedOut { error, hint }
                    }
                    ConnectFailure::Failed { error, hint } => {
                        ConnectionStatus::Failed { error, hint }
                    }
                });
                tokio::select! {
                    () = reconnect.notified() => {}
                    () = tokio::time::sleep(Duration::from_secs(2)) => {}
                }
            }
        }
    }
}
