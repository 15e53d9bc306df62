//! The runtime's parameters for one attachment (Go `RuntimeConf`,
//! Documentation/spec-notes.md §7.2) and the request each plugin of a chain receives
//! (§2.4): the plugin object with `name`, `cniVersion`, `prevResult` and
//! `runtimeConfig` inserted or replaced, nothing else touched.

use serde_json::{Map, Value};

use pkg::{Error, Result};

use crate::conf::PluginConfig;

/// What identifies an attachment and what the runtime passes besides the
/// network configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeConf {
    pub container_id: String,
    /// Path of the container's network namespace (`CNI_NETNS`).
    pub netns: String,
    /// Interface name inside the container (`CNI_IFNAME`).
    pub ifname: String,
    /// `CNI_ARGS` as ordered pairs, rendered `k=v;k=v`.
    pub args: Vec<(String, String)>,
    /// Capability arguments: each goes into `runtimeConfig` of the plugins
    /// that declare the capability.
    pub capability_args: Map<String, Value>,
}

impl RuntimeConf {
    pub fn new(
        container_id: impl Into<String>,
        netns: impl Into<String>,
        ifname: impl Into<String>,
    ) -> RuntimeConf {
        RuntimeConf {
            container_id: container_id.into(),
            netns: netns.into(),
            ifname: ifname.into(),
            ..Default::default()
        }
    }

    /// The `CNI_ARGS` value: `k=v` pairs joined by `;`.
    pub fn args_string(&self) -> String {
        self.args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// `runtimeConfig` for `plugin`: every capability it enables for which
    /// the runtime has a value, in the order the plugin lists them.
    pub fn runtime_config_for(&self, plugin: &PluginConfig) -> Map<String, Value> {
        plugin
            .capabilities
            .iter()
            .filter_map(|c| self.capability_args.get(c).map(|v| (c.clone(), v.clone())))
            .collect()
    }
}

/// Parse `K=V;K=V` as cnitool does (Documentation/spec-notes.md §8): every pair needs a
/// non-empty key, a non-empty value and exactly one `=`. An empty string
/// has no pairs.
pub fn parse_cni_args(s: &str) -> Result<Vec<(String, String)>> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(';')
        .map(
            |pair| match pair.split('=').collect::<Vec<_>>().as_slice() {
                [k, v] if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
                _ => Err(Error::invalid_env(
                    format!("invalid CNI_ARGS pair {pair:?}"),
                    "",
                )),
            },
        )
        .collect()
}

/// The request bytes for one plugin of a chain (ADD, CHECK, DEL):
/// `name` and `cniVersion` of the network, `prevResult` when given,
/// `runtimeConfig` when the capability intersection is not empty (an empty
/// one leaves a `runtimeConfig` written in the file alone, as Go does).
pub fn build_request(
    network: &str,
    version: &str,
    plugin: &PluginConfig,
    prev_result: Option<&Value>,
    rt: Option<&RuntimeConf>,
) -> Result<Vec<u8>> {
    let mut conf = plugin.conf.clone();
    conf.insert("name".into(), Value::String(network.into()));
    conf.insert("cniVersion".into(), Value::String(version.into()));
    if let Some(prev) = prev_result {
        conf.insert("prevResult".into(), prev.clone());
    }
    if let Some(rt) = rt {
        let rc = rt.runtime_config_for(plugin);
        if !rc.is_empty() {
            conf.insert("runtimeConfig".into(), Value::Object(rc));
        }
    }
    encode(&conf)
}

/// The request for GC and STATUS: only `name`, `cniVersion` and the
/// given extra keys (GC's attachment lists).
pub fn build_plain_request(
    network: &str,
    version: &str,
    plugin: &PluginConfig,
    extra: &[(&str, Value)],
) -> Result<Vec<u8>> {
    let mut conf = plugin.conf.clone();
    conf.insert("name".into(), Value::String(network.into()));
    conf.insert("cniVersion".into(), Value::String(version.into()));
    for (k, v) in extra {
        conf.insert((*k).to_string(), v.clone());
    }
    encode(&conf)
}

