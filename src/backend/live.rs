//! One connection at work: its platform client once connected, and the tasks that keep
//! it connected and its jobs and models in step. Each connection has its own, so one
//! that is slow or dead never holds up another.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, OnceCell};
use tokio::task::JoinHandle;

use super::connection::{self, ConnectFailure};
use super::{BackendSettings, ConnectionStatus, Update, Updates, models, tasks};
use crate::domain::{ConnectionConfig, ConnectionId};
use crate::platform::{Platform, PlatformError};
use crate::secrets::Secrets;

/// How long the OS keyring's self-test may take before secrets go to the file instead.
const KEYRING_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection shares: the settings, the secret store, the update channel, and
/// how much of the models the UI is showing.
pub(super) struct Shared {
    pub settings: BackendSettings,
    pub updates: Updates,
    pub watching_models: Arc<AtomicU8>,
    secrets: OnceCell<Arc<Secrets>>,
}

impl Shared {
    pub(super) fn new(settings: BackendSettings, updates: Updates) -> Shared {
        Shared {
            settings,
            updates,
            watching_models: Arc::new(AtomicU8::new(super::ModelWatch::Off as u8)),
            secrets: OnceCell::new(),
        }
    }

    /// The secret store, opened (with the keyring's self-test) on first use.
    pub(super) async fn secrets(&self) -> Arc<Secrets> {
        self.secrets
            .get_or_init(|| async {
                let dir = self.settings.config_dir.clone();
                if !self.settings.use_os_keyring {
                    return Arc::new(Secrets::in_file(&dir, None));
                }
                let opening = tokio::task::spawn_blocking({
                    let dir = dir.clone();
                    move || Secrets::open(&dir)
                });
                match tokio::time::timeout(KEYRING_TIMEOUT, opening).await {
                    Ok(Ok(secrets)) => Arc::new(secrets),
                    Ok(Err(e)) => Arc::new(Secrets::in_file(
                        &dir,
                        Some(format!("The OS keyring check failed ({e}); secrets are kept in {} (readable only by you).", dir.join(crate::secrets::FALLBACK_FILE).display())),
                    )),
                    Err(_) => Arc::new(Secrets::in_file(
                        &dir,
                        Some(format!(
                            "The OS keyring did not answer within {} s, so secrets are kept in {} (readable only by you). Unlock your keyring and restart mlconsole to use it.",
                            KEYRING_TIMEOUT.as_secs(),
                            dir.join(crate::secrets::FALLBACK_FILE).display()
                        )),
                    )),
                }
            })
            .await
            .clone()
    }
}

/// A connection's platform client while connected, and a counter that changes with
/// each connection (so the job sync knows to list everything again).
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

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn set(&self, platform: Option<Arc<dyn Platform>>) {
        if let Ok(mut slot) = self.platform.write() {
            *slot = platform;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Reports a failed call: an unreachable or refusing platform makes the connection
    /// task check at once.
    pub(super) fn failed(&self, error: &PlatformError) {
        // A permission taken away mid-session is the connection's state too: reconnecting
        // shows which permission is missing on the connection itself.
        let denied = matches!(error, PlatformError::Rejected { status, .. } if status == "PERMISSION_DENIED");
        if denied
            || matches!(
                error,
                PlatformError::Unreachable { .. } | PlatformError::Unauthenticated(_)
            )
        {
            self.lost.notify_one();
        }
    }
}

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
