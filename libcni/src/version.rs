//! VERSION probing of plugins (Documentation/spec-notes.md §7.9) and decoding of the
//! answer with Go's legacy rules.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use pkg::types::{Version, decode};
use pkg::{Error, Result};

use crate::exec::{Args, Exec};

/// What a plugin answered to VERSION.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginVersionInfo {
    /// The version the answer is in.
    pub cni_version: String,
    pub supported_versions: Vec<String>,
}

impl PluginVersionInfo {
    pub fn supports(&self, version: &str) -> bool {
        self.supported_versions.iter().any(|v| v == version)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RawInfo {
    cni_version: String,
    supported_versions: Vec<String>,
}

/// Decode a VERSION answer (Go `PluginDecoder`): `cniVersion` is required;
/// without `supportedVersions` a 0.2.0 answer means 0.1.0 and 0.2.0.
pub fn decode_version_info(bytes: &[u8]) -> Result<PluginVersionInfo> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::decode("decoding version info", e.to_string()))?;
    let raw: RawInfo = decode::decode(&value, "version info")
        .map_err(|e| Error::decode("decoding version info", e.details()))?;
    if raw.cni_version.is_empty() {
        return Err(Error::decode(
            "decoding version info: missing field cniVersion",
            "",
        ));
    }
    let supported_versions = if raw.supported_versions.is_empty() {
        if raw.cni_version != "0.2.0" {
            return Err(Error::decode(
                "decoding version info: missing field supportedVersions",
                "",
            ));
        }
        vec!["0.1.0".to_string(), "0.2.0".to_string()]
    } else {
        raw.supported_versions
    };
    Ok(PluginVersionInfo {
        cni_version: raw.cni_version,
        supported_versions,
    })
}

/// Run VERSION on `plugin`: stdin `{"cniVersion":"1.1.0"}`, dummy netns,
/// ifname and path for plugins built with very old skeletons. A plugin
/// that does not know VERSION at all supports only 0.1.0.
pub fn probe(exec: &dyn Exec, plugin: &Path) -> Result<PluginVersionInfo> {
    let stdin = format!("{{\"cniVersion\":\"{}\"}}", Version::CURRENT);
    let env = Args {
        command: "VERSION",
        netns: "dummy",
        ifname: "dummy",
        path: "dummy".into(),
        ..Default::default()
    }
    .env();
    match exec.exec_plugin(plugin, stdin.as_bytes(), &env) {
        Ok(out) => decode_version_info(&out),
        Err(e) if e.to_string() == "unknown CNI_COMMAND: VERSION" => Ok(PluginVersionInfo {
            cni_version: "0.1.0".into(),
            supported_versions: vec!["0.1.0".into()],
        }),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Documentation/conformance.md item 64 (decoding part): missing cniVersion is an error, a bare
    // 0.2.0 answer means 0.1.0 and 0.2.0
    #[test]
    fn conformance_64_version_info_decoding() {
        let cases: Vec<(&str, std::result::Result<Vec<&str>, &str>)> = vec![
            (
                r#"{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}"#,
                Ok(vec!["0.4.0", "1.0.0", "1.1.0"]),
            ),
            (
                r#"{"CNIVersion":"1.0.0","SupportedVersions":["1.0.0"]}"#,
                Ok(vec!["1.0.0"]),
            ),
            (r#"{"cniVersion":"0.2.0"}"#, Ok(vec!["0.1.0", "0.2.0"])),
            (
                r#"{"cniVersion":"0.2.0","supportedVersions":[]}"#,
                Ok(vec!["0.1.0", "0.2.0"]),
            ),
            (
                r#"{"cniVersion":"1.0.0"}"#,
                Err("decoding version info: missing field supportedVersions"),
            ),
            (
                r#"{"supportedVersions":["1.0.0"]}"#,
                Err("decoding version info: missing field cniVersion"),
            ),
            ("nope", Err("decoding version info")),
            (r#"{"cniVersion":1}"#, Err("decoding version info")),
        ];
        for (input, want) in cases {
            match (decode_version_info(input.as_bytes()), want) {
                (Ok(info), Ok(want)) => assert_eq!(info.supported_versions, want, "{input}"),
                (Err(e), Err(msg)) => {
                    assert_eq!(e.msg(), msg, "{input}");
                    assert_eq!(e.code(), 6);
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }
}
