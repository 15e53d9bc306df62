//! vlan's configuration, decoded and validated before anything is
//! touched. The master is resolved later (`pkg::master`: in the host, or
//! in the container with `linkInContainer`, the MTU checked against it).

use serde::Deserialize;

use pkg::master::Master;
use pkg::skel::CmdArgs;
use pkg::types::{Dns, decode};
use pkg::{Error, Result};

/// The largest VLAN id: 4095 is reserved by 802.1Q.
const MAX_VLAN_ID: i64 = 4094;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    master: String,
    vlan_id: i64,
    mtu: i64,
    link_in_container: bool,
    dns: Dns,
}

#[derive(Debug)]
pub struct VlanConf {
    /// `master` (required), `mtu` and `linkInContainer`.
    pub master: Master,
    pub vlan_id: u16,
    pub dns: Dns,
}

impl VlanConf {
    /// Everything that needs no kernel: for ADD, CHECK and STATUS.
    pub fn load(args: &CmdArgs) -> Result<VlanConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        if raw.master.is_empty() {
            return Err(Error::invalid_config(
                "\"master\" field is required. It specifies the host interface name to create the VLAN for",
                "",
            ));
        }
        let vlan_id = u16::try_from(raw.vlan_id)
            .ok()
            .filter(|id| i64::from(*id) <= MAX_VLAN_ID)
            .ok_or_else(|| {
                Error::invalid_config(
                    format!(
                        "invalid VLAN ID {} (must be between 0 and {MAX_VLAN_ID} inclusive)",
                        raw.vlan_id
                    ),
                    "",
                )
            })?;
        let master = Master::new(raw.master, raw.mtu, raw.link_in_container)?;
        raw.dns.check("dns")?;
        if args.conf.ipam_type().is_none() {
            return Err(Error::invalid_config(
                "vlan interface requires an IPAM configuration",
                "set \"ipam\" with a \"type\", such as host-local or static",
            ));
        }
        Ok(VlanConf {
            master,
            vlan_id,
            dns: raw.dns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::{Value, json};

    fn args(config: Value) -> CmdArgs {
        CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: String::new(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: String::new(),
            path: String::new(),
            conf: NetConf::from_value(&config).unwrap(),
            stdin: config.to_string().into_bytes(),
            config,
            version: Version::V1_0_0,
            env: Vec::new(),
        }
    }

    fn conf(extra: Value) -> Value {
        let mut c = json!({"cniVersion": "1.0.0", "name": "n", "type": "vlan",
                           "master": "eth1", "vlanId": 100, "ipam": {"type": "static"}});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    #[test]
    fn valid_configs() {
        let cases = [
            (json!({}), "eth1", 100, 0, false),
            (json!({"vlanId": 0}), "eth1", 0, 0, false),
            (json!({"vlanId": 4094}), "eth1", 4094, 0, false),
            (json!({"vlanId": null}), "eth1", 0, 0, false),
            (
                json!({"VlanID": 7, "MTU": 1400, "linkInContainer": true}),
                "eth1",
                7,
                1400,
                true,
            ),
            (json!({"master": "bond0.1"}), "bond0.1", 100, 0, false),
        ];
        for (extra, master, id, mtu, inside) in cases {
            let c = VlanConf::load(&args(conf(extra.clone()))).unwrap();
            assert_eq!(c.master.name, master, "{extra}");
            assert_eq!(c.vlan_id, id, "{extra}");
            assert_eq!(c.master.mtu, mtu, "{extra}");
            assert_eq!(c.master.in_container, inside, "{extra}");
        }
        let c =
            VlanConf::load(&args(conf(json!({"dns": {"nameservers": ["10.1.0.53"]}})))).unwrap();
        assert_eq!(c.dns.nameservers, ["10.1.0.53"]);
    }

    #[test]
    fn invalid_configs() {
        let cases = [
            (json!({"master": ""}), 7, "\"master\" field is required"),
            (json!({"master": null}), 7, "\"master\" field is required"),
            (
                json!({"vlanId": 4095}),
                7,
                "invalid VLAN ID 4095 (must be between 0 and 4094 inclusive)",
            ),
            (json!({"vlanId": 5000}), 7, "invalid VLAN ID 5000"),
            (json!({"vlanId": -1}), 7, "invalid VLAN ID -1"),
            (json!({"vlanId": 70000}), 7, "invalid VLAN ID 70000"),
            (json!({"vlanId": "100"}), 6, "network config"),
            (json!({"vlanId": 1.5}), 6, "network config"),
            (json!({"master": "a/b"}), 7, "invalid master name \"a/b\""),
            (json!({"master": 5}), 6, "network config"),
            (
                json!({"dns": {"nameservers": ["10.1.0.53\nnameserver 10.6.6.6"]}}),
                7,
                "invalid dns.nameservers[0]",
            ),
            (
                json!({"ipam": {}}),
                7,
                "vlan interface requires an IPAM configuration",
            ),
            (
                json!({"ipam": null}),
                7,
                "vlan interface requires an IPAM configuration",
            ),
        ];
        for (extra, code, msg) in cases {
            let e = VlanConf::load(&args(conf(extra.clone()))).unwrap_err();
            assert_eq!(e.code(), code, "{extra}: {e}");
            assert!(e.msg().contains(msg), "{extra}: {e}");
        }
    }
}
