//! Tests of `domain/connection`.

use super::*;

fn ray(name: &str, url: &str) -> ConnectionConfig {
    ConnectionConfig {
        id: ConnectionId::new(name),
        name: name.into(),
        color: PALETTE[1],
        read_only: false,
        enabled: true,
        kind: ConnectionKind::Ray {
            dashboard_url: url.into(),
            serve_url: None,
        },
    }
}

#[test]
fn settings_round_trip_as_camel_case_json() {
    let config = ray("ray-lab", "http://10.0.0.5:8265");
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["kind"], "ray");
    assert_eq!(json["dashboardUrl"], "http://10.0.0.5:8265");
    assert_eq!(json["color"], "#f59e0b");
    assert_eq!(json["readOnly"], false);
    let back: ConnectionConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);
    let vertex: ConnectionConfig = serde_json::from_str(
        r##"{"id":"prod","name":"prod","color":"#112233","kind":"vertex","project":"my-project-1","region":"us-central1","credentials":"serviceAccountKey"}"##,
    )
    .unwrap();
    assert!(vertex.enabled, "enabled by default");
    assert!(vertex.kind.takes_secret());
    assert!(
        serde_json::from_str::<ConnectionConfig>(
            r##"{"id":"a","name":"a","color":"red","kind":"local"}"##
        )
        .is_err()
    );
}

#[test]
fn validation_names_the_field() {
    let others = vec![ConnectionConfig::local_default()];
    assert!(ray("ray-lab", "http://h:8265").validate(&others).is_ok());
    let err = ray("Local", "http://h:8265").validate(&others).unwrap_err();
    assert_eq!(err.field, "name");
    assert_eq!(
        ray("9lab", "http://h").validate(&others).unwrap_err().field,
        "name"
    );
    let err = ray("lab", "h:8265").validate(&others).unwrap_err();
    assert_eq!(err.field, "dashboard_url");
    assert!(err.message.contains("http://"), "{err}");
    assert!(validate_project("my-project-1").is_ok());
    assert!(validate_project("My_Project").is_err());
    assert!(validate_region("europe-west4").is_ok());
    assert!(validate_region("everywhere").is_err());
}

#[test]
fn filters_select_jobs_by_connection_name() {
    use crate::domain::{Filter, Job};
    let job = Job {
        job_id: "train".into(),
        ..Default::default()
    };
    let listed = ListedJob {
        connection: "ray-lab",
        job: &job,
    };
    let on = |text: &str| Filter::parse::<ListedJob>(text).unwrap().matches(&listed);
    assert!(on("connection=ray-lab"));
    assert!(on("connection=RAY-*  AND jobId=train"));
    assert!(!on("connection=local"));
    assert!(Filter::parse::<ListedJob>("connexion=x").is_err());
}

#[test]
fn new_ids_are_slugs_and_unique() {
    let taken = vec![
        ConnectionConfig::local_default(),
        ray("ray-lab", "http://h"),
    ];
    assert_eq!(new_id("Ray Lab", &taken).as_str(), "ray-lab-2");
    assert_eq!(new_id("local", &taken).as_str(), "c-local");
    assert_eq!(new_id("prod", &taken).as_str(), "prod");
}

#[test]
fn plain_http_to_another_machine_is_told_apart_from_loopback_and_https() {
    let ray = |dashboard: &str, serve: Option<&str>| ConnectionKind::Ray {
        dashboard_url: dashboard.into(),
        serve_url: serve.map(str::to_owned),
    };
    assert_eq!(ray("http://127.0.0.1:8265", None).cleartext_remote(), None);
    assert_eq!(ray("http://localhost:8265/", None).cleartext_remote(), None);
    assert_eq!(ray("http://[::1]:8265", None).cleartext_remote(), None);
    assert_eq!(
        ray("https://ray.example.com", None).cleartext_remote(),
        None
    );
    assert_eq!(
        ray("http://10.1.2.3:8265", None).cleartext_remote(),
        Some("http://10.1.2.3:8265")
    );
    assert_eq!(
        ray("http://127.0.0.1:8265", Some("http://serve.lan:8000")).cleartext_remote(),
        Some("http://serve.lan:8000")
    );
    assert_eq!(
        ConnectionKind::Local { data_dir: None }.cleartext_remote(),
        None
    );
}
