//! What every connection's tasks share: [`Shared`] (settings, secrets, the update
//! channel, how much of the models the UI shows) and [`Current`] (one connection's
//! platform client while connected). Imports nothing of the backend but its messages.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, OnceCell};

use super::messages::{BackendSettings, ModelWatch, Updates};
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
            watching_models: Arc::new(AtomicU8::new(ModelWatch::Off as u8)),
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
    /// Notified when a call found the platform unreachable or refusing.
    pub(super) lost: Notify,
}

impl Current {
    pub(super) fn get(&self) -> Option<Arc<dyn Platform>> {
        self.platform.read().ok()?.clone()
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub(super) fn set(&self, platform: Option<Arc<dyn Platform>>) {
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
