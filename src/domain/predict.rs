//! Online prediction requests: turning `{"instances": [...]}` into input tensors for a
//! model's signature, and output tensors back into `{"predictions": [...]}`.

use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::Value;

use super::model::TensorSpec;

/// Most instances one request may carry.
pub const MAX_INSTANCES: usize = 10_000;

/// The elements of a tensor, in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// `float32`
    F32(Vec<f32>),
    /// `float64`
    F64(Vec<f64>),
    /// `int64`
    I64(Vec<i64>),
    /// `int32`
    I32(Vec<i32>),
    /// `int8`
    I8(Vec<i8>),
    /// `uint8`
    U8(Vec<u8>),
    /// `bool`
    Bool(Vec<bool>),
    /// `string`
    Str(Vec<String>),
    /// `seq(map(…, float32))`: one map of class to score per element, as `ZipMap` answers.
    Maps(ScoreMaps),
}

/// Maps of class to score that share their classes: one per instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreMaps {
    /// The classes, as JSON object keys.
    pub keys: Arc<[String]>,
    /// `count × keys.len()` scores, map by map.
    pub values: Vec<f32>,
    /// How many maps.
    pub count: usize,
}

impl TensorData {
    /// Empty data of the named element type, or `None` when it is not supported.
    pub fn empty(dtype: &str) -> Option<TensorData> {
        Some(match dtype {
            "float32" => TensorData::F32(Vec::new()),
            "float64" => TensorData::F64(Vec::new()),
            "int64" => TensorData::I64(Vec::new()),
            "int32" => TensorData::I32(Vec::new()),
            "int8" => TensorData::I8(Vec::new()),
            "uint8" => TensorData::U8(Vec::new()),
            "bool" => TensorData::Bool(Vec::new()),
            "string" => TensorData::Str(Vec::new()),
            _ => return None,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::Bool(v) => v.len(),
            TensorData::Str(v) => v.len(),
            TensorData::Maps(m) => m.count,
        }
    }

    /// True without elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s elements; false (and nothing appended) when the types differ.
    pub fn append(&mut self, other: &TensorData) -> bool {
        match (self, other) {
            (TensorData::F32(a), TensorData::F32(b)) => a.extend_from_slice(b),
            (TensorData::F64(a), TensorData::F64(b)) => a.extend_from_slice(b),
            (TensorData::I64(a), TensorData::I64(b)) => a.extend_from_slice(b),
            (TensorData::I32(a), TensorData::I32(b)) => a.extend_from_slice(b),
            (TensorData::I8(a), TensorData::I8(b)) => a.extend_from_slice(b),
            (TensorData::U8(a), TensorData::U8(b)) => a.extend_from_slice(b),
            (TensorData::Bool(a), TensorData::Bool(b)) => a.extend_from_slice(b),
            (TensorData::Str(a), TensorData::Str(b)) => a.extend_from_slice(b),
            (TensorData::Maps(a), TensorData::Maps(b)) if a.keys == b.keys => {
                a.values.extend_from_slice(&b.values);
                a.count += b.count;
            }
            _ => return false,
        }
        true
    }

    /// The elements in `range`, which must lie within the data.
    pub fn slice(&self, range: std::ops::Range<usize>) -> TensorData {
        match self {
            TensorData::F32(d) => TensorData::F32(d[range].to_vec()),
            TensorData::F64(d) => TensorData::F64(d[range].to_vec()),
            TensorData::I64(d) => TensorData::I64(d[range].to_vec()),
            TensorData::I32(d) => TensorData::I32(d[range].to_vec()),
            TensorData::I8(d) => TensorData::I8(d[range].to_vec()),
            TensorData::U8(d) => TensorData::U8(d[range].to_vec()),
            TensorData::Bool(d) => TensorData::Bool(d[range].to_vec()),
            TensorData::Str(d) => TensorData::Str(d[range].to_vec()),
            TensorData::Maps(m) => {
                let k = m.keys.len();
                TensorData::Maps(ScoreMaps {
                    keys: m.keys.clone(),
                    values: m.values[range.start * k..range.end * k].to_vec(),
                    count: range.len(),
                })
            }
        }
    }

    fn push_json(&mut self, v: &Value) -> Result<(), &'static str> {
        fn int<T: TryFrom<i64>>(v: &Value) -> Result<T, &'static str> {
            let i = v.as_i64().ok_or(if v.is_number() {
                "expects whole numbers"
            } else {
                "expects numbers"
            })?;
            T::try_from(i).map_err(|_| "has a number out of range for its type")
        }
        match self {
            TensorData::F32(d) => d.push(v.as_f64().ok_or("expects numbers")? as f32),
            TensorData::F64(d) => d.push(v.as_f64().ok_or("expects numbers")?),
            TensorData::I64(d) => d.push(int(v)?),
            TensorData::I32(d) => d.push(int(v)?),
            TensorData::I8(d) => d.push(int(v)?),
            TensorData::U8(d) => match v {
                // 0..255 numbers
                Value::Number(_) => d.push(int(v)?),
                _ => return Err("expects numbers 0 to 255 or {\"b64\": …}"),
            },
            TensorData::Bool(d) => d.push(v.as_bool().ok_or("expects true or false")?),
            TensorData::Str(d) => d.push(v.as_str().ok_or("expects strings")?.to_owned()),
            TensorData::Maps(_) => return Err("is a model output, not an input"),
        }
        Ok(())
    }

    fn write_json(&self, index: usize, out: &mut String) {
        let _ = match self {
            TensorData::F32(d) => write_float(out, f64::from(d[index]), true),
            TensorData::F64(d) => write_float(out, d[index], false),
            TensorData::I64(d) => write!(out, "{}", d[index]),
            TensorData::I32(d) => write!(out, "{}", d[index]),
            TensorData::I8(d) => write!(out, "{}", d[index]),
            TensorData::U8(d) => write!(out, "{}", d[index]),
            TensorData::Bool(d) => write!(out, "{}", d[index]),
            TensorData::Str(d) => write!(out, "{}", Value::String(d[index].clone())),
            TensorData::Maps(m) => {
                let k = m.keys.len();
                out.push('{');
                for (j, key) in m.keys.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{}:", Value::String(key.clone()));
                    let _ = write_float(out, f64::from(m.values[index * k + j]), true);
                }
                out.push('}');
                Ok(())
            }
        };
    }
}

