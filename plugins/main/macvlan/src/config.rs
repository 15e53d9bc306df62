//! macvlan's configuration: decoded and validated before anything is
//! touched. The master is resolved later (`pkg::master`: in the host, or
//! in the container with `linkInContainer`, the MTU checked against it).

use serde::Deserialize;

use pkg::master::Master;
use pkg::skel::CmdArgs;
use pkg::types::{CniArgs, Dns, decode};
use pkg::{Error, Result};

use crate::link::Mode;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    master: String,
    mode: String,
    mtu: i64,
    mac: String,
    link_in_container: bool,
    bcqueuelen: i64,
    dns: Dns,
    args: ArgsRaw,
    runtime_config: MacRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgsRaw {
    cni: MacRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MacRaw {
    mac: String,
}

#[derive(Debug)]
pub struct MacvlanConf {
    /// `master` (empty: the interface of the default route), `mtu` and
    /// `linkInContainer`, resolved by [`Master::resolve`].
    pub master: Master,
    pub mode: Mode,
    /// `mac`, then `CNI_ARGS` `MAC=`, then `args.cni.mac`, then
    /// `runtimeConfig.mac`; the last one set wins.
    pub mac: Option<[u8; 6]>,
    pub bc_queue_len: Option<u32>,
    pub dns: Dns,
    pub layer3: bool,
}

impl MacvlanConf {
    /// Everything that needs no kernel: for ADD and CHECK.
    pub fn load(args: &CmdArgs) -> Result<MacvlanConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mode = Mode::parse(&raw.mode).ok_or_else(|| {
            Error::invalid_config(
                format!("unknown macvlan mode: {:?}", raw.mode),
                "mode must be \"bridge\", \"private\", \"vepa\" or \"passthru\"",
            )
        })?;
        let master = Master::new(raw.master, raw.mtu, raw.link_in_container)?;
        let bc_queue_len = u32::try_from(raw.bcqueuelen).map_err(|_| {
            Error::invalid_config(
                format!(
                    "invalid bcqueuelen {}, must be [0, {}]",
                    raw.bcqueuelen,
                    u32::MAX
                ),
                "",
            )
        })?;
        let mut mac = raw.mac.clone();
        let from_env = CniArgs::parse(&args.args, &["MAC"])?;
        for m in [
            from_env.get("MAC").unwrap_or_default(),
            &raw.args.cni.mac,
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
        // ether_setup's minimum (ETH_MIN_MTU), which the kernel refuses
        // only once the link is being made.
        if (1..68).contains(&master.mtu) {
            return Err(Error::invalid_config(
                format!("invalid MTU {}, must be 0 or at least 68", master.mtu),
                "a macvlan takes 68 to its master's MTU",
            ));
        }
        raw.dns.check("dns")?;
        Ok(MacvlanConf {
            master,
            mode,
            mac,
            bc_queue_len: (bc_queue_len > 0).then_some(bc_queue_len),
            dns: raw.dns,
            layer3: args.conf.ipam_type().is_some(),
        })
    }
}

/// Six hex octets separated by `:` or `-`. A multicast or all-zero address
/// is refused here: the kernel refuses it too, but with an errno
/// (EADDRNOTAVAIL) that reads as "not found".
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = |why: &str| Error::invalid_config(format!("invalid MAC address {s:?}"), why);
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 {
        return Err(bad("expected six hex octets such as 0e:00:00:00:aa:01"));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad("expected six hex octets such as 0e:00:00:00:aa:01"));
        }
        mac[i] = u8::from_str_radix(p, 16)
            .map_err(|_| bad("expected six hex octets such as 0e:00:00:00:aa:01"))?;
    }
    if mac[0] & 1 == 1 {
        return Err(bad("a multicast address cannot be an interface's address"));
    }
    if mac == [0; 6] {
        return Err(bad("the all-zero address cannot be an interface's address"));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::{Value, json};

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
        let mut c = json!({"cniVersion": "1.0.0", "name": "n", "type": "macvlan",
                           "master": "eth1"});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    #[test]
    fn valid_configs() {
        let c = MacvlanConf::load(&args(
            conf(json!({"Mode": "vepa", "mtu": 9000, "linkInContainer": true,
                        "bcqueuelen": 100, "ipam": {"type": "static"}})),
            "",
        ))
        .unwrap();
        assert_eq!(c.master, Master::new("eth1".into(), 9000, true).unwrap());
        assert_eq!(c.mode, Mode::Vepa);
        assert!(c.layer3);
        assert_eq!(c.bc_queue_len, Some(100));
        assert_eq!(c.mac, None);
        let c = MacvlanConf::load(&args(conf(json!({"bcqueuelen": 0, "ipam": {}})), "")).unwrap();
        assert_eq!(c.mode, Mode::Bridge);
        assert_eq!(c.bc_queue_len, None);
        assert!(!c.layer3);
    }

    #[test]
    fn mac_precedence() {
        let m = |extra: Value, env: &str| {
            MacvlanConf::load(&args(conf(extra), env))
                .unwrap()
                .mac
                .map(|m| m[5])
        };
        assert_eq!(m(json!({"mac": "0e:00:00:00:00:01"}), ""), Some(1));
        assert_eq!(
            m(json!({"mac": "0e:00:00:00:00:01"}), "MAC=0e:00:00:00:00:02"),
            Some(2)
        );
        assert_eq!(
            m(
                json!({"mac": "0e:00:00:00:00:01", "args": {"cni": {"mac": "0e:00:00:00:00:03"}}}),
                "MAC=0e:00:00:00:00:02"
            ),
            Some(3)
        );
        assert_eq!(
            m(
                json!({"args": {"cni": {"mac": "0e:00:00:00:00:03"}},
                       "runtimeConfig": {"mac": "0e:00:00:00:00:04"}}),
                "MAC=0e:00:00:00:00:02"
            ),
            Some(4)
        );
        // an empty later source does not clear an earlier one
        assert_eq!(
            m(
                json!({"mac": "0e:00:00:00:00:01", "runtimeConfig": {"mac": ""}}),
                ""
            ),
            Some(1)
        );
    }

    #[test]
    fn invalid_configs() {
        let cases = [
            (
                conf(json!({"mode": "l3"})),
                "",
                7,
                "unknown macvlan mode: \"l3\"",
            ),
            (
                conf(json!({"mode": "source"})),
                "",
                7,
                "unknown macvlan mode",
            ),
            (
                conf(json!({"master": "a/b"})),
                "",
                7,
                "invalid master name \"a/b\"",
            ),
            (
                conf(json!({"bcqueuelen": -5})),
                "",
                7,
                "invalid bcqueuelen -5",
            ),
            (
                conf(json!({"bcqueuelen": 4294967296u64})),
                "",
                7,
                "invalid bcqueuelen",
            ),
            (conf(json!({"mac": "0e:00"})), "", 7, "invalid MAC address"),
            (conf(json!({})), "MAC=zz", 7, "invalid MAC address \"zz\""),
            (conf(json!({})), "OTHER=1", 4, "ARGS: unknown args"),
            (conf(json!({"mtu": "x"})), "", 6, "network config"),
        ];
        for (c, env, code, msg) in cases {
            let e = MacvlanConf::load(&args(c.clone(), env)).unwrap_err();
            assert_eq!(e.code(), code, "{c} {env}: {e}");
            assert!(e.msg().contains(msg), "{c} {env}: {e}");
        }
    }

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac("0e:00:00:00:aa:01").unwrap(),
            [0x0e, 0, 0, 0, 0xaa, 1]
        );
        assert_eq!(
            parse_mac("0E-00-00-00-AA-01").unwrap(),
            [0x0e, 0, 0, 0, 0xaa, 1]
        );
        let bad = [
            ("", "six hex octets"),
            ("0e:00:00:00:aa", "six hex octets"),
            ("0e:00:00:00:aa:zz", "six hex octets"),
            ("0e:00:00:00:aa:001", "six hex octets"),
            ("0e-00:00:00:aa:01", "six hex octets"),
            ("01:00:5e:00:00:01", "multicast"),
            ("ff:ff:ff:ff:ff:ff", "multicast"),
            ("00:00:00:00:00:00", "all-zero"),
        ];
        for (s, why) in bad {
            let e = parse_mac(s).unwrap_err();
            assert_eq!(e.code(), 7, "{s}");
            assert_eq!(e.msg(), format!("invalid MAC address {s:?}"));
            assert!(e.details().contains(why), "{s}: {}", e.details());
        }
    }
}
