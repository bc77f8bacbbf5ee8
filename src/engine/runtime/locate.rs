//! Finding an ONNX Runtime shared library at run time: the `--onnxruntime` path or
//! `ORT_DYLIB_PATH`, then the copy an installed package ships beside the binary
//! (`/usr/lib/mlconsole/` for `/usr/bin/mlconsole`), then the `onnxruntime` Python package
//! of the engine's python (its wheel ships `onnxruntime/capi/libonnxruntime.so.<version>`),
//! then the system's library path.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Where the engine looks for ONNX Runtime.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OrtSetting {
    /// `ORT_DYLIB_PATH`, the python's package, then the system (the default).
    #[default]
    Search,
    /// Only this library; failing to load it is an error.
    Library(PathBuf),
    /// Never: serve with tract only.
    Off,
}

impl OrtSetting {
    /// Reads `--onnxruntime`: a path, `none`/`off`, or `auto`.
    pub fn parse(text: &str) -> OrtSetting {
        match text {
            "none" | "off" => OrtSetting::Off,
            "" | "auto" => OrtSetting::Search,
            path => OrtSetting::Library(PathBuf::from(path)),
        }
    }
}

/// A library to try, with how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// A path, or a bare file name the dynamic loader looks up.
    pub path: PathBuf,
    /// How it was found, for the user: "ORT_DYLIB_PATH", "python3's onnxruntime package".
    pub found_by: String,
}

/// The file name of the library on this platform, as the system's loader knows it.
pub const SYSTEM_NAMES: &[&str] = if cfg!(target_os = "macos") {
    &["libonnxruntime.dylib"]
} else if cfg!(windows) {
    &["onnxruntime.dll"]
} else {
    &["libonnxruntime.so", "libonnxruntime.so.1"]
};

/// The libraries to try under `Search`, in order, and what looking found nothing in.
pub fn candidates(python: &str, dylib_env: Option<&str>) -> (Vec<Candidate>, Vec<String>) {
    let mut found = Vec::new();
    let mut missed = Vec::new();
    if let Some(path) = dylib_env.filter(|p| !p.is_empty()) {
        found.push(Candidate {
            path: PathBuf::from(path),
            found_by: "ORT_DYLIB_PATH".into(),
        });
    }
    if let Some(dir) = packaged_dir()
        && let Some(path) = library_in(&dir)
    {
        found.push(Candidate {
            path,
            found_by: format!("the copy packaged with mlconsole ({})", dir.display()),
        });
    }
    match python_package(python) {
        Ok(dir) => match library_in(&dir.join("capi")) {
            Some(path) => found.push(Candidate {
                path,
                found_by: format!("the onnxruntime package of {python}"),
            }),
            None => missed.push(format!(
                "{python}'s onnxruntime package ({}) holds no library in capi/",
                dir.display()
            )),
        },
        Err(why) => missed.push(why),
    }
    for name in SYSTEM_NAMES {
        found.push(Candidate {
            path: PathBuf::from(name),
            found_by: "the system's library path".into(),
        });
    }
    (found, missed)
}

/// Where a package puts the libraries it ships: `<prefix>/lib/mlconsole` for
/// `<prefix>/bin/mlconsole`.
pub fn packaged_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let prefix = exe.parent()?.parent()?;
    let dir = prefix.join("lib").join("mlconsole");
    dir.is_dir().then_some(dir)
}

/// The folder of `python`'s `onnxruntime` package, found without importing it.
fn python_package(python: &str) -> Result<PathBuf, String> {
    const FIND: &str = "import importlib.util as u\n\
        s = u.find_spec('onnxruntime')\n\
        print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')";
    let mut child = Command::new(python)
        .args(["-c", FIND])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{python} could not be started to look for onnxruntime: {e}"))?;
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{python} did not answer where onnxruntime is"));
            }
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{python} did not answer where onnxruntime is: {e}"))?;
    let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if dir.is_empty() {
        return Err(format!("{python} has no onnxruntime package"));
    }
    Ok(PathBuf::from(dir))
}

/// The ONNX Runtime library in a wheel's `capi` folder; the newest when there are several.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let mut libraries: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = library_version(&name)?;
            Some((version, entry.path()))
        })
        .collect();
    libraries.sort();
    libraries.pop().map(|(_, path)| path)
}

/// The version a library's file name carries (`libonnxruntime.so.1.32.0` → [1, 32, 0]);
/// an empty version for the unversioned name; `None` for other files.
fn library_version(name: &str) -> Option<Vec<u64>> {
    let numbers = |s: &str| {
        s.split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<Vec<u64>>>()
    };
    if let Some(rest) = name.strip_prefix("libonnxruntime.so") {
        return match rest.strip_prefix('.') {
            Some(version) => numbers(version),
            None => rest.is_empty().then(Vec::new),
        };
    }
    if let Some(rest) = name
        .strip_prefix("libonnxruntime.")
        .and_then(|r| r.strip_suffix(".dylib"))
    {
        return numbers(rest);
    }
    (name == "onnxruntime.dll" || name == "libonnxruntime.dylib").then(Vec::new)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reads_versions_from_library_names() {
        assert_eq!(
            library_version("libonnxruntime.so.1.32.0"),
            Some(vec![1, 32, 0])
        );
        assert_eq!(library_version("libonnxruntime.so"), Some(vec![]));
        assert_eq!(
            library_version("libonnxruntime.1.20.1.dylib"),
            Some(vec![1, 20, 1])
        );
        assert_eq!(library_version("libonnxruntime_providers_shared.so"), None);
        assert_eq!(library_version("onnxruntime_pybind11_state.so"), None);
    }

    #[test]
    fn picks_the_newest_library_of_a_capi_folder() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "libonnxruntime.so.1.9.0",
            "libonnxruntime.so.1.32.0",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(
            library_in(dir.path()).unwrap(),
            dir.path().join("libonnxruntime.so.1.32.0")
        );
    }

    #[test]
    fn a_python_without_the_package_says_so_and_the_env_comes_first() {
        let (found, missed) = candidates("/nonexistent/python3", Some("/opt/ort/lib.so"));
        assert_eq!(found[0].path, PathBuf::from("/opt/ort/lib.so"));
        assert_eq!(found[0].found_by, "ORT_DYLIB_PATH");
        assert!(missed[0].contains("could not be started"), "{missed:?}");
        assert_eq!(found.last().unwrap().found_by, "the system's library path");
    }

    #[test]
    fn settings_read_from_the_flag() {
        assert_eq!(OrtSetting::parse("none"), OrtSetting::Off);
        assert_eq!(OrtSetting::parse("auto"), OrtSetting::Search);
        assert_eq!(
            OrtSetting::parse("/x/libonnxruntime.so"),
            OrtSetting::Library("/x/libonnxruntime.so".into())
        );
    }
}
