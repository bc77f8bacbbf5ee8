//! Vertex AI custom jobs in the REST shape (only the fields used; unknown ones are
//! ignored, enums kept as text), their mapping onto the console's jobs, and the part of a
//! console filter Vertex evaluates itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::client::int64;
use crate::domain::shell::{continued, file_stem, shell_quote};
use crate::domain::{AcceleratorConfig, Invocation, Job, JobState, ReplicaConfig, TrainingInput};

/// The machine a replica runs on when the form leaves it out.
pub const DEFAULT_MACHINE: &str = "n1-standard-4";

/// `google.rpc.Status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    /// The canonical code number.
    pub code: i32,
    /// What went wrong.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<serde_json::Value>,
}

impl Status {
    /// The whole error: its code name, message and every detail.
    pub fn in_full(&self) -> String {
        let mut text = format!(
            "{} (code {}): {}",
            code_name(self.code),
            self.code,
            self.message
        );
        for detail in &self.details {
            text.push_str("\n  ");
            text.push_str(&detail.to_string());
        }
        text
    }
}

/// The name of a `google.rpc.Code`.
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// `GoogleCloudAiplatformV1CustomJob`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomJob {
    /// `projects/P/locations/R/customJobs/ID` (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The user's name for it.
    pub display_name: String,
    pub job_spec: CustomJobSpec,
    /// `JOB_STATE_*` (output only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    /// Why it failed (output only).
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
}

/// `GoogleCloudAiplatformV1CustomJobSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CustomJobSpec {
    /// The first pool is the chief; the second holds the workers.
    pub worker_pool_specs: Vec<WorkerPoolSpec>,
    /// Where the job writes (`AIP_MODEL_DIR` and friends live under it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_output_directory: Option<GcsDestination>,
}

/// `GoogleCloudAiplatformV1GcsDestination`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct GcsDestination {
    /// `gs://bucket/prefix`.
    pub output_uri_prefix: String,
}

/// `GoogleCloudAiplatformV1WorkerPoolSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkerPoolSpec {
    pub machine_spec: MachineSpec,
    /// How many replicas (int64).
    #[serde(with = "int64", skip_serializing_if = "Option::is_none")]
    pub replica_count: Option<i64>,
    /// A container to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_spec: Option<ContainerSpec>,
    /// A Python package to run in a prebuilt image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub python_package_spec: Option<PythonPackageSpec>,
}

/// `GoogleCloudAiplatformV1MachineSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MachineSpec {
    /// E.g. `n1-standard-4`.
    pub machine_type: String,
    /// E.g. `NVIDIA_TESLA_T4`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator_type: Option<String>,
    /// How many accelerators.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accelerator_count: Option<i32>,
}

/// `GoogleCloudAiplatformV1ContainerSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerSpec {
    pub image_uri: String,
    /// Overrides the image's entrypoint.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

/// `GoogleCloudAiplatformV1PythonPackageSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PythonPackageSpec {
    /// The prebuilt training image the package runs in.
    pub executor_image_uri: String,
    /// `gs://` URIs of the packages.
    pub package_uris: Vec<String>,
    /// E.g. `trainer.task`.
    pub python_module: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

/// `GoogleCloudAiplatformV1EnvVar`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// The console's state for a `JOB_STATE_*`.
pub fn job_state(state: &str) -> JobState {
    match state {
        "JOB_STATE_QUEUED" | "JOB_STATE_PAUSED" => JobState::Queued,
        "JOB_STATE_PENDING" => JobState::Preparing,
        "JOB_STATE_RUNNING" | "JOB_STATE_UPDATING" => JobState::Running,
        "JOB_STATE_SUCCEEDED" | "JOB_STATE_PARTIALLY_SUCCEEDED" => JobState::Succeeded,
        "JOB_STATE_FAILED" | "JOB_STATE_EXPIRED" => JobState::Failed,
        "JOB_STATE_CANCELLING" => JobState::Cancelling,
        "JOB_STATE_CANCELLED" => JobState::Cancelled,
        _ => JobState::StateUnspecified,
    }
}

