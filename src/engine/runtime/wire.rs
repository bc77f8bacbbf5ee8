//! Reading and editing ONNX models on the protobuf wire format, field by field, so that
//! an edit keeps every other byte of the model as it was (no schema needed for the
//! parts left alone).

/// `ModelProto.graph`.
pub const MODEL_GRAPH: u64 = 7;
/// `GraphProto.node`.
pub const GRAPH_NODE: u64 = 1;
/// `GraphProto.output`.
pub const GRAPH_OUTPUT: u64 = 12;
/// `NodeProto.input`.
pub const NODE_INPUT: u64 = 1;
/// `NodeProto.output`.
pub const NODE_OUTPUT: u64 = 2;
/// `NodeProto.op_type`.
pub const NODE_OP_TYPE: u64 = 4;
/// `NodeProto.attribute`.
pub const NODE_ATTRIBUTE: u64 = 5;
/// `AttributeProto.name` (also `ValueInfoProto.name`).
pub const NAME: u64 = 1;
/// `AttributeProto.s`.
pub const ATTRIBUTE_S: u64 = 4;
/// `AttributeProto.ints`.
pub const ATTRIBUTE_INTS: u64 = 8;
/// `AttributeProto.strings`.
pub const ATTRIBUTE_STRINGS: u64 = 9;
/// `AttributeProto.type`.
pub const ATTRIBUTE_TYPE: u64 = 20;
/// `AttributeProto.type` for a string.
pub const ATTRIBUTE_TYPE_STRING: u64 = 3;

const VARINT: u64 = 0;
const LENGTH_DELIMITED: u64 = 2;

/// One field of a message.
pub struct Field<'a> {
    /// Where the field (its key) starts in the message.
    pub start: usize,
    /// Where it ends.
    pub end: usize,
    /// The protobuf field number.
    pub number: u64,
    /// How the value is encoded (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    pub wire_type: u64,
    /// The value's bytes: the payload of length-delimited fields, else the raw value.
    pub payload: &'a [u8],
}

impl Field<'_> {
    /// The payload as text, for string fields.
    pub fn text(&self) -> Option<&str> {
        (self.wire_type == LENGTH_DELIMITED)
            .then(|| std::str::from_utf8(self.payload).ok())
            .flatten()
    }

    /// The value of a varint field.
    pub fn varint(&self) -> Option<u64> {
        let mut at = 0;
        (self.wire_type == VARINT)
            .then(|| varint(self.payload, &mut at))
            .flatten()
    }
}

/// The fields of a message, or `None` when the bytes are not well formed.
pub fn fields(message: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let start = at;
        let key = varint(message, &mut at)?;
        let (number, wire_type) = (key >> 3, key & 7);
        let payload = match wire_type {
            VARINT => {
                let from = at;
                varint(message, &mut at)?;
                from..at
            }
            1 => at..at.checked_add(8)?,
            LENGTH_DELIMITED => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                at..at.checked_add(len)?
            }
            5 => at..at.checked_add(4)?,
            _ => return None,
        };
        let payload_bytes = message.get(payload.clone())?;
        at = payload.end;
        out.push(Field {
            start,
            end: at,
            number,
            wire_type,
            payload: payload_bytes,
        });
    }
    Some(out)
}

/// What to do with a field when rebuilding a message.
pub enum Edit {
    /// Keep it as it is.
    Keep,
    /// Leave it out.
    Drop,
    /// Put this length-delimited value in its place, under the same number.
    Replace(Vec<u8>),
}

