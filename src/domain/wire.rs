//! Google's JSON mapping for integers: an int64 (or uint64) arrives as text or as a
//! number and is answered as text; an int32 arrives either way and is answered as a
//! number. Used with `#[serde(with = …)]` / `deserialize_with`.

use serde::{Deserialize, Deserializer, Serializer};

/// An integer as it may arrive: a JSON number or text (proto3 JSON allows both).
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Number {
    fn value<E: serde::de::Error>(self) -> Result<i64, E> {
        match self {
            Number::Int(n) => Ok(n),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
            Number::Float(f) => Err(E::custom(format!("{f} is not a whole number"))),
            Number::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| E::custom(format!("{t:?} is not a whole number"))),
        }
    }
}

/// Reads an integer of type `T` from a number or text, refusing one out of range.
pub fn integer<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
    let n = Number::deserialize(d)?.value::<D::Error>()?;
    T::try_from(n).map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
}

/// An int64 field: read from a number or text, written as text.
pub mod int64 {
    use super::{Deserializer, Serializer};

    /// Writes the integer as text.
    pub fn serialize<S: Serializer, T: std::fmt::Display>(
        value: &T,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    /// Reads it from a number or text.
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<T, D::Error> {
        super::integer(d)
    }
}

/// An optional int64 field: read from a number, text or null, written as text.
pub mod int64_option {
    use serde::Deserialize;

    use super::{Deserializer, Number, Serializer};

    /// Writes the integer as text (callers skip `None`).
    pub fn serialize<S: Serializer, T: std::fmt::Display>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    /// Reads it from a number, text or null.
    pub fn deserialize<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<Number>::deserialize(d)? {
            None => Ok(None),
            Some(n) => {
                let n = n.value::<D::Error>()?;
                T::try_from(n)
                    .map(Some)
                    .map_err(|_| serde::de::Error::custom(format!("{n} is out of range")))
            }
        }
    }
}
