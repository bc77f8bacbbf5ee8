//! Giving `StringNormalizer` nodes a locale this machine has. skl2onnx exports text
//! pipelines without one, ONNX Runtime then asks for `en_US.UTF-8`, and a machine
//! without that locale (most containers, CI machines) cannot load the model. The edit
//! is made on the protobuf wire format, so every other byte of the model stays as it was.

use super::wire::{self, ATTRIBUTE_S, ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_STRING, NAME};

/// The model with `locale` set on every `StringNormalizer` of its main graph that has
/// none; `None` when there is no such node (or the bytes are not a model).
pub fn with_string_normalizer_locale(model: &[u8], locale: &str) -> Option<Vec<u8>> {
    wire::rewrite(model, wire::MODEL_GRAPH, &mut |graph| {
        wire::rewrite(graph, wire::GRAPH_NODE, &mut |node| {
            add_locale(node, locale)
        })
    })
}

fn add_locale(node: &[u8], locale: &str) -> Option<Vec<u8>> {
    let fields = wire::fields(node)?;
    let is_normalizer = fields
        .iter()
        .any(|f| f.number == wire::NODE_OP_TYPE && f.text() == Some("StringNormalizer"));
    let has_locale = fields
        .iter()
        .filter(|f| f.number == wire::NODE_ATTRIBUTE)
        .any(|attribute| wire::strings(attribute.payload, NAME) == ["locale"]);
    if !is_normalizer || has_locale {
        return None;
    }
    let mut attribute = Vec::new();
    wire::put_bytes(&mut attribute, NAME, b"locale");
    wire::put_bytes(&mut attribute, ATTRIBUTE_S, locale.as_bytes());
    wire::put_varint_field(&mut attribute, ATTRIBUTE_TYPE, ATTRIBUTE_TYPE_STRING);
    let mut out = node.to_vec();
    wire::put_bytes(&mut out, wire::NODE_ATTRIBUTE, &attribute);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixtures::exported as fixture;

    #[test]
    fn adds_a_locale_to_string_normalizers_and_keeps_the_rest() {
        let model = fixture("sk_tfidf_text.onnx");
        let patched = with_string_normalizer_locale(&model, "C.UTF-8").unwrap();
        assert!(patched.len() > model.len());
        // Still a model with the same signature and operators.
        assert_eq!(
            crate::onnx_signature::read(&patched).unwrap(),
            crate::onnx_signature::read(&model).unwrap()
        );
        assert_eq!(
            crate::onnx_signature::operators(&patched).unwrap(),
            crate::onnx_signature::operators(&model).unwrap()
        );
        assert!(String::from_utf8_lossy(&patched).contains("C.UTF-8"));
        // Once set, it is left alone.
        assert_eq!(with_string_normalizer_locale(&patched, "C"), None);
    }

    #[test]
    fn models_without_normalizers_and_garbage_are_left_alone() {
        assert_eq!(
            with_string_normalizer_locale(&fixture("sk_scaler_logreg.onnx"), "C.UTF-8"),
            None
        );
        assert_eq!(
            with_string_normalizer_locale(b"\xff\xff\xff", "C.UTF-8"),
            None
        );
    }
}
