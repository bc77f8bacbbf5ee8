//! The runtimes that serve ONNX models: ONNX Runtime when its library is found (it
//! implements every ONNX and ONNX-ML operator), else tract, built in (neural networks,
//! trees, linear models), so the engine serves with nothing installed.

pub mod locale;
pub mod locate;
pub mod onnxruntime;
pub mod python;
pub mod tract;
pub mod wire;
pub mod zipmap;

use std::path::Path;
use std::sync::Arc;

use crate::domain::TensorSpec;
use crate::domain::predict::{Batch, Tensor};

/// The runtime name versions served by tract show.
pub const TRACT: &str = "tract";
/// The runtime name a version asks ONNX Runtime with.
pub const ONNXRUNTIME: &str = "onnxruntime";

/// Which runtime a version asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// ONNX Runtime when it is loaded, else tract.
    Auto,
    /// tract (pure Rust) even when ONNX Runtime is loaded.
    Tract,
    /// ONNX Runtime only.
    OnnxRuntime,
}

impl Choice {
    /// Reads a version's `runtime` field: unset, `tract`, `onnxruntime` (a version after
    /// the name, as the engine shows it, is allowed).
    pub fn parse(text: Option<&str>) -> Result<Choice, String> {
        let name = text.map(str::trim).unwrap_or_default();
        let name = name.split_whitespace().next().unwrap_or_default();
        match name.to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Choice::Auto),
            TRACT => Ok(Choice::Tract),
            ONNXRUNTIME | "onnx-runtime" | "ort" => Ok(Choice::OnnxRuntime),
            other => Err(format!(
                "unknown runtime {other:?}: ask for \"{ONNXRUNTIME}\" or \"{TRACT}\", or leave runtime unset to use ONNX Runtime where the engine has it and tract elsewhere"
            )),
        }
    }
}

/// The runtimes this process serves with, the default first, and what is missing.
pub fn serving_runtimes() -> crate::domain::ServingRuntimes {
    let tract = crate::domain::ServingRuntime {
        name: TRACT.into(),
        version: None,
        library: None,
        found_by: Some("built in".into()),
        default: false,
    };
    match onnxruntime::availability() {
        Some(onnxruntime::Availability::Ready(ort)) => crate::domain::ServingRuntimes {
            runtimes: vec![
                crate::domain::ServingRuntime {
                    name: ONNXRUNTIME.into(),
                    version: Some(ort.version.clone()),
                    library: Some(ort.library.display().to_string()),
                    found_by: Some(ort.found_by.clone()),
                    default: true,
                },
                tract,
            ],
            missing: None,
        },
        _ => {
            let (state, how) = ort_missing();
            crate::domain::ServingRuntimes {
                runtimes: vec![crate::domain::ServingRuntime {
                    default: true,
                    ..tract
                }],
                missing: Some(format!(
                    "ONNX Runtime {state}, so models with ONNX-ML operators (what scikit-learn, XGBoost and LightGBM export) cannot be served. {how}"
                )),
            }
        }
    }
}

/// A version made ready to serve: an ONNX model loaded in the engine, or a worker of the
/// framework's own that loaded the artifact.
pub enum Loaded {
    /// Served in the engine.
    Onnx(LoadedModel),
    /// Served by Python workers; this one checked the artifact and serves first.
    Workers {
        /// The worker that loaded it.
        worker: Box<python::Worker>,
        /// What it said.
        ready: python::Ready,
    },
}

/// An artifact copied in and ready to load.
pub enum Prepared {
    /// An ONNX model, already loaded.
    Onnx(LoadedModel),
    /// What Python workers need to load it.
    Workers(python::WorkerSpec),
}

/// A loaded model, its signature and the runtime that serves it.
#[derive(Clone)]
pub struct LoadedModel {
    /// The model's inputs, in order.
    pub inputs: Vec<TensorSpec>,
    /// The model's outputs, in order.
    pub outputs: Vec<TensorSpec>,
    /// What serves it: `onnxruntime 1.32.0` or `tract`.
    pub runtime: String,
    /// Something the user should know about how it is served.
    pub note: Option<String>,
    inner: Inner,
    /// The outputs whose `ZipMap` the engine does itself, by output index.
    unzipped: Arc<[(usize, zipmap::Unzipped)]>,
}

#[derive(Clone)]
enum Inner {
    Tract(tract::Model),
    OnnxRuntime(onnxruntime::Model),
}

/// Per-run state of a model; a replica holds one.
pub struct Session {
    inner: SessionInner,
    unzipped: Arc<[(usize, zipmap::Unzipped)]>,
}

