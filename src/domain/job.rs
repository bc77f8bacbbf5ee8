//! Training jobs in the shape of Cloud ML Engine API v1 (`projects.jobs`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::PredictionInput;
use super::filter::{FieldKind, FieldValue, Filterable};
use super::tuning::{HyperparameterSpec, TrainingOutput};

/// The lifecycle state of a job, as API v1 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Not set (only in requests; the engine always sets a state).
    #[default]
    StateUnspecified,
    /// Accepted and waiting for a free slot.
    Queued,
    /// A slot was taken and the process is being started.
    Preparing,
    /// The job's process runs.
    Running,
    /// The job exited with status 0.
    Succeeded,
    /// The job exited with another status, was killed, or could not start.
    Failed,
    /// A cancel was asked for; the process is being stopped.
    Cancelling,
    /// The job was cancelled.
    Cancelled,
}

impl JobState {
    /// Every state, in lifecycle order.
    pub const ALL: [JobState; 8] = [
        JobState::StateUnspecified,
        JobState::Queued,
        JobState::Preparing,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelling,
        JobState::Cancelled,
    ];

    /// The wire name, e.g. `RUNNING`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::StateUnspecified => "STATE_UNSPECIFIED",
            JobState::Queued => "QUEUED",
            JobState::Preparing => "PREPARING",
            JobState::Running => "RUNNING",
            JobState::Succeeded => "SUCCEEDED",
            JobState::Failed => "FAILED",
            JobState::Cancelling => "CANCELLING",
            JobState::Cancelled => "CANCELLED",
        }
    }

    /// Parses a wire name, ignoring case.
    pub fn parse(text: &str) -> Option<JobState> {
        JobState::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
    }

    /// True once the job can no longer change state.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// True while the job holds one of the engine's running slots.
    pub fn holds_slot(self) -> bool {
        matches!(
            self,
            JobState::Preparing | JobState::Running | JobState::Cancelling
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What to run for a training job: a Python module from packages, or a command.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrainingInput {
    /// Python module to run with `python -m`, e.g. `trainer.task`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python_module: Option<String>,
    /// Local paths (directories or archives) put on `PYTHONPATH` for `pythonModule`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub package_uris: Vec<String>,
    /// A command line to run instead of a module: program then its arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments passed to the trainer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Directory the trainer starts in (default: the job's own state directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Extra environment variables for the trainer.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Where the trainer writes its outputs; passed to it as `--job-dir DIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_dir: Option<String>,
    /// pip requirements installed for the job before it starts (Ray clusters; the local
    /// engine runs jobs in its own Python and refuses them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pip_requirements: Vec<String>,
    /// What the job's entrypoint reserves on a cluster (Ray; the local engine refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<EntrypointResources>,
    /// The machine type of the first replica, e.g. `n1-standard-4` (Vertex AI; the local
    /// engine refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_type: Option<String>,
    /// The first replica's container image and accelerators (Vertex AI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_config: Option<ReplicaConfig>,
    /// How many more replicas run beside the first, on the same machine type (Vertex AI).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::wire::int64_option"
    )]
    #[schema(value_type = Option<String>)]
    pub worker_count: Option<u32>,
    /// Run as a hyperparameter tuning study: trials of this job with values chosen
    /// from these ranges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hyperparameters: Option<Box<HyperparameterSpec>>,
}

impl TrainingInput {
    /// True when it asks for machines, images or replicas, which only a cloud provides.
    pub fn names_machines(&self) -> bool {
        self.master_type.is_some() || self.master_config.is_some() || self.worker_count.is_some()
    }
}

/// What one replica runs in: a container image (for a command) or the image a Python
/// package runs in (for a module), and its accelerators.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplicaConfig {
    /// E.g. `us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-0:latest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    /// GPUs or TPUs attached to each replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accelerator_config: Option<AcceleratorConfig>,
}

