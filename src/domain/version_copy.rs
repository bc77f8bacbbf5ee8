//! What re-creates a model version with Google's gcloud: the version's own settings in
//! the shape `gcloud ai-platform versions create --config` reads (Cloud ML Engine's
//! `Version`), and a free name for the copy.

use serde_json::{Map, Value, json};

use super::Version;

/// Frameworks Cloud ML Engine's `Version.framework` names; others are detected by the
/// engine from the files, so they are left out of the config.
const GCLOUD_FRAMEWORKS: [&str; 3] = ["TENSORFLOW", "SCIKIT_LEARN", "XGBOOST"];

/// `version`'s settings for gcloud's `--config`, and what gcloud cannot carry (to say so
/// beside the command).
pub fn gcloud_config(version: &Version) -> (Value, Vec<String>) {
    let mut config = Map::new();
    let mut left_out = Vec::new();
    config.insert("deploymentUri".into(), json!(version.deployment_uri));
    if !version.description.is_empty() {
        config.insert("description".into(), json!(version.description));
    }
    if GCLOUD_FRAMEWORKS.contains(&version.framework.as_str()) {
        config.insert("framework".into(), json!(version.framework));
    }
    if !version.package_uris.is_empty() {
        config.insert("packageUris".into(), json!(version.package_uris));
    }
    if let Some(class) = &version.prediction_class {
        config.insert("predictionClass".into(), json!(class));
    }
    if !version.labels.is_empty() {
        config.insert("labels".into(), json!(version.labels));
    }
    if let Some(auto) = &version.auto_scaling {
        let mut scaling = json!({ "minNodes": auto.min_nodes });
        if let Some(max) = auto.max_nodes {
            scaling["maxNodes"] = json!(max);
        }
        config.insert("autoScaling".into(), scaling);
        if let Some(idle) = auto.idle_seconds {
            left_out.push(format!("autoScaling.idleSeconds {idle}"));
        }
    }
    if let Some(manual) = &version.manual_scaling {
        config.insert("manualScaling".into(), json!({ "nodes": manual.nodes }));
    }
    for (key, value) in [
        ("runtimeVersion", &version.runtime_version),
        ("pythonVersion", &version.python_version),
        ("machineType", &version.machine_type),
    ] {
        if let Some(value) = value {
            config.insert(key.into(), json!(value));
        }
    }
    if let Some(runtime) = &version.requested_runtime {
        left_out.push(format!("runtime {runtime}"));
    }
    (Value::Object(config), left_out)
}

/// A name for a copy of version `name` that none of `taken` has: its trailing number
/// counted on (`v2` after `v1`), or `_2` added.
pub fn next_version_name(name: &str, taken: &[&str]) -> String {
    let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let (stem, mut n) = match name[stem.len()..].parse::<u64>() {
        Ok(n) if stem.len() < name.len() && name.len() - stem.len() < 10 => {
            (stem.to_owned(), n + 1)
        }
        _ => (format!("{name}_"), 2),
    };
    loop {
        let candidate = format!("{stem}{n}");
        if !taken.contains(&candidate.as_str()) {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AutoScaling, Version};

    #[test]
    fn the_config_carries_what_gcloud_knows_and_names_the_rest() {
        let version = Version {
            name: "projects/local/models/iris/versions/v1".into(),
            deployment_uri: "/models/iris.onnx".into(),
            framework: "ONNX".into(),
            description: "first".into(),
            labels: [("team".to_owned(), "vision".to_owned())].into(),
            auto_scaling: Some(AutoScaling {
                min_nodes: 1,
                max_nodes: Some(4),
                idle_seconds: Some(60),
            }),
            requested_runtime: Some("tract".into()),
            is_default: true,
            ..Version::default()
        };
        let (config, left_out) = gcloud_config(&version);
        assert_eq!(
            config,
            json!({
                "deploymentUri": "/models/iris.onnx",
                "description": "first",
                "labels": {"team": "vision"},
                "autoScaling": {"minNodes": 1, "maxNodes": 4},
            }),
            "ONNX is found from the files; output fields stay out"
        );
        assert_eq!(left_out, ["autoScaling.idleSeconds 60", "runtime tract"]);
        let sklearn = Version {
            framework: "SCIKIT_LEARN".into(),
            ..Version::default()
        };
        assert_eq!(gcloud_config(&sklearn).0["framework"], "SCIKIT_LEARN");
    }

    #[test]
    fn a_copy_is_named_after_its_version_and_takes_a_free_name() {
        assert_eq!(next_version_name("v1", &["v1"]), "v2");
        assert_eq!(next_version_name("v1", &["v1", "v2", "v3"]), "v4");
        assert_eq!(next_version_name("forest", &["forest"]), "forest_2");
        assert_eq!(
            next_version_name("forest", &["forest", "forest_2"]),
            "forest_3"
        );
        assert_eq!(next_version_name("v_99", &[]), "v_100");
    }
}
