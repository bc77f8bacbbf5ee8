//! Secrets (platform tokens, service-account keys) in the OS keyring, through the
//! `keyring` crate: the Secret Service on Linux, the Keychain on macOS, the Credential
//! Manager on Windows. A round-trip self-test decides at start-up whether the keyring
//! works; where none answers (a headless Linux box) secrets go to a file that only the
//! user can read, and [`Secrets::warning`] says so and how to get a keyring.
//!
//! Every call may block (D-Bus round trips): call from a blocking thread, never the UI's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use keyring_core::{CredentialStore, Entry};

/// The keyring "service" every mlconsole secret is stored under.
pub const SERVICE: &str = "mlconsole";
/// The fallback file's name in the config dir.
pub const FALLBACK_FILE: &str = "secrets.json";

/// Why a secret could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The keyring refused or failed.
    #[error("the OS keyring failed: {0}")]
    Keyring(String),
    /// The fallback file could not be read or written.
    #[error("the secrets file {path} failed: {detail}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// Where secrets are kept.
enum Backend {
    Keyring(Arc<CredentialStore>),
    /// A JSON map in a 0600 file; the mutex orders writers within this process.
    File(PathBuf, Mutex<()>),
}

/// The console's secret store.
pub struct Secrets {
    backend: Backend,
    warning: Option<String>,
}

impl Secrets {
    /// The OS keyring when its self-test passes, else the 0600 file in `config_dir`
    /// with a warning that says why and how to get a keyring.
    pub fn open(config_dir: &Path) -> Secrets {
        let store = match keyring::Entry::store_status() {
            Ok(()) => keyring_core::get_default_store()
                .ok_or_else(|| "no default credential store was set".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match store.and_then(|store| self_test(&store).map(|()| store)) {
            Ok(store) => Secrets::in_store(store),
            Err(reason) => {
                Secrets::in_file(config_dir, Some(fallback_warning(config_dir, &reason)))
            }
        }
    }

    /// Secrets in `store` (e.g. keyring-core's mock store in tests); runs no self-test.
    pub fn in_store(store: Arc<CredentialStore>) -> Secrets {
        Secrets {
            backend: Backend::Keyring(store),
            warning: None,
        }
    }

    /// Secrets in the 0600 file in `config_dir`, with an optional warning to show.
    pub fn in_file(config_dir: &Path, warning: Option<String>) -> Secrets {
        Secrets {
            backend: Backend::File(config_dir.join(FALLBACK_FILE), Mutex::new(())),
            warning,
        }
    }

    /// What to tell the user about where secrets are, when it is not the OS keyring.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Where secrets are kept, for the Connections panel.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Keyring(store) => format!("the OS keyring ({})", short_vendor(store)),
            Backend::File(path, _) => format!("{} (readable only by you)", path.display()),
        }
    }

    /// The secret called `key`, if one is stored.
    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match &self.backend {
            Backend::Keyring(store) => {
                let entry = entry(store, key)?;
                match entry.get_password() {
                    Ok(secret) => Ok(Some(secret)),
                    Err(keyring_core::Error::NoEntry) => Ok(None),
                    Err(e) => Err(SecretError::Keyring(e.to_string())),
                }
            }
            Backend::File(path, lock) => {
                let _guard = lock
                    .lock()
                    .map_err(|_| file_error(path, "a writer panicked"))?;
                Ok(read_file(path)?.remove(key))
            }
        }
    }

    /// Stores `secret` as `key`, replacing any earlier one.
    pub fn set(&self, key: &str, secret: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keyring(store) => entry(store, key)?
                .set_password(secret)
                .map_err(|e| SecretError::Keyring(e.to_string())),
            Backend::File(path, lock) => {
                let _guard = lock
                    .lock()
                    .map_err(|_| file_error(path, "a writer panicked"))?;
                let mut all = read_file(path)?;
                all.insert(key.to_owned(), secret.to_owned());
                write_file(path, &all)
            }
        }
    }

    /// Forgets `key` (nothing happens when there is none).
    pub fn delete(&self, key: &str) -> Result<(), SecretError> {
        match &self.backend {
            Backend::Keyring(store) => match entry(store, key)?.delete_credential() {
                Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
                Err(e) => Err(SecretError::Keyring(e.to_string())),
            },
            Backend::File(path, lock) => {
                let _guard = lock
                    .lock()
                    .map_err(|_| file_error(path, "a writer panicked"))?;
                let mut all = read_file(path)?;
                if all.remove(key).is_some() {
                    write_file(path, &all)?;
                }
                Ok(())
            }
        }
    }
}

/// The keyring entry of a connection's secret (its token or key).
pub fn connection_key(connection: &str) -> String {
    format!("connection:{connection}")
}

