//! A zero-copy reader of the scalar parts of an `Event` record: the same fields as the
//! prost messages in [`super::proto`] (which the writer and tests use), read in place
//! without allocating. Loading a million scalars is mostly this loop, and decoding every
//! event into owned messages (a `Vec` per summary, a refcount per field) cost about as
//! much as reading and checking the file; see `cargo bench --bench scalars`.
//!
//! Fields are read as protobuf does: unknown fields skipped by wire type, the last
//! occurrence of a singular field wins, repeated fields may be packed or not. Malformed
//! input is an error, never a panic, and costs time linear in its length (the messages
//! nest to a fixed depth, so no recursion limit is needed).

use super::proto::{
    DT_BOOL, DT_DOUBLE, DT_FLOAT, DT_HALF, DT_INT8, DT_INT16, DT_INT32, DT_INT64, DT_UINT8,
    half_to_f64,
};

/// The record is not a well-formed `Event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

type Result<T> = std::result::Result<T, Malformed>;

/// One field: its number and its value by wire type.
#[derive(Clone, Copy)]
enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// Reads the fields of one message in order.
struct Fields<'a> {
    buf: &'a [u8],
}

impl<'a> Fields<'a> {
    #[inline]
    fn varint(&mut self) -> Result<u64> {
        // Tags, lengths and small numbers take one byte: the common case first.
        if let Some((&byte, rest)) = self.buf.split_first()
            && byte < 0x80
        {
            self.buf = rest;
            return Ok(u64::from(byte));
        }
        let mut value = 0u64;
        for i in 0..10 {
            let (&byte, rest) = self.buf.split_first().ok_or(Malformed)?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(Malformed)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Malformed);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field, or `None` at the end.
    #[inline]
    fn next(&mut self) -> Result<Option<(u32, Field<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| Malformed)?;
        if number == 0 {
            return Err(Malformed);
        }
        let field = match key & 7 {
            0 => Field::Varint(self.varint()?),
            1 => Field::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().map_err(|_| Malformed)?,
            )),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| Malformed)?;
                Field::Bytes(self.take(len)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                self.take(4)?.try_into().map_err(|_| Malformed)?,
            )),
            // Groups (3, 4) are not in these messages; prost refuses them too.
            _ => return Err(Malformed),
        };
        Ok(Some((number, field)))
    }
}

fn fields(buf: &[u8]) -> Fields<'_> {
    Fields { buf }
}

/// What an event holds that scalars need.
#[derive(Debug, Default)]
pub struct EventScalars<'a> {
    /// Seconds since the epoch.
    pub wall_time: f64,
    /// The global step.
    pub step: i64,
    /// The summary's bytes, when there is one (read with [`for_each_value`]).
    summary: Option<&'a [u8]>,
}

/// Reads an `Event` record's wall time, step and where its summary is.
pub fn event(record: &[u8]) -> Result<EventScalars<'_>> {
    let mut out = EventScalars::default();
    let mut f = fields(record);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (1, Field::Fixed64(bits)) => out.wall_time = f64::from_bits(bits),
            (2, Field::Varint(v)) => out.step = v as i64,
            (5, Field::Bytes(summary)) => {
                // A repeated embedded message merges; scalar summaries come once.
                out.summary = Some(summary);
            }
            (1 | 2 | 5, _) => return Err(Malformed),
            _ => {}
        }
    }
    Ok(out)
}

/// Calls `each(tag, value)` for every scalar of the event's summary, in order. A value
/// with an empty tag goes by its old `node_name`.
pub fn for_each_value(event: &EventScalars<'_>, mut each: impl FnMut(&[u8], f64)) -> Result<()> {
    let Some(summary) = event.summary else {
        return Ok(());
    };
    let mut f = fields(summary);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (1, Field::Bytes(value)) => {
                let value = summary_value(value)?;
                if let Some(v) = value.scalar {
                    let tag = if value.tag.is_empty() {
                        value.node_name
                    } else {
                        value.tag
                    };
                    each(tag, v);
                }
            }
            (1, _) => return Err(Malformed),
            _ => {}
        }
    }
    Ok(())
}

struct ValueScalar<'a> {
    tag: &'a [u8],
    node_name: &'a [u8],
    scalar: Option<f64>,
}

/// A `Summary.Value`: its tag and its scalar, if it is one (TF1 `simple_value`, or a
/// one-element tensor of the scalars plugin or of none).
fn summary_value(buf: &[u8]) -> Result<ValueScalar<'_>> {
    let mut tag: &[u8] = &[];
    let mut node_name: &[u8] = &[];
    let mut simple = None;
    let mut tensor: Option<&[u8]> = None;
    let mut plugin: &[u8] = &[];
    let mut f = fields(buf);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (1, Field::Bytes(b)) => tag = b,
            (2, Field::Fixed32(bits)) => simple = Some(f32::from_bits(bits)),
            (7, Field::Bytes(b)) => node_name = b,
            (8, Field::Bytes(b)) => tensor = Some(b),
            (9, Field::Bytes(b)) => plugin = plugin_name(b)?.unwrap_or(plugin),
            (1 | 2 | 7 | 8 | 9, _) => return Err(Malformed),
            _ => {}
        }
    }
    let scalar = match (simple, tensor) {
        (Some(v), _) => Some(f64::from(v)),
        (None, Some(t)) if plugin.is_empty() || plugin == b"scalars" => tensor_scalar(t)?,
        _ => None,
    };
    Ok(ValueScalar {
        tag,
        node_name,
        scalar,
    })
}

