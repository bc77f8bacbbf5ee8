//! `mlconsole --version`: the version, the commit it was built from, and the runtimes
//! this machine offers the engine (ONNX Runtime, tract, the Python frameworks, GPUs).

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::engine::gpus::{GpuInventory, GpuSetting};
use crate::engine::runtime::locate::OrtSetting;
use crate::engine::runtime::onnxruntime::{self, Availability};

/// The version and commit: `mlconsole 0.1.0 (commit 1a2b3c4d5e)`.
pub fn version_line() -> String {
    format!(
        "mlconsole {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("MLCONSOLE_COMMIT")
    )
}

/// The version line, then one line per runtime found (or why not), with `python` asked
/// for its frameworks.
pub fn report(python: &str) -> String {
    let mut lines = vec![version_line()];
    let ort = match onnxruntime::init(&OrtSetting::Search, python) {
        Ok(Availability::Ready(loaded)) => format!(
            "ONNX Runtime {} from {} ({})",
            loaded.version,
            loaded.library.display(),
            loaded.found_by
        ),
        Ok(Availability::Missing { summary, how, .. }) => {
            format!("ONNX Runtime {summary}: {how}")
        }
        Err(e) => format!("ONNX Runtime: {e}"),
    };
    lines.push(ort);
    lines.push("tract (built in): ONNX models without ONNX-ML operators".to_owned());
    lines.push(frameworks(python));
    lines.push(format!(
        "GPUs: {}",
        GpuInventory::discover(&GpuSetting::Detect).describe()
    ));
    lines.join("\n")
}

/// The Python frameworks the engine serves with, as `python` has them.
fn frameworks(python: &str) -> String {
    const ASK: &str = "import importlib.metadata as m, sys\n\
        found = []\n\
        for name in ('scikit-learn', 'xgboost', 'xgboost-cpu', 'tensorflow', 'tensorflow-cpu', 'onnxruntime'):\n\
        \x20   try: found.append(f'{name} {m.version(name)}')\n\
        \x20   except Exception: pass\n\
        print(f'Python {sys.version.split()[0]}: ' + (', '.join(found) or 'no framework'))";
    let child = Command::new(python)
        .args(["-c", ASK])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        return format!(
            "{python}: not found (scikit-learn, XGBoost and TensorFlow versions serve through it)"
        );
    };
    let started = std::time::Instant::now();
    while matches!(child.try_wait(), Ok(None)) {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return format!("{python}: did not answer within 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match child.wait_with_output() {
        Ok(out) if out.status.success() => {
            format!("{python} ({})", String::from_utf8_lossy(&out.stdout).trim())
        }
        _ => format!("{python}: could not be asked for its frameworks"),
    }
}