/// The last part of a resource name.
pub fn id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn env_list(env: &BTreeMap<String, String>) -> Vec<EnvVar> {
    env.iter()
        .map(|(name, value)| EnvVar {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

fn env_map(env: &[EnvVar]) -> BTreeMap<String, String> {
    env.iter()
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect()
}

/// The custom job to create for a console job: the chief in pool 0, `workerCount` more
/// replicas of the same in pool 1.
pub fn custom_job_for(job: &Job, input: &TrainingInput) -> Result<CustomJob, String> {
    if input.hyperparameters.is_some() {
        return Err(
            "trainingInput.hyperparameters: a study is a hyperparameterTuningJob, not a custom job"
                .into(),
        );
    }
    let config = input.master_config.clone().unwrap_or_default();
    let image = config
        .image_uri
        .clone()
        .filter(|i| !i.trim().is_empty())
        .ok_or_else(|| {
            "trainingInput.masterConfig.imageUri: give the container image (for a command) or the prebuilt training image (for a Python module)".to_owned()
        })?;
    let accelerator = config.accelerator_config.filter(|a| a.count > 0);
    let machine_spec = MachineSpec {
        machine_type: input
            .master_type
            .clone()
            .unwrap_or_else(|| DEFAULT_MACHINE.into()),
        accelerator_type: accelerator.as_ref().map(|a| a.kind.clone()),
        accelerator_count: accelerator.as_ref().map(|a| a.count as i32),
    };
    let (container_spec, python_package_spec) = match &input.python_module {
        Some(module) => {
            if let Some(p) = input.package_uris.iter().find(|p| !p.starts_with("gs://")) {
                return Err(format!(
                    "trainingInput.packageUris: {p:?} must be a gs:// URI of a built package (upload it with `gsutil cp`)"
                ));
            }
            let spec = PythonPackageSpec {
                executor_image_uri: image,
                package_uris: input.package_uris.clone(),
                python_module: module.clone(),
                args: input.args.clone(),
                env: env_list(&input.env),
            };
            (None, Some(spec))
        }
        None => {
            let spec = ContainerSpec {
                image_uri: image,
                command: input.command.clone(),
                args: input.args.clone(),
                env: env_list(&input.env),
            };
            (Some(spec), None)
        }
    };
    if input.working_dir.is_some()
        || !input.pip_requirements.is_empty()
        || input.resources.is_some()
    {
        return Err("trainingInput.workingDir, pipRequirements and resources apply to the local engine and Ray; on Vertex AI put them in the image".into());
    }
    let chief = WorkerPoolSpec {
        machine_spec,
        replica_count: Some(1),
        container_spec,
        python_package_spec,
    };
    let mut pools = vec![chief.clone()];
    if let Some(workers) = input.worker_count.filter(|w| *w > 0) {
        pools.push(WorkerPoolSpec {
            replica_count: Some(i64::from(workers)),
            ..chief
        });
    }
    let base_output_directory = match &input.job_dir {
        Some(dir) if dir.starts_with("gs://") => Some(GcsDestination {
            output_uri_prefix: dir.clone(),
        }),
        Some(dir) => {
            return Err(format!(
                "trainingInput.jobDir {dir:?}: Vertex AI writes to Cloud Storage; give a gs:// prefix"
            ));
        }
        None => None,
    };
    Ok(CustomJob {
        display_name: job.job_id.clone(),
        job_spec: CustomJobSpec {
            worker_pool_specs: pools,
            base_output_directory,
        },
        labels: job.labels.clone(),
        ..CustomJob::default()
    })
}

/// The `gcloud ai custom-jobs create` lines that submit `job` again as `new_name` in
/// `project` and `region`: its spec written to a file (gcloud's `--config`), then the call.
pub fn create_command(
    job: &Job,
    new_name: &str,
    project: &str,
    region: &str,
) -> Result<String, String> {
    let job = job.resubmission(new_name);
    let input = job
        .training_input
        .clone()
        .filter(|i| i.hyperparameters.is_none())
        .ok_or("only a custom training job has a gcloud ai custom-jobs create line")?;
    let custom = custom_job_for(&job, &input)?;
    let line = gcloud_create(
        "custom-jobs",
        project,
        region,
        &custom.display_name,
        &custom.labels,
    );
    spec_then(new_name, &custom.job_spec, line)
}

/// The start of a `gcloud ai <group> create` line: where, the name and the labels.
pub(super) fn gcloud_create(
    group: &str,
    project: &str,
    region: &str,
    display_name: &str,
    labels: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut line = vec![
        format!("gcloud ai {group} create"),
        format!("--project={}", shell_quote(project)),
        format!("--region={}", shell_quote(region)),
        format!("--display-name={}", shell_quote(display_name)),
    ];
    if !labels.is_empty() {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push(format!("--labels={}", shell_quote(&labels.join(","))));
    }
    line
}

/// Shell lines that write `spec` as JSON to a file named after `name` and then run
/// `line` with `--config=` that file (a heredoc: nothing in the spec is expanded).
pub(super) fn spec_then(
    name: &str,
    spec: &impl Serialize,
    mut line: Vec<String>,
) -> Result<String, String> {
    let spec = serde_json::to_string_pretty(spec).map_err(|e| e.to_string())?;
    let file = format!("/tmp/{}.json", file_stem(name));
    line.push(format!("--config={file}"));
    Ok(format!(
        "cat > {file} <<'SPEC'\n{spec}\nSPEC\n{}",
        continued(&line)
    ))
}

/// The console's job for a custom job.
pub fn from_custom_job(custom: &CustomJob) -> Job {
    let pools = &custom.job_spec.worker_pool_specs;
    let chief = pools.first().cloned().unwrap_or_default();
    let accelerator = chief
        .machine_spec
        .accelerator_type
        .clone()
        .map(|kind| AcceleratorConfig {
            count: chief.machine_spec.accelerator_count.unwrap_or(0).max(0) as u32,
            kind,
        });
    let mut input = TrainingInput {
        master_type: Some(chief.machine_spec.machine_type.clone()),
        worker_count: pools
            .get(1)
            .and_then(|p| p.replica_count)
            .map(|n| n.clamp(0, i64::from(u32::MAX)) as u32),
        job_dir: custom
            .job_spec
            .base_output_directory
            .as_ref()
            .map(|d| d.output_uri_prefix.clone()),
        ..TrainingInput::default()
    };
    let (image, argv) = if let Some(spec) = &chief.python_package_spec {
        input.python_module = Some(spec.python_module.clone());
        input.package_uris = spec.package_uris.clone();
        input.args = spec.args.clone();
        input.env = env_map(&spec.env);
        let mut argv = vec!["python".into(), "-m".into(), spec.python_module.clone()];
        argv.extend(spec.args.iter().cloned());
        (spec.executor_image_uri.clone(), argv)
    } else {
        let spec = chief.container_spec.clone().unwrap_or_default();
        input.command = spec.command.clone();
        input.args = spec.args.clone();
        input.env = env_map(&spec.env);
        let mut argv = spec.command.clone();
        argv.extend(spec.args.iter().cloned());
        (spec.image_uri.clone(), argv)
    };
    input.master_config = Some(ReplicaConfig {
        image_uri: Some(image.clone()),
        accelerator_config: accelerator,
    });
    let invocation = Invocation {
        argv,
        working_dir: format!("the image {image}"),
        env: input.env.clone(),
    };
    Job {
        job_id: id_of(&custom.name).to_owned(),
        display_name: Some(custom.display_name.clone()).filter(|n| !n.is_empty()),
        labels: super::models::users_labels(&custom.labels),
        training_input: Some(input),
        create_time: custom.create_time,
        start_time: custom.start_time,
        end_time: custom.end_time,
        update_time: custom.update_time.or(custom.create_time),
        state: job_state(&custom.state),
        error_message: custom.error.as_ref().map(Status::in_full),
        invocation: Some(invocation),
        ..Job::default()
    }
}

/// The part of a console filter Vertex evaluates itself (AIP-160: `update_time`,
/// `create_time`, `state`, `display_name`, `labels.KEY`), when the filter is a plain
/// conjunction. It only ever narrows to a superset of the answer: the console evaluates
/// the whole filter again, and a term it cannot translate exactly is left to it.
pub fn server_filter(filter: &str) -> Option<String> {
    static TERM: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"^([A-Za-z][\w.]*)(>=|<=|>|<|=)("[^"]*"|[\w.:+-]+)$"#).ok()
    });
    let term_re = TERM.as_ref()?;
    let upper = filter.to_ascii_uppercase();
    if upper.contains(" OR ")
        || upper.contains("NOT ")
        || filter.contains(['(', ')'])
        || filter.trim_start().starts_with('-')
    {
        return None;
    }
    let quoted = |v: &str| format!("\"{}\"", v.trim_matches('"'));
    let terms: Vec<String> = filter
        .split(" AND ")
        .filter_map(|term| {
            let caps = term_re.captures(term.trim())?;
            let (field, op, value) = (&caps[1], &caps[2], &caps[3]);
            match (field, op) {
                ("updateTime", _) => Some(format!("update_time{op}{}", quoted(value))),
                ("createTime", _) => Some(format!("create_time{op}{}", quoted(value))),
                ("displayName", "=") => Some(format!("display_name={}", quoted(value))),
                ("state", "=") => {
                    let wanted = JobState::parse(value.trim_matches('"'))?;
                    let names: Vec<String> = VERTEX_STATES
                        .iter()
                        .filter(|s| job_state(s) == wanted)
                        .map(|s| format!("state=\"{s}\""))
                        .collect();
                    match names.len() {
                        0 => None,
                        1 => names.into_iter().next(),
                        _ => Some(format!("({})", names.join(" OR "))),
                    }
                }
                (label, "=") => {
                    let key = label.strip_prefix("labels.")?;
                    Some(format!("labels.{key}={}", quoted(value)))
                }
                _ => None,
            }
        })
        .collect();
    (!terms.is_empty()).then(|| terms.join(" AND "))
}

/// Every job state Vertex AI names (v1 discovery document).
const VERTEX_STATES: [&str; 11] = [
    "JOB_STATE_QUEUED",
    "JOB_STATE_PENDING",
    "JOB_STATE_RUNNING",
    "JOB_STATE_SUCCEEDED",
    "JOB_STATE_FAILED",
    "JOB_STATE_CANCELLING",
    "JOB_STATE_CANCELLED",
    "JOB_STATE_PAUSED",
    "JOB_STATE_EXPIRED",
    "JOB_STATE_UPDATING",
    "JOB_STATE_PARTIALLY_SUCCEEDED",
];

#[cfg(test)]
mod tests;
