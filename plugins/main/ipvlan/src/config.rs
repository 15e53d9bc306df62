//! ipvlan's configuration, decoded and validated before anything is
//! touched: the mode, the master (or, when chained without one, the single
//! interface of `prevResult`), and where the addresses come from. The
//! master is resolved later (`pkg::master`: in the host, or in the
//! container with `linkInContainer`, the MTU checked against it).

use serde::Deserialize;

use pkg::master::Master;
use pkg::skel::CmdArgs;
use pkg::types::{CniResult, Dns, decode};
use pkg::{Error, Result};

use crate::link::Mode;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    master: String,
    mode: String,
    mtu: i64,
    link_in_container: bool,
    dns: Dns,
}

#[derive(Debug)]
pub struct IpvlanConf {
    /// `master` (empty: the interface of the default route), `mtu` and
    /// `linkInContainer`.
    pub master: Master,
    pub mode: Mode,
    pub dns: Dns,
    /// The previous plugin's result when it, not IPAM, gives the
    /// addresses: no `ipam.type`, and `prevResult` has addresses (Go's
    /// rule).
    pub addresses_from: Option<CniResult>,
}

impl IpvlanConf {
    /// ADD: the keys, the master of a chained ipvlan, and where the
    /// addresses come from; everything that needs no kernel.
    pub fn load(args: &CmdArgs) -> Result<IpvlanConf> {
        let mut conf = IpvlanConf::load_keys(args)?;
        let prev = args.conf.parse_prev_result()?;
        if conf.master.name.is_empty()
            && let Some(prev) = &prev
        {
            conf.master.name = chained_master(prev)?;
        }
        if args.conf.ipam_type().is_none() {
            match prev {
                Some(prev) if !prev.ips.is_empty() => conf.addresses_from = Some(prev),
                _ => {
                    return Err(Error::invalid_config(
                        "ipvlan interface requires an IPAM configuration",
                        "set \"ipam\" with a \"type\", or chain ipvlan after a plugin whose result has addresses",
                    ));
                }
            }
        }
        Ok(conf)
    }

    /// CHECK: the keys alone. `prevResult` is then the result of the whole
    /// chain, which names ipvlan's own interface, not the master.
    pub fn load_keys(args: &CmdArgs) -> Result<IpvlanConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mode = Mode::parse(&raw.mode).ok_or_else(|| {
            Error::invalid_config(
                format!("unknown ipvlan mode: {:?}", raw.mode),
                "mode must be \"l2\", \"l3\" or \"l3s\"",
            )
        })?;
        let master = Master::new(raw.master, raw.mtu, raw.link_in_container)?;
        // ether_setup's minimum (ETH_MIN_MTU), which the kernel refuses
        // only once the link is being made.
        if (1..68).contains(&master.mtu) {
            return Err(Error::invalid_config(
                format!("invalid MTU {}, must be 0 or at least 68", master.mtu),
                "an ipvlan takes 68 to its master's MTU",
            ));
        }
        raw.dns.check("dns")?;
        Ok(IpvlanConf {
            master,
            mode,
            dns: raw.dns,
            addresses_from: None,
        })
    }
}