/// Accelerators attached to a replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceleratorConfig {
    /// How many accelerators each replica gets (an int64: text on the wire, a number
    /// accepted).
    #[serde(default, with = "super::wire::int64")]
    #[schema(value_type = String)]
    pub count: u32,
    /// E.g. `NVIDIA_TESLA_T4`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// CPUs, GPUs and memory a job's entrypoint reserves on a cluster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntrypointResources {
    /// CPUs, e.g. `1` or `0.5`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// GPUs reserved for the entrypoint (fractions share one).
    pub gpus: Option<f64>,
    /// Memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// Exactly how the engine started a job (output only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invocation {
    /// The full command line: program and arguments.
    pub argv: Vec<String>,
    /// The directory the process started in.
    pub working_dir: String,
    /// Environment variables set on top of the engine's own environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// A training job. Fields marked output-only are set by the engine and ignored on submit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Job {
    /// User-chosen id: a letter, then letters, digits and underscores.
    pub job_id: String,
    /// The name the user gave a job whose id the platform chose (Vertex AI's numeric ids;
    /// output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Free-form labels for filtering, e.g. `{"team": "vision"}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What to run, for a training job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_input: Option<TrainingInput>,
    /// What to predict, for a batch prediction job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prediction_input: Option<PredictionInput>,
    /// When the job was accepted (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    /// When its process started (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<DateTime<Utc>>,
    /// When it reached a final state (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<DateTime<Utc>>,
    /// When the engine last changed the job (output only); clients sync incrementally
    /// with the filter `updateTime>=T`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_time: Option<DateTime<Utc>>,
    /// Current state (output only).
    #[serde(default)]
    pub state: JobState,
    /// Why the job failed (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// How the engine started the process (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<Invocation>,
    /// A tuning job's trials (output only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_output: Option<Box<TrainingOutput>>,
}

/// One page of a job listing, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobPage {
    /// The jobs on this page.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Pass as `pageToken` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The label a tuning job's trial carries: its trial number.
pub const TRIAL_LABEL: &str = "tuning_trial";

/// Room a trial's id takes beyond its tuning job's (`_trial_10000`).
const TRIAL_SUFFIX_LEN: usize = 12;

/// Longest job id accepted, as Cloud ML Engine.
pub const MAX_JOB_ID_LEN: usize = 128;

/// The part of a job a validation error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobField {
    /// `jobId`.
    JobId,
    /// `labels`.
    Labels,
    /// The input as a whole (training or prediction, neither or both).
    Input,
    /// `trainingInput.command` (or a command where a module is meant).
    Command,
    /// `trainingInput.pythonModule`.
    Module,
    /// `trainingInput.packageUris`.
    Packages,
    /// `trainingInput.args` (and other strings).
    Args,
    /// `trainingInput.env`.
    Env,
    /// `trainingInput.resources`.
    Resources,
    /// `trainingInput.pipRequirements`.
    Pip,
    /// `predictionInput`.
    Prediction,
    /// `trainingInput.hyperparameters`.
    Tuning,
}

/// Why a job cannot be submitted, and which part of it is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidJob {
    /// The part that is wrong.
    pub field: JobField,
    /// What is wrong and what is expected.
    pub message: String,
}

impl Job {
    /// The accelerators (GPUs) each replica asks for: their count and type.
    pub fn accelerators(&self) -> Option<&AcceleratorConfig> {
        self.training_input
            .as_ref()?
            .master_config
            .as_ref()?
            .accelerator_config
            .as_ref()
            .filter(|a| a.count > 0)
    }

    /// The study a tuning job runs, if it is one.
    pub fn study(&self) -> Option<&HyperparameterSpec> {
        self.training_input.as_ref()?.hyperparameters.as_deref()
    }

    /// For a trial of a tuning job: the tuning job's id and the trial's number.
    pub fn trial_of(&self) -> Option<(&str, &str)> {
        let trial = self.labels.get(TRIAL_LABEL)?;
        let parent = self.job_id.strip_suffix(&format!("_trial_{trial}"))?;
        Some((parent, trial))
    }

    /// A trial as a job of its own: its values stay in its arguments; what made it a
    /// trial (its label, its study's environment and job dir) goes.
    pub fn trial_as_job(&self) -> Job {
        let mut job = self.clone();
        job.labels.remove(TRIAL_LABEL);
        if let Some(input) = &mut job.training_input {
            input
                .env
                .retain(|k, _| !k.starts_with("CLOUD_ML_") && k != "TF_CONFIG");
            input.job_dir = None;
        }
        job
    }

    /// What submitting this job again as `job_id` sends: its inputs, name and labels,
    /// none of what the platform filled in (a trial comes out as a plain job).
    pub fn resubmission(&self, job_id: &str) -> Job {
        let source = if self.labels.contains_key(TRIAL_LABEL) {
            self.trial_as_job()
        } else {
            self.clone()
        };
        let mut training_input = source.training_input;
        // A job dir named after the job (the engine's default, or a user's habit) is the
        // copy's own, not the original's to overwrite.
        if let Some(dir) = training_input.as_mut().and_then(|i| i.job_dir.as_mut())
            && let Some(parent) = dir
                .trim_end_matches('/')
                .strip_suffix(&self.job_id)
                .filter(|p| p.ends_with('/'))
        {
            *dir = format!("{parent}{job_id}");
        }
        Job {
            job_id: job_id.to_owned(),
            display_name: source.display_name,
            labels: source.labels,
            training_input,
            prediction_input: source.prediction_input,
            ..Job::default()
        }
    }

