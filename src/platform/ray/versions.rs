//! Adding a version to a model on Ray Serve: its artifact read here and shipped in a
//! package, the model's application rewritten with the version beside the others.

use chrono::Utc;

use super::artifact::{Artifact, read_artifact};
use super::package;
use super::serve::{Cluster, VersionArgs};
use super::{RayPlatform, invalid};
use crate::domain::{Framework, Version, VersionState};
use crate::platform::PlatformError;

impl RayPlatform {
    /// Adds `version` to `model` (the first one becomes the default).
    pub(super) async fn add_version(
        &self,
        model: &str,
        version: &Version,
    ) -> Result<Version, PlatformError> {
        version.validate_creation().map_err(invalid)?;
        if version.manual_scaling.is_some() {
            return Err(invalid(
                "manualScaling: Ray Serve versions scale with autoScaling (minNodes, maxNodes)"
                    .into(),
            ));
        }
        let name = version.short_name().to_owned();
        if version.prediction_class.is_some() {
            return Err(invalid(
                "custom prediction routines are served by the local engine; on Ray Serve, deploy the model's own files (a SavedModel, model.joblib, model.bst, model.onnx)".into(),
            ));
        }
        let uri = version.deployment_uri.clone();
        let given = version.framework.clone();
        let artifact = tokio::task::spawn_blocking(move || read_artifact(&uri, &given))
            .await
            .map_err(|e| PlatformError::Protocol(e.to_string()))?
            .map_err(invalid)?;
        let (framework, bytes, files) = match artifact {
            Artifact::Onnx(bytes) => (Framework::Onnx, bytes, Vec::new()),
            Artifact::Files(framework, files) => {
                let all: Vec<u8> = files
                    .iter()
                    .flat_map(|(name, bytes)| name.as_bytes().iter().chain(bytes))
                    .copied()
                    .collect();
                (framework, all, files)
            }
        };
        let (inputs, outputs) = if framework.in_engine() {
            crate::onnx_signature::read(&bytes)
                .map_err(|e| invalid(format!("deploymentUri: {e}")))?
        } else {
            // The framework reads its own signature in the replica.
            (Vec::new(), Vec::new())
        };
        let digest: String =
            sha1::Digest::finalize(<sha1::Sha1 as sha1::Digest>::new_with_prefix(&bytes))
                .iter()
                .take(5)
                .map(|b| format!("{b:02x}"))
                .collect();
        let module = format!(
            "mlc_{}_{}_{digest}",
            model.to_ascii_lowercase(),
            name.to_ascii_lowercase()
        );
        let init = format!("{module}/__init__.py");
        let zipped = if framework.in_engine() {
            let file = format!("{module}/model.onnx");
            package::of_files(&[(&init, b"".as_slice()), (&file, &bytes)]).map_err(invalid)?
        } else {
            let named: Vec<(String, &[u8])> = files
                .iter()
                .map(|(name, bytes)| (format!("{module}/model/{name}"), bytes.as_slice()))
                .collect();
            let mut entries: Vec<(&str, &[u8])> = vec![(&init, b"".as_slice())];
            entries.extend(named.iter().map(|(n, b)| (n.as_str(), *b)));
            package::of_files(&entries).map_err(invalid)?
        };
        let package = package::ensure_uploaded(&self.http, zipped).await?;
        let _one_at_a_time = self.serve_changes.lock().await;
        let cluster = Cluster::read(&self.http).await?;
        let mut app = cluster.ours(model)?;
        if app.args.versions.contains_key(&name) {
            return Err(PlatformError::Rejected {
                status: "ALREADY_EXISTS".into(),
                message: format!("the model {model} already has a version {name}"),
            });
        }
        let args = VersionArgs {
            module,
            package,
            deployment_uri: version.deployment_uri.clone(),
            create_time: Some(Utc::now()),
            inputs,
            outputs,
            description: version.description.clone(),
            labels: version.labels.clone(),
            auto_scaling: version.auto_scaling,
            framework: if framework.in_engine() {
                String::new()
            } else {
                framework.api_name().to_owned()
            },
        };
        app.add_version(&name, args);
        let first = app.router_config().default_version.is_none();
        if first {
            app.set_default(&name);
        }
        self.write(&cluster, Some(&app), None).await?;
        let mut created = version.clone();
        created.name = name;
        created.framework = framework.api_name().into();
        created.state = VersionState::Creating;
        created.is_default = first;
        created.create_time = Some(Utc::now());
        Ok(created)
    }
}
