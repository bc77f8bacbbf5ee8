//! Turning a connection's settings into a working platform client: finding a local
//! engine (and starting the built-in one when none answers), and saying what to do when
//! connecting fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::messages::BackendSettings;
use super::shared::Shared;
use crate::domain::{ConnectionConfig, ConnectionKind, VertexCredentials};
use crate::platform::{Platform, PlatformError, connect};

/// A working connection and, once, what was done to get it.
pub(super) struct Connected {
    pub platform: Arc<dyn Platform>,
    pub note: Option<String>,
}

/// Why connecting failed, and what the user can do.
pub(super) enum ConnectFailure {
    /// The platform refused the credentials.
    SignedOut {
        error: String,
        hint: String,
    },
    Failed {
        error: String,
        hint: String,
    },
}

/// The data dir of a local engine connection.
pub(super) fn local_data_dir(config: &ConnectionConfig, settings: &BackendSettings) -> PathBuf {
    match &config.kind {
        ConnectionKind::Local {
            data_dir: Some(dir),
        } => dir.clone(),
        _ => settings.data_dir.clone(),
    }
}

/// Connects `config`; for the built-in local engine, starts the engine when none answers
/// and the settings allow (at most once every 30 s).
pub(super) async fn connect(
    config: &ConnectionConfig,
    shared: &Shared,
    last_start: &mut Option<Instant>,
) -> Result<Connected, ConnectFailure> {
    match &config.kind {
        ConnectionKind::Local { .. } => {
            let data_dir = local_data_dir(config, &shared.settings);
            let starter = config
                .is_builtin()
                .then_some(shared.settings.start_engine_with.as_deref())
                .flatten();
            connect_local(&data_dir, starter, last_start)
                .await
                .map_err(|e| explain(config, &shared.settings, &e))
        }
        kind => {
            let secret = if connect::needs_secret(kind) {
                stored_secret(config, shared).await?
            } else {
                None
            };
            match connect::remote(kind, secret) {
                Some(Ok(platform)) => checked(platform, config, shared).await,
                Some(Err(connect::SignedOut { error, hint })) => {
                    Err(ConnectFailure::SignedOut { error, hint })
                }
                None => Err(ConnectFailure::Failed {
                    error: "not a remote connection".into(),
                    hint: String::new(),
                }),
            }
        }
    }
}

/// `platform` once it answers and takes its credentials; else what that means.
async fn checked(
    platform: Arc<dyn Platform>,
    config: &ConnectionConfig,
    shared: &Shared,
) -> Result<Connected, ConnectFailure> {
    platform
        .check_connection()
        .await
        .map_err(|e| explain(config, &shared.settings, &e))?;
    Ok(Connected {
        platform,
        note: None,
    })
}

/// The connection's secret from the keyring, if one is stored.
async fn stored_secret(
    config: &ConnectionConfig,
    shared: &Shared,
) -> Result<Option<String>, ConnectFailure> {
    let secrets = shared.secrets().await;
    let key = crate::secrets::connection_key(config.id.as_str());
    tokio::task::spawn_blocking(move || secrets.get(&key))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
        .map_err(|error| ConnectFailure::Failed {
            error: format!("cannot read the connection's secret: {error}"),
            hint: "unlock your keyring, then retry".into(),
        })
}

async fn try_local(data_dir: &Path) -> Result<Arc<dyn Platform>, PlatformError> {
    let platform = connect::local(data_dir)?;
    platform.check_connection().await?;
    Ok(Arc::new(platform))
}

async fn connect_local(
    data_dir: &Path,
    start_with: Option<&Path>,
    last_start: &mut Option<Instant>,
) -> Result<Connected, PlatformError> {
    let first = match try_local(data_dir).await {
        Ok(platform) => {
            return Ok(Connected {
                platform,
                note: None,
            });
        }
        Err(e) => e,
    };
    let Some(exe) = start_with else {
        return Err(first);
    };
    if !matches!(first, PlatformError::Unreachable { .. }) {
        return Err(first);
    }
    let recently = last_start.is_some_and(|t| t.elapsed() < Duration::from_secs(30));
    if !recently {
        *last_start = Some(Instant::now());
        if let Err(e) = start_engine(exe, data_dir) {
            return Err(PlatformError::Unreachable {
                address: "the local engine".into(),
                detail: format!("it could not be started: {e}"),
            });
        }
    }
    // Give a starting engine a few seconds to answer.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match try_local(data_dir).await {
            Ok(platform) => {
                let note = (!recently).then(|| {
                    format!(
                        "Started the local engine in the background ({}).",
                        platform.describe()
                    )
                });
                return Ok(Connected { platform, note });
            }
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => {}
        }
    }
}