fn write_float(out: &mut String, x: f64, single: bool) -> std::fmt::Result {
    if !x.is_finite() {
        out.push_str("null");
        Ok(())
    } else if single {
        // Shortest text that reads back as the same f32.
        write!(out, "{}", x as f32)
    } else {
        write!(out, "{x}")
    }
}

/// A tensor: shape and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: TensorData,
}

/// One run of the model: a tensor per input, covering `instances` instances.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Index of the first instance it covers.
    pub first: usize,
    /// How many instances it covers (its batch dimension, when batched).
    pub instances: usize,
    /// One tensor per model input, in the model's order.
    pub inputs: Vec<Tensor>,
}

impl Tensor {
    /// Rows `start..start + count` along the first axis, or `None` when the tensor has
    /// fewer rows.
    pub fn rows(&self, start: usize, count: usize) -> Option<Tensor> {
        let (&total, inner) = self.shape.split_first()?;
        if start + count > total {
            return None;
        }
        let row: usize = inner.iter().product();
        let mut shape = self.shape.clone();
        shape[0] = count;
        Some(Tensor {
            shape,
            data: self.data.slice(start * row..(start + count) * row),
        })
    }
}

impl Batch {
    /// True when `other` can run in one batch with this one: the same inputs, with the
    /// same element types and the same shape past the batch axis.
    pub fn fits_with(&self, other: &Batch) -> bool {
        self.inputs.len() == other.inputs.len()
            && self.inputs.iter().zip(&other.inputs).all(|(a, b)| {
                a.shape.get(1..) == b.shape.get(1..)
                    && std::mem::discriminant(&a.data) == std::mem::discriminant(&b.data)
            })
    }

