//! The backend's model work: syncing models, versions and their serving metrics while a
//! model tab is shown, model and version changes, and online predictions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::messages::{ModelChange, ModelView, ModelWatch, SnippetKind, Update, Updates};
use super::shared::Current;
use crate::domain::shell::shell_quote;
use crate::domain::{ConnectionId, Model, Version};
use crate::platform::{Platform, PlatformError, SnippetAuth};

/// How often models and serving metrics are synced while a model tab is shown.
const MODEL_SYNC_EVERY: Duration = Duration::from_secs(1);

/// Keeps models and versions coming while `watching` says so, with serving metrics
/// when it says [`ModelWatch::WithTraffic`]. Sends only what changed, so that an idle
/// console does not repaint.
pub(super) async fn sync_models(
    connection: ConnectionId,
    current: Arc<Current>,
    watching: Arc<AtomicU8>,
    refresh: Arc<Notify>,
    updates: Updates,
) {
    let mut since: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    let mut last_sent: Option<Vec<ModelView>> = None;
    loop {
        tokio::select! {
            () = refresh.notified() => {}
            () = tokio::time::sleep(MODEL_SYNC_EVERY) => {}
        }
        let watch = watching.load(Ordering::Relaxed);
        if watch == ModelWatch::Off as u8 {
            last_sent = None;
            continue;
        }
        let Some(platform) = current.get() else {
            continue;
        };
        if last_sent.is_none()
            && let Ok(Some(runtimes)) = platform.serving_runtimes().await
        {
            updates.send(Update::ServingRuntimes {
                connection: connection.clone(),
                runtimes,
            });
        }
        match list_models(&connection, platform.as_ref()).await {
            Ok(models) => {
                let traffic = watch == ModelWatch::WithTraffic as u8;
                for view in models.iter().filter(|_| traffic) {
                    for version in &view.versions {
                        let key = (
                            view.model.short_name().to_owned(),
                            version.short_name().to_owned(),
                        );
                        let from = since.get(&key).copied();
                        let Ok(metrics) = platform.version_metrics(&key.0, &key.1, from).await
                        else {
                            continue;
                        };
                        let Some(last) = metrics.samples.last() else {
                            continue;
                        };
                        since.insert(key.clone(), last.time);
                        updates.send(Update::ServingMetrics {
                            connection: connection.clone(),
                            model: key.0,
                            version: key.1,
                            metrics,
                        });
                    }
                }
                if last_sent.as_ref() != Some(&models) {
                    last_sent = Some(models.clone());
                    updates.send(Update::Models {
                        connection: connection.clone(),
                        models,
                    });
                }
            }
            Err(e) => {
                current.failed(&e);
                last_sent = None;
                updates.send(Update::ModelsFailed {
                    connection: connection.clone(),
                    message: e.to_string(),
                });
            }
        }
    }
}

async fn list_models(
    connection: &ConnectionId,
    platform: &dyn Platform,
) -> Result<Vec<ModelView>, PlatformError> {
    let mut views = Vec::new();
    for model in platform.list_models().await? {
        let versions = platform.list_versions(model.short_name()).await?;
        views.push(ModelView {
            connection: connection.clone(),
            model,
            versions,
        });
    }
    Ok(views)
}

/// Applies a change, answers how it went (naming the change) and syncs models right
/// after.
pub(super) async fn change(
    connection: ConnectionId,
    current: Arc<Current>,
    change: ModelChange,
    refresh: Arc<Notify>,
    updates: Updates,
) {
    let Some(platform) = current.get() else {
        updates.send(Update::ModelChanged {
            connection,
            change,
            result: Err("Not connected; nothing was changed.".into()),
        });
        return;
    };
    let result = match &change {
        ModelChange::CreateModel(name) => {
            let model = Model {
                name: name.clone(),
                ..Model::default()
            };
            platform
                .create_model(&model)
                .await
                .map(|_| format!("Created model {name}."))
        }
        ModelChange::DeleteModel(name) => platform
            .delete_model(name)
            .await
            .map(|_| format!("Deleted model {name}.")),
        ModelChange::CreateVersion {
            model,
            version,
            path,
        } => {
            let v = Version {
                name: version.clone(),
                deployment_uri: path.display().to_string(),
                ..Version::default()
            };
            platform
                .create_version(model, &v)
                .await
                .map(|_| format!("Creating version {version} of {model}…"))
        }
        ModelChange::DeployJob {
            model,
            version,
            job_dir,
        } => deploy_job(platform.as_ref(), model, version, job_dir).await,
        ModelChange::DeleteVersion { model, version } => platform
            .delete_version(model, version)
            .await
            .map(|_| format!("Deleted version {version} of {model}.")),
        ModelChange::SetDefault { model, version } => platform
            .set_default_version(model, version)
            .await
            .map(|_| format!("{version} is now the default of {model}.")),
    };
    if let Err(e) = &result {
        current.failed(e);
    }
    updates.send(Update::ModelChanged {
        connection,
        change,
        result: result.map_err(|e| e.to_string()),
    });
    refresh.notify_one();
}

