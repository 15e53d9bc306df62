//! tap's configuration: decoded and validated before anything is touched.
//! The bridge is looked up in the container later (ADD), and SELinux is
//! asked about only when a context is configured.

use serde::Deserialize;
use serde_json::Value;

use pkg::skel::CmdArgs;
use pkg::types::{CniArgs, Dns, decode, parse_mac};
use pkg::{Error, Result};

/// The MTU range of a tap: the kernel's ETH_MIN_MTU, and the tun
/// driver's 65535 less the Ethernet header.
pub const MIN_MTU: i64 = 68;
pub const MAX_MTU: i64 = 65521;

/// `(uid_t)-1`: the kernel's "no owner", which a config cannot ask for by
/// number (leave `owner` out instead).
const NO_ID: u64 = u32::MAX as u64;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    mac: String,
    mtu: i64,
    multi_queue: bool,
    owner: Option<Value>,
    group: Option<Value>,
    selinux_context: String,
    bridge: String,
    dns: Dns,
    runtime_config: MacRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MacRaw {
    mac: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapConf {
    /// `mac`, then `CNI_ARGS` `MAC=`, then `runtimeConfig.mac`; the last
    /// one set wins (Go's tap reads no `args.cni.mac`).
    pub mac: Option<[u8; 6]>,
    /// 0: the kernel's default (1500).
    pub mtu: u32,
    pub multi_queue: bool,
    pub owner: Option<u32>,
    pub group: Option<u32>,
    pub selinux_context: Option<String>,
    /// A bridge inside the container netns to enslave the tap to.
    pub bridge: Option<String>,
    pub dns: Dns,
    pub layer3: bool,
}

impl TapConf {
    /// Everything that needs no kernel: for ADD and CHECK.
    pub fn load(args: &CmdArgs) -> Result<TapConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mtu = if raw.mtu == 0 {
            0
        } else if (MIN_MTU..=MAX_MTU).contains(&raw.mtu) {
            raw.mtu as u32
        } else {
            return Err(Error::invalid_config(
                format!(
                    "invalid MTU {}, must be 0 or between {MIN_MTU} and {MAX_MTU}",
                    raw.mtu
                ),
                "0 keeps the kernel's default",
            ));
        };
        let mut mac = raw.mac.clone();
        let from_env = CniArgs::parse(&args.args, &["MAC"])?;
        for m in [
            from_env.get("MAC").unwrap_or_default(),
            &raw.runtime_config.mac,
        ] {
            if !m.is_empty() {
                mac = m.to_string();
            }
        }
        let mac = if mac.is_empty() {
            None
        } else {
            Some(parse_mac(&mac)?)
        };
        let bridge = if raw.bridge.is_empty() {
            None
        } else {
            pkg::validate::interface_name(&raw.bridge).map_err(|e| {
                Error::invalid_config(
                    format!("invalid bridge name {:?}: {}", raw.bridge, e.msg()),
                    e.details(),
                )
            })?;
            Some(raw.bridge)
        };
        let selinux_context = if raw.selinux_context.is_empty() {
            None
        } else if raw.selinux_context.chars().any(char::is_control) {
            return Err(Error::invalid_config(
                format!("invalid selinuxContext {:?}", raw.selinux_context),
                "an SELinux context has no control characters, such as system_u:system_r:container_t:s0",
            ));
        } else {
            Some(raw.selinux_context)
        };
        raw.dns.check("dns")?;
        Ok(TapConf {
            mac,
            mtu,
            multi_queue: raw.multi_queue,
            owner: id("owner", "user", raw.owner)?,
            group: id("group", "group", raw.group)?,
            selinux_context,
            bridge,
            dns: raw.dns,
            layer3: args.conf.ipam_type().is_some(),
        })
    }
}