    /// Appends `other`'s instances (which must fit with these) along the batch axis.
    pub fn append(&mut self, other: &Batch) {
        self.instances += other.instances;
        for (a, b) in self.inputs.iter_mut().zip(&other.inputs) {
            if a.data.append(&b.data)
                && let Some(rows) = a.shape.first_mut()
            {
                *rows += b.shape.first().copied().unwrap_or(0);
            }
        }
    }
}

/// How instances map onto a model's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Every input's first dimension is dynamic: all instances go in one run.
    Batched,
    /// Every input's first dimension is 1: one run per instance.
    OneEach,
    /// The inputs have no batch dimension: an instance is the whole tensor.
    Whole,
}

fn layout(inputs: &[TensorSpec]) -> Layout {
    if inputs.iter().all(|s| matches!(s.shape.first(), Some(None))) {
        Layout::Batched
    } else if inputs.iter().all(|s| s.shape.first() == Some(&Some(1))) {
        Layout::OneEach
    } else {
        Layout::Whole
    }
}

/// Parses a request body into the model's input tensors. Errors name the instance and
/// what is wrong with it.
pub fn parse_request(body: &[u8], inputs: &[TensorSpec]) -> Result<Vec<Batch>, String> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    let Some(instances) = request.get("instances") else {
        return Err(
            "the request body needs \"instances\": a list with one entry per prediction".into(),
        );
    };
    if let Some(extra) = request
        .as_object()
        .and_then(|o| o.keys().find(|k| *k != "instances"))
    {
        return Err(format!(
            "unknown field {extra:?} in the request; send {{\"instances\": [...]}}"
        ));
    }
    let instances = instances.as_array().ok_or("\"instances\" must be a list")?;
    assemble(instances, inputs)
}

/// Turns instances into batches for a model with `inputs`.
pub fn assemble(instances: &[Value], inputs: &[TensorSpec]) -> Result<Vec<Batch>, String> {
    if instances.is_empty() {
        return Err("\"instances\" is empty: send at least one instance".into());
    }
    if instances.len() > MAX_INSTANCES {
        return Err(format!(
            "too many instances: {} in one request, at most {MAX_INSTANCES}; split the request or run a batch prediction job",
            instances.len()
        ));
    }
    let layout = layout(inputs);
    match layout {
        Layout::Batched => {
            let mut batch = new_batch(0, instances.len(), inputs)?;
            for (index, instance) in instances.iter().enumerate() {
                add_instance(&mut batch, index, instance, inputs, layout)?;
            }
            finish(&mut batch, inputs, layout);
            Ok(vec![batch])
        }
        Layout::OneEach | Layout::Whole => instances
            .iter()
            .enumerate()
            .map(|(index, instance)| {
                let mut batch = new_batch(index, 1, inputs)?;
                add_instance(&mut batch, index, instance, inputs, layout)?;
                finish(&mut batch, inputs, layout);
                Ok(batch)
            })
            .collect(),
    }
}

