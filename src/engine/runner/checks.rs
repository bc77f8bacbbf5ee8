//! What the local engine refuses at submit: cloud paths, per-job packages and resources,
//! cloud machines, and paths that are not absolute or do not exist.

use std::path::{Path, PathBuf};

use super::EngineError;
use crate::domain::Job;
use crate::domain::bucket::BucketUrl;

/// Checks the paths a job names: they must be absolute and exist.
pub(super) fn check_paths(job: &Job) -> Result<(), EngineError> {
    if let Some(prediction) = &job.prediction_input {
        let paths = prediction
            .input_paths
            .iter()
            .chain([&prediction.output_path]);
        for path in paths.filter(|p| BucketUrl::is_bucket(p)) {
            BucketUrl::parse(path).map_err(|e| {
                EngineError::InvalidArgument(format!("predictionInput: {path:?}: {e}"))
            })?;
        }
    }
    let Some(input) = &job.training_input else {
        return Ok(());
    };
    if !input.pip_requirements.is_empty() {
        return Err(EngineError::InvalidArgument(
            "trainingInput.pipRequirements: the local engine runs jobs in its own Python; install the packages there (or submit to a Ray cluster, which installs them per job)".into(),
        ));
    }
    if input.resources.is_some() {
        return Err(EngineError::InvalidArgument(
            "trainingInput.resources: the local engine does not reserve CPUs, GPUs or memory per job; leave them out (they apply to Ray clusters)".into(),
        ));
    }
    let image = input
        .master_config
        .as_ref()
        .is_some_and(|c| c.image_uri.is_some());
    // masterConfig.acceleratorConfig alone asks for this machine's GPUs.
    if input.master_type.is_some() || input.worker_count.is_some() || image {
        return Err(EngineError::InvalidArgument(
            "trainingInput.masterType, masterConfig.imageUri and workerCount name cloud machines; the local engine runs one process on this machine, so leave them out (they apply to Vertex AI; masterConfig.acceleratorConfig.count asks for this machine's GPUs)".into(),
        ));
    }
    let absolute = |field: &str, path: &str| {
        if Path::new(path).is_absolute() {
            Ok(PathBuf::from(path))
        } else {
            Err(EngineError::InvalidArgument(format!(
                "trainingInput.{field} {path:?} must be an absolute path"
            )))
        }
    };
    for uri in &input.package_uris {
        if !absolute("packageUris", uri)?.exists() {
            return Err(EngineError::InvalidArgument(format!(
                "trainingInput.packageUris: {uri:?} does not exist"
            )));
        }
    }
    if let Some(dir) = &input.working_dir
        && !absolute("workingDir", dir)?.is_dir()
    {
        return Err(EngineError::InvalidArgument(format!(
            "trainingInput.workingDir {dir:?} is not a directory"
        )));
    }
    if let Some(dir) = &input.job_dir {
        absolute("jobDir", dir)?;
    }
    Ok(())
}