/// Starts `exe engine` detached: its own process group, no terminal, output to a log in
/// the data dir. It keeps running (and so do its jobs) when the console closes.
fn start_engine(exe: &Path, data_dir: &Path) -> std::io::Result<()> {
    crate::engine::private_dir::create_private_dir(data_dir)?;
    let log = open_engine_log(&data_dir.join("engine.log"))?;
    let mut child = Command::new(exe)
        .arg("engine")
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()?;
    // Reap it if it exits while the console runs (e.g. another engine already had the
    // data dir); otherwise it outlives us.
    std::thread::Builder::new()
        .name("engine-reaper".into())
        .spawn(move || child.wait())?;
    Ok(())
}

/// Past this size the engine's log is moved to `engine.log.1` (replacing the one there)
/// when the console starts an engine.
pub const ENGINE_LOG_ROTATE_AT: u64 = 8 << 20;

/// Opens the engine's log for appending, readable only by this user: an earlier run's
/// lines are kept (they may say why it stopped), and a log grown past
/// [`ENGINE_LOG_ROTATE_AT`] starts anew with the old one kept beside it.
pub fn open_engine_log(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if std::fs::metadata(path).is_ok_and(|m| m.len() > ENGINE_LOG_ROTATE_AT) {
        std::fs::rename(path, path.with_extension("log.1"))?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// What a failed connection attempt means for the user, and what they can do.
pub(super) fn explain(
    config: &ConnectionConfig,
    settings: &BackendSettings,
    error: &PlatformError,
) -> ConnectFailure {
    match &config.kind {
        ConnectionKind::Local { .. } => {
            let data_dir = local_data_dir(config, settings);
            match error {
                PlatformError::Unreachable { .. } => ConnectFailure::Failed {
                    error: error.to_string(),
                    hint: format!(
                        "start it with `mlconsole engine --data-dir {}`; its last start logged to {}",
                        data_dir.display(),
                        data_dir.join("engine.log").display()
                    ),
                },
                PlatformError::Unauthenticated(_) => ConnectFailure::SignedOut {
                    error: error.to_string(),
                    hint: format!(
                        "the engine refused the token in {}; restart the engine so both use the same data directory",
                        data_dir.join("token").display()
                    ),
                },
                _ => ConnectFailure::Failed {
                    error: error.to_string(),
                    hint: "check the engine's log".into(),
                },
            }
        }
        ConnectionKind::Ray { dashboard_url, .. } => match error {
            PlatformError::Unauthenticated(_) => ConnectFailure::SignedOut {
                error: error.to_string(),
                hint: "edit the connection (Ctrl+K) and give the cluster's token (`ray get-auth-token` on the head node prints it)".into(),
            },
            PlatformError::Unreachable { .. } => ConnectFailure::Failed {
                error: error.to_string(),
                hint: format!(
                    "is the cluster up and its dashboard at {dashboard_url}? (`ray start --head` serves it on port 8265; a remote one needs a port-forward); retrying by itself"
                ),
            },
            _ => ConnectFailure::Failed {
                error: error.to_string(),
                hint: "retrying by itself".into(),
            },
        },
        ConnectionKind::Vertex {
            project,
            credentials,
            ..
        } => match error {
            PlatformError::Unauthenticated(_) => ConnectFailure::SignedOut {
                error: error.to_string(),
                hint: match credentials {
                    VertexCredentials::ApplicationDefault => {
                        "run `gcloud auth application-default login`; the console signs in again by itself"
                    }
                    VertexCredentials::ServiceAccountKey => {
                        "the key may be disabled or deleted: create a new key for the service account and pick it (Ctrl+K)"
                    }
                    VertexCredentials::Gcloud => "run `gcloud auth login`; the console signs in again by itself",
                }
                .into(),
            },
            PlatformError::Rejected { status, .. } if status == "PERMISSION_DENIED" => {
                ConnectFailure::Failed {
                    error: error.to_string(),
                    hint: format!(
                        "ask an owner of {project} for the Vertex AI User role (roles/aiplatform.user), and check that the Vertex AI API is enabled"
                    ),
                }
            }
            _ => ConnectFailure::Failed {
                error: error.to_string(),
                hint: "check the network (or the connection's API endpoint); retrying by itself".into(),
            },
        },
    }
}

use std::os::unix::process::CommandExt as _;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_engine_log_is_appended_private_and_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("engine.log");
        open_engine_log(&path)
            .unwrap()
            .write_all(b"first run\n")
            .unwrap();
        open_engine_log(&path)
            .unwrap()
            .write_all(b"second run\n")
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "first run\nsecond run\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        let big = vec![b'x'; ENGINE_LOG_ROTATE_AT as usize + 1];
        open_engine_log(&path).unwrap().write_all(&big).unwrap();
        open_engine_log(&path)
            .unwrap()
            .write_all(b"after\n")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        let old = std::fs::metadata(dir.path().join("engine.log.1")).unwrap();
        assert!(old.len() > ENGINE_LOG_ROTATE_AT);
    }
}
