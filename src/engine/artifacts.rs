//! Bringing a version's artifact into the engine's store: a SavedModel folder, a model
//! file, and a custom prediction routine's packages installed where its workers find them.

use std::path::Path;
use std::process::Command;

/// Deepest folder nesting copied from an artifact.
const MAX_DEPTH: usize = 32;
/// Most files copied from an artifact (links are followed, so a folder linking to
/// itself would otherwise copy without end).
const MAX_FILES: usize = 100_000;
/// Most bytes copied from an artifact.
const MAX_BYTES: u64 = 16 << 30;

/// What is left to copy.
struct Budget {
    files: usize,
    bytes: u64,
}

/// Copies the artifact at `source` (a folder, or one file) into the folder `target`,
/// replacing what was there. The error is for the version's `errorMessage`.
pub fn copy_in(source: &Path, target: &Path) -> Result<(), String> {
    if source == target {
        return Ok(());
    }
    let partial = target.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    let copied = if source.is_dir() {
        let mut budget = Budget {
            files: MAX_FILES,
            bytes: MAX_BYTES,
        };
        copy_tree(source, &partial, 0, &mut budget)
    } else {
        std::fs::create_dir_all(&partial)
            .map_err(|e| format!("cannot make {}: {e}", partial.display()))
            .and_then(|()| {
                let name = source.file_name().unwrap_or_default();
                std::fs::copy(source, partial.join(name))
                    .map(drop)
                    .map_err(|e| format!("cannot copy {}: {e}", source.display()))
            })
    };
    if let Err(e) = copied {
        let _ = std::fs::remove_dir_all(&partial);
        return Err(e);
    }
    let _ = std::fs::remove_dir_all(target);
    std::fs::rename(&partial, target)
        .map_err(|e| format!("cannot move the artifact into {}: {e}", target.display()))
}

fn copy_tree(from: &Path, to: &Path, depth: usize, budget: &mut Budget) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "{} is nested more than {MAX_DEPTH} folders deep",
            from.display()
        ));
    }
    std::fs::create_dir_all(to).map_err(|e| format!("cannot make {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        // Follows links, as a copy of the model should hold what they point at.
        let meta =
            std::fs::metadata(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        budget.files = budget.files.checked_sub(1).ok_or_else(|| {
            format!("the artifact holds more than {MAX_FILES} files; give the model's own folder")
        })?;
        if meta.is_dir() {
            copy_tree(&path, &target, depth + 1, budget)?;
        } else {
            budget.bytes = budget.bytes.checked_sub(meta.len()).ok_or_else(|| {
                format!(
                    "the artifact is over {} GiB; give the model's own folder",
                    MAX_BYTES >> 30
                )
            })?;
            std::fs::copy(&path, &target)
                .map_err(|e| format!("cannot copy {}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// Copies a custom prediction routine's source distributions into `store` and installs
/// them (without their dependencies, which the interpreter must have) into `site`.
pub fn install_packages(
    python: &str,
    packages: &[String],
    store: &Path,
    site: &Path,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(store);
    std::fs::create_dir_all(store).map_err(|e| format!("cannot make {}: {e}", store.display()))?;
    let mut copies = Vec::new();
    for package in packages {
        let source = Path::new(package);
        let name = source
            .file_name()
            .ok_or_else(|| format!("packageUris: {package:?} names no file"))?;
        let copy = store.join(name);
        std::fs::copy(source, &copy).map_err(|e| format!("cannot copy {package}: {e}"))?;
        copies.push(copy);
    }
    let _ = std::fs::remove_dir_all(site);
    let output = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--target",
        ])
        .arg(site)
        .args(&copies)
        .output()
        .map_err(|e| format!("cannot run {python} -m pip to install packageUris: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let last: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = last[last.len().saturating_sub(3)..].join(" | ");
    Err(format!(
        "installing packageUris with {python} -m pip failed: {tail}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_links_to_itself_is_refused_not_copied_forever() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir(&model).unwrap();
        std::fs::write(model.join("model.joblib"), b"x").unwrap();
        std::os::unix::fs::symlink(&model, model.join("again")).unwrap();
        std::os::unix::fs::symlink(&model, model.join("and_again")).unwrap();
        let target = dir.path().join("copy");
        let err = copy_in(&model, &target).unwrap_err();
        assert!(err.contains("nested more than 32 folders deep"), "{err}");
        assert!(!target.exists(), "nothing half-copied is left");
        assert!(!target.with_extension("partial").exists());
    }
}
