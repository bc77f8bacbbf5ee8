//! Vertex AI batch prediction jobs in the REST shape (the fields used), and their mapping
//! onto the console's jobs (a batch job lists beside the custom jobs).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::jobs::{GcsDestination, MachineSpec, Status, id_of, job_state};
use crate::domain::shell::{continued, file_stem, shell_quote};
use crate::domain::{Job, PredictionInput};

/// `GoogleCloudAiplatformV1BatchPredictionJob` (the fields used).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchPredictionJob {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The user's name for it.
    pub display_name: String,
    /// `projects/P/locations/R/models/M` or `…/models/M@VERSION`.
    pub model: String,
    /// Where instances come from.
    pub input_config: BatchInput,
    /// Where predictions go.
    pub output_config: BatchOutput,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dedicated_resources: Option<BatchResources>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Status>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_time: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Output only: counts of instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_stats: Option<serde_json::Value>,
}

/// `…BatchPredictionJobInputConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchInput {
    /// `jsonl`.
    pub instances_format: String,
    pub gcs_source: GcsSource,
}

/// `GoogleCloudAiplatformV1GcsSource`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GcsSource {
    /// `gs://` URIs, wildcards allowed.
    pub uris: Vec<String>,
}

/// `…BatchPredictionJobOutputConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchOutput {
    /// `jsonl`.
    pub predictions_format: String,
    /// The prefix results go under.
    pub gcs_destination: GcsDestination,
}

/// `GoogleCloudAiplatformV1BatchDedicatedResources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchResources {
    pub machine_spec: MachineSpec,
    /// Replicas at start.
    pub starting_replica_count: i32,
    /// Replicas at most.
    pub max_replica_count: i32,
}

/// The batch prediction job to create for a console job; `model` is the full model
/// resource name (with `@version` when pinned).
pub fn batch_job_for(
    job: &Job,
    input: &PredictionInput,
    model: String,
) -> Result<BatchPredictionJob, String> {
    if let Some(p) = input.input_paths.iter().find(|p| !p.starts_with("gs://")) {
        return Err(format!(
            "predictionInput.inputPaths: {p:?} must be a gs:// URI (Vertex AI reads Cloud Storage)"
        ));
    }
    if !input.output_path.starts_with("gs://") {
        return Err(format!(
            "predictionInput.outputPath {:?} must be a gs:// prefix",
            input.output_path
        ));
    }
    Ok(BatchPredictionJob {
        display_name: job.job_id.clone(),
        model,
        input_config: BatchInput {
            instances_format: "jsonl".into(),
            gcs_source: GcsSource {
                uris: input.input_paths.clone(),
            },
        },
        output_config: BatchOutput {
            predictions_format: "jsonl".into(),
            gcs_destination: GcsDestination {
                output_uri_prefix: input.output_path.clone(),
            },
        },
        dedicated_resources: Some(BatchResources {
            machine_spec: MachineSpec {
                machine_type: "n1-standard-2".into(),
                ..MachineSpec::default()
            },
            starting_replica_count: 1,
            max_replica_count: 1,
        }),
        labels: job.labels.clone(),
        ..BatchPredictionJob::default()
    })
}

/// The lines that create batch prediction job `job` again as `display_name`: its
/// BatchPredictionJob written to a file and POSTed to `url` (the collection) with
/// gcloud's token — gcloud has no batch prediction command. `model` is the full model
/// resource name (with `@version` when pinned).
pub fn create_command(
    job: &Job,
    display_name: &str,
    model: String,
    url: &str,
) -> Result<String, String> {
    let job = job.resubmission(display_name);
    let input = job
        .prediction_input
        .as_ref()
        .ok_or("this job is not a batch prediction job")?;
    let body = batch_job_for(&job, input, model)?;
    let spec = serde_json::to_string_pretty(&body).map_err(|e| e.to_string())?;
    let file = format!("/tmp/{}.json", file_stem(&job.job_id));
    let line = [
        "curl -sS --fail-with-body -X POST".to_owned(),
        "-H \"Authorization: Bearer $(gcloud auth print-access-token)\"".to_owned(),
        "-H 'Content-Type: application/json'".to_owned(),
        format!("--data-binary @{file}"),
        shell_quote(url),
    ];
    Ok(format!(
        "cat > {file} <<'SPEC'\n{spec}\nSPEC\n{}",
        continued(&line)
    ))
}

/// The console's job for a batch prediction job.
pub fn from_batch_job(batch: &BatchPredictionJob) -> Job {
    let (model, version) = match batch.model.split_once('@') {
        Some((m, v)) => (m, Some(v)),
        None => (batch.model.as_str(), None),
    };
    let model = id_of(model);
    let prediction_input = PredictionInput {
        model_name: version.is_none().then(|| model.to_owned()),
        version_name: version.map(|v| format!("{model}/versions/{v}")),
        input_paths: batch.input_config.gcs_source.uris.clone(),
        output_path: batch
            .output_config
            .gcs_destination
            .output_uri_prefix
            .clone(),
        data_format: "JSON".into(),
    };
    let mut error = batch.error.as_ref().map(Status::in_full);
    if let Some(stats) = &batch.completion_stats {
        let note = format!("completion: {stats}");
        error = Some(match error {
            Some(e) => format!("{e}\n{note}"),
            None => note,
        })
        .filter(|_| batch.state != "JOB_STATE_SUCCEEDED");
    }
    Job {
        job_id: id_of(&batch.name).to_owned(),
        display_name: Some(batch.display_name.clone()).filter(|n| !n.is_empty()),
        labels: super::models::users_labels(&batch.labels),
        prediction_input: Some(prediction_input),
        create_time: batch.create_time,
        start_time: batch.start_time,
        end_time: batch.end_time,
        update_time: batch.update_time.or(batch.create_time),
        state: job_state(&batch.state),
        error_message: error,
        ..Job::default()
    }
}
