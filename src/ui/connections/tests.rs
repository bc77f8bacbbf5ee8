//! Tests of `ui/connections`.

use super::*;

#[test]
fn the_form_builds_a_ray_connection_with_its_token() {
    let list = vec![ConnectionConfig::local_default()];
    let mut form = ConnectionForm::new(&list);
    form.name = "Ray Lab".into();
    form.dashboard_url = "http://10.1.2.3:8265/".into();
    form.token = " tok ".into();
    let (config, secret) = form.build(&list);
    assert_eq!(config.id.as_str(), "ray-lab");
    assert_eq!(
        config.kind,
        ConnectionKind::Ray {
            dashboard_url: "http://10.1.2.3:8265".into(),
            serve_url: None
        }
    );
    assert_eq!(secret, SecretEdit::Set("tok".into()));
    assert_eq!(
        config.validate(&list).unwrap_err().field,
        "name",
        "spaces are refused"
    );
    let edit = ConnectionForm::edit(&config);
    assert_eq!(
        edit.build(&list).1,
        SecretEdit::Keep,
        "editing keeps the stored token"
    );
}
