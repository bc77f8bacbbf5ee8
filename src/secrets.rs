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
        /// The fallback file.
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
    /// With the keyring: the file secrets went to while it did not answer, read too
    /// until all of them have moved into the keyring.
    leftover_file: Option<PathBuf>,
    /// What moving secrets from that file did, for the user to see, and whether any
    /// part of it failed.
    moved: Option<(String, bool)>,
}

impl Secrets {
    /// The OS keyring when its self-test passes (taking in what an earlier start without
    /// one kept in the file), else the 0600 file in `config_dir` with a warning that says
    /// why and how to get a keyring.
    pub fn open(config_dir: &Path) -> Secrets {
        let store = match keyring::Entry::store_status() {
            Ok(()) => keyring_core::get_default_store()
                .ok_or_else(|| "no default credential store was set".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        match store.and_then(|store| self_test(&store).map(|()| store)) {
            Ok(store) => Secrets::in_store_taking_file(store, config_dir),
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
            leftover_file: None,
            moved: None,
        }
    }

    /// Secrets in the 0600 file in `config_dir`, with an optional warning to show.
    pub fn in_file(config_dir: &Path, warning: Option<String>) -> Secrets {
        Secrets {
            backend: Backend::File(config_dir.join(FALLBACK_FILE), Mutex::new(())),
            warning,
            leftover_file: None,
            moved: None,
        }
    }

    /// Secrets in `store`, first moving in those kept in `config_dir`'s file while no
    /// keyring answered (as [`Secrets::open`] does with the OS keyring).
    pub fn in_store_taking_file(store: Arc<CredentialStore>, config_dir: &Path) -> Secrets {
        let mut secrets = Secrets::in_store(store);
        secrets.leftover_file = Some(config_dir.join(FALLBACK_FILE));
        secrets.moved = secrets.move_file_into_keyring();
        secrets
    }

    /// Moves every secret of the fallback file into the keyring, removing each from the
    /// file once the keyring holds it (the file goes when empty); says what it did.
    fn move_file_into_keyring(&self) -> Option<(String, bool)> {
        let (Backend::Keyring(store), Some(path)) = (&self.backend, &self.leftover_file) else {
            return None;
        };
        let mut all = match read_file(path) {
            Ok(all) if all.is_empty() => return None,
            Ok(all) => all,
            Err(e) => {
                let note =
                    format!("Secrets kept in a file could not be moved into the OS keyring: {e}");
                return Some((note, true));
            }
        };
        let count = all.len();
        let mut failed = Vec::new();
        all.retain(|key, secret| {
            let stored = entry(store, key).and_then(|e| {
                e.set_password(secret)
                    .map_err(|e| SecretError::Keyring(e.to_string()))
            });
            match stored {
                Ok(()) => false,
                Err(e) => {
                    failed.push(format!("{key}: {e}"));
                    true
                }
            }
        });
        let written = if all.is_empty() {
            std::fs::remove_file(path).map_err(|e| file_error(path, e))
        } else {
            write_file(path, &all)
        };
        let moved = count - all.len();
        let mut note = format!(
            "Moved {moved} secret(s) from {} into the OS keyring.",
            path.display()
        );
        if !failed.is_empty() {
            note.push_str(&format!(
                " {} stay in the file (readable only by you): {}",
                failed.len(),
                failed.join("; ")
            ));
        }
        if let Err(e) = &written {
            note.push_str(&format!(" The file could not be cleaned up: {e}"));
        }
        Some((note, !failed.is_empty() || written.is_err()))
    }

    /// What moving secrets from the fallback file into the keyring did at start.
    pub fn moved_note(&self) -> Option<&str> {
        self.moved.as_ref().map(|(note, _)| note.as_str())
    }

    /// True when moving secrets into the keyring at start left some behind.
    pub fn move_failed(&self) -> bool {
        self.moved.as_ref().is_some_and(|(_, failed)| *failed)
    }

    /// Where the secret called `key` is kept, for the Connections panel.
    pub fn location_of(&self, key: &str) -> Option<String> {
        let file = match &self.backend {
            Backend::Keyring(store) => {
                if entry(store, key).is_ok_and(|e| e.get_password().is_ok()) {
                    return Some(keyring_place(store));
                }
                self.leftover_file.as_ref()?
            }
            Backend::File(path, _) => path,
        };
        read_file(file)
            .ok()?
            .contains_key(key)
            .then(|| file_place(file))
    }

    /// What to tell the user about where secrets are, when it is not the OS keyring.
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }

    /// Where secrets are kept, for the Connections panel.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Keyring(store) => {
                // Secrets the keyring refused at start are still read from the file.
                let left = self
                    .leftover_file
                    .as_ref()
                    .and_then(|path| Some((path, read_file(path).ok()?.len())))
                    .filter(|(_, n)| *n > 0);
                match left {
                    Some((path, n)) => {
                        format!(
                            "{}; {n} still in {}",
                            keyring_place(store),
                            file_place(path)
                        )
                    }
                    None => keyring_place(store),
                }
            }
            Backend::File(path, _) => file_place(path),
        }
    }

    /// The secret called `key`, if one is stored.
    pub fn get(&self, key: &str) -> Result<Option<String>, SecretError> {
        match &self.backend {
            Backend::Keyring(store) => {
                let entry = entry(store, key)?;
                match entry.get_password() {
                    Ok(secret) => Ok(Some(secret)),
                    // One that could not be moved in from the file is read from there.
                    Err(keyring_core::Error::NoEntry) => match &self.leftover_file {
                        Some(path) => Ok(read_file(path)?.remove(key)),
                        None => Ok(None),
                    },
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
            Backend::Keyring(store) => {
                match entry(store, key)?.delete_credential() {
                    Ok(()) | Err(keyring_core::Error::NoEntry) => {}
                    Err(e) => return Err(SecretError::Keyring(e.to_string())),
                }
                if let Some(path) = &self.leftover_file {
                    let mut all = read_file(path)?;
                    if all.remove(key).is_some() {
                        write_file(path, &all)?;
                    }
                }
                Ok(())
            }
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

/// The keyring, as the Connections panel names it.
fn keyring_place(store: &Arc<CredentialStore>) -> String {
    format!("the OS keyring ({})", short_vendor(store))
}

/// The fallback file, as the Connections panel names it.
fn file_place(path: &Path) -> String {
    format!("{} (readable only by you)", path.display())
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
    fn secrets_kept_in_the_file_move_into_the_keyring_once_it_answers() {
        let dir = tempfile::tempdir().unwrap();
        let file = Secrets::in_file(dir.path(), None);
        file.set("connection:a", "secret-a").unwrap();
        file.set("connection:b", "secret-b").unwrap();
        assert!(
            file.location_of("connection:a")
                .unwrap()
                .contains(FALLBACK_FILE)
        );

        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        let keyring = Secrets::in_store_taking_file(store.clone(), dir.path());
        let note = keyring.moved_note().unwrap();
        assert!(!keyring.move_failed());
        assert!(note.contains("Moved 2 secret(s)"), "{note}");
        assert!(!dir.path().join(FALLBACK_FILE).exists(), "the file is gone");
        assert_eq!(
            keyring.get("connection:a").unwrap().as_deref(),
            Some("secret-a")
        );
        let direct = Secrets::in_store(store.clone());
        assert_eq!(
            direct.get("connection:b").unwrap().as_deref(),
            Some("secret-b")
        );
        assert!(
            keyring
                .location_of("connection:b")
                .unwrap()
                .contains("keyring")
        );
        assert_eq!(keyring.location_of("connection:zzz"), None);
        // Nothing left to move on the next start.
        assert!(
            Secrets::in_store_taking_file(store, dir.path())
                .moved_note()
                .is_none()
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
