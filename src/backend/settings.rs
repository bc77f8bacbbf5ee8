//! The connections file: every connection's non-secret settings, as JSON in the
//! platform's config dir, written atomically. A file that cannot be read is kept as a
//! backup beside it and explained; the console then starts with what it could read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::ConnectionConfig;

/// The file's name in the config dir.
pub const SETTINGS_FILE: &str = "connections.json";
const VERSION: u32 = 1;
/// Largest connections file read: anything bigger is damage, not settings.
const MAX_FILE: u64 = 4 << 20;

/// The platform's config dir for mlconsole, e.g. `~/.config/mlconsole`.
pub fn default_config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "mlconsole", "mlconsole")
        .map(|d| d.config_dir().to_owned())
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    connections: &'a [ConnectionConfig],
}

#[derive(Deserialize)]
struct FileIn {
    #[serde(default)]
    version: u32,
    #[serde(default)]
    connections: Vec<serde_json::Value>,
}

/// The connections read at start, and what went wrong reading them.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// Every connection, the built-in local engine first.
    pub connections: Vec<ConnectionConfig>,
    /// A problem to show (the file was broken and where its backup is).
    pub problem: Option<String>,
}

/// Reads the connections of `config_dir`; never fails: a broken file is backed up,
/// explained in [`Loaded::problem`], and what could be read is kept.
pub fn load(config_dir: &Path) -> Loaded {
    let path = config_dir.join(SETTINGS_FILE);
    let read = std::fs::File::open(&path).and_then(|file| {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE + 1), &mut bytes)?;
        Ok(bytes)
    });
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Loaded {
                connections: vec![ConnectionConfig::local_default()],
                problem: None,
            };
        }
        Err(e) => {
            return Loaded {
                connections: vec![ConnectionConfig::local_default()],
                problem: Some(format!(
                    "Could not read {} ({e}); using the local engine only until it can be read.",
                    path.display()
                )),
            };
        }
    };
    let too_large = bytes.len() as u64 > MAX_FILE;
    let parsed = if too_large {
        Err(format!(
            "it is over {} MiB; a connections file is a few KB",
            MAX_FILE >> 20
        ))
    } else {
        serde_json::from_slice::<FileIn>(&bytes).map_err(|e| e.to_string())
    };
    let (connections, broken) = match parsed {
        Ok(file) if file.version <= VERSION => read_entries(file.connections),
        Ok(file) => (
            Vec::new(),
            vec![format!(
                "it was written by a newer mlconsole (version {})",
                file.version
            )],
        ),
        Err(e) => (Vec::new(), vec![e]),
    };
    let connections = with_builtin(connections);
    if broken.is_empty() {
        return Loaded {
            connections,
            problem: None,
        };
    }
    let backup = backup_path(&path);
    let kept = match std::fs::copy(&path, &backup) {
        // With the old text safe, write what was read so the next start is clean.
        Ok(_) => match save(config_dir, &connections) {
            Ok(()) => format!("The file as it was is kept as {}.", backup.display()),
            Err(e) => format!(
                "The file as it was is kept as {}; rewriting it failed ({e}).",
                backup.display()
            ),
        },
        Err(e) => format!("A backup could not be written ({e}); the file was left as it is."),
    };
    Loaded {
        problem: Some(format!(
            "The connections file {} could not be read in full: {}. {kept} Read {} connection(s); fix or re-add the rest.",
            path.display(),
            broken.join("; "),
            connections.len()
        )),
        connections,
    }
}

/// Each entry that reads as a connection, and why each other one does not.
fn read_entries(values: Vec<serde_json::Value>) -> (Vec<ConnectionConfig>, Vec<String>) {
    let mut good: Vec<ConnectionConfig> = Vec::new();
    let mut broken = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        match serde_json::from_value::<ConnectionConfig>(value) {
            Ok(c) if good.iter().any(|g| g.id == c.id || g.name == c.name) => {
                broken.push(format!(
                    "connection {} repeats the id or name {:?}",
                    i + 1,
                    c.name
                ));
            }
            Ok(c) => good.push(c),
            Err(e) => broken.push(format!("connection {}: {e}", i + 1)),
        }
    }
    (good, broken)
}