fn new_batch(first: usize, instances: usize, inputs: &[TensorSpec]) -> Result<Batch, String> {
    let tensors = inputs
        .iter()
        .map(|spec| {
            let data = TensorData::empty(&spec.dtype).ok_or_else(|| {
                format!(
                    "input {:?} has element type {}, which online prediction does not take",
                    spec.name, spec.dtype
                )
            })?;
            Ok(Tensor {
                shape: Vec::new(),
                data,
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(Batch {
        first,
        instances,
        inputs: tensors,
    })
}

/// The part of an input's shape one instance gives.
fn instance_dims(spec: &TensorSpec, layout: Layout) -> &[Option<u64>] {
    match layout {
        Layout::Batched | Layout::OneEach => &spec.shape[1..],
        Layout::Whole => &spec.shape,
    }
}

fn add_instance(
    batch: &mut Batch,
    index: usize,
    instance: &Value,
    inputs: &[TensorSpec],
    layout: Layout,
) -> Result<(), String> {
    let named = match instance {
        Value::Object(map) if !(inputs.len() == 1 && map.len() == 1 && map.contains_key("b64")) => {
            if let Some(unknown) = map.keys().find(|k| !inputs.iter().any(|s| &s.name == *k)) {
                return Err(format!(
                    "instance {index}: unknown input {unknown:?}; the model's inputs are {}",
                    names(inputs)
                ));
            }
            Some(map)
        }
        _ if inputs.len() > 1 => {
            return Err(format!(
                "instance {index}: the model has several inputs, so each instance must be an object keyed by input name ({})",
                names(inputs)
            ));
        }
        _ => None,
    };
    for (slot, spec) in inputs.iter().enumerate() {
        let value = match named {
            Some(map) => map
                .get(&spec.name)
                .ok_or_else(|| format!("instance {index}: input {:?} is missing", spec.name))?,
            None => instance,
        };
        let tensor = &mut batch.inputs[slot];
        let dims = instance_dims(spec, layout);
        let shape = fill(tensor, value, dims).map_err(|e| {
            format!(
                "instance {index}: input {:?} ({} {}): {e}",
                spec.name,
                spec.dtype,
                spec.shape_text()
            )
        })?;
        if tensor.shape.is_empty() && index == batch.first {
            tensor.shape = shape;
        } else if tensor.shape != shape {
            return Err(format!(
                "instance {index}: input {:?} has shape {:?} but earlier instances have {:?}; instances in one request must agree",
                spec.name, shape, tensor.shape
            ));
        }
    }
    Ok(())
}

/// Appends one instance's value to `tensor`, returning the instance's shape.
fn fill(tensor: &mut Tensor, value: &Value, dims: &[Option<u64>]) -> Result<Vec<usize>, String> {
    if let Some(encoded) = value.get("b64") {
        let TensorData::U8(bytes) = &mut tensor.data else {
            return Err("{\"b64\": …} carries bytes, and only uint8 inputs take bytes".into());
        };
        let text = encoded.as_str().ok_or("\"b64\" must be a string")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| format!("\"b64\" is not valid base64: {e}"))?;
        let shape = bytes_shape(decoded.len(), dims)?;
        bytes.extend_from_slice(&decoded);
        return Ok(shape);
    }
    // One value per instance, as exporters declare a table's columns ([N, 1]): the
    // value alone stands for the list of one.
    if dims == [Some(1)] && !value.is_array() {
        tensor.data.push_json(value)?;
        return Ok(vec![1]);
    }
    let mut shape = Vec::with_capacity(dims.len());
    walk(tensor, value, dims, 0, &mut shape)?;
    Ok(shape)
}

fn walk(
    tensor: &mut Tensor,
    value: &Value,
    dims: &[Option<u64>],
    depth: usize,
    shape: &mut Vec<usize>,
) -> Result<(), String> {
    if depth == dims.len() {
        return tensor.data.push_json(value).map_err(|e| {
            if value.is_array() {
                format!("too many levels of nesting: expected {} levels", dims.len())
            } else {
                e.to_owned()
            }
        });
    }
    let Value::Array(items) = value else {
        return Err(format!(
            "expected a list at nesting level {} (the instance's shape is {}), found {}",
            depth + 1,
            dims_text(dims),
            kind(value)
        ));
    };
    match (shape.get(depth), dims[depth]) {
        (Some(&seen), _) if seen != items.len() => {
            return Err(format!(
                "ragged list: {} items at nesting level {} where an earlier list has {seen}",
                items.len(),
                depth + 1
            ));
        }
        (None, Some(want)) if want as usize != items.len() => {
            return Err(format!(
                "expected {want} values at nesting level {}, found {}",
                depth + 1,
                items.len()
            ));
        }
        (None, _) => shape.push(items.len()),
        _ => {}
    }
    for item in items {
        walk(tensor, item, dims, depth + 1, shape)?;
    }
    Ok(())
}

fn bytes_shape(len: usize, dims: &[Option<u64>]) -> Result<Vec<usize>, String> {
    let fixed: u64 = dims.iter().flatten().product();
    let dynamic = dims.iter().filter(|d| d.is_none()).count();
    match dynamic {
        0 if fixed as usize == len => Ok(dims.iter().flatten().map(|&d| d as usize).collect()),
        1 if fixed > 0 && (len as u64).is_multiple_of(fixed) => Ok(dims
            .iter()
            .map(|d| d.map_or(len / fixed as usize, |d| d as usize))
            .collect()),
        _ => Err(format!(
            "{len} bytes do not fill the instance's shape {}",
            dims_text(dims)
        )),
    }
}

/// Sets each tensor's full shape once every instance is in.
fn finish(batch: &mut Batch, inputs: &[TensorSpec], layout: Layout) {
    for (tensor, _spec) in batch.inputs.iter_mut().zip(inputs) {
        match layout {
            Layout::Batched => tensor.shape.insert(0, batch.instances),
            Layout::OneEach => tensor.shape.insert(0, 1),
            Layout::Whole => {}
        }
    }
}

fn names(inputs: &[TensorSpec]) -> String {
    inputs
        .iter()
        .map(|s| format!("{:?}", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

fn dims_text(dims: &[Option<u64>]) -> String {
    let parts: Vec<String> = dims
        .iter()
        .map(|d| d.map_or_else(|| "any".to_owned(), |n| n.to_string()))
        .collect();
    format!("[{}]", parts.join(", "))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Writes `{"predictions": [...]}` for the outputs of every run (given with how many
/// instances it covered): one prediction per instance, the output's value for a
/// single-output model, else an object keyed by output name.
pub fn write_predictions(runs: &[(usize, Vec<Tensor>)], outputs: &[TensorSpec]) -> String {
    let mut out = String::with_capacity(64);
    out.push_str("{\"predictions\":[");
    let mut first_instance = true;
    for &(instances, ref tensors) in runs {
        for i in 0..instances {
            if !first_instance {
                out.push(',');
            }
            first_instance = false;
            if tensors.len() == 1 {
                write_instance(&tensors[0], i, instances, &mut out);
            } else {
                out.push('{');
                for (k, tensor) in tensors.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    let name = outputs.get(k).map_or("output", |s| s.name.as_str());
                    let _ = write!(out, "{}:", Value::String(name.to_owned()));
                    write_instance(tensor, i, instances, &mut out);
                }
                out.push('}');
            }
        }
    }
    out.push_str("]}");
    out
}

/// Writes instance `i`'s slice of an output (the whole output when it has no batch axis).
fn write_instance(tensor: &Tensor, i: usize, instances: usize, out: &mut String) {
    let batched = tensor.shape.first() == Some(&instances);
    let (dims, start) = if batched {
        let inner: usize = tensor.shape[1..].iter().product();
        (&tensor.shape[1..], i * inner)
    } else {
        (&tensor.shape[..], 0)
    };
    write_nested(tensor, dims, start, out);
}

fn write_nested(tensor: &Tensor, dims: &[usize], start: usize, out: &mut String) -> usize {
    let Some((&n, rest)) = dims.split_first() else {
        tensor.data.write_json(start, out);
        return 1;
    };
    out.push('[');
    let mut at = start;
    for k in 0..n {
        if k > 0 {
            out.push(',');
        }
        at += write_nested(tensor, rest, at, out);
    }
    out.push(']');
    at - start
}

#[cfg(test)]
mod tests;
