//! mlconsole: a fast native console for machine-learning training jobs and model serving.
//!
//! The crate follows `DESIGN.md`: plain shared types in [`domain`], the embedded local
//! engine in [`engine`], and clients for the platforms the console can drive in
//! [`platform`].

pub mod atomic_file;
pub mod backend;
pub mod domain;
pub mod engine;
pub mod onnx_signature;
pub mod platform;
pub mod sample_train;
pub mod secrets;
pub mod tensorboard;
pub mod ui;