/// Puts the built-in local engine connection first, adding it if missing.
fn with_builtin(mut connections: Vec<ConnectionConfig>) -> Vec<ConnectionConfig> {
    match connections.iter().position(ConnectionConfig::is_builtin) {
        Some(0) => {}
        Some(i) => {
            let local = connections.remove(i);
            connections.insert(0, local);
        }
        None => connections.insert(0, ConnectionConfig::local_default()),
    }
    connections
}

fn backup_path(path: &Path) -> PathBuf {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S%.3f");
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".broken-{stamp}"));
    path.with_file_name(name)
}

/// Writes every connection to `config_dir`, atomically.
pub fn save(config_dir: &Path, connections: &[ConnectionConfig]) -> std::io::Result<()> {
    let file = FileOut {
        version: VERSION,
        connections,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other)?;
    bytes.push(b'\n');
    crate::atomic_file::write(&config_dir.join(SETTINGS_FILE), &bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::{ConnectionId, ConnectionKind};

    fn ray(id: &str) -> ConnectionConfig {
        ConnectionConfig {
            id: ConnectionId::new(id),
            name: id.into(),
            color: [1, 2, 3],
            read_only: true,
            enabled: true,
            kind: ConnectionKind::Ray {
                dashboard_url: "http://127.0.0.1:8265".into(),
                serve_url: None,
            },
        }
    }

    #[test]
    fn a_missing_file_is_the_local_engine_alone() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(dir.path());
        assert_eq!(loaded.connections, vec![ConnectionConfig::local_default()]);
        assert_eq!(loaded.problem, None);
    }

    #[test]
    fn saved_connections_load_back() {
        let dir = tempfile::tempdir().unwrap();
        let list = vec![ConnectionConfig::local_default(), ray("ray-lab")];
        save(dir.path(), &list).unwrap();
        assert_eq!(load(dir.path()).connections, list);
    }

    #[test]
    fn a_huge_file_is_refused_without_being_parsed_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SETTINGS_FILE);
        let huge = format!("{}{}", "[".repeat(5 << 20), "]".repeat(5 << 20));
        std::fs::write(&path, &huge).unwrap();
        let loaded = load(dir.path());
        let problem = loaded.problem.unwrap();
        assert!(problem.contains("over 4 MiB"), "{problem:.300}");
        assert_eq!(loaded.connections.len(), 1, "the local engine still");
        let backups = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("broken")
            })
            .count();
        assert_eq!(backups, 1, "the file as it was is kept");
    }

    #[test]
    fn a_broken_file_is_backed_up_explained_and_read_as_far_as_it_goes() {
        let dir = tempfile::tempdir().unwrap();
        let good = serde_json::to_string(&ray("ray-lab")).unwrap();
        let text = format!(
            r##"{{"version": 1, "connections": [{good}, {{"id": "x", "name": "x", "color": "#000000", "kind": "rey"}}]}}"##
        );
        std::fs::write(dir.path().join(SETTINGS_FILE), &text).unwrap();
        let loaded = load(dir.path());
        assert_eq!(loaded.connections.len(), 2, "local + the good one");
        assert_eq!(loaded.connections[1].name, "ray-lab");
        let problem = loaded.problem.unwrap();
        assert!(
            problem.contains("connection 2") && problem.contains("rey"),
            "{problem}"
        );
        let backups: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".broken-"))
            .collect();
        assert_eq!(backups.len(), 1);
        assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), text);
        assert_eq!(
            load(dir.path()).problem,
            None,
            "what was read is written back"
        );

        std::fs::write(dir.path().join(SETTINGS_FILE), "{\"connections\": [").unwrap();
        let loaded = load(dir.path());
        assert_eq!(loaded.connections, vec![ConnectionConfig::local_default()]);
        assert!(loaded.problem.unwrap().contains("EOF"));
    }
}