/// `owner` or `group`: a number the kernel can store as an owner, or
/// absent. A name is refused: the tap's owner is a number in the kernel,
/// and a name would be resolved in the plugin's files, not the VM
/// runtime's.
fn id(key: &str, what: &str, v: Option<Value>) -> Result<Option<u32>> {
    let Some(v) = v else {
        return Ok(None);
    };
    match v.as_u64() {
        Some(n) if n < NO_ID => Ok(Some(n as u32)),
        _ => Err(Error::invalid_config(
            format!(
                "invalid {key} {v}: must be a numeric {what} ID from 0 to {}",
                NO_ID - 1
            ),
            format!("leave \"{key}\" out for a tap any {what} with CAP_NET_ADMIN may open"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::json;

    fn args(config: Value, cni_args: &str) -> CmdArgs {
        CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: String::new(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: cni_args.into(),
            path: String::new(),
            conf: NetConf::from_value(&config).unwrap(),
            stdin: config.to_string().into_bytes(),
            config,
            version: Version::V1_0_0,
            env: Vec::new(),
        }
    }

    fn conf(extra: Value) -> Value {
        let mut c = json!({"cniVersion": "1.0.0", "name": "n", "type": "tap"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    #[test]
    fn valid_configs() {
        let c = TapConf::load(&args(conf(json!({})), "")).unwrap();
        assert_eq!(
            c,
            TapConf {
                mac: None,
                mtu: 0,
                multi_queue: false,
                owner: None,
                group: None,
                selinux_context: None,
                bridge: None,
                dns: Dns::default(),
                layer3: false,
            }
        );
        let c = TapConf::load(&args(
            conf(
                json!({"MultiQueue": true, "mtu": 9000, "owner": 1000, "group": 0,
                        "selinuxcontext": "system_u:system_r:container_t:s0",
                        "bridge": "br0", "ipam": {"type": "static"},
                        "owner2": "ignored", "args": {"cni": {"mac": "ignored"}}}),
            ),
            "",
        ))
        .unwrap();
        assert!(c.multi_queue && c.layer3);
        assert_eq!((c.mtu, c.owner, c.group), (9000, Some(1000), Some(0)));
        assert_eq!(c.bridge.as_deref(), Some("br0"));
        assert_eq!(
            c.selinux_context.as_deref(),
            Some("system_u:system_r:container_t:s0")
        );
        for (mtu, want) in [(68, 68), (65521, 65521), (0, 0)] {
            let c = TapConf::load(&args(conf(json!({"mtu": mtu})), "")).unwrap();
            assert_eq!(c.mtu, want);
        }
        let c = TapConf::load(&args(
            conf(json!({"owner": null, "group": 4294967294u64})),
            "",
        ))
        .unwrap();
        assert_eq!((c.owner, c.group), (None, Some(u32::MAX - 1)));
    }

    #[test]
    fn mac_precedence() {
        let m = |extra: Value, env: &str| {
            TapConf::load(&args(conf(extra), env))
                .unwrap()
                .mac
                .map(|m| m[5])
        };
        let cases = [
            (json!({"mac": "0e:00:00:00:00:01"}), "", Some(1)),
            (
                json!({"mac": "0e:00:00:00:00:01"}),
                "MAC=0e:00:00:00:00:02",
                Some(2),
            ),
            (
                json!({"mac": "0e:00:00:00:00:01", "runtimeConfig": {"mac": "0e:00:00:00:00:04"}}),
                "MAC=0e:00:00:00:00:02",
                Some(4),
            ),
            (
                json!({"mac": "0e:00:00:00:00:01", "runtimeConfig": {"mac": ""}}),
                "",
                Some(1),
            ),
            (json!({}), "IgnoreUnknown=1;OTHER=x", None),
        ];
        for (extra, env, want) in cases {
            assert_eq!(m(extra.clone(), env), want, "{extra} {env}");
        }
    }

    #[test]
    fn invalid_configs() {
        let cases = [
            (
                json!({"mtu": 67}),
                "",
                7,
                "invalid MTU 67, must be 0 or between 68 and 65521",
            ),
            (json!({"mtu": -1}), "", 7, "invalid MTU -1"),
            (json!({"mtu": 65522}), "", 7, "invalid MTU 65522"),
            (json!({"mtu": "x"}), "", 6, "network config"),
            (
                json!({"mac": "0e:00"}),
                "",
                7,
                "invalid MAC address \"0e:00\"",
            ),
            (json!({}), "MAC=zz", 7, "invalid MAC address \"zz\""),
            (json!({}), "OTHER=1", 4, "ARGS: unknown args"),
            (
                json!({"runtimeConfig": {"mac": "ff:ff:ff:ff:ff:ff"}}),
                "",
                7,
                "invalid MAC address",
            ),
            (
                json!({"owner": -1}),
                "",
                7,
                "invalid owner -1: must be a numeric user ID",
            ),
            (
                json!({"owner": 4294967295u64}),
                "",
                7,
                "invalid owner 4294967295",
            ),
            (
                json!({"owner": "nobody"}),
                "",
                7,
                "invalid owner \"nobody\"",
            ),
            (json!({"owner": 1.5}), "", 7, "invalid owner 1.5"),
            (
                json!({"group": true}),
                "",
                7,
                "invalid group true: must be a numeric group ID",
            ),
            (
                json!({"bridge": "a/b"}),
                "",
                7,
                "invalid bridge name \"a/b\"",
            ),
            (
                json!({"bridge": "much-too-long-name"}),
                "",
                7,
                "invalid bridge name",
            ),
            (
                json!({"selinuxContext": "a\nb"}),
                "",
                7,
                "invalid selinuxContext",
            ),
            (json!({"selinuxContext": 5}), "", 6, "network config"),
            (json!({"multiQueue": "yes"}), "", 6, "network config"),
        ];
        for (extra, env, code, msg) in cases {
            let c = conf(extra);
            let e = TapConf::load(&args(c.clone(), env)).unwrap_err();
            assert_eq!(e.code(), code, "{c} {env}: {e}");
            assert!(e.msg().contains(msg), "{c} {env}: {e}");
        }
    }
}
