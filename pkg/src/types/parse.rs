//! Parsing JSON text into a `Value` with a bound on what hostile input
//! can cost.
//!
//! Repeated keys: like Go's `encoding/json`, the last occurrence's value
//! wins (serde_json keeps it at the key's first position, which only
//! matters when the same key is also spelt in another case in between:
//! `{"name":"a","NAME":"b","name":"c"}` reads as `b` here and `c` in Go).
//!
//! It also bounds what hostile input can cost: nesting is limited to
//! serde_json's 128 levels (so the stack is safe), and the number of values
//! to [`MAX_VALUES`]. A parsed value takes up to ~100 bytes per JSON value
//! however short its text, so without the count a few MiB of `[0,0,...]`
//! would need more memory than a plugin should ever take.

use std::cell::Cell;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The most values (scalars, arrays and objects, plus one per object key)
/// one document may hold: about 100 MiB once parsed. Real configurations
/// hold hundreds; a runtime mapping a range of 100000 host ports about
/// 900000.
pub const MAX_VALUES: usize = 1 << 20;

/// Parse `bytes` as one JSON document.
pub fn parse(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let left = Cell::new(MAX_VALUES);
    let value = BoundedSeed { left: &left }.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

#[derive(Clone, Copy)]
struct BoundedSeed<'b> {
    /// Values still allowed.
    left: &'b Cell<usize>,
}

impl<'de> DeserializeSeed<'de> for BoundedSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.charge()?;
        d.deserialize_any(ValueVisitor(self))
    }
}

impl BoundedSeed<'_> {
    /// Count one more value (or object key) against the budget.
    fn charge<E: de::Error>(self) -> Result<(), E> {
        match self.left.get().checked_sub(1) {
            Some(n) => {
                self.left.set(n);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "more than {MAX_VALUES} values (object keys included)"
            ))),
        }
    }
}

struct ValueVisitor<'b>(BoundedSeed<'b>);

impl<'de> Visitor<'de> for ValueVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self.0)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // A member costs about twice a value: its key is a string too.
            self.0.charge()?;
            let value = map.next_value_seed(self.0)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_keep_the_last_value() {
        let v = parse(br#"{"name":"a","NAME":"b","name":"c","x":[1,-2,3.5,null,true]}"#).unwrap();
        assert_eq!(v["name"], "c");
        assert_eq!(v["NAME"], "b");
        assert_eq!(v["x"], serde_json::json!([1, -2, 3.5, null, true]));
    }

    #[test]
    fn same_values_as_serde_json_otherwise() {
        for text in [
            "{}",
            "[]",
            "\"\\u00e9\"",
            "18446744073709551615",
            "-9223372036854775808",
            "1e300",
            r#"{"a":{"b":[{"c":null}]}}"#,
        ] {
            let want: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse(text.as_bytes()).unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        let deep = "[".repeat(100_000);
        for text in ["", "{", "[1,]", "{\"a\":1}x", "1e400", deep.as_str()] {
            assert!(parse(text.as_bytes()).is_err(), "{text:.20}");
        }
    }

    #[test]
    fn value_count_is_bounded() {
        let at_limit = format!("[{}]", vec!["0"; MAX_VALUES - 1].join(","));
        assert_eq!(
            parse(at_limit.as_bytes())
                .unwrap()
                .as_array()
                .unwrap()
                .len(),
            MAX_VALUES - 1
        );
        let over = format!("[{}]", vec!["{}"; MAX_VALUES].join(","));
        let e = parse(over.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(&format!("more than {MAX_VALUES} values")), "{e}");
        // keys count too
        let keys: String = (0..MAX_VALUES / 2)
            .map(|i| format!("\"k{i}\":0,"))
            .collect();
        let over = format!("{{{keys}\"z\":0}}");
        assert!(parse(over.as_bytes()).is_err());
    }
}
