//! ONNX models run with ONNX Runtime, loaded at run time (`ort` with `load-dynamic`):
//! it implements every ONNX and ONNX-ML operator, so it serves what scikit-learn,
//! XGBoost and LightGBM export, strings, several inputs and `ZipMap` outputs included.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::{Session as OrtSession, SessionInputValue};
use ort::value::{
    DynMapValueType, DynSequenceValueType, DynValue, Outlet, Tensor as OrtTensor,
    TensorElementType, TensorRef, ValueType,
};

use super::locate::{self, Candidate, OrtSetting};
use crate::domain::TensorSpec;
use crate::domain::predict::{Batch, ScoreMaps, Tensor, TensorData};

/// The lowest ONNX Runtime this build can drive (the `ort` API feature it pins).
pub const MIN_VERSION: &str = "1.17";

/// The ONNX Runtime library this engine loaded.
pub struct Loaded {
    /// e.g. `1.32.0`.
    pub version: String,
    /// The library file (or the bare name the system's loader found).
    pub library: PathBuf,
    /// How it was found.
    pub found_by: String,
    environment: ort::environment::Environment,
}

/// Whether ONNX Runtime serves in this process.
pub enum Availability {
    /// Loaded and ready.
    Ready(Loaded),
    /// Not found or not loadable.
    Missing {
        /// What happened to it, in a few words: "was not found".
        summary: String,
        /// What looking found, for the engine's log and the runtimes answer.
        tried: String,
        /// How to get it.
        how: String,
    },
}

static ORT: OnceLock<Availability> = OnceLock::new();

/// Finds and loads ONNX Runtime once per process (later calls answer the first outcome).
/// Blocking: it may run `python` and open a library. An explicit library that cannot be
/// loaded is an error.
pub fn init(setting: &OrtSetting, python: &str) -> Result<&'static Availability, String> {
    if let Some(done) = ORT.get() {
        return Ok(done);
    }
    let outcome = match setting {
        OrtSetting::Off => Availability::Missing {
            summary: "is turned off (--onnxruntime none)".into(),
            tried: String::new(),
            how: "To use it, start the engine without --onnxruntime none".into(),
        },
        OrtSetting::Library(path) => {
            let candidate = Candidate {
                path: path.clone(),
                found_by: "--onnxruntime".into(),
            };
            Availability::Ready(open(&candidate)?)
        }
        OrtSetting::Search => {
            let env = std::env::var("ORT_DYLIB_PATH").ok();
            let (candidates, mut tried) = locate::candidates(python, env.as_deref());
            let mut ready = None;
            for candidate in &candidates {
                match open(candidate) {
                    Ok(loaded) => {
                        ready = Some(loaded);
                        break;
                    }
                    Err(why) => tried.push(why),
                }
            }
            match ready {
                Some(loaded) => Availability::Ready(loaded),
                None => Availability::Missing {
                    summary: "was not found".into(),
                    tried: tried.join("; "),
                    how: how_to_get(python),
                },
            }
        }
    };
    Ok(ORT.get_or_init(|| outcome))
}

/// The outcome of [`init`], or `None` before it ran.
pub fn availability() -> Option<&'static Availability> {
    ORT.get()
}

/// The loaded library, when there is one.
pub fn loaded() -> Option<&'static Loaded> {
    match ORT.get() {
        Some(Availability::Ready(loaded)) => Some(loaded),
        _ => None,
    }
}

/// How to get ONNX Runtime, for messages.
pub fn how_to_get(python: &str) -> String {
    format!(
        "To get it: `{python} -m pip install onnxruntime` (the engine looks in the python it runs jobs with), or start the engine with --onnxruntime /path/to/libonnxruntime.so (or ORT_DYLIB_PATH set); then restart the engine"
    )
}

