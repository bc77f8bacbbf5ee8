//! Writes the sample model as ONNX: the messages of onnx.proto (field numbers as there)
//! that a small inference graph needs, encoded with prost.

use prost::Message;

use super::{CLASSES, INPUTS, Mlp};

/// `onnx.ModelProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ModelProto {
    #[prost(int64, tag = "1")]
    /// `ir_version`: the ONNX file format version.
    pub ir_version: i64,
    /// Who made it.
    #[prost(string, tag = "2")]
    pub producer_name: String,
    #[prost(string, tag = "3")]
    /// `producer_version`: this crate's version.
    pub producer_version: String,
    /// What it is.
    #[prost(string, tag = "6")]
    pub doc_string: String,
    #[prost(message, optional, tag = "7")]
    /// `graph`: the computation.
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
    #[prost(int64, tag = "2")]
    /// `version`: the operator set version.
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
    #[prost(message, repeated, tag = "11")]
    /// `input`: the graph's inputs, by name and type.
    pub input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    /// `output`: the graph's outputs, by name and type.
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
    #[prost(message, repeated, tag = "5")]
    /// `attribute`: the operator's settings.
    pub attribute: Vec<AttributeProto>,
}

/// `onnx.AttributeProto` (integer attributes only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeProto {
    /// The attribute's name.
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(int64, tag = "3")]
    /// `i`: an integer attribute's value.
    pub i: i64,
    /// `AttributeType`: 2 = INT.
    #[prost(int32, tag = "20")]
    pub r#type: i32,
}

/// `onnx.TensorProto` (float data).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    #[prost(int64, repeated, tag = "1")]
    /// `dims`: the tensor's shape.
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
    #[prost(message, optional, tag = "2")]
    /// `type`: the value's type.
    pub r#type: Option<TypeProto>,
}

/// `onnx.TypeProto` (tensors only).
#[derive(Clone, PartialEq, prost::Message)]
pub struct TypeProto {
    #[prost(message, optional, tag = "1")]
    /// `tensor_type`: set for tensors (the only kind written).
    pub tensor_type: Option<TensorTypeProto>,
}

/// `onnx.TypeProto.Tensor`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorTypeProto {
    /// `DataType`: 1 = FLOAT.
    #[prost(int32, tag = "1")]
    pub elem_type: i32,
    #[prost(message, optional, tag = "2")]
    /// `shape`: the tensor's dimensions.
    pub shape: Option<TensorShapeProto>,
}

/// `onnx.TensorShapeProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    /// `dim`: one entry per dimension.
    pub dim: Vec<Dimension>,
}

/// `onnx.TensorShapeProto.Dimension`: a size or a symbolic name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dimension {
    #[prost(int64, optional, tag = "1")]
    /// `dim_value`: a fixed size (unset for the batch dimension).
    pub dim_value: Option<i64>,
    /// A named, variable size such as `N`.
    #[prost(string, optional, tag = "2")]
    pub dim_param: Option<String>,
}

const FLOAT: i32 = 1;

fn float_tensor(name: &str, dims: &[i64], values: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: FLOAT,
        float_data: values.to_vec(),
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

fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| (*s).to_owned()).collect(),
        output: vec![output.into()],
        name: format!("{op}_{output}"),
        op_type: op.into(),
        attribute: Vec::new(),
    }
}

/// The network as an ONNX graph: `input` [N, 64] float (pixel values 0–16) → ÷16 →
/// (MatMul → Add → Relu) per hidden layer → MatMul → Add → Softmax → `probabilities`
/// [N, 10].
pub fn model_proto(model: &Mlp) -> ModelProto {
    let batch = || Dimension {
        dim_value: None,
        dim_param: Some("N".into()),
    };
    let size = |n: usize| Dimension {
        dim_value: Some(n as i64),
        dim_param: None,
    };
    let mut nodes = vec![node("Div", &["input", "pixel_scale"], "x0")];
    let mut initializer = vec![float_tensor("pixel_scale", &[], &[16.0])];
    let last = model.layers.len() - 1;
    for (l, layer) in model.layers.iter().enumerate() {
        let (w, b) = (format!("w{l}"), format!("b{l}"));
        initializer.push(float_tensor(
            &w,
            &[layer.inputs as i64, layer.outputs as i64],
            &layer.weights,
        ));
        initializer.push(float_tensor(&b, &[layer.outputs as i64], &layer.bias));
        let input = format!("x{l}");
        let (product, sum) = (format!("m{l}"), format!("z{l}"));
        nodes.push(node("MatMul", &[&input, &w], &product));
        nodes.push(node("Add", &[&product, &b], &sum));
        if l < last {
            nodes.push(node("Relu", &[&sum], &format!("x{}", l + 1)));
        } else {
            let mut softmax = node("Softmax", &[&sum], "probabilities");
            softmax.attribute.push(AttributeProto {
                name: "axis".into(),
                i: 1,
                r#type: 2,
            });
            nodes.push(softmax);
        }
    }
    ModelProto {
        ir_version: 8,
        producer_name: "mlconsole".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "A multi-layer perceptron reading 8x8 handwritten digits (64 pixel values 0-16, row by row); outputs the probabilities of the digits 0-9.".into(),
        graph: Some(GraphProto {
            name: "digits_mlp".into(),
            node: nodes,
            initializer,
            input: vec![float_value("input", [batch(), size(INPUTS)])],
            output: vec![float_value("probabilities", [batch(), size(CLASSES)])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 13,
        }],
    }
}

/// The model as ONNX bytes.
pub fn to_onnx(model: &Mlp) -> Vec<u8> {
    model_proto(model).encode_to_vec()
}
