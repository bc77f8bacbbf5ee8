//! Batch prediction as a job: what to predict (a model or pinned version over JSONL
//! files, into a folder), and the jobs the console makes for it.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Job;

/// What to predict for a batch prediction job: a model's default version (or a pinned
/// version) over JSONL files, one instance a line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PredictionInput {
    /// The model, whose default version predicts: `m` or `projects/local/models/m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// A pinned version instead: `m/versions/v` or `projects/local/models/m/versions/v`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Absolute paths or globs of JSONL files.
    #[serde(default)]
    pub input_paths: Vec<String>,
    /// The folder the results and errors files go to.
    #[serde(default)]
    pub output_path: String,
    /// `JSON` (one JSON instance a line); the only format the local engine reads.
    #[serde(default = "json_format")]
    pub data_format: String,
}

fn json_format() -> String {
    "JSON".into()
}

impl PredictionInput {
    /// The model's short name and the pinned version, if one is (`None`: the default).
    pub fn model_and_version(&self) -> Result<(String, Option<String>), String> {
        match (&self.model_name, &self.version_name) {
            (_, Some(pinned)) => {
                let parts: Vec<&str> = pinned.split('/').collect();
                match parts.as_slice() {
                    [.., m, "versions", v] => Ok(((*m).to_owned(), Some((*v).to_owned()))),
                    _ => Err(format!(
                        "predictionInput.versionName {pinned:?} is not MODEL/versions/VERSION"
                    )),
                }
            }
            (Some(m), None) => Ok((m.rsplit('/').next().unwrap_or(m).to_owned(), None)),
            (None, None) => Err("predictionInput: give modelName or versionName".into()),
        }
    }

    /// Checks the fields; the message names the one that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.model_name, &self.version_name) {
            (None, None) => {
                return Err("predictionInput: give modelName or versionName".into());
            }
            (Some(_), Some(_)) => {
                return Err("predictionInput: give modelName or versionName, not both".into());
            }
            _ => {}
        }
        if self.input_paths.is_empty() {
            return Err("predictionInput.inputPaths: give at least one JSONL file or glob".into());
        }
        let located = |p: &str| {
            std::path::Path::new(p).is_absolute() || super::bucket::BucketUrl::is_bucket(p)
        };
        if let Some(p) = self.input_paths.iter().find(|p| !located(p)) {
            return Err(format!(
                "predictionInput.inputPaths: {p:?} must be an absolute path or a gs:// or s3:// URI"
            ));
        }
        if !located(&self.output_path) {
            return Err(format!(
                "predictionInput.outputPath {:?} must be an absolute folder path or a gs:// or s3:// prefix",
                self.output_path
            ));
        }
        if !self.data_format.eq_ignore_ascii_case("JSON") {
            return Err(format!(
                "predictionInput.dataFormat {:?}: give JSON (one instance a line)",
                self.data_format
            ));
        }
        Ok(())
    }
}

impl Job {
    /// A batch prediction job on `model`'s default version (or `version`) over `inputs`
    /// (files or globs), writing to `output`; named for the model and the time.
    pub fn batch_prediction(
        model: &str,
        version: Option<&str>,
        inputs: Vec<String>,
        output: String,
    ) -> Job {
        let stamp = Utc::now().format("%Y%m%d_%H%M%S");
        Job {
            job_id: format!("predict_{model}_{stamp}"),
            prediction_input: Some(PredictionInput {
                model_name: version.is_none().then(|| model.to_owned()),
                version_name: version.map(|v| format!("{model}/versions/{v}")),
                input_paths: inputs,
                output_path: output,
                data_format: "JSON".into(),
            }),
            ..Job::default()
        }
    }

    /// A batch prediction job over one JSONL file, writing into a folder beside it.
    pub fn batch_prediction_of_file(
        model: &str,
        version: Option<&str>,
        file: &std::path::Path,
    ) -> Job {
        let stamp = Utc::now().format("%Y%m%d_%H%M%S");
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let output = file.with_file_name(format!("{stem}_predictions_{stamp}"));
        Job::batch_prediction(
            model,
            version,
            vec![file.display().to_string()],
            output.display().to_string(),
        )
    }
}