fn open(candidate: &Candidate) -> Result<Loaded, String> {
    let shown = candidate.path.display();
    let version = library_version(&candidate.path).unwrap_or_default();
    let builder = ort::init_from(&candidate.path)
        .map_err(|e| format!("{shown} ({}): {e}", candidate.found_by))?;
    let environment = builder
        .with_name("mlconsole-engine")
        .with_telemetry(false)
        .build()
        .map_err(|e| format!("{shown}: ONNX Runtime could not start: {e}"))?;
    // Every failure comes back to the engine, which reports it where the user looks;
    // ONNX Runtime's own copy on stderr would only repeat it.
    environment.set_log_level(ort::logging::LogLevel::Fatal);
    Ok(Loaded {
        version: if version.is_empty() {
            "(version unknown)".into()
        } else {
            version
        },
        library: candidate.path.clone(),
        found_by: candidate.found_by.clone(),
        environment,
    })
}

/// The version the library reports, e.g. `1.32.0`.
#[expect(
    unsafe_code,
    reason = "reads ONNX Runtime's version through its C entry point"
)]
fn library_version(path: &Path) -> Option<String> {
    // SAFETY: `OrtGetApiBase` is ONNX Runtime's C entry point: no arguments, and it
    // answers a pointer to a static table whose `GetVersionString` answers a static,
    // NUL-terminated string. The library stays open while both are read.
    unsafe {
        let library = libloading::Library::new(path).ok()?;
        let get_base: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
            library.get(b"OrtGetApiBase").ok()?;
        let base = get_base();
        if base.is_null() {
            return None;
        }
        let text = ((*base).GetVersionString)();
        if text.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// A model ONNX Runtime loaded, and its signature.
#[derive(Clone)]
pub struct Model {
    bytes: Arc<[u8]>,
    /// A session made while loading, for the first replica.
    spare: Arc<Mutex<Option<OrtSession>>>,
    /// The model's inputs, in order.
    pub inputs: Vec<TensorSpec>,
    /// The model's outputs, in order.
    pub outputs: Vec<TensorSpec>,
    /// Set when the model's `StringNormalizer` nodes were given a locale this machine has.
    pub locale_note: Option<String>,
}

/// A session a replica runs.
pub struct Session {
    session: OrtSession,
    input_names: Vec<String>,
}

/// Loads the model in `bytes`, read from `path` (named in errors), with ONNX Runtime
/// (which must be [`loaded`]). The error is ONNX Runtime's message, for the version's
/// `errorMessage`.
pub fn load(bytes: Arc<[u8]>, path: &Path) -> Result<Model, String> {
    let loaded = loaded().ok_or("ONNX Runtime is not loaded")?;
    let (session, bytes, locale_note) = match new_session(loaded, &bytes) {
        Ok(session) => (session, bytes, None),
        Err(e) if e.contains("Failed to construct locale") => with_a_locale(loaded, &bytes, &e)?,
        Err(e) => return Err(format!("ONNX Runtime refused {}: {e}", path.display())),
    };
    let inputs = session
        .inputs()
        .iter()
        .map(spec)
        .collect::<Result<Vec<_>, String>>()?;
    let outputs = session
        .outputs()
        .iter()
        .map(spec)
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(bad) = inputs
        .iter()
        .find(|s| TensorData::empty(&s.dtype).is_none())
    {
        return Err(format!(
            "input {:?} has type {}, which online prediction does not take",
            bad.name, bad.dtype
        ));
    }
    Ok(Model {
        bytes,
        spare: Arc::new(Mutex::new(Some(session))),
        inputs,
        outputs,
        locale_note,
    })
}

/// A session, the model bytes it was made from, and a note on how they were changed.
type Made = (OrtSession, Arc<[u8]>, Option<String>);

/// Retries a model whose `StringNormalizer` asked for a locale this machine lacks, with
/// `C.UTF-8` (then `C`) set on it.
fn with_a_locale(loaded: &Loaded, bytes: &[u8], first: &str) -> Result<Made, String> {
    for locale in ["C.UTF-8", "C"] {
        let Some(patched) = super::locale::with_string_normalizer_locale(bytes, locale) else {
            break;
        };
        if let Ok(session) = new_session(loaded, &patched) {
            let note = format!(
                "its StringNormalizer nodes name no locale and ONNX Runtime's default, en_US.UTF-8, is not installed here: they run with {locale}"
            );
            return Ok((session, patched.into(), Some(note)));
        }
    }
    Err(format!(
        "ONNX Runtime could not load the model: {first}. Install the locale it names (e.g. `locale-gen en_US.UTF-8`) or export with skl2onnx's option {{'locale': 'C.UTF-8'}}"
    ))
}

fn new_session(loaded: &Loaded, bytes: &[u8]) -> Result<OrtSession, String> {
    // One thread a session: replicas (one per core at most) run side by side, and a
    // small model answers fastest on the calling thread.
    OrtSession::builder(&loaded.environment)
        .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
        .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
        .and_then(|b| b.with_intra_op_spinning(false).map_err(Into::into))
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| e.to_string())
}

fn spec(outlet: &Outlet) -> Result<TensorSpec, String> {
    let (dtype, shape) = match outlet.dtype() {
        ValueType::Tensor { ty, shape, .. } => (
            element_name(*ty).to_owned(),
            shape
                .iter()
                .map(|&d| u64::try_from(d).ok())
                .collect::<Vec<_>>(),
        ),
        // A sequence holds one element per instance.
        other @ ValueType::Sequence(_) => (type_name(other), vec![None]),
        other => (type_name(other), Vec::new()),
    };
    Ok(TensorSpec {
        name: outlet.name().to_owned(),
        dtype,
        shape,
    })
}

fn type_name(t: &ValueType) -> String {
    match t {
        ValueType::Tensor { ty, .. } => element_name(*ty).to_owned(),
        ValueType::Sequence(inner) => format!("seq({})", type_name(inner)),
        ValueType::Map { key, value } => {
            format!("map({}, {})", element_name(*key), element_name(*value))
        }
        ValueType::Optional(inner) => format!("optional({})", type_name(inner)),
    }
}

fn element_name(t: TensorElementType) -> &'static str {
    match t {
        TensorElementType::Float32 => "float32",
        TensorElementType::Float64 => "float64",
        TensorElementType::Float16 => "float16",
        TensorElementType::Int64 => "int64",
        TensorElementType::Int32 => "int32",
        TensorElementType::Int16 => "int16",
        TensorElementType::Int8 => "int8",
        TensorElementType::Uint8 => "uint8",
        TensorElementType::Uint16 => "uint16",
        TensorElementType::Uint32 => "uint32",
        TensorElementType::Uint64 => "uint64",
        TensorElementType::Bool => "bool",
        TensorElementType::String => "string",
        _ => "other",
    }
}