/// `SummaryMetadata.plugin_data.plugin_name`, when set.
fn plugin_name(metadata: &[u8]) -> Result<Option<&[u8]>> {
    let mut name = None;
    let mut f = fields(metadata);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (1, Field::Bytes(data)) => {
                let mut d = fields(data);
                while let Some((n, field)) = d.next()? {
                    match (n, field) {
                        (1, Field::Bytes(b)) => name = Some(b),
                        (1, _) => return Err(Malformed),
                        _ => {}
                    }
                }
            }
            (1, _) => return Err(Malformed),
            _ => {}
        }
    }
    Ok(name)
}

/// The first value of a repeated numeric field, packed or not.
#[derive(Default, Clone, Copy)]
struct First {
    bits: Option<u64>,
}

impl First {
    fn set(&mut self, bits: u64) {
        self.bits.get_or_insert(bits);
    }
}

/// A `TensorProto`'s single value as f64, when it holds exactly one numeric element.
fn tensor_scalar(buf: &[u8]) -> Result<Option<f64>> {
    let mut dtype = 0i32;
    let mut elements: Option<i64> = None;
    let mut content: &[u8] = &[];
    let (mut floats, mut doubles, mut ints, mut int64s, mut bools, mut halves) = (
        First::default(),
        First::default(),
        First::default(),
        First::default(),
        First::default(),
        First::default(),
    );
    let mut f = fields(buf);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (1, Field::Varint(v)) => dtype = v as i32,
            (2, Field::Bytes(shape)) => elements = Some(shape_elements(shape)?),
            (4, Field::Bytes(b)) => content = b,
            (5, Field::Fixed32(bits)) => floats.set(u64::from(bits)),
            (5, Field::Bytes(packed)) => {
                if let Some(b) = packed.get(..4) {
                    floats.set(u64::from(u32::from_le_bytes(
                        b.try_into().map_err(|_| Malformed)?,
                    )));
                }
            }
            (6, Field::Fixed64(bits)) => doubles.set(bits),
            (6, Field::Bytes(packed)) => {
                if let Some(b) = packed.get(..8) {
                    doubles.set(u64::from_le_bytes(b.try_into().map_err(|_| Malformed)?));
                }
            }
            (7, field) => first_varint(&mut ints, field)?,
            (10, field) => first_varint(&mut int64s, field)?,
            (11, field) => first_varint(&mut bools, field)?,
            (13, field) => first_varint(&mut halves, field)?,
            (1 | 2 | 4 | 5 | 6, _) => return Err(Malformed),
            _ => {}
        }
    }
    if elements.unwrap_or(1) != 1 {
        return Ok(None);
    }
    let le = |n: usize| content.get(..n);
    let value = match dtype {
        DT_FLOAT => floats
            .bits
            .map(|b| f64::from(f32::from_bits(b as u32)))
            .or_else(|| Some(f64::from(f32::from_le_bytes(le(4)?.try_into().ok()?)))),
        DT_DOUBLE => doubles
            .bits
            .map(f64::from_bits)
            .or_else(|| Some(f64::from_le_bytes(le(8)?.try_into().ok()?))),
        DT_INT32 | DT_INT16 | DT_INT8 | DT_UINT8 => match ints.bits {
            Some(v) => Some(f64::from(v as i32)),
            None => match dtype {
                DT_INT32 => le(4).map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
                DT_INT16 => le(2).map(|b| f64::from(i16::from_le_bytes([b[0], b[1]]))),
                DT_INT8 => le(1).map(|b| f64::from(b[0] as i8)),
                _ => le(1).map(|b| f64::from(b[0])),
            },
        },
        DT_INT64 => int64s
            .bits
            .map(|v| v as i64 as f64)
            .or_else(|| Some(i64::from_le_bytes(le(8)?.try_into().ok()?) as f64)),
        DT_BOOL => bools
            .bits
            .map(|v| f64::from(u8::from(v != 0)))
            .or_else(|| Some(f64::from(*content.first()?))),
        DT_HALF => match halves.bits {
            Some(v) => Some(half_to_f64(v as u16)),
            None => le(2).map(|b| half_to_f64(u16::from_le_bytes([b[0], b[1]]))),
        },
        _ => None,
    };
    Ok(value)
}

fn first_varint(first: &mut First, field: Field<'_>) -> Result<()> {
    match field {
        Field::Varint(v) => first.set(v),
        Field::Bytes(packed) if !packed.is_empty() => first.set(fields(packed).varint()?),
        Field::Bytes(_) => {}
        _ => return Err(Malformed),
    }
    Ok(())
}

