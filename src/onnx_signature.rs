//! An ONNX model's inputs and outputs (names, element types, shapes) read from the file
//! without loading the model: for platforms that serve it elsewhere (a Ray cluster) and
//! for types the local runtime does not load (sequences and maps, as `ZipMap` makes).

use prost::Message;

use crate::domain::TensorSpec;

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorName>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

/// Only what names a node's operator.
#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(string, tag = "7")]
    domain: String,
}

/// Only the name of an initializer (a weight listed among the inputs by old exporters).
#[derive(Clone, PartialEq, Message)]
struct TensorName {
    #[prost(string, tag = "8")]
    name: String,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(oneof = "TypeValue", tags = "1, 4, 5, 9")]
    value: Option<TypeValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum TypeValue {
    #[prost(message, tag = "1")]
    Tensor(TensorType),
    #[prost(message, tag = "4")]
    Sequence(Box<SequenceType>),
    #[prost(message, tag = "5")]
    Map(Box<MapType>),
    #[prost(message, tag = "9")]
    Optional(Box<SequenceType>),
}

#[derive(Clone, PartialEq, Message)]
struct TensorType {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<ShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct SequenceType {
    #[prost(message, optional, boxed, tag = "1")]
    elem_type: Option<Box<TypeProto>>,
}

#[derive(Clone, PartialEq, Message)]
struct MapType {
    #[prost(int32, tag = "1")]
    key_type: i32,
    #[prost(message, optional, boxed, tag = "2")]
    value_type: Option<Box<TypeProto>>,
}

#[derive(Clone, PartialEq, Message)]
struct ShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

/// The name of an ONNX element type, as the console shows it (`float32`, `int64`…).
pub fn element_type_name(code: i32) -> &'static str {
    match code {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}

fn type_name(t: Option<&TypeProto>) -> String {
    match t.and_then(|t| t.value.as_ref()) {
        Some(TypeValue::Tensor(t)) => element_type_name(t.elem_type).to_owned(),
        Some(TypeValue::Sequence(s)) => format!("seq({})", type_name(s.elem_type.as_deref())),
        Some(TypeValue::Map(m)) => format!(
            "map({}, {})",
            element_type_name(m.key_type),
            type_name(m.value_type.as_deref())
        ),
        Some(TypeValue::Optional(o)) => format!("optional({})", type_name(o.elem_type.as_deref())),
        None => "other".into(),
    }
}

fn spec(info: &ValueInfoProto) -> TensorSpec {
    let shape = match info.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(TypeValue::Tensor(t)) => t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| d.dim_value.and_then(|v| u64::try_from(v).ok()))
                    .collect()
            })
            .unwrap_or_default(),
        // A sequence holds one element per instance.
        Some(TypeValue::Sequence(_)) => vec![None],
        _ => Vec::new(),
    };
    TensorSpec {
        name: info.name.clone(),
        dtype: type_name(info.r#type.as_ref()),
        shape,
    }
}

/// The inputs (without weights listed as inputs) and outputs of the model in `bytes`.
pub fn read(bytes: &[u8]) -> Result<(Vec<TensorSpec>, Vec<TensorSpec>), String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = model.graph.ok_or("not an ONNX model: it has no graph")?;
    if graph.output.is_empty() {
        return Err("not an ONNX model: its graph has no outputs".into());
    }
    let weights: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|i| !weights.contains(i.name.as_str()))
        .map(spec)
        .collect();
    let outputs = graph.output.iter().map(spec).collect();
    Ok((inputs, outputs))
}

/// An operator a model's graph uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The operator set: `ai.onnx.ml`, `com.microsoft`; empty for the default ONNX set.
    pub domain: String,
    /// The operator, e.g. `Scaler`.
    pub op_type: String,
}

impl std::fmt::Display for Operator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.domain.as_str() {
            "" | "ai.onnx" => write!(f, "{}", self.op_type),
            domain => write!(f, "{} ({domain})", self.op_type),
        }
    }
}

/// The operators of the model in `bytes`' main graph, each once, in graph order.
pub fn operators(bytes: &[u8]) -> Result<Vec<Operator>, String> {
    let model = ModelProto::decode(bytes).map_err(|e| format!("not an ONNX model: {e}"))?;
    let graph = model.graph.ok_or("not an ONNX model: it has no graph")?;
    let mut seen = Vec::new();
    for node in graph.node {
        let op = Operator {
            domain: node.domain,
            op_type: node.op_type,
        };
        if !seen.contains(&op) {
            seen.push(op);
        }
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        crate::fixtures::read(&format!("models/{name}"))
    }

    #[test]
    fn reads_what_the_local_runtime_reads() {
        let (inputs, outputs) = read(&fixture("iris_logreg.onnx")).unwrap();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].dtype, "float32");
        assert_eq!(inputs[0].shape, vec![None, Some(4)]);
        let loaded = crate::engine::runtime::tract::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/models/iris_logreg.onnx"),
        )
        .unwrap();
        assert_eq!(inputs, loaded.inputs);
        let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
        let loaded_names: Vec<&str> = loaded.outputs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, loaded_names);
        assert!(read(b"not a model at all").is_err());
    }

    /// `tag` (a length-delimited field) around `inner`, as protobuf writes it.
    fn wrap(field: u8, inner: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2];
        let mut len = inner.len();
        while len >= 0x80 {
            out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(inner);
        out
    }

    #[test]
    fn a_type_nested_without_end_is_refused_not_followed() {
        // seq(seq(seq(… float32 …))) 10 000 deep, built without recursion.
        let mut ty = wrap(1, &[0x08, 0x01]);
        for _ in 0..10_000 {
            ty = wrap(4, &wrap(1, &ty));
        }
        let info = [wrap(1, b"x"), wrap(2, &ty)].concat();
        let graph = [wrap(11, &info), wrap(12, &info)].concat();
        let model = wrap(7, &graph);
        let e = read(&model).unwrap_err();
        assert!(e.contains("not an ONNX model"), "{e}");
        // Within protobuf's recursion limit the same shape reads.
        let mut ty = wrap(1, &[0x08, 0x01]);
        for _ in 0..3 {
            ty = wrap(4, &wrap(1, &ty));
        }
        let info = [wrap(1, b"x"), wrap(2, &ty)].concat();
        let model = wrap(7, &[wrap(11, &info), wrap(12, &info)].concat());
        let (inputs, _) = read(&model).unwrap();
        assert_eq!(inputs[0].dtype, "seq(seq(seq(float32)))");
    }
}