/// A session for a replica: the one made while loading, then new ones.
pub fn session(model: &Model) -> Result<Session, String> {
    let spare = model
        .spare
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let session = match spare {
        Some(session) => session,
        None => {
            let loaded = loaded().ok_or("ONNX Runtime is not loaded")?;
            new_session(loaded, &model.bytes)
                .map_err(|e| format!("the model could not start a session: {e}"))?
        }
    };
    Ok(Session {
        input_names: model.inputs.iter().map(|s| s.name.clone()).collect(),
        session,
    })
}

/// Runs one batch, answering the output tensors in the model's order.
pub fn run(session: &mut Session, batch: &Batch) -> Result<Vec<Tensor>, String> {
    let values = batch
        .inputs
        .iter()
        .zip(&session.input_names)
        .map(|(t, name)| input(t).map_err(|e| format!("input {name:?}: {e}")))
        .collect::<Result<Vec<SessionInputValue<'_>>, String>>()?;
    let outputs = session
        .session
        .run(values.as_slice())
        .map_err(|e| format!("the model failed on these inputs: {e}"))?;
    (0..outputs.len()).map(|ix| output(&outputs[ix])).collect()
}

fn input(t: &Tensor) -> Result<SessionInputValue<'_>, String> {
    fn view<'a, T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static>(
        shape: &[usize],
        data: &'a [T],
    ) -> Result<SessionInputValue<'a>, String> {
        TensorRef::from_array_view((shape.to_vec(), data))
            .map(Into::into)
            .map_err(|e| e.to_string())
    }
    let shape = &t.shape;
    match &t.data {
        TensorData::F32(d) => view(shape, d),
        TensorData::F64(d) => view(shape, d),
        TensorData::I64(d) => view(shape, d),
        TensorData::I32(d) => view(shape, d),
        TensorData::I8(d) => view(shape, d),
        TensorData::U8(d) => view(shape, d),
        TensorData::Bool(d) => view(shape, d),
        TensorData::Str(d) => OrtTensor::from_string_array((shape.to_vec(), d.as_slice()))
            .map(Into::into)
            .map_err(|e| e.to_string()),
        TensorData::Maps(_) => Err("a map is not a model input".into()),
    }
}