    /// The model a finished job's artifact deploys to: its `model` label, `digits` for
    /// the sample trainer's jobs, else the job's id.
    pub fn deploy_model_name(&self) -> String {
        match self.labels.get("model") {
            Some(name) => name.clone(),
            None if self.labels.get("kind").is_some_and(|k| k == "sample") => "digits".into(),
            None => self.job_id.clone(),
        }
    }

    /// Checks what can be checked without touching the file system; the message says
    /// which field is wrong and what is expected.
    pub fn validate_submission(&self) -> Result<(), InvalidJob> {
        use JobField as F;
        let bad = |field: JobField, message: String| Err(InvalidJob { field, message });
        if let Err(message) = validate_job_id(&self.job_id) {
            return bad(F::JobId, message);
        }
        for (key, value) in &self.labels {
            if let Err(message) = validate_label(key, value) {
                return bad(F::Labels, message);
            }
        }
        let input = match (&self.training_input, &self.prediction_input) {
            (Some(_), Some(_)) => {
                return bad(
                    F::Input,
                    "give trainingInput or predictionInput, not both".into(),
                );
            }
            (None, Some(prediction)) => {
                return prediction
                    .validate()
                    .or_else(|message| bad(F::Prediction, message));
            }
            (Some(input), None) => input,
            (None, None) => {
                return bad(
                    F::Input,
                    "trainingInput is required (pythonModule or command), or predictionInput for batch prediction".into(),
                );
            }
        };
        match (&input.python_module, input.command.is_empty()) {
            (Some(_), false) => {
                return bad(
                    F::Command,
                    "trainingInput: give either pythonModule or command, not both".into(),
                );
            }
            // A container image runs its own entrypoint (Vertex AI).
            (None, true)
                if input
                    .master_config
                    .as_ref()
                    .is_none_or(|c| c.image_uri.is_none()) =>
            {
                return bad(
                    F::Command,
                    "trainingInput: give pythonModule (with packageUris) or command".into(),
                );
            }
            (Some(module), true) if !is_python_module_name(module) => {
                return bad(
                    F::Module,
                    format!(
                        "trainingInput.pythonModule {module:?} is not a module name such as trainer.task"
                    ),
                );
            }
            _ => {}
        }
        if input.command.first().is_some_and(|p| p.is_empty()) {
            return bad(
                F::Command,
                "trainingInput.command: the program name is empty".into(),
            );
        }
        if !input.package_uris.is_empty() && input.python_module.is_none() {
            return bad(
                F::Packages,
                "trainingInput.packageUris needs pythonModule".into(),
            );
        }
        for key in input.env.keys() {
            if key.is_empty() || key.contains('=') || key.contains('\0') {
                return bad(
                    F::Env,
                    format!("trainingInput.env: {key:?} is not a valid environment variable name"),
                );
            }
        }
        let strings = input
            .args
            .iter()
            .chain(&input.command)
            .chain(input.env.values());
        if strings.into_iter().any(|s| s.contains('\0')) {
            return bad(
                F::Args,
                "trainingInput: arguments and env values cannot contain NUL bytes".into(),
            );
        }
        if let Some(r) = &input.resources {
            let wrong = |v: Option<f64>| v.is_some_and(|v| !v.is_finite() || v < 0.0);
            if wrong(r.cpus) || wrong(r.gpus) {
                return bad(
                    F::Resources,
                    "trainingInput.resources: CPUs and GPUs are numbers of 0 or more".into(),
                );
            }
        }
        if input.pip_requirements.iter().any(|r| r.trim().is_empty()) {
            return bad(
                F::Pip,
                "trainingInput.pipRequirements: a requirement is empty".into(),
            );
        }
        if let Some(study) = &input.hyperparameters {
            study
                .validate()
                .or_else(|message| bad(F::Tuning, message))?;
            if self.job_id.len() > MAX_JOB_ID_LEN - TRIAL_SUFFIX_LEN {
                return bad(
                    F::JobId,
                    format!(
                        "a tuning job's id is at most {} characters: its trials are named <id>_trial_<n>",
                        MAX_JOB_ID_LEN - TRIAL_SUFFIX_LEN
                    ),
                );
            }
        }
        Ok(())
    }

    /// Time since start (or creation) until end, or until `now` while unfinished.
    pub fn duration(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let start = self.start_time?;
        Some(self.end_time.unwrap_or(now) - start)
    }
}

