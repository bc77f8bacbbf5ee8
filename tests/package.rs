//! The Debian package `packaging/build-deb.sh` makes (`.ci/run` builds it and names it in
//! `MLCONSOLE_DEB`): its contents, its desktop entry, and the installed binary run from a
//! throwaway root with no Python ONNX Runtime on the path — it finds the ONNX Runtime the
//! package ships and serves a scikit-learn pipeline whose `Scaler` tract cannot run.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a broken expectation panics

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn deb() -> PathBuf {
    let Some(path) = std::env::var_os("MLCONSOLE_DEB") else {
        panic!(
            "MLCONSOLE_DEB is unset: run the tests through .ci/run, which builds the package (bash packaging/build-deb.sh --dev)"
        );
    };
    PathBuf::from(path)
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The package's files, unpacked into a temp dir as `dpkg -x` does.
fn unpacked() -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    run(
        "dpkg-deb",
        &["-x", deb().to_str().unwrap(), root.path().to_str().unwrap()],
    );
    let path = root.path().to_owned();
    (root, path)
}

/// A clean environment: the system's PATH only (no venv, so no Python onnxruntime), and
/// none of ONNX Runtime's variables.
fn clean(command: &mut Command) -> &mut Command {
    command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
}

#[test]
fn the_package_holds_the_binary_desktop_entry_icons_completions_man_page_and_onnx_runtime() {
    let listing = run("dpkg-deb", &["-c", deb().to_str().unwrap()]);
    for wanted in [
        "./usr/bin/mlconsole",
        "./usr/share/applications/mlconsole.desktop",
        "./usr/share/icons/hicolor/48x48/apps/mlconsole.png",
        "./usr/share/icons/hicolor/256x256/apps/mlconsole.png",
        "./usr/share/icons/hicolor/512x512/apps/mlconsole.png",
        "./usr/share/bash-completion/completions/mlconsole",
        "./usr/share/zsh/vendor-completions/_mlconsole",
        "./usr/share/fish/vendor_completions.d/mlconsole.fish",
        "./usr/share/man/man1/mlconsole.1.gz",
        "./usr/lib/mlconsole/libonnxruntime.so.1.32.0",
        "./usr/share/doc/mlconsole/onnxruntime/LICENSE",
        "./usr/share/doc/mlconsole/onnxruntime/ThirdPartyNotices.txt",
        "./usr/share/doc/mlconsole/LICENSE-MIT",
        "./usr/share/doc/mlconsole/LICENSE-APACHE",
        "./usr/share/doc/mlconsole/copyright",
    ] {
        assert!(
            listing.contains(wanted),
            "{wanted} missing from:\n{listing}"
        );
    }
    let (_root, root) = unpacked();
    let desktop = root.join("usr/share/applications/mlconsole.desktop");
    let out = Command::new("desktop-file-validate")
        .arg(&desktop)
        .output()
        .expect("desktop-file-validate runs (Debian desktop-file-utils; .ci/run installs it)");
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let entry = std::fs::read_to_string(&desktop).unwrap();
    assert!(entry.contains("StartupWMClass=mlconsole") && entry.contains("Icon=mlconsole"));
    let bash =
        std::fs::read_to_string(root.join("usr/share/bash-completion/completions/mlconsole"))
            .unwrap();
    assert!(
        bash.contains("scalars") && bash.contains("engine"),
        "completions name the subcommands"
    );
}

#[test]
fn the_installed_binary_finds_its_own_onnx_runtime_and_serves_a_scaler_pipeline() {
    let (_root, root) = unpacked();
    let binary = root.join("usr/bin/mlconsole");
    let out = clean(&mut Command::new(&binary))
        .arg("--version")
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{version}");
    assert!(
        version.starts_with(&format!("mlconsole {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    let packaged = root.join("usr/lib/mlconsole/libonnxruntime.so.1.32.0");
    assert!(
        version.contains(&format!(
            "ONNX Runtime 1.32.0 from {} (the copy packaged with mlconsole",
            packaged.display()
        )),
        "{version}"
    );

    // The installed engine, with nothing but the package.
    let data = tempfile::tempdir().unwrap();
    let mut engine = clean(&mut Command::new(&binary))
        .args(["engine", "--data-dir"])
        .arg(data.path())
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(engine.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let token = std::fs::read_to_string(data.path().join("token")).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let served = runtime.block_on(serve_scaler_pipeline(&base, &token));
    engine.kill().unwrap();
    engine.wait().unwrap();
    let mut log = String::new();
    engine
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    served.unwrap_or_else(|e| panic!("{e}\nengine log:\n{log}"));
    assert!(
        log.contains("serving with ONNX Runtime 1.32.0 from")
            && log.contains("the copy packaged with mlconsole"),
        "{log}"
    );
    assert!(
        !log.contains('\u{1b}'),
        "no terminal colours in a piped log:\n{log}"
    );
}

/// Creates a model from the exported Scaler + LogisticRegression pipeline and checks its
/// predictions against scikit-learn's own.
async fn serve_scaler_pipeline(base: &str, token: &str) -> Result<(), String> {
    let Some(fixtures) = std::env::var_os("MLCONSOLE_EXPORTED_FIXTURES") else {
        return Err("MLCONSOLE_EXPORTED_FIXTURES is unset: run the tests through .ci/run".into());
    };
    let fixtures = Path::new(&fixtures);
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures.join("expected.json")).unwrap())
            .unwrap();
    let case = &expected["sk_scaler_logreg"];
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{base}/v1/projects/local/{path}"))
            .bearer_auth(token.trim())
            .json(&body)
            .send()
    };
    let answer = |r: reqwest::Response| async move {
        let status = r.status();
        let body: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    };
    answer(
        post("models", serde_json::json!({"name": "scaler"}))
            .await
            .map_err(|e| e.to_string())?,
    )
    .await?;
    let uri = fixtures.join("sk_scaler_logreg.onnx");
    answer(
        post(
            "models/scaler/versions",
            serde_json::json!({"name": "v1", "deploymentUri": uri, "runtime": "onnxruntime"}),
        )
        .await
        .map_err(|e| e.to_string())?,
    )
    .await?;
    for _ in 0..200 {
        let predicted = answer(
            post(
                "models/scaler:predict",
                serde_json::json!({"instances": case["instances"]}),
            )
            .await
            .map_err(|e| e.to_string())?,
        )
        .await;
        match predicted {
            Ok(body) => {
                let got = &body["predictions"];
                let want = &case["predictions"];
                let labels = |v: &serde_json::Value| -> Vec<serde_json::Value> {
                    v.as_array()
                        .unwrap()
                        .iter()
                        .map(|p| p["output_label"].clone())
                        .collect()
                };
                return if labels(got) == labels(want) {
                    Ok(())
                } else {
                    Err(format!("predicted {got} but scikit-learn says {want}"))
                };
            }
            // The version is still loading.
            Err(e)
                if e.contains("FAILED_PRECONDITION")
                    || e.contains("400") && e.contains("CREATING") =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => return Err(e),
        }
    }
    Err("the version did not become ready".into())
}
