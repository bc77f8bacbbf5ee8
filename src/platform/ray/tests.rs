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
