//! Ray's Jobs API in the console's terms: a submission is a job (its `submission_id` the
//! job id), statuses map onto the v1 states, labels travel in `metadata`, and the list is
//! filtered, sorted and paged by the console (Ray lists everything at once).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::shell::{continued, shell_quote};
use crate::domain::{Filter, Invocation, Job, JobPage, JobState, PredictionInput, TrainingInput};
use crate::platform::PlatformError;

/// Metadata keys the console keeps its own facts under (the rest are the job's labels).
pub(super) const META_JOB_DIR: &str = "mlconsole.jobDir";
pub(super) const META_WORKING_DIR: &str = "mlconsole.workingDir";
pub(super) const META_MODULE: &str = "mlconsole.pythonModule";
pub(super) const META_PACKAGES: &str = "mlconsole.packageUris";
pub(super) const META_ARGS: &str = "mlconsole.args";
pub(super) const META_COMMAND: &str = "mlconsole.command";
pub(super) const META_PREDICTION: &str = "mlconsole.predictionInput";

/// A job as `GET /api/jobs/{id}` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct RayJob {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// Ray's own hex job id, once the entrypoint called `ray.init()`.
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub submission_id: Option<String>,
    #[serde(default)]
    pub driver_info: Option<DriverInfo>,
    pub status: String,
    #[serde(default)]
    pub entrypoint: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default)]
    pub start_time: Option<i64>,
    #[serde(default)]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub runtime_env: Option<Value>,
    #[serde(default)]
    pub driver_node_id: Option<String>,
    #[serde(default)]
    pub driver_exit_code: Option<i64>,
}

/// The driver process of a job that called `ray.init()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct DriverInfo {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub node_ip_address: Option<String>,
    /// A string in Ray's answer.
    #[serde(default)]
    pub pid: Option<String>,
}

impl RayJob {
    /// True for jobs submitted through the Jobs API (not drivers started by hand).
    pub(super) fn is_submission(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "SUBMISSION") && self.submission_id.is_some()
    }

    /// True once Ray will not change the job's status again.
    pub(super) fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }
}

/// The v1 state of a Ray status.
pub(super) fn state_of(job: &RayJob) -> JobState {
    match job.status.as_str() {
        "PENDING" => {
            let preparing = job
                .message
                .as_deref()
                .is_some_and(|m| m.contains("runtime env") && !m.contains("may be"));
            if preparing {
                JobState::Preparing
            } else {
                JobState::Queued
            }
        }
        "RUNNING" => JobState::Running,
        "SUCCEEDED" => JobState::Succeeded,
        "FAILED" => JobState::Failed,
        "STOPPED" => JobState::Cancelled,
        _ => JobState::StateUnspecified,
    }
}

