//! The parts of TensorFlow's `Event`, `Summary` and `TensorProto` messages that scalars
//! need, declared for prost (field numbers as in tensorflow/core/util/event.proto and
//! framework/summary.proto, tensor.proto). Fields not declared are skipped on decode.

/// A record of an event file.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    /// `step`: the global step of the event.
    pub step: i64,
    /// The file's format version, in a file's first event: `brain.Event:2`.
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    /// A summary, when the event carries one.
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// A set of tagged values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    #[prost(message, repeated, tag = "1")]
    /// `value`: the tagged values of the summary.
    pub value: Vec<SummaryValue>,
}

/// One tagged value of a summary.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The tag, e.g. `loss` (UTF-8; kept as bytes so decoding shares the file's buffer).
    #[prost(bytes = "bytes", tag = "1")]
    pub tag: bytes::Bytes,
    /// TF1's float scalar.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// Old name of the tag.
    #[prost(bytes = "bytes", tag = "7")]
    pub node_name: bytes::Bytes,
    /// TF2's value: a tensor.
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    /// What kind of summary this is (plugin name).
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

/// Which plugin wrote a summary value.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    /// `plugin_data`: which TensorBoard plugin the value is for (`scalars` here).
    pub plugin_data: Option<PluginData>,
}

/// A plugin's name and data.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginData {
    /// E.g. `scalars`.
    #[prost(bytes = "bytes", tag = "1")]
    pub plugin_name: bytes::Bytes,
}

/// A tensor: its type, shape and values.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorProto {
    /// `DataType` enum value (1 float, 2 double, 3 int32, 9 int64, 19 half, ...).
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(message, optional, tag = "2")]
    /// `tensor_shape`: empty for a scalar.
    pub tensor_shape: Option<TensorShape>,
    /// Values as raw little-endian bytes.
    #[prost(bytes = "bytes", tag = "4")]
    pub tensor_content: bytes::Bytes,
    /// `DT_FLOAT` values.
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    /// `DT_DOUBLE` values.
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
    /// `DT_INT32`, `DT_INT16`, `DT_INT8`, `DT_UINT8` values.
    #[prost(int32, repeated, tag = "7")]
    pub int_val: Vec<i32>,
    /// `DT_INT64` values.
    #[prost(int64, repeated, tag = "10")]
    pub int64_val: Vec<i64>,
    /// `DT_BOOL` values.
    #[prost(bool, repeated, tag = "11")]
    pub bool_val: Vec<bool>,
    /// `DT_HALF` values, as their bits.
    #[prost(int32, repeated, tag = "13")]
    pub half_val: Vec<i32>,
}

/// A tensor's shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorShape {
    /// The dimensions; none for a scalar.
    #[prost(message, repeated, tag = "2")]
    pub dim: Vec<TensorDim>,
}

/// One dimension of a shape.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TensorDim {
    #[prost(int64, tag = "1")]
    /// `size`: this dimension's length.
    pub size: i64,
}

/// `DT_FLOAT`.
pub const DT_FLOAT: i32 = 1;
/// `DT_DOUBLE`.
pub const DT_DOUBLE: i32 = 2;
/// `DT_INT32`.
pub const DT_INT32: i32 = 3;
/// `DT_UINT8`.
pub const DT_UINT8: i32 = 4;
/// `DT_INT16`.
pub const DT_INT16: i32 = 5;
/// `DT_INT8`.
pub const DT_INT8: i32 = 6;
/// `DT_INT64`.
pub const DT_INT64: i32 = 9;
/// `DT_BOOL`.
pub const DT_BOOL: i32 = 10;
/// `DT_HALF`.
pub const DT_HALF: i32 = 19;

/// IEEE 754 half precision to f64.
pub(crate) fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    match exponent {
        0 => sign * fraction * 2f64.powi(-24),
        0x1f if fraction == 0.0 => sign * f64::INFINITY,
        0x1f => f64::NAN,
        e => sign * (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes() {
        assert_eq!(half_to_f64(0x3c00), 1.0);
        assert_eq!(half_to_f64(0xc000), -2.0);
        assert_eq!(half_to_f64(0x3555), 0.333251953125);
    }
}
