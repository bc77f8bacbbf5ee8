//! Ray runtime-env packages: a folder or a few files zipped, named by the SHA-1 of the
//! zip (`_ray_pkg_<sha1>.zip`, as Ray's SDK names them), uploaded to the cluster's GCS
//! unless it already holds one of that name, and referred to as `gcs://…`.

use std::io::Write as _;
use std::path::Path;

use reqwest::Method;
use sha1::{Digest, Sha1};

use super::client::RayHttp;
use crate::platform::PlatformError;

/// Largest package the dashboard takes (its request body limit).
pub(super) const MAX_PACKAGE: usize = 100 * 1024 * 1024;

/// A zipped package ready to upload.
pub(super) struct Package {
    /// `_ray_pkg_<sha1>.zip`.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Package {
    /// The URI runtime envs refer to it by.
    pub(super) fn uri(&self) -> String {
        format!("gcs://{}", self.name)
    }

    fn from_zip(bytes: Vec<u8>) -> Result<Package, String> {
        if bytes.len() > MAX_PACKAGE {
            return Err(format!(
                "the package is {} MB; Ray takes at most {} MB (leave data out of the working dir, read it from storage instead)",
                bytes.len() / 1_000_000,
                MAX_PACKAGE / 1_000_000
            ));
        }
        let digest = Sha1::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Package {
            name: format!("_ray_pkg_{hex}.zip"),
            bytes,
        })
    }
}

fn options() -> zip::write::SimpleFileOptions {
    // A fixed time keeps the zip (and so its name) the same for the same content.
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
}

/// A package of `files` (path inside the zip, content).
pub(super) fn of_files(files: &[(&str, &[u8])]) -> Result<Package, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in files {
        zip.start_file(*name, options())
            .map_err(|e| e.to_string())?;
        zip.write_all(content).map_err(|e| e.to_string())?;
    }
    let cursor = zip.finish().map_err(|e| e.to_string())?;
    Package::from_zip(cursor.into_inner())
}

/// A package of everything in `dir` (paths relative to it; `.git` and `__pycache__`
/// left out). Blocking: call off the async threads.
pub(super) fn of_folder(dir: &Path) -> Result<Package, String> {
    if !dir.is_dir() {
        return Err(format!("{} is not a folder", dir.display()));
    }
    let mut files = Vec::new();
    collect(dir, dir, &mut files)?;
    files.sort();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let mut total = 0usize;
    for relative in files {
        let path = dir.join(&relative);
        let bytes =
            std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        total += bytes.len();
        if total > MAX_PACKAGE {
            return Err(format!(
                "{} holds more than {} MB; Ray takes at most that in a working dir",
                dir.display(),
                MAX_PACKAGE / 1_000_000
            ));
        }
        let name = relative.to_string_lossy().replace('\\', "/");
        zip.start_file(name, options()).map_err(|e| e.to_string())?;
        zip.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    let cursor = zip.finish().map_err(|e| e.to_string())?;
    Package::from_zip(cursor.into_inner())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name();
        if name == ".git" || name == "__pycache__" {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file()
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_owned());
        }
    }
    Ok(())
}

/// Uploads `package` unless the cluster already has it; answers its `gcs://` URI.
pub(super) async fn ensure_uploaded(
    http: &RayHttp,
    package: Package,
) -> Result<String, PlatformError> {
    let path = format!("/api/packages/gcs/{}", package.name);
    let (status, body) = http.send_any(http.dashboard(Method::GET, &path)).await?;
    if status.is_success() {
        return Ok(package.uri());
    }
    if status != reqwest::StatusCode::NOT_FOUND {
        return Err(super::client::error_of(status, &body));
    }
    let uri = package.uri();
    http.send(http.dashboard(Method::PUT, &path).body(package.bytes))
        .await?;
    Ok(uri)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn folders_zip_relative_and_the_same_content_gets_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/.git")).unwrap();
        std::fs::write(dir.path().join("train.py"), "print(1)").unwrap();
        std::fs::write(dir.path().join("pkg/util.py"), "x = 1").unwrap();
        std::fs::write(dir.path().join("pkg/.git/HEAD"), "ref").unwrap();
        let a = of_folder(dir.path()).unwrap();
        let b = of_folder(dir.path()).unwrap();
        assert_eq!(a.name, b.name);
        assert!(a.name.starts_with("_ray_pkg_") && a.name.ends_with(".zip"));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(a.bytes)).unwrap();
        let mut names: Vec<String> = (0..zip.len())
            .map(|i| zip.by_index(i).unwrap().name().unwrap().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["pkg/util.py", "train.py"]);
        std::fs::write(dir.path().join("train.py"), "print(2)").unwrap();
        assert_ne!(of_folder(dir.path()).unwrap().name, b.name);
        assert!(of_folder(&dir.path().join("missing")).is_err());
    }
}
