//! ONNX models run with tract (built in): loading a `model.onnx` into an optimised plan,
//! reading its signature, and running one batch of a prediction request.

use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid as _;

use crate::domain::TensorSpec;
use crate::domain::predict::{Batch, Tensor as DomainTensor, TensorData};

/// An optimised, ready-to-run model.
pub type Plan = Arc<TypedSimplePlan>;

/// Model files up to this size also get a plan specialised for one instance, which runs
/// single-instance requests (the usual online case) faster; bigger models are bound by
/// their arithmetic, and would pay twice the memory.
const SINGLE_PLAN_MAX_BYTES: u64 = 16 << 20;

/// Per-run scratch state of a model's plans; a replica holds one.
pub struct Session {
    general: TypedSimpleState,
    single: Option<TypedSimpleState>,
}

/// A loaded model and its signature.
#[derive(Clone)]
pub struct Model {
    /// The plan replicas run.
    pub plan: Plan,
    /// A plan with the batch dimension fixed at 1, for small batched models.
    pub single: Option<Plan>,
    /// The model's inputs, in order.
    pub inputs: Vec<TensorSpec>,
    /// The model's outputs, in order.
    pub outputs: Vec<TensorSpec>,
}

/// Loads and optimises `path`. The error is the loader's message, for the version's
/// `errorMessage`.
pub fn load(path: &Path) -> Result<Model, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    load_bytes(&bytes, path)
}

/// Loads and optimises the model in `bytes`, read from `path` (named in errors).
pub fn load_bytes(bytes: &[u8], path: &Path) -> Result<Model, String> {
    let (plan, inputs, outputs) = load_plan(bytes, path, None)?;
    let batched = !inputs.is_empty() && inputs.iter().all(|s| s.shape.first() == Some(&None));
    let small = bytes.len() as u64 <= SINGLE_PLAN_MAX_BYTES;
    let single = if batched && small {
        load_plan(bytes, path, Some(1))
            .ok()
            .map(|(plan, _, _)| plan)
    } else {
        None
    };
    Ok(Model {
        plan,
        single,
        inputs,
        outputs,
    })
}

type Signature = (Plan, Vec<TensorSpec>, Vec<TensorSpec>);

/// Loads a plan, with the unnamed batch dimension fixed at `batch` when given.
fn load_plan(bytes: &[u8], path: &Path, batch: Option<i64>) -> Result<Signature, String> {
    let mut inference = tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .map_err(|e| format!("the ONNX loader refused {}: {e:#}", path.display()))?;
    name_unknown_dims(&mut inference, batch)?;
    let typed = inference
        .into_typed()
        .map_err(|e| format!("the model's types and shapes could not be worked out: {e:#}"))?;
    let inputs = typed
        .input_outlets()
        .map_err(|e| e.to_string())?
        .iter()
        .enumerate()
        .map(|(ix, outlet)| {
            let fact = typed.input_fact(ix).map_err(|e| e.to_string())?;
            spec(typed.node(outlet.node).name.clone(), fact)
        })
        .collect::<Result<Vec<_>, String>>()?;
    let outputs = typed
        .output_outlets()
        .map_err(|e| e.to_string())?
        .iter()
        .enumerate()
        .map(|(ix, outlet)| {
            let fact = typed.output_fact(ix).map_err(|e| e.to_string())?;
            let name = typed
                .outlet_label(*outlet)
                .map_or_else(|| format!("output_{ix}"), str::to_owned);
            spec(name, fact)
        })
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(bad) = inputs
        .iter()
        .find(|s| TensorData::empty(&s.dtype).is_none())
    {
        return Err(format!(
            "input {:?} has element type {}, which online prediction does not take",
            bad.name, bad.dtype
        ));
    }
    let plan = typed
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| format!("the model could not be prepared to run: {e:#}"))?;
    Ok((plan, inputs, outputs))
}

