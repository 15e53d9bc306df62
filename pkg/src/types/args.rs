//! `CNI_ARGS` (`K1=V1;K2=V2`), parsed with Go's `types.LoadArgs` rules
//! (Documentation/spec-notes.md §5.3): every piece needs exactly one `=`, keys are
//! case-sensitive, unknown keys fail unless `IgnoreUnknown` is true, later
//! duplicates win.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// Keys every plugin knows, whatever else it reads.
pub const IGNORE_UNKNOWN: &str = "IgnoreUnknown";
/// Keys Kubernetes CRI runtimes send; plugins that know them accept them.
pub const K8S_KEYS: [&str; 4] = [
    "K8S_POD_NAMESPACE",
    "K8S_POD_NAME",
    "K8S_POD_INFRA_CONTAINER_ID",
    "K8S_POD_UID",
];

/// Parsed `CNI_ARGS`.
///
/// ```
/// use pkg::types::CniArgs;
///
/// let a = CniArgs::parse("IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.1.0.9", &["IP"])?;
/// assert_eq!(a.get("IP"), Some("10.1.0.9"));
/// assert_eq!(CniArgs::parse("K8S_POD_NAME=web", &["IP"]).unwrap_err().code(), 4);
/// # Ok::<(), pkg::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniArgs {
    pairs: Vec<(String, String)>,
}

impl CniArgs {
    /// Parse `s`, accepting only the keys in `known` (plus `IgnoreUnknown`).
    pub fn parse(s: &str, known: &[&str]) -> Result<CniArgs> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut unknown: Vec<&str> = Vec::new();
        let mut ignore_unknown = false;
        if s.is_empty() {
            return Ok(CniArgs { pairs });
        }
        for piece in s.split(';') {
            let kv: Vec<&str> = piece.split('=').collect();
            let [key, value] = kv.as_slice() else {
                return Err(bad_args(format!("ARGS: invalid pair {piece:?}")));
            };
            if *key == IGNORE_UNKNOWN {
                ignore_unknown = parse_bool(value)
                    .ok_or_else(|| bad_args(format!("ARGS: error parsing value of pair {piece:?}: boolean unmarshal error: invalid input {value}")))?;
                continue;
            }
            if !known.contains(key) {
                unknown.push(piece);
                continue;
            }
            pairs.retain(|(k, _)| k != key);
            pairs.push((key.to_string(), value.to_string()));
        }
        if !unknown.is_empty() && !ignore_unknown {
            let quoted: Vec<String> = unknown.iter().map(|p| format!("{p:?}")).collect();
            return Err(bad_args(format!(
                "ARGS: unknown args [{}]",
                quoted.join(" ")
            )));
        }
        Ok(CniArgs { pairs })
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A key whose value must be an IP address (`IP=`, `GATEWAY=`).
    pub fn get_ip(&self, key: &str) -> Result<Option<IpAddr>> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                bad_args(format!(
                    "ARGS: error parsing value of pair \"{key}={v}\": invalid IP address"
                ))
            }),
        }
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// Go's `UnmarshallableBool`: `1`/`true` and `0`/`false`, any case.
fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

fn bad_args(msg: String) -> Error {
    Error::invalid_env(msg, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Documentation/conformance.md item 33: unknown keys fail unless IgnoreUnknown, `=` exactly once, IP/MAC recognised
    #[test]
    fn conformance_33_cni_args() {
        struct Case {
            input: &'static str,
            want: std::result::Result<Vec<(&'static str, &'static str)>, &'static str>,
        }
        let cases = [
            Case {
                input: "",
                want: Ok(vec![]),
            },
            Case {
                input: "IP=10.0.0.5",
                want: Ok(vec![("IP", "10.0.0.5")]),
            },
            Case {
                input: "IP=10.0.0.5;MAC=0e:00:00:00:00:01",
                want: Ok(vec![("IP", "10.0.0.5"), ("MAC", "0e:00:00:00:00:01")]),
            },
            Case {
                input: "IP=10.0.0.5;IP=10.0.0.6",
                want: Ok(vec![("IP", "10.0.0.6")]),
            },
            Case {
                input: "IgnoreUnknown=1;K8S_POD_NAME=web;IP=10.0.0.5",
                want: Ok(vec![("IP", "10.0.0.5")]),
            },
            Case {
                input: "K8S_POD_NAME=web;IgnoreUnknown=TRUE",
                want: Ok(vec![]),
            },
            Case {
                input: "K8S_POD_NAME=web",
                want: Err("ARGS: unknown args [\"K8S_POD_NAME=web\"]"),
            },
            Case {
                input: "IgnoreUnknown=0;FOO=bar",
                want: Err("ARGS: unknown args [\"FOO=bar\"]"),
            },
            Case {
                input: "IP=10.0.0.5;",
                want: Err("ARGS: invalid pair \"\""),
            },
            Case {
                input: "IP",
                want: Err("ARGS: invalid pair \"IP\""),
            },
            Case {
                input: "IP=a=b",
                want: Err("ARGS: invalid pair \"IP=a=b\""),
            },
            Case {
                input: "ip=10.0.0.5",
                want: Err("ARGS: unknown args [\"ip=10.0.0.5\"]"),
            },
            Case {
                input: "IgnoreUnknown=yes",
                want: Err(
                    "ARGS: error parsing value of pair \"IgnoreUnknown=yes\": boolean unmarshal error: invalid input yes",
                ),
            },
        ];
        for c in cases {
            let got = CniArgs::parse(c.input, &["IP", "MAC"]);
            match (got, c.want) {
                (Ok(args), Ok(want)) => {
                    let pairs: Vec<(&str, &str)> = args
                        .pairs()
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect();
                    assert_eq!(pairs, want, "{}", c.input);
                }
                (Err(e), Err(msg)) => {
                    assert_eq!(e.msg(), msg, "{}", c.input);
                    assert_eq!(e.code(), 4);
                }
                (got, want) => panic!("{}: got {got:?}, want {want:?}", c.input),
            }
        }
    }

    #[test]
    fn typed_ip() {
        let a = CniArgs::parse("IP=10.0.0.5;GATEWAY=nope", &["IP", "GATEWAY"]).unwrap();
        assert_eq!(a.get_ip("IP").unwrap(), Some("10.0.0.5".parse().unwrap()));
        assert!(a.get_ip("GATEWAY").is_err());
        assert_eq!(a.get_ip("MISSING").unwrap(), None);
    }
}
