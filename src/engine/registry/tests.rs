//! Which version becomes a model's default, whatever order versions finish loading in.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a broken expectation panics

use super::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/iris_logreg.onnx")
}

fn open(dir: &Path) -> Registry {
    let workers = WorkerSettings {
        python: "python3".into(),
        script: dir.join("predictor.py"),
        idle: Duration::from_secs(300),
    };
    Registry::open(&dir.join("state.db"), dir.join("models"), 1, workers)
        .unwrap()
        .0
}

/// A registry in `dir` with the model `iris`.
fn registry(dir: &Path) -> Registry {
    let registry = open(dir);
    registry
        .create_model(Model {
            name: "iris".into(),
            ..Model::default()
        })
        .unwrap();
    registry
}

/// Records `name` CREATING, as `versions.create` does.
fn begin(registry: &Registry, name: &str) {
    let version = Version {
        name: name.into(),
        deployment_uri: fixture().to_string_lossy().into_owned(),
        ..Version::default()
    };
    registry.begin_version("iris", version, None).unwrap();
}

/// Loads `name` as the engine does, or fails it.
fn finish(registry: &Registry, name: &str, ok: bool) {
    let loaded = if ok {
        match registry.import_artifact("iris", name, &fixture()).unwrap() {
            Prepared::Onnx(model) => Ok(Loaded::Onnx(model)),
            Prepared::Workers(_) => panic!("an ONNX file is served in the engine"),
        }
    } else {
        Err("not a model".to_owned())
    };
    registry.finish_version("iris", name, loaded).unwrap();
}

fn default_of(registry: &Registry) -> Option<String> {
    registry
        .get_model("iris")
        .unwrap()
        .default_version
        .map(|v| v.short_name().to_owned())
}

#[test]
fn the_first_created_version_is_the_default_even_when_a_later_one_loads_first() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path());
    begin(&registry, "v1");
    begin(&registry, "v2");
    finish(&registry, "v2", true);
    assert_eq!(default_of(&registry), None, "v1 is still loading");
    finish(&registry, "v1", true);
    assert_eq!(default_of(&registry).as_deref(), Some("v1"));
    // Kept across a restart.
    drop(registry);
    assert_eq!(default_of(&open(dir.path())).as_deref(), Some("v1"));
}

#[test]
fn a_first_version_that_fails_or_is_deleted_hands_the_default_on() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(dir.path());
    begin(&registry, "v1");
    begin(&registry, "v2");
    begin(&registry, "v3");
    finish(&registry, "v3", true);
    finish(&registry, "v1", false);
    assert_eq!(default_of(&registry), None, "v2 is still loading");
    registry.delete_version("iris", "v2").unwrap();
    assert_eq!(default_of(&registry).as_deref(), Some("v3"));
}
