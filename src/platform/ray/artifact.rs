//! A version's artifact read from the console's machine for a Ray package: an ONNX
//! file, or the files a framework loads, within the size a package holds.

use std::path::PathBuf;

use super::package;
use crate::domain::Framework;

/// Most bytes of artifact a package carries.
const MAX_MODEL: u64 = package::MAX_PACKAGE as u64;

/// A version's artifact as read for a package.
pub(super) enum Artifact {
    /// An ONNX model's bytes.
    Onnx(Vec<u8>),
    /// The files (path in the artifact, bytes) a framework loads.
    Files(Framework, Vec<(String, Vec<u8>)>),
}

/// Reads the artifact `uri` names, telling its framework from its files as the local
/// engine does.
pub(super) fn read_artifact(uri: &str, given: &str) -> Result<Artifact, String> {
    let path = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
    let names: Vec<String> = if path.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&path)
            .map_err(|e| format!("deploymentUri: cannot read {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
    } else {
        path.file_name()
            .map(|n| vec![n.to_string_lossy().into_owned()])
            .unwrap_or_default()
    };
    let given = Framework::parse(given)?;
    let framework = match Framework::detect(&names, given) {
        Ok(framework) => framework,
        Err(_) if given.is_none() && path.is_file() => Framework::Onnx,
        Err(e) if path.exists() => return Err(format!("deploymentUri: {e}")),
        Err(_) => return read_model(uri).map(Artifact::Onnx),
    };
    if framework.in_engine() {
        return read_model(uri).map(Artifact::Onnx);
    }
    let mut files = Vec::new();
    let mut total = 0u64;
    if path.is_file() {
        let name = names.first().cloned().unwrap_or_default();
        files.push((name, read_capped(&path, &mut total)?));
    } else {
        collect_files(&path, "", &mut files, &mut total, 0)?;
    }
    Ok(Artifact::Files(framework, files))
}

fn read_capped(path: &std::path::Path, total: &mut u64) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("deploymentUri: cannot read {}: {e}", path.display()))?
        .len();
    *total += size;
    if *total > MAX_MODEL {
        return Err(format!(
            "deploymentUri: the artifact is over {} MB; a Ray package holds at most that",
            MAX_MODEL / 1_000_000
        ));
    }
    std::fs::read(path).map_err(|e| format!("deploymentUri: cannot read {}: {e}", path.display()))
}

fn collect_files(
    dir: &std::path::Path,
    prefix: &str,
    files: &mut Vec<(String, Vec<u8>)>,
    total: &mut u64,
    depth: usize,
) -> Result<(), String> {
    if depth > 32 {
        return Err(format!(
            "deploymentUri: {} is nested too deep",
            dir.display()
        ));
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("deploymentUri: cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, &format!("{name}/"), files, total, depth + 1)?;
        } else {
            files.push((name, read_capped(&path, total)?));
        }
    }
    Ok(())
}

/// The bytes of the `model.onnx` a deployment URI names (a file, or a folder holding one).
fn read_model(uri: &str) -> Result<Vec<u8>, String> {
    let path = PathBuf::from(uri.strip_prefix("file://").unwrap_or(uri));
    let file = if path.is_dir() {
        path.join("model.onnx")
    } else {
        path
    };
    let size = std::fs::metadata(&file)
        .map_err(|e| format!("deploymentUri: cannot read {}: {e}", file.display()))?
        .len();
    if size > MAX_MODEL {
        return Err(format!(
            "deploymentUri: {} is {} MB; a Ray package holds at most {} MB",
            file.display(),
            size / 1_000_000,
            MAX_MODEL / 1_000_000
        ));
    }
    std::fs::read(&file).map_err(|e| format!("deploymentUri: cannot read {}: {e}", file.display()))
}
