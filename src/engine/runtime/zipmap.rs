//! Serving `ZipMap` outputs without running `ZipMap`. scikit-learn's exporters end a
//! classifier with a `ZipMap` that turns the `[N, classes]` probability tensor into one
//! map of class to probability per instance. Both runtimes are faster without it (ONNX
//! Runtime builds and hands back each map through several calls; tract does not
//! implement it at all), and what it does is fixed: so the engine takes the node out,
//! makes its input the graph's output, and zips the maps itself from the node's class
//! labels. The answer is the same; the model's signature shown stays the original.

use std::sync::Arc;

use super::wire::{self, Edit, NAME};
use crate::domain::predict::{ScoreMaps, Tensor, TensorData};

/// A `ZipMap` the engine zips itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unzipped {
    /// The graph output it made (e.g. `output_probability`).
    pub output: String,
    /// Its input, now the graph output in its place.
    pub tensor: String,
    /// The classes, as JSON keys, in the node's order.
    pub keys: Arc<[String]>,
    /// `int64` or `string`: the classes' type.
    pub key_type: &'static str,
}

/// The model without the `ZipMap` nodes that produce graph outputs, and what they did;
/// `None` when it has none (or the bytes are not a model).
pub fn without_zipmap(model: &[u8]) -> Option<(Vec<u8>, Vec<Unzipped>)> {
    let graph = wire::fields(model)?
        .into_iter()
        .find(|f| f.number == wire::MODEL_GRAPH)?;
    let (new_graph, unzipped) = unzip_graph(graph.payload)?;
    let edited = wire::rebuild(model, |f| {
        if f.number == wire::MODEL_GRAPH {
            Edit::Replace(new_graph.clone())
        } else {
            Edit::Keep
        }
    })?;
    Some((edited, unzipped))
}

fn unzip_graph(graph: &[u8]) -> Option<(Vec<u8>, Vec<Unzipped>)> {
    let fields = wire::fields(graph)?;
    let outputs: Vec<String> = fields
        .iter()
        .filter(|f| f.number == wire::GRAPH_OUTPUT)
        .filter_map(|f| wire::strings(f.payload, NAME).into_iter().next())
        .collect();
    let nodes: Vec<&[u8]> = fields
        .iter()
        .filter(|f| f.number == wire::GRAPH_NODE)
        .map(|f| f.payload)
        .collect();
    let consumed: Vec<String> = nodes
        .iter()
        .flat_map(|n| wire::strings(n, wire::NODE_INPUT))
        .collect();
    let mut unzipped = Vec::new();
    let mut dropped = Vec::new();
    for node in &nodes {
        let Some(zip) = zipmap(node) else { continue };
        // Only a ZipMap whose maps leave the graph, and nothing else reads.
        if !outputs.contains(&zip.output) || consumed.contains(&zip.output) {
            continue;
        }
        if outputs.contains(&zip.tensor) {
            continue;
        }
        dropped.push(*node);
        unzipped.push(zip);
    }
    if unzipped.is_empty() {
        return None;
    }
    let edited = wire::rebuild(graph, |f| match f.number {
        wire::GRAPH_NODE if dropped.contains(&f.payload) => Edit::Drop,
        wire::GRAPH_OUTPUT => {
            let name = wire::strings(f.payload, NAME).into_iter().next();
            match unzipped.iter().find(|u| Some(&u.output) == name.as_ref()) {
                Some(u) => Edit::Replace(probability_output(&u.tensor, u.keys.len())),
                None => Edit::Keep,
            }
        }
        _ => Edit::Keep,
    })?;
    Some((edited, unzipped))
}

/// Reads a `ZipMap` node: its input, output and class labels.
fn zipmap(node: &[u8]) -> Option<Unzipped> {
    let fields = wire::fields(node)?;
    if !fields
        .iter()
        .any(|f| f.number == wire::NODE_OP_TYPE && f.text() == Some("ZipMap"))
    {
        return None;
    }
    let inputs = wire::strings(node, wire::NODE_INPUT);
    let outputs = wire::strings(node, wire::NODE_OUTPUT);
    let ([tensor], [output]) = (inputs.as_slice(), outputs.as_slice()) else {
        return None;
    };
    for attribute in fields.iter().filter(|f| f.number == wire::NODE_ATTRIBUTE) {
        let name = wire::strings(attribute.payload, NAME);
        let (keys, key_type): (Vec<String>, _) = match name.first().map(String::as_str) {
            Some("classlabels_strings") => (
                wire::strings(attribute.payload, wire::ATTRIBUTE_STRINGS),
                "string",
            ),
            Some("classlabels_int64s") => (
                wire::ints(attribute.payload, wire::ATTRIBUTE_INTS)?
                    .iter()
                    .map(ToString::to_string)
                    .collect(),
                "int64",
            ),
            _ => continue,
        };
        if keys.is_empty() {
            return None;
        }
        return Some(Unzipped {
            output: output.clone(),
            tensor: tensor.clone(),
            keys: keys.into(),
            key_type,
        });
    }
    None
}