enum SessionInner {
    // Boxed: tract's plan states are several times the size of an ONNX Runtime session.
    Tract(Box<tract::Session>),
    OnnxRuntime(onnxruntime::Session),
}

/// What happened to ONNX Runtime ("was not found") and how to get it.
fn ort_missing() -> (String, String) {
    match onnxruntime::availability() {
        Some(onnxruntime::Availability::Missing { summary, how, .. }) => {
            (summary.clone(), how.clone())
        }
        _ => (
            "was not looked for".into(),
            onnxruntime::how_to_get("python3"),
        ),
    }
}

/// A model file's bytes, as given and with its `ZipMap`s taken out.
struct ModelBytes {
    original: Arc<[u8]>,
    unzipped: Option<(Arc<[u8]>, Vec<zipmap::Unzipped>)>,
}

impl ModelBytes {
    /// The bytes to load first, with what the engine zips itself.
    fn preferred(&self) -> (Arc<[u8]>, &[zipmap::Unzipped]) {
        match &self.unzipped {
            Some((bytes, unzipped)) => (bytes.clone(), unzipped),
            None => (self.original.clone(), &[]),
        }
    }
}

/// Loads `path` with the runtime `choice` picks. Blocking. The error is for the
/// version's `errorMessage`: it says what failed and what to do.
pub fn load(path: &Path, choice: Choice) -> Result<LoadedModel, String> {
    let original: Arc<[u8]> = std::fs::read(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .into();
    let unzipped = zipmap::without_zipmap(&original).map(|(b, u)| (Arc::from(b), u));
    let bytes = ModelBytes { original, unzipped };
    let ort = onnxruntime::loaded();
    match (choice, ort) {
        (Choice::OnnxRuntime, None) => {
            let (state, how) = ort_missing();
            Err(format!(
                "this version asks for ONNX Runtime, which {state}. {how}"
            ))
        }
        (Choice::OnnxRuntime, Some(_)) => load_ort(&bytes, path),
        (Choice::Tract, _) => load_tract(&bytes, path),
        (Choice::Auto, Some(_)) => load_ort(&bytes, path).or_else(|ort_error| {
            load_tract(&bytes, path)
                .map(|mut model| {
                    model.note = Some(format!(
                        "ONNX Runtime refused it ({ort_error}); tract serves it"
                    ));
                    model
                })
                .map_err(|_| ort_error)
        }),
        (Choice::Auto, None) => load_tract(&bytes, path),
    }
}

/// Loads with one runtime: the model without its `ZipMap`s first, else as given.
fn load_with<M>(
    bytes: &ModelBytes,
    load: impl Fn(Arc<[u8]>) -> Result<M, String>,
) -> Result<(M, Vec<zipmap::Unzipped>), String> {
    let (preferred, unzipped) = bytes.preferred();
    match load(preferred) {
        Ok(model) => Ok((model, unzipped.to_vec())),
        Err(e) if unzipped.is_empty() => Err(e),
        Err(_) => load(bytes.original.clone()).map(|model| (model, Vec::new())),
    }
}

fn load_ort(bytes: &ModelBytes, path: &Path) -> Result<LoadedModel, String> {
    let (model, unzipped) = load_with(bytes, |b| onnxruntime::load(b, path))?;
    let version = onnxruntime::loaded().map_or("", |l| l.version.as_str());
    Ok(finish(
        model.inputs.clone(),
        model.outputs.clone(),
        format!("{ONNXRUNTIME} {version}"),
        model.locale_note.clone(),
        Inner::OnnxRuntime(model),
        unzipped,
    ))
}

fn load_tract(bytes: &ModelBytes, path: &Path) -> Result<LoadedModel, String> {
    let ort_ready = onnxruntime::loaded().is_some();
    if let Some(why) = tract::known_wrong(&bytes.original) {
        return Err(with_ort_advice(
            &format!("tract does not serve this model: {why}"),
            ort_ready,
        ));
    }
    let (model, unzipped) = load_with(bytes, |b| tract::load_bytes(&b, path))
        .map_err(|e| tract_failed(&bytes.preferred().0, &e, ort_ready))?;
    Ok(finish(
        model.inputs.clone(),
        model.outputs.clone(),
        TRACT.into(),
        None,
        Inner::Tract(model),
        unzipped,
    ))
}

/// The loaded model with the outputs the engine zips shown as the original declares them.
fn finish(
    inputs: Vec<TensorSpec>,
    mut outputs: Vec<TensorSpec>,
    runtime: String,
    note: Option<String>,
    inner: Inner,
    unzipped: Vec<zipmap::Unzipped>,
) -> LoadedModel {
    let mut by_index = Vec::new();
    for u in unzipped {
        if let Some(ix) = outputs.iter().position(|o| o.name == u.tensor) {
            outputs[ix] = TensorSpec {
                name: u.output.clone(),
                dtype: u.dtype(),
                shape: vec![None],
            };
            by_index.push((ix, u));
        }
    }
    LoadedModel {
        inputs,
        outputs,
        runtime,
        note,
        inner,
        unzipped: by_index.into(),
    }
}

/// tract's error, naming the operators it lacks and how to serve the model anyway.
fn tract_failed(bytes: &[u8], error: &str, ort_ready: bool) -> String {
    let unknown = tract::unknown_operators(bytes);
    if unknown.is_empty() {
        return error.to_owned();
    }
    let names: Vec<String> = unknown.iter().map(ToString::to_string).collect();
    let (it, does) = if names.len() == 1 {
        ("operator", "does")
    } else {
        ("operators", "do")
    };
    let lead = format!(
        "the model uses the {it} {}, which tract (the engine's built-in runtime) {does} not implement",
        names.join(", ")
    );
    with_ort_advice(&lead, ort_ready)
}

/// `lead`, then how ONNX Runtime serves the model instead.
fn with_ort_advice(lead: &str, ort_ready: bool) -> String {
    if ort_ready {
        format!(
            "{lead}; ONNX Runtime implements every ONNX and ONNX-ML operator: leave runtime unset or ask for \"{ONNXRUNTIME}\""
        )
    } else {
        let (state, how) = ort_missing();
        format!(
            "{lead}. ONNX Runtime, which implements every ONNX and ONNX-ML operator, {state}. {how}"
        )
    }
}

/// A new session for a replica of `model`.
pub fn session(model: &LoadedModel) -> Result<Session, String> {
    let inner = match &model.inner {
        Inner::Tract(m) => tract::session(m).map(|s| SessionInner::Tract(Box::new(s))),
        Inner::OnnxRuntime(m) => onnxruntime::session(m).map(SessionInner::OnnxRuntime),
    }?;
    Ok(Session {
        inner,
        unzipped: model.unzipped.clone(),
    })
}

/// Runs one batch, answering the output tensors in the model's order.
pub fn run(session: &mut Session, batch: &Batch) -> Result<Vec<Tensor>, String> {
    let mut outputs = match &mut session.inner {
        SessionInner::Tract(s) => tract::run(s, batch),
        SessionInner::OnnxRuntime(s) => onnxruntime::run(s, batch),
    }?;
    for (ix, unzipped) in session.unzipped.iter() {
        if let Some(slot) = outputs.get_mut(*ix) {
            let probabilities = std::mem::replace(
                slot,
                Tensor {
                    shape: Vec::new(),
                    data: crate::domain::predict::TensorData::F32(Vec::new()),
                },
            );
            *slot = unzipped.zip(probabilities)?;
        }
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn versions_ask_for_a_runtime_by_name() {
        assert_eq!(Choice::parse(None).unwrap(), Choice::Auto);
        assert_eq!(Choice::parse(Some("")).unwrap(), Choice::Auto);
        assert_eq!(Choice::parse(Some("tract")).unwrap(), Choice::Tract);
        assert_eq!(
            Choice::parse(Some("onnxruntime 1.32.0")).unwrap(),
            Choice::OnnxRuntime
        );
        let err = Choice::parse(Some("tensorflow")).unwrap_err();
        assert!(err.contains("\"onnxruntime\" or \"tract\""), "{err}");
    }

    #[test]
    fn tract_names_the_operators_it_lacks() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/exported/sk_scaler_logreg.onnx");
        let bytes = std::fs::read(path).unwrap();
        let unknown: Vec<String> = tract::unknown_operators(&bytes)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(unknown, ["Scaler (ai.onnx.ml)", "ZipMap (ai.onnx.ml)"]);
        // The engine zips ZipMap's maps itself: only Scaler is missing then.
        let (unzipped, _) = zipmap::without_zipmap(&bytes).unwrap();
        let message = tract_failed(&unzipped, "tract's own words", true);
        assert!(
            message.starts_with("the model uses the operator Scaler (ai.onnx.ml), which"),
            "{message}"
        );
        assert!(message.contains("leave runtime unset"), "{message}");
    }
}
