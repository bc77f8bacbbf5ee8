//! Tests of `platform/vertex/jobs`.

use super::*;

fn container_job() -> Job {
    Job {
        job_id: "train_1".into(),
        labels: [("team".to_owned(), "vision".to_owned())].into(),
        training_input: Some(TrainingInput {
            command: vec!["python".into(), "train.py".into()],
            args: vec!["--epochs".into(), "3".into()],
            env: [("SEED".to_owned(), "1".to_owned())].into(),
            master_type: Some("n1-standard-8".into()),
            master_config: Some(ReplicaConfig {
                image_uri: Some("us-docker.pkg.dev/p/r/trainer:1".into()),
                accelerator_config: Some(AcceleratorConfig {
                    count: 1,
                    kind: "NVIDIA_TESLA_T4".into(),
                }),
            }),
            worker_count: Some(2),
            job_dir: Some("gs://bucket/out".into()),
            ..TrainingInput::default()
        }),
        ..Job::default()
    }
}

#[test]
fn a_container_job_round_trips_through_the_custom_job_shape() {
    let job = container_job();
    let custom = custom_job_for(&job, job.training_input.as_ref().unwrap()).unwrap();
    let wire = serde_json::to_value(&custom).unwrap();
    assert_eq!(wire["jobSpec"]["workerPoolSpecs"][0]["replicaCount"], "1");
    assert_eq!(wire["jobSpec"]["workerPoolSpecs"][1]["replicaCount"], "2");
    assert_eq!(
        wire["jobSpec"]["workerPoolSpecs"][0]["machineSpec"]["acceleratorType"],
        "NVIDIA_TESLA_T4"
    );
    let mut listed: CustomJob = serde_json::from_value(wire).unwrap();
    listed.name = "projects/p/locations/us-central1/customJobs/42".into();
    listed.state = "JOB_STATE_RUNNING".into();
    let back = from_custom_job(&listed);
    assert_eq!(back.job_id, "42");
    assert_eq!(back.display_name.as_deref(), Some("train_1"));
    assert_eq!(back.state, JobState::Running);
    assert_eq!(back.training_input, job.training_input);
    assert_eq!(
        back.invocation.unwrap().argv,
        ["python", "train.py", "--epochs", "3"]
    );
}

#[test]
fn local_paths_are_refused_with_what_to_give() {
    let mut job = container_job();
    job.training_input.as_mut().unwrap().job_dir = Some("/tmp/out".into());
    let err = custom_job_for(&job, job.training_input.as_ref().unwrap()).unwrap_err();
    assert!(err.contains("gs://"), "{err}");
    job.training_input.as_mut().unwrap().master_config = None;
    let err = custom_job_for(&job, job.training_input.as_ref().unwrap()).unwrap_err();
    assert!(err.contains("imageUri"), "{err}");
}

#[test]
fn every_vertex_state_has_a_console_state() {
    assert_eq!(job_state("JOB_STATE_PENDING"), JobState::Preparing);
    assert_eq!(job_state("JOB_STATE_EXPIRED"), JobState::Failed);
    assert_eq!(
        job_state("JOB_STATE_PARTIALLY_SUCCEEDED"),
        JobState::Succeeded
    );
    assert_eq!(
        job_state("JOB_STATE_SOMETHING_NEW"),
        JobState::StateUnspecified
    );
}

#[test]
fn only_terms_vertex_can_evaluate_exactly_go_to_the_server() {
    assert_eq!(
        server_filter(r#"updateTime>="2026-12-01T00:00:00Z""#).as_deref(),
        Some(r#"update_time>="2026-12-01T00:00:00Z""#)
    );
    assert_eq!(
        server_filter(r#"state=RUNNING AND createTime>"2026-12-01T00:00:00Z""#).as_deref(),
        Some(
            r#"(state="JOB_STATE_RUNNING" OR state="JOB_STATE_UPDATING") AND create_time>"2026-12-01T00:00:00Z""#
        )
    );
    assert_eq!(
        server_filter("labels.team=vision AND displayName=mnist_1 AND state=PREPARING").as_deref(),
        Some(r#"labels.team="vision" AND display_name="mnist_1" AND state="JOB_STATE_PENDING""#)
    );
    // What cannot be said exactly is left to the console: juxtaposed terms, `:`,
    // unknown states, other fields.
    assert_eq!(
        server_filter(r#"updateTime>="2026-12-01T00:00:00Z" state=RUNNING"#),
        None
    );
    assert_eq!(
        server_filter("jobId:mnist* AND state=NOPE AND errorMessage=x"),
        None
    );
    assert_eq!(server_filter("state=RUNNING OR state=FAILED"), None);
    assert_eq!(server_filter(""), None);
}