/// Gives dimensions the file leaves unnamed (as scikit-learn exports do for the batch)
/// a symbol each, so that the model types; the first is the batch, `N`, or `batch`.
fn name_unknown_dims(model: &mut InferenceModel, batch_size: Option<i64>) -> Result<(), String> {
    let batch = model.sym("N");
    for ix in 0..model.inputs.len() {
        let fact = model.input_fact(ix).map_err(|e| e.to_string())?.clone();
        let Some(dt) = fact.datum_type.concretize() else {
            return Err(format!("input {ix} of the model has no element type"));
        };
        if fact.shape.is_open() {
            return Err(format!("input {ix} of the model has no fixed rank"));
        }
        let dims: Vec<TDim> = fact
            .shape
            .dims()
            .enumerate()
            .map(|(d, dim)| {
                dim.concretize().unwrap_or_else(|| {
                    if d == 0 {
                        batch_size.map_or_else(|| batch.to_dim(), TDim::from)
                    } else {
                        model.sym(&format!("d{ix}_{d}")).to_dim()
                    }
                })
            })
            .collect();
        model
            .set_input_fact(ix, InferenceFact::dt_shape(dt, dims))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn spec(name: String, fact: &TypedFact) -> Result<TensorSpec, String> {
    Ok(TensorSpec {
        name,
        dtype: dtype_name(fact.datum_type).to_owned(),
        shape: fact
            .shape
            .iter()
            .map(|d| d.to_i64().ok().and_then(|n| u64::try_from(n).ok()))
            .collect(),
    })
}

fn dtype_name(t: DatumType) -> &'static str {
    match t {
        DatumType::F32 => "float32",
        DatumType::F64 => "float64",
        DatumType::F16 => "float16",
        DatumType::I64 => "int64",
        DatumType::I32 => "int32",
        DatumType::I16 => "int16",
        DatumType::I8 => "int8",
        DatumType::U8 => "uint8",
        DatumType::U16 => "uint16",
        DatumType::U32 => "uint32",
        DatumType::U64 => "uint64",
        DatumType::Bool => "bool",
        DatumType::String => "string",
        // tract's tree classifiers answer labels as dimensions: whole numbers.
        DatumType::TDim => "int64",
        _ => "other",
    }
}

/// A new session for `model`.
pub fn session(model: &Model) -> Result<Session, String> {
    let start = |plan: &Plan| {
        TypedSimpleState::new(plan)
            .map_err(|e| format!("the model could not start a session: {e:#}"))
    };
    Ok(Session {
        general: start(&model.plan)?,
        single: model.single.as_ref().map(start).transpose()?,
    })
}

/// Runs one batch, answering the output tensors in the model's order.
pub fn run(session: &mut Session, batch: &Batch) -> Result<Vec<DomainTensor>, String> {
    let inputs = batch
        .inputs
        .iter()
        .map(|t| to_tract(t).map(TValue::from))
        .collect::<Result<TVec<_>, String>>()?;
    let state = match &mut session.single {
        Some(single) if batch.instances == 1 => single,
        _ => &mut session.general,
    };
    let outputs = state
        .run(inputs)
        .map_err(|e| format!("the model failed on these inputs: {e:#}"))?;
    outputs.iter().map(|t| from_tract(t)).collect()
}

fn to_tract(t: &DomainTensor) -> Result<Tensor, String> {
    let shape = &t.shape;
    let made = match &t.data {
        TensorData::F32(d) => Tensor::from_shape(shape, d),
        TensorData::F64(d) => Tensor::from_shape(shape, d),
        TensorData::I64(d) => Tensor::from_shape(shape, d),
        TensorData::I32(d) => Tensor::from_shape(shape, d),
        TensorData::I8(d) => Tensor::from_shape(shape, d),
        TensorData::U8(d) => Tensor::from_shape(shape, d),
        TensorData::Bool(d) => Tensor::from_shape(shape, d),
        TensorData::Str(d) => tract_ndarray::ArrayD::from_shape_vec(shape.as_slice(), d.clone())
            .map(IntoTensor::into_tensor)
            .map_err(|e| e.into()),
        TensorData::Maps(_) => return Err("a map is not a model input".into()),
    };
    made.map_err(|e| format!("the inputs do not form a tensor of shape {shape:?}: {e}"))
}

fn from_tract(t: &Tensor) -> Result<DomainTensor, String> {
    fn copy<T: Datum + Copy>(t: &Tensor) -> Result<Vec<T>, String> {
        t.to_plain_array_view::<T>()
            .map(|a| a.iter().copied().collect())
            .map_err(|e| e.to_string())
    }
    let data = match t.datum_type() {
        DatumType::F32 => TensorData::F32(copy(t)?),
        DatumType::F64 => TensorData::F64(copy(t)?),
        DatumType::I64 => TensorData::I64(copy(t)?),
        DatumType::I32 => TensorData::I32(copy(t)?),
        DatumType::I8 => TensorData::I8(copy(t)?),
        DatumType::U8 => TensorData::U8(copy(t)?),
        DatumType::Bool => TensorData::Bool(copy(t)?),
        DatumType::TDim => TensorData::I64(
            t.to_plain_array_view::<TDim>()
                .map_err(|e| e.to_string())?
                .iter()
                .map(|d| {
                    d.to_i64()
                        .map_err(|e| format!("a label is not a number: {e}"))
                })
                .collect::<Result<_, _>>()?,
        ),
        DatumType::String => TensorData::Str(
            t.to_plain_array_view::<String>()
                .map(|a| a.iter().cloned().collect())
                .map_err(|e| e.to_string())?,
        ),
        other => {
            return Err(format!(
                "the model answered a {} tensor, which online prediction cannot return",
                dtype_name(other)
            ));
        }
    };
    Ok(DomainTensor {
        shape: t.shape().to_vec(),
        data,
    })
}

/// Why tract would serve the model in `bytes` wrong answers, when it is known to:
/// tract 0.23 takes a binary tree classifier's label from the score column it does not
/// use when the trees score one class only (as LightGBM and XGBoost export binary
/// classifiers), so every label is the other class.
pub fn known_wrong(bytes: &[u8]) -> Option<String> {
    use super::wire;
    wire::graph_nodes(bytes).into_iter().find_map(|node| {
        if wire::op_type(node).as_deref() != Some("TreeEnsembleClassifier") {
            return None;
        }
        let classes = match wire::attribute(node, "classlabels_strings") {
            Some(a) => wire::strings(a, wire::ATTRIBUTE_STRINGS).len(),
            None => wire::ints(wire::attribute(node, "classlabels_int64s")?, wire::ATTRIBUTE_INTS)?.len(),
        };
        let ids = wire::ints(wire::attribute(node, "class_ids")?, wire::ATTRIBUTE_INTS)?;
        (classes <= 2 && ids.iter().all(|&id| id == 0)).then(|| {
            "it is a binary tree classifier whose trees score one class (as LightGBM and XGBoost export them), for which tract (the engine's built-in runtime) answers the wrong labels".to_owned()
        })
    })
}

/// The operators of the model in `bytes` that tract does not implement (empty when it
/// is not a model or every operator is known).
pub fn unknown_operators(bytes: &[u8]) -> Vec<crate::onnx_signature::Operator> {
    let Ok(operators) = crate::onnx_signature::operators(bytes) else {
        return Vec::new();
    };
    let known = tract_onnx::onnx().op_register;
    operators
        .into_iter()
        .filter(|op| !known.0.contains_key(&op.op_type))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/models")
            .join(name)
    }

    #[test]
    fn reads_the_signature_and_predicts() {
        let model = load(&fixture("iris_logreg.onnx")).unwrap();
        assert_eq!(model.inputs.len(), 1);
        assert_eq!(model.inputs[0].name, "X");
        assert_eq!(model.inputs[0].dtype, "float32");
        assert_eq!(model.inputs[0].shape, vec![None, Some(4)]);
        let names: Vec<_> = model.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["label", "probabilities"]);
        let batch = crate::domain::predict::parse_request(
            br#"{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}"#,
            &model.inputs,
        )
        .unwrap();
        let mut session = session(&model).unwrap();
        let out = run(&mut session, &batch[0]).unwrap();
        assert_eq!(out[0].data, TensorData::I64(vec![0, 2]));
        assert_eq!(out[1].shape, vec![2, 3]);
    }

    #[test]
    fn a_file_that_is_not_onnx_fails_with_the_loaders_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.onnx");
        std::fs::write(&path, b"not a model").unwrap();
        let err = load(&path).err().unwrap();
        assert!(err.contains("ONNX loader refused"), "{err}");
    }
}