/// `train_3` → `train_4`; `train` → `train_2`: the id a re-run of a job gets.
pub fn next_id(id: &str) -> String {
    match id.rsplit_once('_') {
        Some((stem, n))
            if !n.is_empty() && n.len() < 6 && n.chars().all(|c| c.is_ascii_digit()) =>
        {
            format!("{stem}_{}", n.parse::<u64>().unwrap_or(0) + 1)
        }
        _ => format!("{id}_2"),
    }
}

/// Checks a job id: a letter first, then letters, digits or underscores.
pub fn validate_job_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("jobId is required".into());
    }
    if id.len() > MAX_JOB_ID_LEN {
        return Err(format!("jobId is longer than {MAX_JOB_ID_LEN} characters"));
    }
    let mut chars = id.chars();
    let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_is_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "jobId {id:?} is not valid: start with a letter, then use only letters, digits and underscores"
        ));
    }
    Ok(())
}

/// Checks a label as Google does: lowercase key of at most 63 characters, lowercase value.
pub fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
    let key_ok = key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.len() <= 63
        && key.chars().all(ok_char);
    if !key_ok {
        return Err(format!(
            "label key {key:?} is not valid: start with a lowercase letter, then use lowercase letters, digits, '_' or '-' (at most 63)"
        ));
    }
    if value.len() > 63 || !value.chars().all(ok_char) {
        return Err(format!(
            "label {key}={value:?}: values use lowercase letters, digits, '_' or '-' (at most 63)"
        ));
    }
    Ok(())
}

fn is_python_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// Field names a job filter may use, with their kinds.
pub const JOB_FILTER_FIELDS: &[(&str, FieldKind)] = &[
    ("jobId", FieldKind::Text),
    ("displayName", FieldKind::Text),
    ("state", FieldKind::Text),
    ("createTime", FieldKind::Time),
    ("startTime", FieldKind::Time),
    ("endTime", FieldKind::Time),
    ("updateTime", FieldKind::Time),
    ("errorMessage", FieldKind::Text),
    ("labels.*", FieldKind::Text),
    ("trainingInput.pythonModule", FieldKind::Text),
    ("trainingInput.command", FieldKind::Text),
    ("trainingInput.args", FieldKind::Text),
    ("trainingInput.jobDir", FieldKind::Text),
    ("trainingInput.workingDir", FieldKind::Text),
];

impl Filterable for Job {
    fn field_kind(key: &str) -> Option<FieldKind> {
        if let Some(label) = key.strip_prefix("labels.") {
            return (!label.is_empty()).then_some(FieldKind::Text);
        }
        JOB_FILTER_FIELDS
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, kind)| *kind)
    }

    fn known_fields() -> Vec<&'static str> {
        JOB_FILTER_FIELDS.iter().map(|(name, _)| *name).collect()
    }

    fn field(&self, key: &str) -> FieldValue<'_> {
        let time = |t: Option<DateTime<Utc>>| t.map_or(FieldValue::Missing, FieldValue::Time);
        let input = self.training_input.as_ref();
        match key {
            "jobId" => FieldValue::Text(Cow::Borrowed(&self.job_id)),
            "displayName" => text(self.display_name.as_ref()),
            "state" => FieldValue::Text(Cow::Borrowed(self.state.as_str())),
            "createTime" => time(self.create_time),
            "startTime" => time(self.start_time),
            "endTime" => time(self.end_time),
            "updateTime" => time(self.update_time),
            "errorMessage" => text(self.error_message.as_ref()),
            "trainingInput.pythonModule" => text(input.and_then(|i| i.python_module.as_ref())),
            "trainingInput.command" => words(input.map(|i| i.command.as_slice())),
            "trainingInput.args" => words(input.map(|i| i.args.as_slice())),
            "trainingInput.jobDir" => text(input.and_then(|i| i.job_dir.as_ref())),
            "trainingInput.workingDir" => text(input.and_then(|i| i.working_dir.as_ref())),
            other => match other.strip_prefix("labels.") {
                Some(label) => text(self.labels.get(label)),
                None => FieldValue::Missing,
            },
        }
    }
}

fn words(value: Option<&[String]>) -> FieldValue<'_> {
    value.map_or(FieldValue::Missing, FieldValue::Words)
}

fn text(value: Option<&String>) -> FieldValue<'_> {
    match value {
        Some(s) => FieldValue::Text(Cow::Borrowed(s.as_str())),
        None => FieldValue::Missing,
    }
}

#[cfg(test)]
mod tests;