fn output(value: &DynValue) -> Result<Tensor, String> {
    match value.dtype() {
        ValueType::Tensor { ty, .. } => tensor(value, *ty),
        ValueType::Sequence(inner) if matches!(**inner, ValueType::Map { .. }) => maps(value),
        other => Err(format!(
            "the model answered a {}, which online prediction cannot return",
            type_name(other)
        )),
    }
}

fn tensor(value: &DynValue, ty: TensorElementType) -> Result<Tensor, String> {
    fn copy<T: ort::value::PrimitiveTensorElementType + Copy>(
        value: &DynValue,
    ) -> Result<(Vec<usize>, Vec<T>), String> {
        let (shape, data) = value.try_extract_tensor::<T>().map_err(|e| e.to_string())?;
        Ok((dims(shape), data.to_vec()))
    }
    let (shape, data) = match ty {
        TensorElementType::Float32 => copy(value).map(|(s, d)| (s, TensorData::F32(d)))?,
        TensorElementType::Float64 => copy(value).map(|(s, d)| (s, TensorData::F64(d)))?,
        TensorElementType::Int64 => copy(value).map(|(s, d)| (s, TensorData::I64(d)))?,
        TensorElementType::Int32 => copy(value).map(|(s, d)| (s, TensorData::I32(d)))?,
        TensorElementType::Int8 => copy(value).map(|(s, d)| (s, TensorData::I8(d)))?,
        TensorElementType::Uint8 => copy(value).map(|(s, d)| (s, TensorData::U8(d)))?,
        TensorElementType::Bool => copy(value).map(|(s, d)| (s, TensorData::Bool(d)))?,
        TensorElementType::String => {
            let (shape, data) = value.try_extract_strings().map_err(|e| e.to_string())?;
            (dims(shape), TensorData::Str(data))
        }
        other => {
            return Err(format!(
                "the model answered a {} tensor, which online prediction cannot return",
                element_name(other)
            ));
        }
    };
    Ok(Tensor { shape, data })
}

fn dims(shape: &ort::value::Shape) -> Vec<usize> {
    shape
        .iter()
        .map(|&d| usize::try_from(d).unwrap_or(0))
        .collect()
}

/// A sequence of maps (what `ZipMap` answers) as one map of class to score per instance.
fn maps(value: &DynValue) -> Result<Tensor, String> {
    let sequence = value
        .view()
        .downcast::<DynSequenceValueType>()
        .map_err(|e| e.to_string())?;
    let maps = sequence
        .try_extract_sequence::<DynMapValueType>()
        .map_err(|e| e.to_string())?;
    let mut keys: Option<Arc<[String]>> = None;
    let mut values = Vec::new();
    for map in &maps {
        let pairs: Vec<(String, f32)> = match map.dtype() {
            ValueType::Map {
                key: TensorElementType::Int64,
                value: TensorElementType::Float32,
            } => map
                .try_extract_key_values::<i64, f32>()
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ValueType::Map {
                key: TensorElementType::String,
                value: TensorElementType::Float32,
            } => map
                .try_extract_key_values::<String, f32>()
                .map_err(|e| e.to_string())?,
            other => {
                return Err(format!(
                    "the model answered a sequence of {}, which online prediction cannot return",
                    type_name(other)
                ));
            }
        };
        match &keys {
            Some(known)
                if known.len() != pairs.len()
                    || known.iter().zip(&pairs).any(|(a, (b, _))| a != b) =>
            {
                return Err("the model answered maps with different classes".into());
            }
            Some(_) => {}
            None => keys = Some(pairs.iter().map(|(k, _)| k.clone()).collect()),
        }
        values.extend(pairs.iter().map(|(_, v)| *v));
    }
    Ok(Tensor {
        shape: vec![maps.len()],
        data: TensorData::Maps(ScoreMaps {
            keys: keys.unwrap_or_else(|| Arc::from(Vec::new())),
            values,
            count: maps.len(),
        }),
    })
}
