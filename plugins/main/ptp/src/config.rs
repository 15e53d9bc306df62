//! ptp's configuration, validated before anything is touched.

use serde::Deserialize;

use pkg::firewall::{self, Backend};
use pkg::skel::CmdArgs;
use pkg::types::{Dns, decode};
use pkg::{Error, Result};

/// A veth's MTU range (ETH_MIN_MTU..=ETH_MAX_MTU).
const VETH_MTU: std::ops::RangeInclusive<i64> = 68..=65535;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    ip_masq: bool,
    ip_masq_backend: Option<String>,
    mtu: i64,
    dns: Dns,
}

/// What DEL and GC read: a wrong type in any other key must not block them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CleanupRaw {
    ip_masq: bool,
}

#[derive(Debug)]
pub struct PtpConf {
    /// The masquerade backend, when `ipMasq` is on.
    pub ip_masq: Option<Backend>,
    /// 0 = kernel default.
    pub mtu: u32,
    pub dns: Dns,
    /// `ipam.type` is set. Always true after [`PtpConf::load`].
    pub layer3: bool,
}

impl PtpConf {
    /// For ADD and CHECK: everything validated, IPAM required.
    pub fn load(args: &CmdArgs) -> Result<PtpConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        if args.conf.ipam.is_none() {
            return Err(Error::invalid_config(
                "IPAM config missing 'ipam' key",
                "ptp needs an IPAM plugin to give the container its addresses",
            ));
        }
        if args.conf.ipam_type().is_none() {
            return Err(Error::invalid_config(
                "IPAM config missing 'type' key",
                "ptp needs an IPAM plugin to give the container its addresses",
            ));
        }
        if raw.mtu != 0 && !VETH_MTU.contains(&raw.mtu) {
            return Err(Error::invalid_config(
                format!("invalid mtu {}", raw.mtu),
                format!(
                    "a veth takes {} to {} (or 0 for the kernel default)",
                    VETH_MTU.start(),
                    VETH_MTU.end()
                ),
            ));
        }
        raw.dns.check("dns")?;
        let ip_masq = if raw.ip_masq {
            Some(firewall::select_backend(raw.ip_masq_backend.as_deref())?)
        } else {
            None
        };
        Ok(PtpConf {
            ip_masq,
            mtu: u32::try_from(raw.mtu).unwrap_or(0),
            dns: raw.dns,
            layer3: true,
        })
    }

    /// For DEL and GC: only what cleanup needs; a config that would no
    /// longer validate must not keep state from being released.
    pub fn load_lenient(args: &CmdArgs) -> Result<PtpConf> {
        let raw: CleanupRaw = decode::decode(&args.config, "network config")?;
        Ok(PtpConf {
            // Teardown tries both backends; the choice does not matter.
            ip_masq: raw.ip_masq.then_some(Backend::Iptables),
            mtu: 0,
            dns: Dns::default(),
            layer3: args.conf.ipam_type().is_some(),
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
        let mut c = json!({"cniVersion": "1.0.0", "name": "n", "type": "ptp",
                           "ipam": {"type": "host-local"}});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    #[test]
    fn valid_configs() {
        let c = PtpConf::load(&args(conf(json!({
            "MTU": 1400, "ipmasq": true, "ipMasqBackend": "nftables",
            "dns": {"nameservers": ["10.0.0.53"]}
        }))))
        .unwrap();
        assert_eq!(c.mtu, 1400);
        assert_eq!(c.ip_masq, Some(Backend::Nftables));
        assert_eq!(c.dns.nameservers, ["10.0.0.53"]);
        assert!(c.layer3);
        let c = PtpConf::load(&args(conf(json!({"mtu": 0})))).unwrap();
        assert_eq!((c.mtu, c.ip_masq), (0, None));
    }

    #[test]
    fn invalid_configs() {
        let mut no_ipam = conf(json!({}));
        no_ipam.as_object_mut().unwrap().remove("ipam");
        let cases = [
            (no_ipam, 7, "IPAM config missing 'ipam' key"),
            (
                conf(json!({"ipam": {}})),
                7,
                "IPAM config missing 'type' key",
            ),
            (conf(json!({"mtu": -1})), 7, "invalid mtu -1"),
            (conf(json!({"mtu": 67})), 7, "invalid mtu 67"),
            (conf(json!({"mtu": 65536})), 7, "invalid mtu 65536"),
            (
                conf(json!({"ipMasq": true, "ipMasqBackend": "pf"})),
                7,
                "unknown ipmasq backend \"pf\"",
            ),
            (conf(json!({"mtu": "1400"})), 6, "network config"),
            (conf(json!({"ipMasq": "yes"})), 6, "network config"),
        ];
        for (c, code, msg) in cases {
            let e = PtpConf::load(&args(c.clone())).unwrap_err();
            assert_eq!(e.code(), code, "{c}: {e}");
            assert!(e.msg().contains(msg), "{c}: {e}");
        }
    }

    #[test]
    fn lenient_for_cleanup() {
        let mut c = conf(json!({"mtu": "x", "ipMasq": true, "ipMasqBackend": 5}));
        let l = PtpConf::load_lenient(&args(c.clone())).unwrap();
        assert!(l.ip_masq.is_some() && l.layer3);
        c.as_object_mut().unwrap().remove("ipam");
        assert!(!PtpConf::load_lenient(&args(c)).unwrap().layer3);
    }
}
