//! Tests of `platform/ray`.

use super::*;

#[test]
fn the_serve_proxy_defaults_to_the_dashboard_host_on_port_8000() {
    assert_eq!(
        default_serve_url("http://10.0.0.5:8265"),
        "http://10.0.0.5:8000"
    );
    assert_eq!(
        default_serve_url("https://ray.example.com/"),
        "https://ray.example.com:8000"
    );
    let ray = RayPlatform::new("http://127.0.0.1:8265", Some("http://127.0.0.1:8123"), None);
    assert_eq!(ray.predict_url("iris", None), "http://127.0.0.1:8123/iris");
    assert_eq!(
        ray.predict_url("iris", Some("v2")),
        "http://127.0.0.1:8123/iris/versions/v2"
    );
    assert_eq!(
        ray.default_http_options(),
        serde_json::json!({"host": "127.0.0.1", "port": 8123})
    );
}

#[test]
fn an_application_being_deleted_is_left_out_and_one_without_its_config_refused() {
    let status = |apps: serde_json::Value| Cluster {
        status: serde_json::from_value(serde_json::json!({ "applications": apps })).unwrap(),
    };
    let kept = serde_json::json!({"name": "other", "import_path": "m:app"});
    let cluster = status(serde_json::json!({
        "other": {"status": "RUNNING", "deployed_app_config": kept},
        "iris": {"status": "DELETING", "deployed_app_config": null},
    }));
    let config = cluster
        .config_with(None, None, serde_json::json!({}))
        .unwrap();
    assert_eq!(
        config["applications"],
        serde_json::json!([kept]),
        "{config:#}"
    );
    let foreign = status(serde_json::json!({
        "hand_made": {"status": "RUNNING", "deployed_app_config": null},
    }));
    let refused = foreign
        .config_with(None, None, serde_json::json!({}))
        .unwrap_err();
    assert!(
        refused.to_string().contains("no config to keep"),
        "{refused}"
    );
}
