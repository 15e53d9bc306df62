//! The runtime side's parsers: network configuration lists and single
//! plugin configs (and their conversion to a list, capability injection),
//! result-cache files, VERSION answers of plugins, and the Go-compatible
//! JSON writer. Any panic is a bug.
#![no_main]

use libcni::cache::CacheEntry;
use libcni::conf::{NetworkConfigList, PluginConfig};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, bytes)) = data.split_first() else {
        return;
    };
    match sel % 5 {
        0 => {
            if let Ok(list) = NetworkConfigList::from_bytes(bytes) {
                let _ = list.version();
                for p in &list.plugins {
                    let injected = p.inject(&[
                        ("name", Value::String(list.name.clone())),
                        ("runtimeConfig", serde_json::json!({"portMappings": []})),
                    ]);
                    if let Ok(i) = injected {
                        assert_eq!(i.plugin_type, p.plugin_type);
                    }
                    let _ = p.description();
                }
            }
        }
        1 => {
            if let Ok(p) = PluginConfig::from_bytes(bytes)
                && let Ok(list) = NetworkConfigList::from_conf(&p)
            {
                assert_eq!(list.plugins.len(), 1);
            }
        }
        2 => {
            if let Ok(entry) = CacheEntry::decode(bytes) {
                let encoded = entry.encode().expect("a decoded entry encodes");
                let again = CacheEntry::decode(&encoded).expect("our own encoding decodes");
                assert_eq!(again.container_id, entry.container_id);
                assert_eq!(again.config, entry.config);
            }
        }
        3 => {
            let _ = libcni::version::decode_version_info(bytes);
        }
        _ => {
            if let Ok(v) = pkg::types::parse::parse(bytes) {
                let go = libcni::gojson::to_vec(&libcni::gojson::sorted(&v)).expect("encodes");
                let back: Value = serde_json::from_slice(&go).expect("Go-style JSON parses");
                assert!(same(&back, &v), "{back} != {v}");
            }
            if let Ok(s) = std::str::from_utf8(bytes)
                && let Ok(raw) = libcni::gojson::base64_decode(s)
            {
                let _ = libcni::gojson::base64_encode(&raw);
            }
        }
    }
});

/// Equal as Go sees JSON: every number is a float64 (Go writes 0.0 as `0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_u64(), y.as_u64(), x.as_i64(), y.as_i64()) {
                (Some(p), Some(q), _, _) => p == q,
                (_, _, Some(p), Some(q)) => p == q,
                // serde_json's default float parsing may land one ulp away
                // from the nearest double for long literals.
                _ => match (x.as_f64(), y.as_f64()) {
                    (Some(p), Some(q)) => p == q || (p - q).abs() <= p.abs().max(q.abs()) * 1e-15,
                    _ => false,
                },
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, p)| y.get(k).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}