/// The number of elements a `TensorShapeProto` describes (saturating: a huge shape is
/// simply not one element).
fn shape_elements(shape: &[u8]) -> Result<i64> {
    let mut elements = 1i64;
    let mut f = fields(shape);
    while let Some((number, field)) = f.next()? {
        match (number, field) {
            (2, Field::Bytes(dim)) => {
                let mut size = 0i64;
                let mut d = fields(dim);
                while let Some((n, field)) = d.next()? {
                    match (n, field) {
                        (1, Field::Varint(v)) => size = v as i64,
                        (1, _) => return Err(Malformed),
                        _ => {}
                    }
                }
                elements = elements.saturating_mul(size);
            }
            (2, _) => return Err(Malformed),
            _ => {}
        }
    }
    Ok(elements)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::tensorboard::proto::{
        Event, PluginData, Summary, SummaryMetadata, SummaryValue, TensorDim, TensorProto,
        TensorShape,
    };

    fn scalars(event: &Event) -> Vec<(String, f64)> {
        let bytes = event.encode_to_vec();
        let parsed = super::event(&bytes).unwrap();
        assert_eq!(parsed.step, event.step);
        assert_eq!(parsed.wall_time.to_bits(), event.wall_time.to_bits());
        let mut out = Vec::new();
        for_each_value(&parsed, |tag, v| {
            out.push((String::from_utf8_lossy(tag).into_owned(), v));
        })
        .unwrap();
        out
    }

    fn value(tag: &str) -> SummaryValue {
        SummaryValue {
            tag: tag.as_bytes().to_vec().into(),
            ..SummaryValue::default()
        }
    }

    #[test]
    fn reads_what_prost_writes() {
        let mut tf1 = value("loss");
        tf1.simple_value = Some(0.25);
        let mut tf2 = value("acc");
        tf2.tensor = Some(TensorProto {
            dtype: DT_DOUBLE,
            double_val: vec![0.75],
            ..TensorProto::default()
        });
        tf2.metadata = Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: b"scalars".to_vec().into(),
            }),
        });
        let mut packed = value("lr");
        packed.tensor = Some(TensorProto {
            dtype: DT_FLOAT,
            tensor_content: 0.5f32.to_le_bytes().to_vec().into(),
            tensor_shape: Some(TensorShape { dim: vec![] }),
            ..TensorProto::default()
        });
        let mut image = value("img");
        image.tensor = Some(TensorProto {
            dtype: DT_FLOAT,
            float_val: vec![1.0],
            ..TensorProto::default()
        });
        image.metadata = Some(SummaryMetadata {
            plugin_data: Some(PluginData {
                plugin_name: b"images".to_vec().into(),
            }),
        });
        let mut vector = value("vec");
        vector.tensor = Some(TensorProto {
            dtype: DT_INT64,
            int64_val: vec![1, 2],
            tensor_shape: Some(TensorShape {
                dim: vec![TensorDim { size: 2 }],
            }),
            ..TensorProto::default()
        });
        let mut old = value("");
        old.node_name = b"old_name".to_vec().into();
        old.simple_value = Some(-3.0);
        let mut int = value("count");
        int.tensor = Some(TensorProto {
            dtype: DT_INT64,
            int64_val: vec![-7],
            ..TensorProto::default()
        });
        let event = Event {
            wall_time: 1_764_000_000.5,
            step: 42,
            file_version: None,
            summary: Some(Summary {
                value: vec![tf1, tf2, packed, image, vector, old, int],
            }),
        };
        assert_eq!(
            scalars(&event),
            vec![
                ("loss".into(), 0.25),
                ("acc".into(), 0.75),
                ("lr".into(), 0.5),
                ("old_name".into(), -3.0),
                ("count".into(), -7.0),
            ]
        );
    }

    #[test]
    fn refuses_malformed_records_without_panicking() {
        for bad in [
            &[0x08][..],             // a varint cut short
            &[0x2a, 0x05, 0x0a][..], // a length past the end
            &[0x0b][..],             // a group
            &[0x00][..],             // field number 0
            &[0x09, 1, 2, 3][..],    // a fixed64 cut short
            &[
                0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
            ][..],
        ] {
            assert_eq!(event(bad).err(), Some(Malformed), "{bad:?}");
        }
        // A summary value whose tensor shape is absurd is not a scalar, not a crash.
        let mut v = value("huge");
        v.tensor = Some(TensorProto {
            dtype: DT_FLOAT,
            float_val: vec![1.0],
            tensor_shape: Some(TensorShape {
                dim: vec![TensorDim { size: i64::MAX }, TensorDim { size: i64::MAX }],
            }),
            ..TensorProto::default()
        });
        let event = Event {
            summary: Some(Summary { value: vec![v] }),
            ..Event::default()
        };
        assert!(scalars(&event).is_empty());
    }
}
