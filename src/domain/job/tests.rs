//! Tests of `domain/job`.

use super::*;

#[test]
fn a_batch_names_its_model_and_maybe_a_pinned_version() {
    let input = |model: Option<&str>, version: Option<&str>| PredictionInput {
        model_name: model.map(str::to_owned),
        version_name: version.map(str::to_owned),
        ..PredictionInput::default()
    };
    let pair = |m: &str, v: Option<&str>| Ok((m.to_owned(), v.map(str::to_owned)));
    assert_eq!(
        input(Some("projects/local/models/iris"), None).model_and_version(),
        pair("iris", None)
    );
    assert_eq!(
        input(None, Some("projects/local/models/iris/versions/v2")).model_and_version(),
        pair("iris", Some("v2"))
    );
    assert!(
        input(None, Some("iris/v2"))
            .model_and_version()
            .unwrap_err()
            .contains("MODEL/versions/VERSION")
    );
    assert!(
        input(None, None)
            .model_and_version()
            .unwrap_err()
            .contains("modelName")
    );
}

fn command_job(id: &str) -> Job {
    Job {
        job_id: id.into(),
        training_input: Some(TrainingInput {
            command: vec!["true".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn job_ids_follow_cloud_ml_rules() {
    assert!(command_job("train_1").validate_submission().is_ok());
    for bad in ["", "1abc", "has-dash", "spa ce", "ümlaut"] {
        let err = command_job(bad).validate_submission().unwrap_err();
        assert_eq!(err.field, JobField::JobId);
        assert!(err.message.contains("jobId"), "{bad}: {err}");
    }
}

#[test]
fn module_and_command_are_exclusive() {
    let mut job = command_job("a");
    job.training_input.as_mut().unwrap().python_module = Some("trainer.task".into());
    assert!(
        job.validate_submission()
            .unwrap_err()
            .message
            .contains("not both")
    );
    job.training_input.as_mut().unwrap().command.clear();
    assert!(job.validate_submission().is_ok());
    job.training_input.as_mut().unwrap().python_module = Some("trainer-task".into());
    assert!(job.validate_submission().is_err());
}

#[test]
fn labels_are_checked() {
    let mut job = command_job("a");
    job.labels.insert("Team".into(), "x".into());
    let err = job.validate_submission().unwrap_err();
    assert_eq!(err.field, JobField::Labels);
    assert!(err.message.contains("label key"), "{err}");
}

#[test]
fn wire_shape_is_camel_case_and_rejects_unknown_fields() {
    let job: Job = serde_json::from_str(
        r#"{"jobId":"a","trainingInput":{"pythonModule":"m","packageUris":["/p"],"jobDir":"/d"},"state":"RUNNING"}"#,
    )
    .unwrap();
    assert_eq!(job.state, JobState::Running);
    let input = job.training_input.unwrap();
    assert_eq!(input.job_dir.as_deref(), Some("/d"));
    let err = serde_json::from_str::<Job>(r#"{"jobId":"a","trainingInputs":{}}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field"));
}

#[test]
fn int64_fields_take_text_or_numbers_and_answer_text_as_googles_clients_send_them() {
    let input: TrainingInput = serde_json::from_value(serde_json::json!({
        "command": ["python", "train.py"],
        "masterConfig": {"acceleratorConfig": {"count": "2", "type": "NVIDIA_TESLA_T4"}},
        "workerCount": "3"
    }))
    .unwrap();
    let accelerator = input
        .master_config
        .as_ref()
        .unwrap()
        .accelerator_config
        .as_ref()
        .unwrap();
    assert_eq!((accelerator.count, input.worker_count), (2, Some(3)));
    let json = serde_json::to_value(&input).unwrap();
    assert_eq!(json["masterConfig"]["acceleratorConfig"]["count"], "2");
    assert_eq!(json["workerCount"], "3");
    let numbers: TrainingInput = serde_json::from_value(serde_json::json!({
        "masterConfig": {"acceleratorConfig": {"count": 1}},
        "workerCount": 4
    }))
    .unwrap();
    assert_eq!(numbers.worker_count, Some(4));
    let refused = serde_json::from_value::<TrainingInput>(serde_json::json!({"workerCount": "-1"}));
    assert!(refused.unwrap_err().to_string().contains("out of range"));
}
