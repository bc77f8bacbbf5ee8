//! Finding the local engine, starting it when none answers, and keeping connected.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::DEFAULT_PORT;
use crate::platform::{LocalPlatform, Platform, PlatformError};

/// Where the console finds its local engine.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// The engine's data directory: `engine.json` says where it listens, `token` holds
    /// the bearer token.
    pub data_dir: PathBuf,
    /// The `mlconsole` binary to start `engine` with when none answers; `None` never
    /// starts one.
    pub start_engine_with: Option<PathBuf>,
    /// The `mlconsole` binary whose `sample-train` the "Run sample job" button runs.
    pub sample_trainer: Option<PathBuf>,
}

/// A working connection and, once, what was done to get it.
pub(super) struct Connected {
    pub platform: Arc<dyn Platform>,
    pub note: Option<String>,
}

/// Why connecting failed, and what the user can do.
pub(super) struct ConnectError {
    pub error: String,
    pub hint: String,
}

/// Where the engine of `data_dir` says it listens, or the default address.
fn engine_address(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join("engine.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("address")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_PORT}"))
}

async fn try_connect(data_dir: &Path) -> Result<Arc<dyn Platform>, PlatformError> {
    let address = engine_address(data_dir);
    let token = std::fs::read_to_string(data_dir.join("token")).map_err(|e| {
        PlatformError::Unreachable {
            address: address.clone(),
            detail: format!("no token in {} ({e})", data_dir.display()),
        }
    })?;
    let platform = LocalPlatform::new(address, token.trim());
    platform.check_connection().await?;
    Ok(Arc::new(platform))
}

/// Connects to the engine of `settings.data_dir`, starting one if none answers and
/// `start_engine_with` allows (at most once per `restart_every`).
pub(super) async fn connect(
    settings: &ConnectionSettings,
    last_start: &mut Option<Instant>,
) -> Result<Connected, ConnectError> {
    let first = match try_connect(&settings.data_dir).await {
        Ok(platform) => {
            return Ok(Connected {
                platform,
                note: None,
            });
        }
        Err(e) => e,
    };
    let Some(exe) = &settings.start_engine_with else {
        return Err(explain(&first, &settings.data_dir));
    };
    if !matches!(first, PlatformError::Unreachable { .. }) {
        return Err(explain(&first, &settings.data_dir));
    }
    let recently = last_start.is_some_and(|t| t.elapsed() < Duration::from_secs(30));
    if !recently {
        *last_start = Some(Instant::now());
        if let Err(e) = start_engine(exe, &settings.data_dir) {
            return Err(ConnectError {
                error: format!("could not start the local engine: {e}"),
                hint: format!(
                    "run `mlconsole engine --data-dir {}` in a terminal to see why",
                    settings.data_dir.display()
                ),
            });
        }
    }
    // Give a starting engine a few seconds to answer.
    let deadline = Instant::now() + Duration::from_secs(8);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        match try_connect(&settings.data_dir).await {
            Ok(platform) => {
                let note = (!recently).then(|| {
                    format!(
                        "Started the local engine in the background ({}).",
                        platform.describe()
                    )
                });
                return Ok(Connected { platform, note });
            }
            Err(e) if Instant::now() > deadline => return Err(explain(&e, &settings.data_dir)),
            Err(_) => {}
        }
    }
}

/// Starts `exe engine` detached: its own process group, no terminal, output to a log in
/// the data dir. It keeps running (and so do its jobs) when the console closes.
fn start_engine(exe: &Path, data_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(data_dir)?;
    let log = std::fs::File::create(data_dir.join("engine.log"))?;
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

fn explain(error: &PlatformError, data_dir: &Path) -> ConnectError {
    let log = data_dir.join("engine.log");
    let hint = match error {
        PlatformError::Unreachable { .. } => format!(
            "start it with `mlconsole engine --data-dir {}`; its last start logged to {}",
            data_dir.display(),
            log.display()
        ),
        PlatformError::Unauthenticated(_) => format!(
            "the engine refused the token in {}; restart the engine so both use the same data directory",
            data_dir.join("token").display()
        ),
        _ => "check the engine's log".to_owned(),
    };
    ConnectError {
        error: error.to_string(),
        hint,
    }
}

use std::os::unix::process::CommandExt as _;
