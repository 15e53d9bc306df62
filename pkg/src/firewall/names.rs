//! Go's naming helpers (`pkg/utils`), byte for byte: chains and comments made
//! by the Go plugins must be found by ours and the reverse. Also what
//! iptables accepts as a chain name an operator chooses.

use sha2::{Digest, Sha512};

use crate::error::{Error, Result};

/// iptables allows 28 usable characters in a chain name.
const MAX_CHAIN_LEN: usize = 28;
const CHAIN_PREFIX: &str = "CNI-";

/// The first `len` hex characters of sha512(`s`); at most 128.
pub fn hash_hex(s: &str, len: usize) -> String {
    let mut hex = hex(&Sha512::digest(s.as_bytes()));
    hex.truncate(len);
    hex
}

/// `CNI-` followed by the hash of `name + id`, 28 characters.
pub fn format_chain_name(name: &str, id: &str) -> String {
    format_chain_name_with_prefix(name, id, "")
}

/// `CNI-<prefix>` followed by the hash of `name + id`, 28 characters. Go
/// panics on a prefix of 24 characters or more; here the prefix is cut.
pub fn format_chain_name_with_prefix(name: &str, id: &str, prefix: &str) -> String {
    let mut chain = format!(
        "{CHAIN_PREFIX}{prefix}{}",
        hash_hex(&format!("{name}{id}"), 128)
    );
    let mut cut = MAX_CHAIN_LEN;
    while !chain.is_char_boundary(cut) {
        cut -= 1;
    }
    chain.truncate(cut);
    chain
}

/// A user-chosen iptables chain name (portmap's `externalSetMarkChain`,
/// the firewall plugin's `iptablesAdminChainName`) that iptables accepts
/// and that cannot break out of a rule.
pub fn validate_chain_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CHAIN_LEN
        && !name.starts_with(['-', '!'])
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\'');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_config(
            format!("invalid iptables chain name {name:?}"),
            "chain names have 1 to 28 printable characters, no quotes, and do not start with '-' or '!'",
        ))
    }
}

/// `name: "<name>" id: "<id>"`, quoted like Go's `%q`.
pub fn format_comment(name: &str, id: &str) -> String {
    format!("name: {} id: {}", go_quote(name), go_quote(id))
}

/// The inverse of [`format_comment`]: `(name, id)`, or None for any other text.
pub(crate) fn parse_comment(comment: &str) -> Option<(String, String)> {
    let rest = comment.strip_prefix("name: ")?;
    let (name, rest) = go_unquote_prefix(rest)?;
    let rest = rest.strip_prefix(" id: ")?;
    let (id, rest) = go_unquote_prefix(rest)?;
    rest.is_empty().then_some((name, id))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Go's `strconv.Quote`. Exact for ASCII (all valid CNI names and IDs);
/// for other text Go's `unicode.IsPrint` is approximated by "not a control,
/// not a non-space separator, not a common format character".
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format_char = matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{feff}');
    !(c.is_control() || c.is_whitespace() || format_char)
}

/// Reads one Go double-quoted string from the start of `s`; returns it and
/// the text after the closing quote.
pub fn go_unquote_prefix(s: &str) -> Option<(String, &str)> {
    let mut chars = s.strip_prefix('"')?.char_indices();
    let body = &s[1..];
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &body[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' | '"' | '\'' => Some(e),
                    _ => None,
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    continue;
                }
                let (digits, radix) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    _ => return None,
                };
                let mut text = String::new();
                if radix == 8 {
                    text.push(e);
                }
                for _ in 0..digits {
                    text.push(chars.next()?.1);
                }
                let value = u32::from_str_radix(&text, radix).ok()?;
                out.push(char::from_u32(value)?);
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_names_match_go() {
        // Values from Go's pkg/utils tests and `printf '%s' ... | sha512sum`.
        let cases = [
            ("test", "1234", "", "CNI-2bbe0c48b91a7d1b8a6753a8"),
            (
                "testalongnamethatdoesnotmakesense",
                "1234",
                "",
                "CNI-374f33fe84ab0ed84dcdebe3",
            ),
            ("mynet", "abc123", "", "CNI-70a29d9dc18bc4d652ea5d59"),
            ("test", "1234", "PREFIX-", "CNI-PREFIX-2bbe0c48b91a7d1b8"),
            (
                "testalongnamethatdoesnotmakesense",
                "1234",
                "PREFIX-",
                "CNI-PREFIX-374f33fe84ab0ed84",
            ),
            ("test", "1234", "DN-", "CNI-DN-2bbe0c48b91a7d1b8a675"),
            (
                "test",
                "1234",
                "A-PREFIX-LONGER-THAN-TWENTY-FOUR",
                "CNI-A-PREFIX-LONGER-THAN-TWE",
            ),
        ];
        for (name, id, prefix, want) in cases {
            let got = format_chain_name_with_prefix(name, id, prefix);
            assert_eq!(got, want, "{name} {id} {prefix}");
            assert_eq!(got.len(), 28);
            if prefix.is_empty() {
                assert_eq!(format_chain_name(name, id), want);
            }
        }
    }

    #[test]
    fn hashes_match_go() {
        let cases = [
            ("mynet", 16, "d23676b4f2d9fe04"),
            ("eth0:abc123", 16, "ebce0e3dd4dafae3"),
            ("test1234", 24, "2bbe0c48b91a7d1b8a6753a8"),
            ("x", 0, ""),
        ];
        for (s, len, want) in cases {
            assert_eq!(hash_hex(s, len), want);
        }
        assert_eq!(hash_hex("x", 500).len(), 128);
    }

    #[test]
    fn comments_quote_like_go() {
        let cases = [
            ("mynet", "abc123", r#"name: "mynet" id: "abc123""#),
            ("", "", r#"name: "" id: """#),
            (r#"a"b"#, r"c\d", r#"name: "a\"b" id: "c\\d""#),
            (
                "tab\there",
                "nl\n\u{1}\u{7f}",
                r#"name: "tab\there" id: "nl\n\x01\x7f""#,
            ),
            (
                "héllo",
                "\u{a0}\u{feff}",
                r#"name: "héllo" id: "\u00a0\ufeff""#,
            ),
        ];
        for (name, id, want) in cases {
            let got = format_comment(name, id);
            assert_eq!(got, want);
            assert_eq!(
                parse_comment(&got),
                Some((name.to_string(), id.to_string()))
            );
        }
    }

    #[test]
    fn chain_names_iptables_accepts() {
        validate_chain_name("CNI-ADMIN").unwrap();
        validate_chain_name(&"A".repeat(28)).unwrap();
        for bad in ["", "-j", "!x", "a b", "a\"b", "a'b", &"A".repeat(29)] {
            assert_eq!(validate_chain_name(bad).unwrap_err().code(), 7, "{bad:?}");
        }
    }

    #[test]
    fn foreign_comments_do_not_parse() {
        let cases = [
            "",
            "CNI portfwd requiring masquerade",
            r#"name: "a" id: "b" extra"#,
            r#"name: "a" id: "b"#,
            r#"name: a id: "b""#,
            r#"name: "a\q" id: "b""#,
        ];
        for c in cases {
            assert_eq!(parse_comment(c), None, "{c}");
        }
        assert_eq!(
            parse_comment(r#"name: "\101\x42\u0043" id: "\U0001f600""#),
            Some(("ABC".into(), "😀".into()))
        );
    }
}
