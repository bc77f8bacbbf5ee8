//! The form's parsing: clones build back, platform fields, errors by field.
use super::common::next_id;
use super::*;
use crate::domain::TrainingInput;

#[test]
fn a_cloned_job_builds_back_to_the_same_input() {
    let job = Job {
        job_id: "train_3".into(),
        labels: [("team".to_owned(), "vision".to_owned())].into(),
        training_input: Some(TrainingInput {
            command: vec!["python3".into(), "train.py".into(), "a b".into()],
            args: vec!["--lr".into(), "0.1".into()],
            env: [("SEED".to_owned(), "1".to_owned())].into(),
            job_dir: Some("/tmp/out".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let form = JobForm::cloned_from(&ConnectionId::local(), &job);
    assert_eq!(form.common.job_id, "train_4");
    let rebuilt = form.build().unwrap();
    assert_eq!(rebuilt.training_input, job.training_input);
    assert_eq!(rebuilt.labels, job.labels);
}

#[test]
fn cluster_fields_become_pip_and_resources() {
    let mut form = JobForm::new();
    form.common.command_line = "python train.py".into();
    form.platform = Platform::Cluster;
    form.cluster.pip = "numpy\n\nscikit-learn==1.9.1".into();
    form.cluster.cpus = "0.5".into();
    form.cluster.memory = "2GiB".into();
    let input = form.build().unwrap().training_input.unwrap();
    assert_eq!(input.pip_requirements, ["numpy", "scikit-learn==1.9.1"]);
    let r = input.resources.unwrap();
    assert_eq!(
        (r.cpus, r.gpus, r.memory_bytes),
        (Some(0.5), None, Some(2 << 30))
    );
    form.cluster.memory = "lots".into();
    assert!(form.build().unwrap_err()[&Field::Memory].contains("2GiB"));
    form.platform = Platform::Local;
    assert!(
        form.build()
            .unwrap()
            .training_input
            .unwrap()
            .resources
            .is_none(),
        "local jobs reserve nothing"
    );
}

#[test]
fn vertex_fields_become_image_machine_workers_and_accelerators() {
    let mut form = JobForm::new();
    form.platform = Platform::Vertex;
    form.common.kind = JobKind::PythonModule;
    form.common.module = "trainer.task".into();
    form.common.packages = "/home/me/trainer".into();
    form.common.job_dir = "/tmp/out".into();
    let errors = form.build().unwrap_err();
    assert!(errors[&Field::Image].contains("image"));
    assert!(errors[&Field::Packages].contains("gs://"));
    assert!(errors[&Field::JobDir].contains("gs://"));
    form.common.packages = "gs://b/trainer-0.1.tar.gz".into();
    form.common.job_dir = "gs://b/out".into();
    form.vertex.image = "us-docker.pkg.dev/vertex-ai/training/sklearn-cpu.1-0:latest".into();
    form.vertex.machine_type = "n1-highmem-8".into();
    form.vertex.workers = "3".into();
    form.vertex.accelerator = "nvidia_tesla_t4".into();
    form.vertex.accelerator_count = "2".into();
    let job = form.build().unwrap();
    let input = job.training_input.clone().unwrap();
    assert_eq!(input.master_type.as_deref(), Some("n1-highmem-8"));
    assert_eq!(input.worker_count, Some(3));
    let config = input.master_config.unwrap();
    assert_eq!(config.accelerator_config.unwrap().kind, "NVIDIA_TESLA_T4");
    let mut listed = job;
    listed.display_name = Some("sweep_1".into());
    let clone = JobForm::cloned_from(&ConnectionId::local(), &listed);
    assert_eq!(
        (
            clone.vertex.workers.as_str(),
            clone.vertex.accelerator_count.as_str()
        ),
        ("3", "2")
    );
    assert_eq!(clone.common.job_id, next_id("sweep_1"));
    // A container image may run its own entrypoint.
    form.common.kind = JobKind::Command;
    form.common.command_line.clear();
    assert!(
        form.build()
            .unwrap()
            .training_input
            .unwrap()
            .command
            .is_empty()
    );
    form.platform = Platform::Local;
    assert!(form.build().unwrap_err().contains_key(&Field::Command));
}

#[test]
fn errors_are_reported_per_field() {
    let mut form = JobForm::new();
    form.common.job_id = "9lives".into();
    form.common.command_line = "python3 'unclosed".into();
    form.common.job_dir = "relative/dir".into();
    form.common.env = "NOEQUALS".into();
    let errors = form.build().unwrap_err();
    assert!(errors[&Field::Command].contains("quote"));
    assert!(errors[&Field::JobDir].contains("absolute"));
    assert!(errors[&Field::Env].contains("KEY=VALUE"));
    assert!(errors[&Field::JobId].contains("jobId"));
}