async fn deploy_job(
    platform: &dyn Platform,
    model: &str,
    version: &str,
    job_dir: &std::path::Path,
) -> Result<String, PlatformError> {
    let new_model = Model {
        name: model.to_owned(),
        ..Model::default()
    };
    match platform.create_model(&new_model).await {
        Ok(_) => {}
        Err(PlatformError::Rejected { status, .. }) if status == "ALREADY_EXISTS" => {}
        Err(e) => return Err(e),
    }
    let v = Version {
        name: version.to_owned(),
        deployment_uri: job_dir.display().to_string(),
        ..Version::default()
    };
    platform.create_version(model, &v).await?;
    Ok(format!("Deploying {version} as a version of {model}…"))
}

/// Sends one prediction request and reports the answer and its round trip.
pub(super) async fn predict(
    current: Arc<Current>,
    model: String,
    version: Option<String>,
    body: String,
    updates: Updates,
) {
    let started = Instant::now();
    let result = match current.get() {
        None => Err("not connected".to_owned()),
        Some(platform) => platform
            .predict(&model, version.as_deref(), body)
            .await
            .map_err(|e| e.to_string()),
    };
    updates.send(Update::Predicted {
        result,
        took: started.elapsed(),
    });
}

/// Sends one request to two versions at once; answers both, each timed on its own.
pub(super) async fn shadow_predict(
    current: Arc<Current>,
    model: String,
    versions: [String; 2],
    body: String,
    updates: Updates,
) {
    let Some(platform) = current.get() else {
        let not = || Err("not connected".to_owned());
        let [a, b] = versions;
        updates.send(Update::Shadowed {
            answers: Box::new([(a, not(), Duration::ZERO), (b, not(), Duration::ZERO)]),
            comparison: Err("not connected".to_owned()),
        });
        return;
    };
    let one = |version: String| {
        let (platform, model, body) = (platform.clone(), model.clone(), body.clone());
        async move {
            let started = Instant::now();
            let result = platform
                .predict(&model, Some(&version), body)
                .await
                .map_err(|e| e.to_string());
            (version, result, started.elapsed())
        }
    };
    let [a, b] = versions;
    let (a, b) = tokio::join!(one(a), one(b));
    let comparison = match (&a.1, &b.1) {
        (Ok(x), Ok(y)) => crate::domain::shadow::compare(x, y),
        (Err(e), _) => Err(format!("{} answered an error: {e}", a.0)),
        (_, Err(e)) => Err(format!("{} answered an error: {e}", b.0)),
    };
    updates.send(Update::Shadowed {
        answers: Box::new([a, b]),
        comparison,
    });
}

/// Largest file the Predict playground turns into a request: base64 makes an image a
/// third larger, and a request body may be at most 32 MiB.
pub const MAX_PREDICT_FILE: u64 = 16 << 20;