fn encode(conf: &Map<String, Value>) -> Result<Vec<u8>> {
    serde_json::to_vec(conf).map_err(|e| Error::internal(format!("encoding plugin request: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cni_args_pairs() {
        type Pairs = Vec<(&'static str, &'static str)>;
        let cases: Vec<(&str, std::result::Result<Pairs, &str>)> = vec![
            ("", Ok(vec![])),
            ("A=1", Ok(vec![("A", "1")])),
            (
                "IgnoreUnknown=1;K8S_POD_NAME=web",
                Ok(vec![("IgnoreUnknown", "1"), ("K8S_POD_NAME", "web")]),
            ),
            ("A=1;", Err("invalid CNI_ARGS pair \"\"")),
            ("A", Err("invalid CNI_ARGS pair \"A\"")),
            ("A=", Err("invalid CNI_ARGS pair \"A=\"")),
            ("=1", Err("invalid CNI_ARGS pair \"=1\"")),
            ("A=1=2", Err("invalid CNI_ARGS pair \"A=1=2\"")),
        ];
        for (input, want) in cases {
            match (parse_cni_args(input), want) {
                (Ok(got), Ok(want)) => {
                    let got: Vec<(&str, &str)> =
                        got.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    assert_eq!(got, want, "{input}");
                }
                (Err(e), Err(msg)) => {
                    assert_eq!(e.msg(), msg, "{input}");
                    assert_eq!(e.code(), 4);
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
        let mut rt = RuntimeConf::new("c", "/n", "eth0");
        rt.args = parse_cni_args("A=1;B=x/y").unwrap();
        assert_eq!(rt.args_string(), "A=1;B=x/y");
    }

    // Documentation/conformance.md item 45: name and cniVersion overwritten, every other key kept
    // with its value (and exact integers)
    #[test]
    fn conformance_45_request_keeps_plugin_keys() {
        let plugin = PluginConfig::from_value(json!({
            "type": "bridge", "name": "old", "cniVersion": "0.1.0",
            "big": 18446744073709551615u64, "neg": -9007199254740993i64,
            "nested": {"b": [1, 2.5, "x"], "a": null}, "capabilities": {"mac": true},
            "args": {"cni": {"ips": ["10.0.0.5"]}}
        }))
        .unwrap();
        let bytes = build_request("net", "1.1.0", &plugin, None, None).unwrap();
        let sent: Value = serde_json::from_slice(&bytes).unwrap();
        let mut want = Value::Object(plugin.conf.clone());
        want["name"] = json!("net");
        want["cniVersion"] = json!("1.1.0");
        assert_eq!(sent, want);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("18446744073709551615"), "{text}");
        assert!(text.contains("-9007199254740993"), "{text}");
        // keys stay where they were written
        assert!(
            text.starts_with("{\"type\":\"bridge\",\"name\":\"net\""),
            "{text}"
        );
    }

    // Documentation/conformance.md item 46: runtimeConfig holds exactly the enabled capabilities the
    // runtime has values for; none at all means no key
    #[test]
    fn conformance_46_runtime_config_intersection() {
        let mut rt = RuntimeConf::new("c", "/n", "eth0");
        rt.capability_args = json!({
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
            "ips": ["10.0.0.5/24"], "mac": "0e:00:00:00:00:01", "unused": 1
        })
        .as_object()
        .unwrap()
        .clone();
        let cases = vec![
            (
                json!({"type": "portmap", "capabilities": {"portMappings": true}}),
                Some(
                    json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}),
                ),
            ),
            (
                json!({"type": "x", "capabilities": {"ips": true, "mac": false, "bandwidth": true}}),
                Some(json!({"ips": ["10.0.0.5/24"]})),
            ),
            (
                json!({"type": "x", "capabilities": {"mac": true, "ips": true}}),
                Some(json!({"mac": "0e:00:00:00:00:01", "ips": ["10.0.0.5/24"]})),
            ),
            (
                json!({"type": "x", "capabilities": {"bandwidth": true}}),
                None,
            ),
            (json!({"type": "x"}), None),
            // a static runtimeConfig in the file is kept when nothing is injected
            (
                json!({"type": "x", "runtimeConfig": {"static": 1}}),
                Some(json!({"static": 1})),
            ),
            // and replaced when something is
            (
                json!({"type": "x", "runtimeConfig": {"static": 1}, "capabilities": {"mac": true}}),
                Some(json!({"mac": "0e:00:00:00:00:01"})),
            ),
        ];
        for (plugin, want) in cases {
            let p = PluginConfig::from_value(plugin.clone()).unwrap();
            let sent: Value =
                serde_json::from_slice(&build_request("n", "1.0.0", &p, None, Some(&rt)).unwrap())
                    .unwrap();
            assert_eq!(sent.get("runtimeConfig"), want.as_ref(), "{plugin}");
        }
    }

    #[test]
    fn prev_result_and_plain_requests() {
        let p = PluginConfig::from_value(json!({"type": "x", "prevResult": {"old": 1}})).unwrap();
        let prev = json!({"cniVersion": "1.0.0", "ips": []});
        let sent: Value =
            serde_json::from_slice(&build_request("n", "1.0.0", &p, Some(&prev), None).unwrap())
                .unwrap();
        assert_eq!(sent["prevResult"], prev);
        let sent: Value = serde_json::from_slice(
            &build_plain_request(
                "n",
                "1.1.0",
                &p,
                &[("cni.dev/valid-attachments", json!([]))],
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            sent,
            json!({"type": "x", "prevResult": {"old": 1}, "name": "n", "cniVersion": "1.1.0",
                   "cni.dev/valid-attachments": []})
        );
    }
}