fn entry(store: &Arc<CredentialStore>, key: &str) -> Result<Entry, SecretError> {
    Entry::new_in_store(store, SERVICE, key).map_err(|e| SecretError::Keyring(e.to_string()))
}

/// Writes, reads back and deletes a throwaway secret.
fn self_test(store: &Arc<CredentialStore>) -> Result<(), String> {
    let probe = format!("self-test-{}", std::process::id());
    let entry = Entry::new_in_store(store, SERVICE, &probe).map_err(|e| e.to_string())?;
    let value = "mlconsole keyring self-test";
    entry.set_password(value).map_err(|e| e.to_string())?;
    let back = entry.get_password().map_err(|e| e.to_string());
    let _ = entry.delete_credential();
    match back? {
        read if read == value => Ok(()),
        _ => Err("the keyring returned something else than was stored".into()),
    }
}

fn fallback_warning(config_dir: &Path, reason: &str) -> String {
    let reason: String = reason.chars().take(200).collect();
    format!(
        "No OS keyring answered ({reason}), so secrets are kept in {} (readable only by you). \
         To use a keyring, run a Secret Service such as gnome-keyring or KeePassXC in your \
         desktop session (e.g. `apt install gnome-keyring`, then log in again), and restart mlconsole.",
        config_dir.join(FALLBACK_FILE).display()
    )
}

fn short_vendor(store: &Arc<CredentialStore>) -> String {
    let vendor = store.vendor();
    vendor
        .split(',')
        .next()
        .unwrap_or(&vendor)
        .trim()
        .to_owned()
}

fn file_error(path: &Path, detail: impl std::fmt::Display) -> SecretError {
    SecretError::File {
        path: path.to_owned(),
        detail: detail.to_string(),
    }
}

fn read_file(path: &Path) -> Result<BTreeMap<String, String>, SecretError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| file_error(path, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(file_error(path, e)),
    }
}

fn write_file(path: &Path, all: &BTreeMap<String, String>) -> Result<(), SecretError> {
    let bytes = serde_json::to_vec_pretty(all).map_err(|e| file_error(path, e))?;
    crate::atomic_file::write_private(path, &bytes).map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_mock_keyring_round_trips_and_forgets() {
        let secrets = Secrets::in_store(keyring_core::mock::Store::new().unwrap());
        assert!(secrets.warning().is_none());
        assert_eq!(secrets.get("connection:ray-lab").unwrap(), None);
        secrets.set("connection:ray-lab", "tok-1").unwrap();
        secrets.set("connection:ray-lab", "tok-2").unwrap();
        assert_eq!(
            secrets.get("connection:ray-lab").unwrap().as_deref(),
            Some("tok-2")
        );
        secrets.delete("connection:ray-lab").unwrap();
        secrets.delete("connection:ray-lab").unwrap();
        assert_eq!(secrets.get("connection:ray-lab").unwrap(), None);
    }

    #[test]
    fn a_failing_keyring_is_an_error_not_a_missing_secret() {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let secrets = Secrets::in_store(store.clone());
        secrets.set("k", "v").unwrap();
        // The mock hands out one credential per name; make its next call fail.
        let entry = Entry::new_in_store(&store, SERVICE, "k").unwrap();
        let mock: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        mock.set_error(keyring_core::Error::NoStorageAccess(Box::new(
            std::io::Error::other("the collection is locked"),
        )));
        let err = secrets.get("k").unwrap_err().to_string();
        assert!(err.contains("locked"), "{err}");
        assert_eq!(
            secrets.get("k").unwrap().as_deref(),
            Some("v"),
            "nothing was lost"
        );
        assert!(
            self_test(&store).is_ok(),
            "a healthy store passes the self-test"
        );
    }

    #[test]
    fn the_fallback_file_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let secrets = Secrets::in_file(dir.path(), Some(fallback_warning(dir.path(), "no D-Bus")));
        let warning = secrets.warning().unwrap();
        assert!(
            warning.contains("no D-Bus") && warning.contains("gnome-keyring"),
            "{warning}"
        );
        secrets.set("connection:a", "secret-a").unwrap();
        secrets.set("connection:b", "secret-b").unwrap();
        secrets.delete("connection:a").unwrap();
        assert_eq!(secrets.get("connection:a").unwrap(), None);
        assert_eq!(
            secrets.get("connection:b").unwrap().as_deref(),
            Some("secret-b")
        );
        let mode = std::fs::metadata(dir.path().join(FALLBACK_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(FALLBACK_FILE), "{not json").unwrap();
        let err = secrets.get("connection:b").unwrap_err().to_string();
        assert!(err.contains(FALLBACK_FILE), "{err}");
    }
}
