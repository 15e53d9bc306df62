//! Decoding JSON the way Go's `encoding/json` does, so that input real
//! runtimes send is understood:
//! - struct keys match case-insensitively (containerd sends `HostPort`,
//!   `Servers`, ...), an exact match winning over a folded one;
//! - a `null` member is treated as absent;
//! - when one field appears twice (e.g. `mac` and `MAC`), the last one wins;
//! - unknown keys are ignored (serde's default).
//!
//! It works for any `#[derive(Deserialize)]` type that does not use
//! `flatten`/`untagged` (those buffer the input and would lose the folding).

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Decode `T` from a JSON value with Go's key-matching rules.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> std::result::Result<T, serde_json::Error> {
    T::deserialize(Ci(value))
}

/// Decode `T` from JSON bytes with Go's key-matching rules.
/// Errors are code 6 (decoding failure) naming `what`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    let value: Value = super::parse::parse(bytes)
        .map_err(|e| Error::decode(format!("failed to parse {what}"), e.to_string()))?;
    from_value(&value).map_err(|e| Error::decode(format!("failed to parse {what}"), e.to_string()))
}

/// Decode the value of `T`, reporting a code-6 error naming `what`.
///
/// ```
/// #[derive(serde::Deserialize, Default)]
/// #[serde(rename_all = "camelCase", default)]
/// struct Mapping { host_port: u16, container_port: u16 }
///
/// // containerd's capitalised keys are matched as Go would
/// let v = serde_json::json!({"HostPort": 8080, "ContainerPort": 80, "extra": true});
/// let m: Mapping = pkg::types::decode::decode(&v, "portMappings")?;
/// assert_eq!((m.host_port, m.container_port), (8080, 80));
/// # Ok::<(), pkg::Error>(())
/// ```
pub fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> Result<T> {
    from_value(value).map_err(|e| Error::decode(format!("failed to parse {what}"), e.to_string()))
}

/// Look up a key in an object the way Go would match it to a struct field.
/// As in Go, the last member whose key folds to `key` wins.
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .filter(|(k, _)| fold_eq(k, key))
        .map(|(_, v)| v)
        .next_back()
}

/// Go's `strings.EqualFold`, close enough: simple Unicode lowercase folding.
fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

#[derive(Clone, Copy)]
struct Ci<'a>(&'a Value);

impl<'de, 'a> Deserializer<'de> for Ci<'a> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Seq { iter: items.iter() }),
            Value::Object(map) => visitor.visit_map(Entries::plain(map)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Entries::folded(map, fields)),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct Seq<'a> {
    iter: std::slice::Iter<'a, Value>,
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        match self.iter.next() {
            Some(v) => seed.deserialize(Ci(v)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Map entries with keys already resolved to the names serde expects.
struct Entries<'a> {
    entries: std::vec::IntoIter<(&'a str, &'a Value)>,
    pending: Option<&'a Value>,
}

impl<'a> Entries<'a> {
    fn plain(map: &'a Map<String, Value>) -> Self {
        let entries: Vec<(&str, &Value)> = map.iter().map(|(k, v)| (k.as_str(), v)).collect();
        Entries {
            entries: entries.into_iter(),
            pending: None,
        }
    }

    fn folded(map: &'a Map<String, Value>, fields: &'static [&'static str]) -> Self {
        let mut entries: Vec<(&'a str, &'a Value)> = Vec::with_capacity(map.len());
        for (key, value) in map {
            if value.is_null() {
                continue;
            }
            let name: &'a str = if fields.contains(&key.as_str()) {
                key.as_str()
            } else if let Some(f) = fields.iter().find(|f| fold_eq(f, key)) {
                f
            } else {
                continue; // unknown key: ignored, as Go does
            };
            // The last occurrence wins, as when Go overwrites a field.
            if let Some(slot) = entries.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = value;
            } else {
                entries.push((name, value));
            }
        }
        Entries {
            entries: entries.into_iter(),
            pending: None,
        }
    }
}

impl<'de, 'a> MapAccess<'de> for Entries<'a> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        match self.entries.next() {
            Some((k, v)) => {
                self.pending = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        match self.pending.take() {
            Some(v) => seed.deserialize(Ci(v)),
            None => Err(de::Error::custom("value requested before key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct PortMapping {
        host_port: u16,
        container_port: u16,
        protocol: String,
        #[serde(rename = "hostIP")]
        host_ip: String,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase", default)]
    struct Conf {
        name: String,
        port_mappings: Vec<PortMapping>,
        mtu: Option<u32>,
        labels: BTreeMap<String, String>,
        nested: Option<Box<Conf>>,
    }

    #[test]
    fn matches_keys_like_go() {
        struct Case {
            input: Value,
            want: Conf,
        }
        let cases = vec![
            Case {
                input: json!({"portMappings":[{"HostPort":8080,"ContainerPort":80,"Protocol":"tcp","HostIP":""}]}),
                want: Conf {
                    port_mappings: vec![PortMapping {
                        host_port: 8080,
                        container_port: 80,
                        protocol: "tcp".into(),
                        host_ip: String::new(),
                    }],
                    ..Default::default()
                },
            },
            Case {
                input: json!({"NAME":"x","mtu":null,"unknown":{"a":1}}),
                want: Conf {
                    name: "x".into(),
                    ..Default::default()
                },
            },
            Case {
                // the last duplicate wins; map keys keep their case
                input: json!({"name":"a","Name":"b","labels":{"Key":"V"}}),
                want: Conf {
                    name: "b".into(),
                    labels: [("Key".to_string(), "V".to_string())].into(),
                    ..Default::default()
                },
            },
            Case {
                input: json!({"nested":{"MTU":1400}}),
                want: Conf {
                    nested: Some(Box::new(Conf {
                        mtu: Some(1400),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
            },
        ];
        for c in cases {
            let got: Conf = from_value(&c.input).unwrap();
            assert_eq!(got, c.want, "input {}", c.input);
        }
    }

    #[test]
    fn type_errors_are_reported() {
        for input in [
            json!({"mtu": "abc"}),
            json!({"mtu": -1}),
            json!({"portMappings": {}}),
            json!([1]),
            json!({"mtu": 1e100}),
        ] {
            assert!(from_value::<Conf>(&input).is_err(), "{input}");
        }
        let e = from_slice::<Conf>(b"{", "network config").unwrap_err();
        assert_eq!(e.code(), 6);
    }

    #[test]
    fn get_ci_last_fold_match_wins() {
        let v = json!({"Mac":"a","mac":"b"});
        let m = v.as_object().unwrap();
        assert_eq!(get_ci(m, "mac"), Some(&json!("b")));
        assert_eq!(get_ci(m, "MAC"), Some(&json!("b")));
        assert_eq!(get_ci(m, "ip"), None);
    }
}