/// The master of an ipvlan chained without `master`: the one interface the
/// previous plugin reported, which must have a name.
fn chained_master(prev: &CniResult) -> Result<String> {
    match prev.interfaces.as_slice() {
        [only] if !only.name.is_empty() => {
            pkg::validate::interface_name(&only.name).map_err(|e| {
                Error::invalid_config(
                    format!(
                        "invalid master name {:?} in prevResult: {}",
                        only.name,
                        e.msg()
                    ),
                    e.details(),
                )
            })?;
            Ok(only.name.clone())
        }
        found => Err(Error::invalid_config(
            "chained master failure. PrevResult lacks a single named interface",
            format!(
                "\"master\" is not set: prevResult must then list exactly one interface, with a name (it lists {})",
                found.len()
            ),
        )),
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
        let mut c = json!({"cniVersion": "1.0.0", "name": "n", "type": "ipvlan",
                           "master": "eth1", "ipam": {"type": "static"}});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c[k] = v;
        }
        c
    }

    fn prev(interfaces: Value, ips: Value) -> Value {
        json!({"cniVersion": "1.0.0", "interfaces": interfaces, "ips": ips})
    }

    #[test]
    fn valid_configs() {
        let one = json!([{"name": "net1"}]);
        let addr = json!([{"address": "10.1.0.2/24"}]);
        // (extra keys, master, mode, mtu, in container, addresses from prevResult)
        let cases = [
            (json!({}), "eth1", Mode::L2, 0, false, false),
            (
                json!({"mode": "l3", "mtu": 1400}),
                "eth1",
                Mode::L3,
                1400,
                false,
                false,
            ),
            (
                json!({"Mode": "l3s", "linkInContainer": true}),
                "eth1",
                Mode::L3s,
                0,
                true,
                false,
            ),
            (json!({"master": ""}), "", Mode::L2, 0, false, false),
            // chained: the one interface of prevResult is the master
            (
                json!({"master": "", "prevResult": prev(one.clone(), json!([]))}),
                "net1",
                Mode::L2,
                0,
                false,
                false,
            ),
            // a configured master wins over prevResult's
            (
                json!({"prevResult": prev(one.clone(), json!([]))}),
                "eth1",
                Mode::L2,
                0,
                false,
                false,
            ),
            // no IPAM: prevResult's addresses
            (
                json!({"ipam": {}, "prevResult": prev(one.clone(), addr.clone())}),
                "eth1",
                Mode::L2,
                0,
                false,
                true,
            ),
            // IPAM set: prevResult's addresses are not used
            (
                json!({"prevResult": prev(one.clone(), addr.clone())}),
                "eth1",
                Mode::L2,
                0,
                false,
                false,
            ),
        ];
        for (extra, master, mode, mtu, inside, from_prev) in cases {
            let c = IpvlanConf::load(&args(conf(extra.clone()))).unwrap();
            assert_eq!(c.master.name, master, "{extra}");
            assert_eq!(c.mode, mode, "{extra}");
            assert_eq!(c.master.mtu, mtu, "{extra}");
            assert_eq!(c.master.in_container, inside, "{extra}");
            assert_eq!(c.addresses_from.is_some(), from_prev, "{extra}");
        }
        // CHECK does not take the master from prevResult
        let c = IpvlanConf::load_keys(&args(conf(
            json!({"master": "", "prevResult": prev(one, json!([]))}),
        )))
        .unwrap();
        assert_eq!(c.master.name, "");
    }

    #[test]
    fn invalid_configs() {
        let two = json!([{"name": "a"}, {"name": "b"}]);
        let cases = [
            (
                json!({"mode": "bridge"}),
                7,
                "unknown ipvlan mode: \"bridge\"",
            ),
            (json!({"mode": "L2"}), 7, "unknown ipvlan mode: \"L2\""),
            (json!({"mode": 2}), 6, "network config"),
            (json!({"master": "a/b"}), 7, "invalid master name \"a/b\""),
            (json!({"mtu": "x"}), 6, "network config"),
            (
                json!({"mtu": 67}),
                7,
                "invalid MTU 67, must be 0 or at least 68",
            ),
            (
                json!({"dns": {"search": ["a.org", "\u{1b}[0m"]}}),
                7,
                "invalid dns.search[1]",
            ),
            (
                json!({"master": "", "prevResult": prev(two, json!([]))}),
                7,
                "chained master failure. PrevResult lacks a single named interface",
            ),
            (
                json!({"master": "", "prevResult": prev(json!([]), json!([]))}),
                7,
                "chained master failure",
            ),
            (
                json!({"master": "", "prevResult": prev(json!([{"name": ""}]), json!([]))}),
                7,
                "chained master failure",
            ),
            (
                json!({"master": "", "prevResult": prev(json!([{"name": "much-too-long-name"}]), json!([]))}),
                7,
                "invalid master name \"much-too-long-name\" in prevResult",
            ),
            (
                json!({"ipam": {}}),
                7,
                "ipvlan interface requires an IPAM configuration",
            ),
            (
                json!({"ipam": {}, "prevResult": prev(json!([{"name": "x"}]), json!([]))}),
                7,
                "ipvlan interface requires an IPAM configuration",
            ),
        ];
        for (extra, code, msg) in cases {
            let e = IpvlanConf::load(&args(conf(extra.clone()))).unwrap_err();
            assert_eq!(e.code(), code, "{extra}: {e}");
            assert!(e.msg().contains(msg), "{extra}: {e}");
        }
    }
}
