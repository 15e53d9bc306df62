//! The request configuration a plugin reads on stdin (Documentation/spec-notes.md §2.2, §2.4):
//! the keys every plugin shares. Plugin-specific keys are decoded by each
//! plugin from the same JSON value with `types::decode`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::decode;
use super::result::{CniResult, Dns};
use crate::error::Result;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NetConf {
    pub cni_version: String,
    pub name: String,
    #[serde(rename = "type")]
    pub plugin_type: String,
    pub capabilities: BTreeMap<String, bool>,
    pub ipam: Option<IpamConf>,
    pub dns: Dns,
    pub prev_result: Option<Value>,
    pub runtime_config: Option<Value>,
    pub args: Option<Value>,
    #[serde(rename = "cni.dev/valid-attachments")]
    pub valid_attachments: Option<Vec<GcAttachment>>,
    /// The key's name as tagged at spec-v1.1.0; libcni sends both.
    #[serde(rename = "cni.dev/attachments")]
    pub legacy_attachments: Option<Vec<GcAttachment>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IpamConf {
    #[serde(rename = "type")]
    pub ipam_type: String,
}

/// One still-valid attachment named by the runtime in a GC request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(default)]
pub struct GcAttachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

impl NetConf {
    pub fn from_value(value: &Value) -> Result<NetConf> {
        decode::decode(value, "network config")
    }

    /// `prevResult` parsed and converted to the canonical shape; a
    /// `prevResult` without `cniVersion` is read as the request's version.
    pub fn parse_prev_result(&self) -> Result<Option<CniResult>> {
        match &self.prev_result {
            None => Ok(None),
            Some(v) => CniResult::from_value(v, &self.cni_version)
                .map(Some)
                .map_err(|e| e.context("failed to parse prevResult")),
        }
    }

    /// `prevResult` for a cleanup (DEL), where it may only narrow what is
    /// removed: one that does not parse is reported on stderr and treated
    /// as absent, so that it cannot block the cleanup.
    pub fn prev_result_for_cleanup(&self) -> Option<CniResult> {
        self.parse_prev_result().unwrap_or_else(|e| {
            eprintln!("warning: ignoring prevResult on DEL: {e}");
            None
        })
    }

    /// The GC set: `cni.dev/valid-attachments`, else the legacy key. `None`
    /// when the runtime sent neither (then every attachment is stale).
    pub fn gc_valid_attachments(&self) -> Option<&[GcAttachment]> {
        self.valid_attachments
            .as_deref()
            .or(self.legacy_attachments.as_deref())
    }

    pub fn ipam_type(&self) -> Option<&str> {
        self.ipam
            .as_ref()
            .map(|i| i.ipam_type.as_str())
            .filter(|t| !t.is_empty())
    }
}

/// `args.cni` of the config (CONVENTIONS.md): the keys the suite reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConfArgs {
    pub cni: CniConfArgs,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CniConfArgs {
    pub ips: Vec<String>,
    pub mac: String,
}

impl ConfArgs {
    /// `args` of the config; unknown content is ignored, as the spec asks,
    /// but a known key of the wrong type is an error.
    pub fn from_conf(conf: &NetConf) -> Result<ConfArgs> {
        match &conf.args {
            None => Ok(ConfArgs::default()),
            Some(v) => decode::decode(v, "args"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_common_keys_case_insensitively() {
        let v = json!({
            "cniVersion": "1.1.0", "Name": "net", "type": "bridge",
            "capabilities": {"ips": true}, "IPAM": {"Type": "host-local", "subnet": "x"},
            "cni.dev/valid-attachments": [{"containerID": "c1", "ifname": "eth0"}],
            "cni.dev/attachments": [{"containerID": "c2", "ifname": "eth0"}],
            "unknownKey": [1, 2]
        });
        let c = NetConf::from_value(&v).unwrap();
        assert_eq!(c.name, "net");
        assert_eq!(c.ipam_type(), Some("host-local"));
        assert_eq!(c.capabilities.get("ips"), Some(&true));
        assert_eq!(c.gc_valid_attachments().unwrap()[0].container_id, "c1");
    }

    #[test]
    fn gc_key_fallback_and_null() {
        let c = NetConf::from_value(
            &json!({"cni.dev/attachments": [{"containerID": "c2", "ifname": "e"}]}),
        )
        .unwrap();
        assert_eq!(c.gc_valid_attachments().unwrap()[0].container_id, "c2");
        let c = NetConf::from_value(&json!({"cni.dev/valid-attachments": null})).unwrap();
        assert!(c.gc_valid_attachments().is_none());
        let c = NetConf::from_value(&json!({"cni.dev/valid-attachments": []})).unwrap();
        assert_eq!(c.gc_valid_attachments().map(|a| a.len()), Some(0));
    }

    #[test]
    fn prev_result_takes_request_version() {
        let v = json!({"cniVersion": "0.4.0", "name": "n",
            "prevResult": {"ips": [{"version": "4", "address": "10.0.0.2/24"}]}});
        let c = NetConf::from_value(&v).unwrap();
        let r = c.parse_prev_result().unwrap().unwrap();
        assert_eq!(r.cni_version, "0.4.0");
        assert_eq!(r.ips.len(), 1);
    }

    #[test]
    fn conf_args() {
        let c = NetConf::from_value(
            &json!({"args": {"cni": {"ips": ["10.0.0.5"], "other": 1}, "x": 2}}),
        )
        .unwrap();
        assert_eq!(ConfArgs::from_conf(&c).unwrap().cni.ips, vec!["10.0.0.5"]);
        let c = NetConf::from_value(&json!({"args": {"cni": {"ips": "10.0.0.5"}}})).unwrap();
        assert_eq!(ConfArgs::from_conf(&c).unwrap_err().code(), 6);
    }
}
