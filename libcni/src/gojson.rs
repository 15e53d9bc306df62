//! JSON and base64 written the way Go's `encoding/json` writes them, so the
//! files we produce for Go readers (the result cache, §7.5; a `.conf`
//! converted to a list, §2.3) are the bytes Go's libcni would write:
//! - compact, no trailing newline;
//! - objects that Go holds as maps (`map[string]interface{}`) have their
//!   keys sorted at every level (`sorted` below);
//! - HTML-safe string escaping: `<`, `>`, `&`, U+2028 and U+2029 become
//!   `\u003c` ..., control characters other than `\n`, `\r`, `\t` become
//!   `\u00XX` (lowercase hex), `\b` and `\f` included;
//! - floats in Go's shortest form (`1e+21`, `1e-7`, `1000`).
//!
//! Integers stay exact: Go would round integers above 2^53 through
//! float64 (documented deviation, Documentation/spec-notes.md §2.4).

use std::io::{self, Write};

use serde_json::ser::{CharEscape, CompactFormatter, Formatter};
use serde_json::{Map, Value};

use pkg::{Error, Result};

/// `value` encoded as Go's `json.Marshal` would encode it.
pub fn to_vec(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    serde::Serialize::serialize(value, &mut ser)
        .map_err(|e| Error::internal(format!("encoding json: {e}")))?;
    Ok(out)
}

/// A copy of `value` with the keys of every object sorted (byte order), as
/// Go marshals a `map[string]interface{}`.
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::with_capacity(map.len());
            for k in keys {
                if let Some(v) = map.get(k) {
                    out.insert(k.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        match char_escape {
            CharEscape::Backspace => writer.write_all(b"\\u0008"),
            CharEscape::FormFeed => writer.write_all(b"\\u000c"),
            other => CompactFormatter.write_char_escape(writer, other),
        }
    }

    fn write_f64<W: ?Sized + Write>(&mut self, writer: &mut W, value: f64) -> io::Result<()> {
        writer.write_all(go_float(value).as_bytes())
    }
}

/// Go's float64 encoding: plain decimal unless |x| < 1e-6 or |x| >= 1e21,
/// then exponent form with an explicit sign and no padded exponent.
fn go_float(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) {
        let s = format!("{x:e}");
        if s.contains("e-") {
            s
        } else {
            s.replacen('e', "e+", 1)
        }
    } else {
        format!("{x}")
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (Go's encoding of a `[]byte` field).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decode standard padded base64 as Go's `base64.StdEncoding` does when
/// it reads a `[]byte` field: `\r` and `\n` are skipped, anything else
/// outside the alphabet, or missing padding, is an error.
pub fn base64_decode(s: &str) -> Result<Vec<u8>> {
    let bad = |why: &str| Error::decode("illegal base64 data", why.to_string());
    let clean: Vec<u8> = s.bytes().filter(|b| *b != b'\r' && *b != b'\n').collect();
    if !clean.len().is_multiple_of(4) {
        return Err(bad("length is not a multiple of 4"));
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let last = clean.len() / 4;
    for (idx, quad) in clean.chunks(4).enumerate() {
        let mut n: u32 = 0;
        let mut pad = 0;
        for (i, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if idx + 1 == last && i >= 2 => {
                    pad += 1;
                    0
                }
                _ => return Err(bad(&format!("unexpected byte {:?}", char::from(c)))),
            };
            if pad > 0 && c != b'=' {
                return Err(bad("data after padding"));
            }
            n = (n << 6) | u32::from(v);
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_like_go() {
        let cases: Vec<(Value, &str)> = vec![
            (json!("a<b>&c"), r#""a\u003cb\u003e\u0026c""#),
            (
                json!("é \u{2028} \u{2029} \"q\" \\ / \u{1}"),
                r#""é \u2028 \u2029 \"q\" \\ / \u0001""#,
            ),
            (json!("\n\r\t\u{8}\u{c}"), r#""\n\r\t\u0008\u000c""#),
            (
                json!([
                    1000.0,
                    1.5,
                    1e21,
                    1e20,
                    0.000001,
                    1e-7,
                    12345678901234567890u64
                ]),
                "[1000,1.5,1e+21,100000000000000000000,0.000001,1e-7,12345678901234567890]",
            ),
            (
                json!({"b": 1, "a": {"y": 2, "x": [3]}}),
                r#"{"b":1,"a":{"y":2,"x":[3]}}"#,
            ),
        ];
        for (v, want) in cases {
            assert_eq!(String::from_utf8(to_vec(&v).unwrap()).unwrap(), want, "{v}");
        }
        let s = sorted(&json!({"b": 1, "a": {"y": 2, "x": [{"d": 1, "c": 2}]}}));
        assert_eq!(
            String::from_utf8(to_vec(&s).unwrap()).unwrap(),
            r#"{"a":{"x":[{"c":2,"d":1}],"y":2},"b":1}"#
        );
    }

    #[test]
    fn base64_round_trip() {
        let cases: [(&[u8], &str); 5] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"{\"x\":1}\n", "eyJ4IjoxfQo="),
        ];
        for (raw, enc) in cases {
            assert_eq!(base64_encode(raw), enc);
            assert_eq!(base64_decode(enc).unwrap(), raw, "{enc}");
        }
        assert_eq!(base64_decode("Zm9v\r\nZm8=").unwrap(), b"foofo");
        for bad in ["Zg", "Zg=a", "Z===", "Zm9v!A==", "Zg==Zg=="] {
            assert!(base64_decode(bad).is_err(), "{bad}");
        }
    }
}