/// `message` rebuilt with `edit` deciding for each field; `None` when the bytes are not
/// well formed or nothing changed.
pub fn rebuild(message: &[u8], mut edit: impl FnMut(&Field<'_>) -> Edit) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let mut changed = false;
    let mut copied = 0;
    for field in fields(message)? {
        match edit(&field) {
            Edit::Keep => continue,
            Edit::Drop => out.extend_from_slice(&message[copied..field.start]),
            Edit::Replace(bytes) => {
                out.extend_from_slice(&message[copied..field.start]);
                put_bytes(&mut out, field.number, &bytes);
            }
        }
        copied = field.end;
        changed = true;
    }
    out.extend_from_slice(&message[copied..]);
    changed.then_some(out)
}

/// `message` with every length-delimited field `number` replaced by what `edit` makes
/// of it (fields it answers `None` for stay); `None` when nothing changed.
pub fn rewrite(
    message: &[u8],
    number: u64,
    edit: &mut dyn FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Option<Vec<u8>> {
    rebuild(message, |field| {
        if field.number != number || field.wire_type != LENGTH_DELIMITED {
            return Edit::Keep;
        }
        edit(field.payload).map_or(Edit::Keep, Edit::Replace)
    })
}

/// The text of every string field `number` of `message`.
pub fn strings(message: &[u8], number: u64) -> Vec<String> {
    fields(message)
        .unwrap_or_default()
        .iter()
        .filter(|f| f.number == number)
        .filter_map(|f| f.text().map(str::to_owned))
        .collect()
}

/// The repeated int64 field `number` of `message`, packed or not.
pub fn ints(message: &[u8], number: u64) -> Option<Vec<i64>> {
    let mut out = Vec::new();
    for f in fields(message)?.iter().filter(|f| f.number == number) {
        match f.varint() {
            Some(v) => out.push(v as i64),
            None => {
                let mut at = 0;
                while at < f.payload.len() {
                    out.push(varint(f.payload, &mut at)? as i64);
                }
            }
        }
    }
    Some(out)
}

/// The nodes of the model's main graph (`NodeProto` bytes).
pub fn graph_nodes(model: &[u8]) -> Vec<&[u8]> {
    let Some(graph) = fields(model)
        .unwrap_or_default()
        .into_iter()
        .find(|f| f.number == MODEL_GRAPH)
    else {
        return Vec::new();
    };
    fields(graph.payload)
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f.number == GRAPH_NODE)
        .map(|f| f.payload)
        .collect()
}

/// A node's operator.
pub fn op_type(node: &[u8]) -> Option<String> {
    strings(node, NODE_OP_TYPE).into_iter().next()
}

/// A node's attribute named `name` (`AttributeProto` bytes).
pub fn attribute<'a>(node: &'a [u8], name: &str) -> Option<&'a [u8]> {
    fields(node)?
        .into_iter()
        .filter(|f| f.number == NODE_ATTRIBUTE)
        .map(|f| f.payload)
        .find(|a| strings(a, NAME).first().map(String::as_str) == Some(name))
}

/// Reads a varint at `at`, moving past it.
pub fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Writes a varint.
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a varint field.
pub fn put_varint_field(out: &mut Vec<u8>, number: u64, value: u64) {
    put_varint(out, number << 3 | VARINT);
    put_varint(out, value);
}

/// Writes a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_varint(out, number << 3 | LENGTH_DELIMITED);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fields_read_back_what_was_written_and_edits_keep_the_rest() {
        let mut message = Vec::new();
        put_bytes(&mut message, 1, b"keep");
        put_varint_field(&mut message, 3, 300);
        put_bytes(&mut message, 2, b"old");
        let read = fields(&message).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].text(), Some("keep"));
        assert_eq!(read[1].varint(), Some(300));
        let edited = rebuild(&message, |f| match f.number {
            2 => Edit::Replace(b"new".to_vec()),
            3 => Edit::Drop,
            _ => Edit::Keep,
        })
        .unwrap();
        assert_eq!(strings(&edited, 1), ["keep"]);
        assert_eq!(strings(&edited, 2), ["new"]);
        assert!(fields(&edited).unwrap().iter().all(|f| f.number != 3));
        assert!(rebuild(&message, |_| Edit::Keep).is_none());
        assert!(fields(&[0x0a, 0x05, b'a']).is_none(), "a truncated field");
    }
}
