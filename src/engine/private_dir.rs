//! The engine's data directory is private to the user: a job's environment may hold API
//! keys, its logs may print them, and the token opens the API. Folders are 0700 and files
//! 0600; what an older engine or a user left looser is tightened at start.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

/// Folders of the data directory, besides itself, that hold private state.
const FOLDERS: [&str; 3] = ["jobs", "models", "job-dirs"];
/// Files at the top of the data directory that hold private state.
const FILES: [&str; 8] = [
    "token",
    "state.db",
    "state.db-wal",
    "state.db-shm",
    "engine.json",
    "engine.log",
    "engine.log.1",
    "engine.lock",
];

/// Creates `dir` (and its parents) readable only by this user, if it is missing.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Makes the data directory and its folders 0700 and its files 0600 where they are
/// looser; answers what was tightened, for the engine's log.
pub fn tighten(data_dir: &Path) -> io::Result<Vec<String>> {
    let mut tightened = Vec::new();
    let mut tighten_one = |path: &Path, mode: u32| -> io::Result<()> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        // A link is left alone: changing its target's mode is not ours to do.
        if meta.file_type().is_symlink() {
            return Ok(());
        }
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, Permissions::from_mode(mode))?;
            tightened.push(path.display().to_string());
        }
        Ok(())
    };
    tighten_one(data_dir, 0o700)?;
    for folder in FOLDERS {
        tighten_one(&data_dir.join(folder), 0o700)?;
    }
    for file in FILES {
        tighten_one(&data_dir.join(file), 0o600)?;
    }
    Ok(tightened)
}

/// The process's file-creation mask: set to `mask`, answering the one it replaces.
pub fn set_umask(mask: u32) -> u32 {
    let mode = nix::sys::stat::Mode::from_bits_truncate(mask);
    nix::sys::stat::umask(mode).bits()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_folders_and_files_are_tightened_and_links_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        create_private_dir(&data.join("jobs")).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("jobs")), 0o700);
        std::fs::set_permissions(&data, Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir(data.join("models")).unwrap();
        std::fs::set_permissions(data.join("models"), Permissions::from_mode(0o775)).unwrap();
        std::fs::write(data.join("state.db"), b"x").unwrap();
        std::fs::set_permissions(data.join("state.db"), Permissions::from_mode(0o644)).unwrap();
        let outside = root.path().join("outside");
        std::fs::write(&outside, b"y").unwrap();
        std::fs::set_permissions(&outside, Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&outside, data.join("engine.log")).unwrap();

        let tightened = tighten(&data).unwrap();
        assert_eq!(tightened.len(), 3, "{tightened:?}");
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("models")), 0o700);
        assert_eq!(mode(&data.join("state.db")), 0o600);
        assert_eq!(mode(&outside), 0o644, "a link's target is not ours");
        assert!(tighten(&data).unwrap().is_empty(), "nothing left to do");
    }
}
