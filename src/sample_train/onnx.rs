//! Writes the sample model as ONNX: the messages of onnx.proto (field numbers as there)
//! that a small inference graph needs, encoded with prost.

use prost::Message;

use super::SoftmaxModel;

/// `onnx.ModelProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    /// IR version.
    #[prost(int64, tag = "1")]
    pub ir_version: i64,
    /// Who made it.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    /// Its version.
    #[prost(string, tag = "3")]
    pub producer_version: String,
    /// What it is.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    /// The graph.
    #[prost(message, optional, tag = "7")]
    pub graph: Option<GraphProto>,
    /// Operator sets used.
    #[prost(message, repeated, tag = "8")]
    pub opset_import: Vec<OperatorSetIdProto>,
}

/// `onnx.OperatorSetIdProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct OperatorSetIdProto {
    /// Empty for the default domain.
    #[prost(string, tag = "1")]
    pub domain: String,
    /// The opset version.
    #[prost(int64, tag = "2")]
    pub version: i64,
}

/// `onnx.GraphProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GraphProto {
    /// The operations, in order.
    #[prost(message, repeated, tag = "1")]
    pub node: Vec<NodeProto>,
    /// The graph's name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Constant tensors (the trained parameters).
    #[prost(message, repeated, tag = "5")]
    pub initializer: Vec<TensorProto>,
    /// Graph inputs.
    #[prost(message, repeated, tag = "11")]
    pub input: Vec<ValueInfoProto>,
    /// Graph outputs.
    #[prost(message, repeated, tag = "12")]
    pub output: Vec<ValueInfoProto>,
}

/// `onnx.NodeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeProto {
    /// Input value names.
    #[prost(string, repeated, tag = "1")]
    pub input: Vec<String>,
    /// Output value names.
    #[prost(string, repeated, tag = "2")]
    pub output: Vec<String>,
    /// The node's name.
    #[prost(string, tag = "3")]
    pub name: String,
    /// The operator, e.g. `MatMul`.
    #[prost(string, tag = "4")]
    pub op_type: String,
    /// Attributes.
    #[prost(message, repeated, tag = "5")]
    pub attribute: Vec<AttributeProto>,
}

/// `onnx.AttributeProto` (integer attributes only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// An integer value.
    #[prost(int64, tag = "3")]
    pub i: i64,
    /// `AttributeType`: 2 = INT.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `onnx.TensorProto` (float data).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// The shape.
    #[prost(int64, repeated, tag = "1")]
    pub dims: Vec<i64>,
    /// `DataType`: 1 = FLOAT.
    #[prost(int32, tag = "2")]
    pub data_type: i32,
    /// Values, row-major.
    #[prost(float, repeated, tag = "4")]
    pub float_data: Vec<f32>,
    /// The tensor's name.
    #[prost(string, tag = "8")]
    pub name: String,
}

/// `onnx.ValueInfoProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValueInfoProto {
    /// The value's name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Its type.
    #[prost(message, optional, tag = "2")]
    pub r#type: Option<TypeProto>,
}

/// `onnx.TypeProto` (tensors only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    /// A tensor type.
    #[prost(message, optional, tag = "1")]
    pub tensor_type: Option<TensorTypeProto>,
}

/// `onnx.TypeProto.Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorTypeProto {
    /// `DataType`: 1 = FLOAT.
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    /// The shape.
    #[prost(message, optional, tag = "2")]
    pub shape: Option<TensorShapeProto>,
}

/// `onnx.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    /// The dimensions.
    #[prost(message, repeated, tag = "1")]
    pub dim: Vec<Dimension>,
}

/// `onnx.TensorShapeProto.Dimension`: a size or a symbolic name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    /// A fixed size.
    #[prost(int64, optional, tag = "1")]
    pub dim_value: Option<i64>,
    /// A named, variable size such as `N`.
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

const FLOAT: i32 = 1;

fn float_tensor(name: &str, dims: &[i64], values: impl IntoIterator<Item = f64>) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: FLOAT,
        float_data: values.into_iter().map(|v| v as f32).collect(),
        name: name.into(),
    }
}

fn float_value(name: &str, dims: [Dimension; 2]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim: dims.into() }),
            }),
        }),
    }
}

fn node(op: &str, inputs: [&str; 2], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        attribute: Vec::new(),
    }
}

/// The model as an ONNX graph: `input` [N, 4] float (raw measurements) →
/// standardise → MatMul → Add → Softmax → `probabilities` [N, 3].
pub fn model_proto(model: &SoftmaxModel) -> ModelProto {
    let batch = || Dimension {
        dim_value: None,
        dim_param: Some("N".into()),
    };
    let size = |n: i64| Dimension {
        dim_value: Some(n),
        dim_param: None,
    };
    let mut softmax = node("Softmax", ["logits", ""], "probabilities");
    softmax.input.truncate(1);
    softmax.attribute.push(AttributeProto {
        name: "axis".into(),
        i: 1,
        r#type: 2,
    });
    ModelProto {
        ir_version: 8,
        producer_name: "mlconsole".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!(
            "Softmax regression on the Iris measurements ({}); outputs the probabilities of {}.",
            model.inputs.join(", "),
            model.classes.join(", ")
        ),
        graph: Some(GraphProto {
            name: "iris_softmax_regression".into(),
            node: vec![
                node("Sub", ["input", "mean"], "centered"),
                node("Div", ["centered", "std"], "standardized"),
                node("MatMul", ["standardized", "weights"], "scores"),
                node("Add", ["scores", "bias"], "logits"),
                softmax,
            ],
            initializer: vec![
                float_tensor("mean", &[4], model.mean),
                float_tensor("std", &[4], model.std),
                float_tensor("weights", &[4, 3], model.weights.iter().flatten().copied()),
                float_tensor("bias", &[3], model.bias),
            ],
            input: vec![float_value("input", [batch(), size(4)])],
            output: vec![float_value("probabilities", [batch(), size(3)])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
    }
}

/// The model as ONNX bytes.
pub fn to_onnx(model: &SoftmaxModel) -> Vec<u8> {
    model_proto(model).encode_to_vec()
}
