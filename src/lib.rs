//! mlconsole: a fast native console for machine-learning training jobs and model serving.
//!
//! The crate follows `DESIGN.md`: plain shared types in [`domain`], the embedded local
//! engine in [`engine`], and clients for the platforms the console can drive in
//! [`platform`].

pub mod about;
pub mod atomic_file;
pub mod backend;
pub mod buckets;
pub mod domain;
pub mod engine;
pub mod fuzzing;
pub mod onnx_signature;
pub mod platform;
pub mod sample_train;
pub mod secrets;
pub mod tensorboard;
pub mod ui;

/// The test fixtures under `tests/fixtures`, for unit tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// The bytes of `tests/fixtures/{path}`.
    pub fn read(path: &str) -> Vec<u8> {
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(path);
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }

    /// A model of `tests/fixtures/exported`, as the exporters made it.
    pub fn exported(name: &str) -> Vec<u8> {
        read(&format!("exported/{name}"))
    }
}
