//! Version artifacts in buckets: a `gs://` or `s3://` `deploymentUri` is fetched once into
//! a staging folder of the engine's data dir, with the engine's bucket credentials and
//! emulator settings, and loaded from there like a local one.

use std::path::{Path, PathBuf};

use super::Engine;
use super::registry::ModelError;
use crate::buckets::{self, BucketUrl};

/// Largest artifact fetched from a bucket, all files together.
const MAX_ARTIFACT_BYTES: u64 = 8 << 30;

/// A fetched copy of a bucket artifact; its folder goes when this is dropped.
#[derive(Debug)]
pub struct Staged {
    dir: PathBuf,
}

impl Staged {
    /// The folder holding the artifact's files.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Engine {
    /// Fetches the artifact a bucket `deploymentUri` names; `None` for a local one.
    pub async fn stage_artifact(&self, uri: &str) -> Result<Option<Staged>, ModelError> {
        if !BucketUrl::is_bucket(uri) {
            return Ok(None);
        }
        let invalid = |message: String| {
            ModelError::InvalidArgument(format!("deploymentUri {uri:?}: {message}"))
        };
        let url = BucketUrl::parse(uri).map_err(|e| invalid(e.to_string()))?;
        let bucket = buckets::open(&url, &self.config.buckets).map_err(|e| invalid(e.0))?;
        let root = self.config.data_dir.join("staging");
        std::fs::create_dir_all(&root)
            .map_err(|e| ModelError::Storage(format!("cannot make {}: {e}", root.display())))?;
        let dir = tempfile_dir(&root)
            .map_err(|e| ModelError::Storage(format!("cannot stage in {}: {e}", root.display())))?;
        let staged = Staged { dir };
        let files = buckets::download_prefix(&bucket, staged.path(), MAX_ARTIFACT_BYTES)
            .await
            .map_err(|e| invalid(e.0))?;
        tracing::info!("fetched {files} file(s) of {uri} for a new version");
        Ok(Some(staged))
    }
}

/// A new empty folder under `root` with a unique name.
fn tempfile_dir(root: &Path) -> std::io::Result<PathBuf> {
    for attempt in 0..100u32 {
        let name = format!(
            "{}-{}-{attempt}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let dir = root.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no free staging folder name"))
}
