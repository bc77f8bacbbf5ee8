//! Versions on their way into the Model Registry: uploads (a long-running operation per
//! version) as rows of their model until they are listed, failed ones kept to show why,
//! and removing a version.

use chrono::Utc;
use reqwest::Method;
use serde_json::json;

use super::models::{self, Operation, VxModel};
use super::{VertexPlatform, client, invalid, lock};
use crate::domain::shell::{continued, shell_quote};
use crate::domain::{Version, VersionState};
use crate::platform::PlatformError;

/// A version upload still running, or failed and kept to show why.
#[derive(Debug, Clone)]
pub(super) struct Upload {
    pub(super) model: String,
    pub(super) version: Version,
    pub(super) operation: String,
    pub(super) error: Option<String>,
}

impl VertexPlatform {
    /// Uploads a version from its `gs://` folder (the model's first makes the model).
    pub(super) async fn upload_version(
        &self,
        model: &str,
        version: &Version,
    ) -> Result<Version, PlatformError> {
        let name = version.short_name().to_owned();
        models::check_alias(&name).map_err(invalid)?;
        models::check_model_id(model).map_err(invalid)?;
        let uri = version.deployment_uri.trim();
        if !uri.starts_with("gs://") {
            return Err(invalid(format!(
                "deploymentUri {uri:?}: Vertex AI uploads a model from Cloud Storage; give the gs:// folder of the artifact (copy it there with `gsutil cp -r`)"
            )));
        }
        let image = match &version.runtime {
            Some(image) if image.contains('/') => image.clone(),
            _ => models::prebuilt_image(&version.framework).to_owned(),
        };
        let first = lock(&self.pending_models).contains(model);
        let mut aliases = vec![name.clone()];
        if first {
            aliases.push("default".into());
        }
        let mut body = json!({
            "model": {
                "displayName": model,
                "artifactUri": uri,
                "containerSpec": {"imageUri": image},
                "versionAliases": aliases,
                "versionDescription": version.description,
                "labels": version.labels,
            }
        });
        if first {
            body["modelId"] = json!(model);
        } else {
            body["parentModel"] = json!(self.model_name(model));
        }
        let request = client::request_label();
        body["model"]["labels"][client::REQUEST_LABEL] = json!(request);
        let url = self.http.ai(&format!("{}/models:upload", self.parent()));
        let op: Operation = self
            .http
            .create(&format!("upload {model} {name}"), &url, &body, || {
                self.find_upload(model, &request)
            })
            .await?;
        lock(&self.pending_models).remove(model);
        let mut created = version.clone();
        created.name = name;
        created.deployment_uri = uri.to_owned();
        created.framework = models::framework_of(&image).into();
        created.runtime = Some(image);
        created.state = VersionState::Creating;
        created.is_default = first;
        created.create_time = Some(Utc::now());
        // An upload found after a lost answer has no operation to follow: the version
        // shows from the registry.
        if !op.name.is_empty() {
            lock(&self.uploads).push(Upload {
                model: model.to_owned(),
                version: created.clone(),
                operation: op.name,
                error: None,
            });
        }
        self.invalidate();
        Ok(created)
    }

    /// Deletes a version (or forgets a failed upload of it).
    pub(super) async fn remove_version(
        &self,
        model: &str,
        version: &str,
    ) -> Result<Version, PlatformError> {
        let removed = {
            let mut uploads = lock(&self.uploads);
            let before = uploads.len();
            uploads
                .retain(|u| !(u.model == model && u.version.name == version && u.error.is_some()));
            before != uploads.len()
        };
        if !removed {
            let found = self.find_version(model, version).await?;
            let what = format!("delete version {version} of {model}");
            let url = self
                .http
                .ai(&format!("{}@{}", self.model_name(model), found.version_id));
            let op: Operation = self
                .http
                .call(&what, Method::DELETE, &url, &[], None::<&()>)
                .await?;
            let done = models::wait(&self.http, &what, op, self.op_poll, self.op_timeout).await;
            self.invalidate();
            done?;
        }
        Ok(Version {
            name: version.to_owned(),
            ..Version::default()
        })
    }

