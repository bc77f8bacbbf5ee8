//! How a job is run: the exact command line, directory and environment of a training job
//! (a command, or `python -m` from packages) and of a batch prediction job (the engine's
//! own `batch-predict`, or the framework's predictor in the user's Python).

use super::*;

impl Engine {
    /// The exact command line, directory and environment a job runs with.
    pub(super) fn invocation(&self, job: &Job, state_dir: &Path) -> Invocation {
        if let Some(prediction) = &job.prediction_input {
            return self.batch_invocation(job, prediction, state_dir);
        }
        let input = job.training_input.clone().unwrap_or_default();
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        env.insert("PYTHONUNBUFFERED".into(), "1".into());
        env.insert("MLCONSOLE_JOB_ID".into(), job.job_id.clone());
        let mut argv = match &input.python_module {
            Some(module) => {
                if !input.package_uris.is_empty() {
                    let mut paths = input.package_uris.clone();
                    if let Ok(existing) = std::env::var("PYTHONPATH") {
                        paths.push(existing);
                    }
                    env.insert("PYTHONPATH".into(), paths.join(":"));
                }
                vec![self.config.python.clone(), "-m".into(), module.clone()]
            }
            None => input.command.clone(),
        };
        argv.extend(input.args.iter().cloned());
        if let Some(job_dir) = &input.job_dir {
            env.insert("MLCONSOLE_JOB_DIR".into(), job_dir.clone());
            // A default job dir goes to Python trainers as --job-dir, as Cloud ML Engine
            // passes it; a command gets it in MLCONSOLE_JOB_DIR only, since appending an
            // argument it does not expect would break it.
            let default = Path::new(job_dir) == self.default_job_dir(&job.job_id);
            if input.python_module.is_some() || !default {
                argv.push("--job-dir".into());
                argv.push(job_dir.clone());
            }
        }
        env.extend(input.env.clone());
        let working_dir = input
            .working_dir
            .clone()
            .unwrap_or_else(|| state_dir.display().to_string());
        Invocation {
            argv,
            working_dir,
            env,
        }
    }

    /// Where a job that names no `jobDir` writes its outputs.
    pub fn default_job_dir(&self, job_id: &str) -> PathBuf {
        self.config.data_dir.join("job-dirs").join(job_id)
    }

    /// `mlconsole batch-predict` over the job's files with its pinned version's model
    /// (or the framework's own predictor), under `mlconsole bucket-stage` when a path is
    /// in a bucket.
    fn batch_invocation(
        &self,
        job: &Job,
        prediction: &crate::domain::PredictionInput,
        state_dir: &Path,
    ) -> Invocation {
        let (plan, inputs, output) = crate::engine::bucket_stage::StagePlan::new(
            &prediction.input_paths,
            &prediction.output_path,
            state_dir,
        );
        let pinned = prediction.version_name.as_deref().unwrap_or_default();
        let mut parts = pinned.rsplit('/');
        let (version, model) = (
            parts.next().unwrap_or_default(),
            parts.nth(1).unwrap_or_default(),
        );
        let mut env = BTreeMap::new();
        env.insert("MLCONSOLE_JOB_ID".into(), job.job_id.clone());
        let mut argv = if let Some(spec) = self.registry.worker_spec(model, version) {
            // The framework's own predictor runs the job, in the user's Python.
            let mut argv = vec![spec.python.clone()];
            argv.extend(spec.args("batch"));
            argv.extend(["--output".into(), output, "--".into()]);
            env.insert("PYTHONUNBUFFERED".into(), "1".into());
            env.insert("TF_CPP_MIN_LOG_LEVEL".into(), "2".into());
            argv
        } else {
            vec![
                self.config.wrapper_exe.display().to_string(),
                "batch-predict".into(),
                "--model-file".into(),
                self.registry
                    .artifact_path(model, version)
                    .display()
                    .to_string(),
                "--output-path".into(),
                output,
                // The runtime and library the engine serves the version with.
                "--runtime".into(),
                self.registry
                    .get_version(model, version)
                    .ok()
                    .and_then(|v| v.requested_runtime)
                    .unwrap_or_else(|| "auto".into()),
                "--onnxruntime".into(),
                crate::engine::runtime::onnxruntime::loaded()
                    .map_or_else(|| "none".into(), |l| l.library.display().to_string()),
                "--".into(),
            ]
        };
        argv.extend(inputs);
        if !plan.is_empty() {
            let mut staged = vec![self.config.wrapper_exe.display().to_string()];
            staged.extend(plan.args());
            staged.push("--".into());
            staged.append(&mut argv);
            argv = staged;
        }
        Invocation {
            argv,
            working_dir: state_dir.display().to_string(),
            env,
        }
    }
}