/// A graph output `name`: a float tensor of `[N, classes]`.
fn probability_output(name: &str, classes: usize) -> Vec<u8> {
    const TYPE: u64 = 2;
    const TENSOR_TYPE: u64 = 1;
    const ELEM_TYPE: u64 = 1;
    const SHAPE: u64 = 2;
    const DIM: u64 = 1;
    const DIM_VALUE: u64 = 1;
    const DIM_PARAM: u64 = 2;
    const FLOAT: u64 = 1;
    let mut batch = Vec::new();
    wire::put_bytes(&mut batch, DIM_PARAM, b"N");
    let mut width = Vec::new();
    wire::put_varint_field(&mut width, DIM_VALUE, classes as u64);
    let mut shape = Vec::new();
    wire::put_bytes(&mut shape, DIM, &batch);
    wire::put_bytes(&mut shape, DIM, &width);
    let mut tensor = Vec::new();
    wire::put_varint_field(&mut tensor, ELEM_TYPE, FLOAT);
    wire::put_bytes(&mut tensor, SHAPE, &shape);
    let mut ty = Vec::new();
    wire::put_bytes(&mut ty, TENSOR_TYPE, &tensor);
    let mut info = Vec::new();
    wire::put_bytes(&mut info, NAME, name.as_bytes());
    wire::put_bytes(&mut info, TYPE, &ty);
    info
}

impl Unzipped {
    /// The maps `ZipMap` would have made of the probability tensor.
    pub fn zip(&self, probabilities: Tensor) -> Result<Tensor, String> {
        let classes = self.keys.len();
        let rows = match probabilities.shape.as_slice() {
            [rows, width] if *width == classes => *rows,
            other => {
                return Err(format!(
                    "the model's probabilities have shape {other:?}, not [N, {classes}] for its {classes} classes"
                ));
            }
        };
        let TensorData::F32(values) = probabilities.data else {
            return Err("the model's probabilities are not float32".into());
        };
        Ok(Tensor {
            shape: vec![rows],
            data: TensorData::Maps(ScoreMaps {
                keys: self.keys.clone(),
                values,
                count: rows,
            }),
        })
    }

    /// The output's type as the original model declares it.
    pub fn dtype(&self) -> String {
        format!("seq(map({}, float32))", self.key_type)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixtures::exported as fixture;

    #[test]
    fn takes_the_zipmap_out_and_keeps_its_classes() {
        let model = fixture("sk_scaler_logreg.onnx");
        let (edited, unzipped) = without_zipmap(&model).unwrap();
        assert_eq!(unzipped.len(), 1);
        assert_eq!(unzipped[0].output, "output_probability");
        assert_eq!(&*unzipped[0].keys, ["0", "1", "2"]);
        assert_eq!(unzipped[0].dtype(), "seq(map(int64, float32))");
        let ops = crate::onnx_signature::operators(&edited).unwrap();
        assert!(ops.iter().all(|o| o.op_type != "ZipMap"), "{ops:?}");
        let (_, outputs) = crate::onnx_signature::read(&edited).unwrap();
        assert_eq!(outputs[1].name, unzipped[0].tensor);
        assert_eq!(outputs[1].dtype, "float32");
        assert_eq!(outputs[1].shape, vec![None, Some(3)]);
        assert_eq!(outputs[0].name, "output_label", "the other outputs stay");

        let text = without_zipmap(&fixture("sk_tfidf_text.onnx")).unwrap().1;
        assert_eq!(&*text[0].keys, ["food", "sports", "tech"]);
        assert_eq!(text[0].key_type, "string");
    }

    #[test]
    fn models_without_zipmap_are_left_alone() {
        assert!(without_zipmap(&fixture("xgb_classifier.onnx")).is_none());
        assert!(without_zipmap(&fixture("nn_digits_cnn.onnx")).is_none());
        assert!(without_zipmap(b"not a model").is_none());
    }

    #[test]
    fn zips_probabilities_into_one_map_per_instance() {
        let unzipped = Unzipped {
            output: "p".into(),
            tensor: "t".into(),
            keys: vec!["a".to_owned(), "b".to_owned()].into(),
            key_type: "string",
        };
        let maps = unzipped
            .zip(Tensor {
                shape: vec![2, 2],
                data: TensorData::F32(vec![0.25, 0.75, 1.0, 0.0]),
            })
            .unwrap();
        assert_eq!(maps.shape, vec![2]);
        let wrong = Tensor {
            shape: vec![2, 3],
            data: TensorData::F32(vec![0.0; 6]),
        };
        assert!(unzipped.zip(wrong).unwrap_err().contains("[N, 2]"));
    }
}