    /// The version an upload labelled `request` made, as a finished operation, if any.
    pub(super) async fn find_upload(
        &self,
        model: &str,
        request: &str,
    ) -> Result<Option<Operation>, PlatformError> {
        let url = self
            .http
            .ai(&format!("{}:listVersions", self.model_name(model)));
        let versions: Vec<VxModel> = match self
            .http
            .list_all("look for the version just uploaded", &url, "models", None)
            .await
        {
            Ok(versions) => versions,
            // The first version of a model: no model means no upload.
            Err(PlatformError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let made = versions
            .iter()
            .any(|v| v.labels.get(client::REQUEST_LABEL).map(String::as_str) == Some(request));
        Ok(made.then(|| Operation {
            done: true,
            ..Operation::default()
        }))
    }

    /// Checks the uploads still running; answers the rows to show for them.
    pub(super) async fn upload_rows(&self, model: &str) -> Vec<Version> {
        let pending: Vec<Upload> = lock(&self.uploads)
            .iter()
            .filter(|u| u.model == model)
            .cloned()
            .collect();
        let mut rows = Vec::new();
        for upload in pending {
            if upload.error.is_some() {
                rows.push(failed_row(&upload));
                continue;
            }
            let op: Result<Operation, _> = self
                .http
                .call(
                    "follow the upload",
                    Method::GET,
                    &self.http.ai(&upload.operation),
                    &[],
                    None::<&()>,
                )
                .await;
            match op {
                Ok(op) if op.done => {
                    let mut uploads = lock(&self.uploads);
                    match op.error {
                        Some(error) => {
                            if let Some(u) =
                                uploads.iter_mut().find(|u| u.operation == upload.operation)
                            {
                                u.error = Some(error.in_full());
                                rows.push(failed_row(u));
                            }
                        }
                        None => {
                            uploads.retain(|u| u.operation != upload.operation);
                            drop(uploads);
                            self.invalidate();
                        }
                    }
                }
                _ => {
                    let mut row = upload.version.clone();
                    row.state = VersionState::Creating;
                    let since = row
                        .create_time
                        .map_or(0, |t| (Utc::now() - t).num_seconds().max(0));
                    row.progress = Some(format!(
                        "uploading from {}: {since} s so far",
                        row.deployment_uri
                    ));
                    rows.push(row);
                }
            }
        }
        rows
    }
}

pub(super) fn failed_row(upload: &Upload) -> Version {
    let mut row = upload.version.clone();
    row.state = VersionState::Failed;
    row.error_message = upload.error.clone();
    row
}

/// The `gcloud ai models upload` line that adds a copy of `version` to `model` (its
/// short name and resource name) in `project` and `region` as version `new_name`: the
/// same artifact, serving image, description and labels.
pub(super) fn upload_command(
    (project, region): (&str, &str),
    (model, model_name): (&str, &str),
    version: &Version,
    new_name: &str,
) -> Result<String, String> {
    let uri = version.deployment_uri.trim();
    if !uri.starts_with("gs://") {
        return Err(format!(
            "its artifact {uri:?} is not in Cloud Storage, where gcloud uploads a model from"
        ));
    }
    let image = match &version.runtime {
        Some(image) if image.contains('/') => image.clone(),
        _ => models::prebuilt_image(&version.framework).to_owned(),
    };
    let mut line = vec![
        "gcloud ai models upload".to_owned(),
        format!("--project={}", shell_quote(project)),
        format!("--region={}", shell_quote(region)),
        format!("--display-name={}", shell_quote(model)),
        format!("--parent-model={}", shell_quote(model_name)),
        format!("--artifact-uri={}", shell_quote(uri)),
        format!("--container-image-uri={}", shell_quote(&image)),
        format!("--version-aliases={}", shell_quote(new_name)),
    ];
    if !version.description.is_empty() {
        line.push(format!(
            "--version-description={}",
            shell_quote(&version.description)
        ));
    }
    if !version.labels.is_empty() {
        let labels: Vec<String> = version
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        line.push(format!("--labels={}", shell_quote(&labels.join(","))));
    }
    Ok(continued(&line))
}
