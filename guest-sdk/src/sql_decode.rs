//! Decoding SQL rows with serde: a row is a map from column names to values (for structs
//! and maps), a sequence of values (for tuples), or its only value (for scalars).
//!
//! A value decodes as what it holds: NULL as `None` or `()`, INTEGER as any integer type
//! that fits (or a `bool`, 0 being false), REAL as a float, TEXT as a string, char or unit
//! enum variant, BLOB as bytes. TEXT decoded into a struct, map or list is parsed as JSON.

use std::fmt;

use serde::de::value::SeqDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer as _, IntoDeserializer, Visitor,
};
use serde::forward_to_deserialize_any;

use crate::SqlValue;

/// Why a row or value did not decode.
#[derive(Debug)]
pub(crate) struct DecodeError(String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

impl de::Error for DecodeError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        DecodeError(message.to_string())
    }
}

pub(crate) fn decode_row<T: DeserializeOwned>(
    columns: &[String],
    values: &[SqlValue],
) -> Result<T, DecodeError> {
    T::deserialize(RowDeserializer { columns, values })
}

pub(crate) fn decode_value<T: DeserializeOwned>(value: &SqlValue) -> Result<T, DecodeError> {
    T::deserialize(ValueDeserializer(value))
}

struct RowDeserializer<'a> {
    columns: &'a [String],
    values: &'a [SqlValue],
}

impl RowDeserializer<'_> {
    /// The row's only value, for a target that is a single value.
    fn single(&self) -> Result<ValueDeserializer<'_>, DecodeError> {
        match self.values {
            [value] => Ok(ValueDeserializer(value)),
            values => Err(DecodeError(format!(
                "a row of {} columns ({:?}) cannot be decoded as a single value",
                values.len(),
                self.columns
            ))),
        }
    }
}

macro_rules! single_value {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
            self.single()?.$method(visitor)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for RowDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_map(RowMap {
            entries: self.columns.iter().zip(self.values),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_seq(Values(self.values.iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        visitor.visit_unit()
    }

    single_value! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
        deserialize_unit deserialize_identifier
    }
}

struct RowMap<'a, I> {
    entries: I,
    value: Option<&'a SqlValue>,
}

impl<'de, 'a, I: Iterator<Item = (&'a String, &'a SqlValue)>> de::MapAccess<'de> for RowMap<'a, I> {
    type Error = DecodeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DecodeError> {
        let Some((column, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        let key: de::value::StrDeserializer<'_, DecodeError> = column.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, DecodeError> {
        let value = self.value.take().expect("a key before its value");
        seed.deserialize(ValueDeserializer(value))
    }
}

struct Values<'a>(std::slice::Iter<'a, SqlValue>);

impl<'de> de::SeqAccess<'de> for Values<'_> {
    type Error = DecodeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, DecodeError> {
        self.0
            .next()
            .map(|value| seed.deserialize(ValueDeserializer(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct ValueDeserializer<'a>(&'a SqlValue);

impl ValueDeserializer<'_> {
    /// JSON text for a struct, map or list target.
    fn json<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        decode: impl FnOnce(serde_json::Value, V) -> serde_json::Result<V::Value>,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Text(text) => serde_json::from_str(text)
                .and_then(|json| decode(json, visitor))
                .map_err(|e| DecodeError(format!("the text is not the JSON expected: {e}"))),
            _ => self.deserialize_any(visitor),
        }
    }
}

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Null => visitor.visit_unit(),
            SqlValue::Integer(n) => visitor.visit_i64(*n),
            SqlValue::Real(x) => visitor.visit_f64(*x),
            SqlValue::Text(text) => visitor.visit_str(text),
            SqlValue::Blob(bytes) => visitor.visit_bytes(bytes),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Integer(n) => visitor.visit_bool(*n != 0),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Text(text) => visitor.visit_bytes(text.as_bytes()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            // `Vec<u8>` asks for a sequence.
            SqlValue::Blob(bytes) => visitor.visit_seq(SeqDeserializer::<_, DecodeError>::new(
                bytes.iter().copied(),
            )),
            _ => self.json(visitor, |json, visitor| json.deserialize_seq(visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        self.json(visitor, |json, visitor| json.deserialize_map(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        self.json(visitor, |json, visitor| {
            json.deserialize_struct(name, fields, visitor)
        })
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Null => visitor.visit_unit(),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DecodeError> {
        match self.0 {
            SqlValue::Text(text) => {
                let variant: de::value::StrDeserializer<'_, DecodeError> =
                    text.as_str().into_deserializer();
                variant.deserialize_enum(name, variants, visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        unit_struct tuple_struct identifier ignored_any
    }
}