fn time_ms(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

/// The console's job for a Ray job, with the time the console saw it change.
pub(super) fn to_job(ray: &RayJob, update_time: DateTime<Utc>) -> Job {
    let meta = ray.metadata.clone().unwrap_or_default();
    let env: BTreeMap<String, String> = ray
        .runtime_env
        .as_ref()
        .and_then(|r| r.get("env_vars"))
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let pip: Vec<String> = ray
        .runtime_env
        .as_ref()
        .and_then(|r| r.get("pip"))
        .and_then(|v| match v {
            Value::Array(_) => serde_json::from_value(v.clone()).ok(),
            Value::Object(o) => o
                .get("packages")
                .and_then(|p| serde_json::from_value(p.clone()).ok()),
            _ => None,
        })
        .unwrap_or_default();
    let remote_dir = ray
        .runtime_env
        .as_ref()
        .and_then(|r| r.get("working_dir"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let words = |key: &str| -> Option<Vec<String>> {
        meta.get(key).and_then(|v| serde_json::from_str(v).ok())
    };
    let state = state_of(ray);
    let prediction_input: Option<PredictionInput> = meta
        .get(META_PREDICTION)
        .and_then(|p| serde_json::from_str(p).ok());
    let module = meta.get(META_MODULE).cloned();
    let training_input = prediction_input.is_none().then(|| TrainingInput {
        command: match module {
            Some(_) => Vec::new(),
            None => words(META_COMMAND)
                .unwrap_or_else(|| shlex::split(&ray.entrypoint).unwrap_or_default()),
        },
        python_module: module,
        package_uris: words(META_PACKAGES).unwrap_or_default(),
        args: words(META_ARGS).unwrap_or_default(),
        working_dir: meta.get(META_WORKING_DIR).cloned(),
        env: env.clone(),
        job_dir: meta.get(META_JOB_DIR).cloned(),
        pip_requirements: pip,
        ..TrainingInput::default()
    });
    let labels = meta
        .iter()
        .filter(|(k, _)| !k.starts_with("mlconsole."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let error_message = (state == JobState::Failed).then(|| {
        let message = ray.message.clone().unwrap_or_default();
        match &ray.error_type {
            Some(kind) => format!("{kind}: {message}"),
            None => message,
        }
    });
    let started = !matches!(state, JobState::Queued | JobState::Preparing);
    Job {
        job_id: ray.submission_id.clone().unwrap_or_default(),
        display_name: None,
        labels,
        training_input,
        prediction_input,
        create_time: time_ms(ray.start_time),
        start_time: time_ms(ray.start_time).filter(|_| started),
        end_time: time_ms(ray.end_time),
        update_time: Some(update_time),
        state,
        error_message,
        invocation: started.then(|| Invocation {
            argv: shlex::split(&ray.entrypoint).unwrap_or_else(|| vec![ray.entrypoint.clone()]),
            working_dir: remote_dir.unwrap_or_else(|| "(the Ray worker's default)".into()),
            env,
        }),
        training_output: None,
    }
}

/// The body of `POST /api/jobs/`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(super) struct Submission {
    pub entrypoint: String,
    pub submission_id: String,
    pub runtime_env: serde_json::Map<String, Value>,
    pub metadata: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
}

/// What a training job becomes on Ray, given the `gcs://` URIs its working dir and
/// packages were uploaded as.
pub(super) fn submission(
    job: &Job,
    input: &TrainingInput,
    working_dir: Option<String>,
    py_modules: &[String],
) -> Submission {
    let mut argv: Vec<String> = match &input.python_module {
        Some(module) => vec!["python".into(), "-m".into(), module.clone()],
        None => input.command.clone(),
    };
    argv.extend(input.args.iter().cloned());
    if let (Some(dir), Some(_)) = (&input.job_dir, &input.python_module) {
        argv.push("--job-dir".into());
        argv.push(dir.clone());
    }
    let mut env = input.env.clone();
    if let Some(dir) = &input.job_dir {
        env.entry("MLCONSOLE_JOB_DIR".into())
            .or_insert_with(|| dir.clone());
    }
    let mut runtime_env = serde_json::Map::new();
    if !env.is_empty() {
        runtime_env.insert("env_vars".into(), serde_json::json!(env));
    }
    if let Some(uri) = working_dir {
        runtime_env.insert("working_dir".into(), uri.into());
    }
    if !py_modules.is_empty() {
        runtime_env.insert("py_modules".into(), serde_json::json!(py_modules));
    }
    if !input.pip_requirements.is_empty() {
        runtime_env.insert("pip".into(), serde_json::json!(input.pip_requirements));
    }
    let mut metadata: BTreeMap<String, String> = job.labels.clone();
    let json = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_default();
    if let Some(dir) = &input.job_dir {
        metadata.insert(META_JOB_DIR.into(), dir.clone());
    }
    if let Some(dir) = &input.working_dir {
        metadata.insert(META_WORKING_DIR.into(), dir.clone());
    }
    match &input.python_module {
        Some(module) => {
            metadata.insert(META_MODULE.into(), module.clone());
        }
        None => {
            metadata.insert(META_COMMAND.into(), json(&input.command));
        }
    }
    if !input.package_uris.is_empty() {
        metadata.insert(META_PACKAGES.into(), json(&input.package_uris));
    }
    if !input.args.is_empty() {
        metadata.insert(META_ARGS.into(), json(&input.args));
    }
    let resources = input.resources.unwrap_or_default();
    Submission {
        entrypoint: shell_join(&argv),
        submission_id: job.job_id.clone(),
        runtime_env,
        metadata,
        entrypoint_num_cpus: resources.cpus,
        entrypoint_num_gpus: resources.gpus,
        entrypoint_memory: resources.memory_bytes,
    }
}

/// The `ray job submit` line that submits `job` again as `new_id` (the Ray CLI uploads
/// its working dir and packages itself); `token` adds the header a secured cluster wants.
pub(super) fn submit_command(
    job: &Job,
    new_id: &str,
    address: &str,
    token: bool,
) -> Result<String, String> {
    let job = job.resubmission(new_id);
    let input = job
        .training_input
        .clone()
        .filter(|i| i.hyperparameters.is_none())
        .ok_or("only a training job (not a study or a batch job) has a ray job submit line")?;
    let plan = submission(&job, &input, input.working_dir.clone(), &input.package_uris);
    let mut parts = Vec::new();
    if token {
        parts.push("# RAY_TOKEN: the connection's token".to_owned());
    }
    let prefix = if token {
        r#"RAY_JOB_HEADERS='{"Authorization": "Bearer '"$RAY_TOKEN"'"}' "#
    } else {
        ""
    };
    let mut line = vec![
        format!("{prefix}ray job submit --address {}", shell_quote(address)),
        format!("--submission-id {}", shell_quote(&plan.submission_id)),
    ];
    if !plan.runtime_env.is_empty() {
        line.push(format!(
            "--runtime-env-json {}",
            shell_quote(&serde_json::to_string(&plan.runtime_env).unwrap_or_default())
        ));
    }
    line.push(format!(
        "--metadata-json {}",
        shell_quote(&serde_json::to_string(&plan.metadata).unwrap_or_default())
    ));
    if let Some(cpus) = plan.entrypoint_num_cpus {
        line.push(format!("--entrypoint-num-cpus {cpus}"));
    }
    if let Some(gpus) = plan.entrypoint_num_gpus {
        line.push(format!("--entrypoint-num-gpus {gpus}"));
    }
    if let Some(memory) = plan.entrypoint_memory {
        line.push(format!("--entrypoint-memory {memory}"));
    }
    // The shell splits the entry point into words; the CLI joins them back (shlex.join).
    line.push(format!("--no-wait -- {}", plan.entrypoint));
    parts.push(continued(&line));
    Ok(parts.join("\n"))
}

/// A command line a shell splits back into `argv`.
pub(super) fn shell_join(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

/// What the console last saw of each job, and when it changed: Ray has no update time,
/// so the console keeps one to sync only what changed.
#[derive(Default)]
pub(super) struct ChangeClock {
    seen: Mutex<HashMap<String, (RayJob, DateTime<Utc>)>>,
}

impl ChangeClock {
    /// The console's jobs for `listed`, each with the time it was last seen to change.
    pub(super) fn jobs(&self, listed: Vec<RayJob>) -> Vec<Job> {
        let now = Utc::now();
        let Ok(mut seen) = self.seen.lock() else {
            return listed.iter().map(|r| to_job(r, now)).collect();
        };
        let mut jobs = Vec::with_capacity(listed.len());
        for ray in listed.into_iter().filter(RayJob::is_submission) {
            let id = ray.submission_id.clone().unwrap_or_default();
            let changed = match seen.get(&id) {
                Some((old, time)) if *old == ray => *time,
                _ => now,
            };
            jobs.push(to_job(&ray, changed));
            seen.insert(id, (ray, changed));
        }
        jobs
    }
}

/// One page of `jobs` matching `filter`, newest first; the page token is the offset.
pub(in crate::platform) fn page(
    mut jobs: Vec<Job>,
    filter: &str,
    page_size: usize,
    page_token: Option<&str>,
) -> Result<JobPage, PlatformError> {
    let filter = Filter::parse::<Job>(filter).map_err(|e| PlatformError::Rejected {
        status: "INVALID_ARGUMENT".into(),
        message: e.to_string(),
    })?;
    jobs.retain(|j| filter.matches(j));
    jobs.sort_by(|a, b| {
        b.create_time
            .cmp(&a.create_time)
            .then_with(|| b.job_id.cmp(&a.job_id))
    });
    let start: usize = match page_token {
        Some(token) => token.parse().map_err(|_| PlatformError::Rejected {
            status: "INVALID_ARGUMENT".into(),
            message: format!("pageToken {token:?} is not one this console gave"),
        })?,
        None => 0,
    };
    let page_size = page_size.max(1);
    let end = (start + page_size).min(jobs.len());
    let next_page_token = (end < jobs.len()).then(|| end.to_string());
    let jobs = jobs
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    Ok(JobPage {
        jobs,
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::domain::EntrypointResources;

    fn listed(text: &str) -> RayJob {
        serde_json::from_str(text).unwrap()
    }

    const FAILED: &str = r#"{"type":"SUBMISSION","job_id":"02000000","submission_id":"train_2","driver_info":{"id":"02000000","node_ip_address":"192.0.2.2","pid":"17392"},"status":"FAILED","entrypoint":"python train.py --lr 0.1","message":"Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\nboom","error_type":"JOB_ENTRYPOINT_COMMAND_ERROR","start_time":1796159199047,"end_time":1796159220820,"metadata":{"team":"vision","mlconsole.jobDir":"/runs/t2"},"runtime_env":{"working_dir":"gcs://_ray_pkg_ab.zip","env_vars":{"LR":"0.1"},"pip":["numpy"]},"driver_node_id":"bc73","driver_exit_code":3}"#;

    #[test]
    fn ray_jobs_map_onto_the_console_s_jobs() {
        let now = Utc::now();
        let job = to_job(&listed(FAILED), now);
        assert_eq!(job.job_id, "train_2");
        assert_eq!(job.state, JobState::Failed);
        assert!(job.error_message.as_deref().unwrap().starts_with(
            "JOB_ENTRYPOINT_COMMAND_ERROR: Job entrypoint command failed with exit code 3"
        ));
        assert_eq!(job.labels.get("team").map(String::as_str), Some("vision"));
        assert!(
            !job.labels.contains_key(META_JOB_DIR),
            "the console's own keys are not labels"
        );
        let input = job.training_input.unwrap();
        assert_eq!(input.command, ["python", "train.py", "--lr", "0.1"]);
        assert_eq!(input.env.get("LR").map(String::as_str), Some("0.1"));
        assert_eq!(input.job_dir.as_deref(), Some("/runs/t2"));
        assert_eq!(input.pip_requirements, ["numpy"]);
        assert_eq!(job.invocation.unwrap().working_dir, "gcs://_ray_pkg_ab.zip");
        assert_eq!(job.create_time.unwrap().timestamp_millis(), 1796159199047);
        let states = [
            ("PENDING", JobState::Queued),
            ("RUNNING", JobState::Running),
            ("SUCCEEDED", JobState::Succeeded),
            ("STOPPED", JobState::Cancelled),
        ];
        for (status, want) in states {
            let mut ray = listed(FAILED);
            ray.status = status.into();
            assert_eq!(state_of(&ray), want, "{status}");
        }
    }

    #[test]
    fn submissions_carry_env_packages_labels_and_resources() {
        let job = Job {
            job_id: "lr_sweep_1".into(),
            labels: [("team".to_owned(), "vision".to_owned())].into(),
            ..Job::default()
        };
        let input = TrainingInput {
            python_module: Some("trainer.task".into()),
            args: vec!["--epochs".into(), "3 4".into()],
            env: [("SEED".to_owned(), "7".to_owned())].into(),
            job_dir: Some("/runs/lr".into()),
            pip_requirements: vec!["scikit-learn==1.9.1".into()],
            resources: Some(EntrypointResources {
                cpus: Some(0.5),
                gpus: None,
                memory_bytes: Some(1 << 30),
            }),
            ..TrainingInput::default()
        };
        let s = submission(
            &job,
            &input,
            Some("gcs://wd.zip".into()),
            &["gcs://p.zip".into()],
        );
        assert_eq!(s.submission_id, "lr_sweep_1");
        assert_eq!(
            s.entrypoint,
            "python -m trainer.task --epochs '3 4' --job-dir /runs/lr"
        );
        let body = serde_json::to_value(&s).unwrap();
        assert_eq!(body["runtime_env"]["working_dir"], "gcs://wd.zip");
        assert_eq!(body["runtime_env"]["py_modules"][0], "gcs://p.zip");
        assert_eq!(
            body["runtime_env"]["env_vars"]["MLCONSOLE_JOB_DIR"],
            "/runs/lr"
        );
        assert_eq!(body["runtime_env"]["pip"][0], "scikit-learn==1.9.1");
        assert_eq!(body["entrypoint_num_cpus"], 0.5);
        assert!(body.get("entrypoint_num_gpus").is_none());
        assert_eq!(body["metadata"]["team"], "vision");
        // What was submitted reads back the same.
        let ray = RayJob {
            kind: Some("SUBMISSION".into()),
            job_id: None,
            submission_id: Some(s.submission_id.clone()),
            driver_info: None,
            status: "RUNNING".into(),
            entrypoint: s.entrypoint.clone(),
            message: None,
            error_type: None,
            start_time: Some(1),
            end_time: None,
            metadata: Some(s.metadata.clone()),
            runtime_env: Some(Value::Object(s.runtime_env.clone())),
            driver_node_id: None,
            driver_exit_code: None,
        };
        let back = to_job(&ray, Utc::now()).training_input.unwrap();
        assert_eq!(back.python_module.as_deref(), Some("trainer.task"));
        assert_eq!(back.args, input.args);
        assert_eq!(back.job_dir, input.job_dir);
    }

    #[test]
    fn the_change_clock_keeps_times_of_unchanged_jobs_and_pages_filter() {
        let clock = ChangeClock::default();
        let first = clock.jobs(vec![listed(FAILED)]);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let again = clock.jobs(vec![listed(FAILED)]);
        assert_eq!(first[0].update_time, again[0].update_time);
        let mut changed = listed(FAILED);
        changed.message = Some("other".into());
        let later = clock.jobs(vec![changed]);
        assert!(later[0].update_time > first[0].update_time);
        let t = first[0].update_time.unwrap().to_rfc3339();
        let only_new = page(later.clone(), &format!("updateTime>\"{t}\""), 10, None).unwrap();
        assert_eq!(only_new.jobs.len(), 1);
        assert!(
            page(later.clone(), "state=RUNNING", 10, None)
                .unwrap()
                .jobs
                .is_empty()
        );
        assert!(page(later, "stat=RUNNING", 10, None).is_err());
    }
}