/// Reads a dropped file into a request body (off the UI thread).
pub(super) async fn load_predict_file(path: PathBuf, inputs: Vec<String>, updates: Updates) {
    let file = path.clone();
    let result = tokio::task::spawn_blocking(move || {
        let size = std::fs::metadata(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .len();
        if size > MAX_PREDICT_FILE {
            return Err(format!(
                "{} is {:.1} MB; the playground takes files up to {} MB (a request may be at most {} MB once encoded). Run a batch prediction job for large inputs.",
                file.display(),
                size as f64 / 1e6,
                MAX_PREDICT_FILE >> 20,
                crate::engine::http::MAX_BODY >> 20
            ));
        }
        let bytes =
            std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        crate::domain::instances::request_from_file(&name, &bytes, &inputs)
            .map(|r| (r.body, r.instances))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    updates.send(Update::PredictFile { path, result });
}

/// A command or script that sends `body` to `url`, authenticating as `auth` says when it
/// runs (reading a token file or running a command), so the secret itself is never copied.
pub fn snippet(kind: SnippetKind, url: &str, auth: &SnippetAuth, body: &str) -> String {
    let compact = serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| body.to_owned());
    match kind {
        SnippetKind::Curl => {
            let header = match auth {
                SnippetAuth::None => String::new(),
                SnippetAuth::TokenFile(file) => format!(
                    "  -H \"Authorization: Bearer $(cat {})\" \\\n",
                    shell_quote(&file.display().to_string())
                ),
                SnippetAuth::TokenCommand(command) => {
                    format!("  -H \"Authorization: Bearer $({command})\" \\\n")
                }
            };
            format!(
                "curl -X POST {} \\\n{header}  -H 'Content-Type: application/json' \\\n  -d {}\n",
                shell_quote(url),
                shell_quote(&compact)
            )
        }
        SnippetKind::Python => {
            let (imports, token, headers) = match auth {
                SnippetAuth::None => ("import json\n", String::new(), "{}".to_owned()),
                SnippetAuth::TokenFile(file) => (
                    "import json, pathlib\n",
                    format!(
                        "token = pathlib.Path({:?}).read_text().strip()\n",
                        file.display().to_string()
                    ),
                    "{\"Authorization\": f\"Bearer {token}\"}".to_owned(),
                ),
                SnippetAuth::TokenCommand(command) => (
                    "import json, subprocess\n",
                    format!(
                        "token = subprocess.run({command:?}, shell=True, check=True, capture_output=True, text=True).stdout.strip()\n"
                    ),
                    "{\"Authorization\": f\"Bearer {token}\"}".to_owned(),
                ),
            };
            format!(
                "{imports}\nimport requests\n\n{token}body = json.loads(r\"\"\"{compact}\"\"\")\nresponse = requests.post(\n    {url:?},\n    headers={headers},\n    json=body,\n)\nresponse.raise_for_status()\nprint(response.json()[\"predictions\"])\n"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_read_the_token_file_instead_of_holding_the_secret() {
        let token = SnippetAuth::TokenFile("/home/me/.local/share/mlconsole/token".into());
        let body = r#"{"instances": [[1, 2]], "note": "it's"}"#;
        let curl = snippet(
            SnippetKind::Curl,
            "http://127.0.0.1:8471/x:predict",
            &token,
            body,
        );
        assert!(
            curl.contains("$(cat '/home/me/.local/share/mlconsole/token')"),
            "{curl}"
        );
        assert!(
            curl.contains(r#"-d '{"instances":[[1,2]],"note":"it'\''s"}'"#),
            "{curl}"
        );
        let python = snippet(
            SnippetKind::Python,
            "http://127.0.0.1:8471/x:predict",
            &token,
            body,
        );
        assert!(python.contains("read_text()"), "{python}");
        assert!(
            python.contains(r#""http://127.0.0.1:8471/x:predict""#),
            "{python}"
        );
        let open = snippet(
            SnippetKind::Curl,
            "http://h:8000/iris",
            &SnippetAuth::None,
            body,
        );
        assert!(!open.contains("Authorization"), "{open}");
        let gcloud = SnippetAuth::TokenCommand("gcloud auth print-access-token".into());
        let curl = snippet(SnippetKind::Curl, "https://x/y:predict", &gcloud, body);
        assert!(
            curl.contains("Bearer $(gcloud auth print-access-token)"),
            "{curl}"
        );
        let python = snippet(SnippetKind::Python, "https://x/y:predict", &gcloud, body);
        assert!(python.contains("subprocess.run"), "{python}");
    }
}
