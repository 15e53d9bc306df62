//! bridge's configuration, validated before anything is touched.

use serde::Deserialize;

use pkg::firewall::{self, Backend};
use pkg::skel::CmdArgs;
use pkg::types::{CniArgs, Dns, decode};
use pkg::{Error, Result};

const DEFAULT_BRIDGE: &str = "cni0";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    bridge: String,
    is_gateway: bool,
    is_default_gateway: bool,
    force_address: bool,
    ip_masq: bool,
    ip_masq_backend: Option<String>,
    mtu: i64,
    hairpin_mode: bool,
    promisc_mode: bool,
    vlan: i64,
    vlan_trunk: Vec<TrunkRaw>,
    preserve_default_vlan: bool,
    #[serde(rename = "macspoofchk")]
    mac_spoof_chk: bool,
    #[serde(rename = "enabledad")]
    enable_dad: bool,
    disable_container_interface: bool,
    port_isolation: bool,
    dns: Dns,
    args: ArgsRaw,
    runtime_config: MacRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrunkRaw {
    #[serde(rename = "minID")]
    min_id: Option<i64>,
    #[serde(rename = "maxID")]
    max_id: Option<i64>,
    id: Option<i64>,
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
pub struct BridgeConf {
    pub bridge: String,
    pub is_gateway: bool,
    pub is_default_gateway: bool,
    pub force_address: bool,
    /// The masquerade backend, when `ipMasq` is on.
    pub ip_masq: Option<Backend>,
    pub mtu: u32,
    pub hairpin: bool,
    pub promisc: bool,
    pub vlan: u16,
    /// Tagged VLANs, sorted and de-duplicated.
    pub trunk: Vec<u16>,
    pub preserve_default_vlan: bool,
    pub mac_spoof_chk: bool,
    pub enable_dad: bool,
    pub disable_container_interface: bool,
    pub port_isolation: bool,
    pub dns: Dns,
    /// The container MAC: CNI_ARGS MAC=, then args.cni.mac, then
    /// runtimeConfig.mac, the later winning (Go's precedence).
    pub mac: Option<[u8; 6]>,
    pub layer3: bool,
}

impl BridgeConf {
    pub fn vlan_filtering(&self) -> bool {
        self.vlan != 0 || !self.trunk.is_empty()
    }

    /// For ADD and CHECK: everything validated.
    pub fn load(args: &CmdArgs) -> Result<BridgeConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mut c = BridgeConf::from_raw(&raw, args)?;
        if raw.vlan < 0 || raw.vlan > 4094 {
            return Err(Error::invalid_config(
                format!("invalid VLAN ID {} (must be between 0 and 4094)", raw.vlan),
                "",
            ));
        }
        c.vlan = raw.vlan as u16;
        c.trunk = collect_trunk(&raw.vlan_trunk)?;
        let check_name = |what: &str, name: &str| {
            pkg::validate::interface_name(name).map_err(|e| {
                Error::invalid_config(
                    format!("invalid {what} name {name:?}: {}", e.msg()),
                    e.details(),
                )
            })
        };
        check_name("bridge", &c.bridge)?;
        if c.vlan != 0 && c.is_gateway {
            check_name(
                "vlan gateway interface",
                &format!("{}.{}", c.bridge, c.vlan),
            )?;
        }
        // Both the veth ends and a new bridge take ETH_MIN_MTU to
        // ETH_MAX_MTU; the kernel would refuse more only half-way.
        if raw.mtu != 0 && !(68..=65535).contains(&raw.mtu) {
            return Err(Error::invalid_config(
                format!("invalid mtu {}", raw.mtu),
                "a veth and a bridge take 68 to 65535 (or 0 for the kernel default)",
            ));
        }
        if c.hairpin && c.promisc {
            return Err(Error::invalid_config(
                "cannot set hairpin mode and promiscuous mode at the same time",
                "",
            ));
        }
        if c.disable_container_interface && c.layer3 {
            return Err(Error::invalid_config(
                "cannot use IPAM when disableContainerInterface flag is set",
                "",
            ));
        }
        let mut mac = CniArgs::parse(&args.args, &["MAC"])?
            .get("MAC")
            .unwrap_or_default()
            .to_string();
        for m in [&raw.args.cni.mac, &raw.runtime_config.mac] {
            if !m.is_empty() {
                mac = m.clone();
            }
        }
        if !mac.is_empty() {
            c.mac = Some(parse_mac(&mac)?);
        }
        raw.dns.check("dns")?;
        if raw.ip_masq {
            c.ip_masq = Some(firewall::select_backend(raw.ip_masq_backend.as_deref())?);
        }
        Ok(c)
    }

    /// For DEL and GC: only what cleanup needs; a config that would no
    /// longer validate must not keep state from being released.
    pub fn load_lenient(args: &CmdArgs) -> Result<BridgeConf> {
        let raw: Raw = decode::decode(&args.config, "network config")?;
        let mut c = BridgeConf::from_raw(&raw, args)?;
        if raw.ip_masq {
            // Teardown tries both backends; the choice does not matter.
            c.ip_masq = Some(Backend::Iptables);
        }
        Ok(c)
    }

    fn from_raw(raw: &Raw, args: &CmdArgs) -> Result<BridgeConf> {
        let bridge = if raw.bridge.is_empty() {
            DEFAULT_BRIDGE.to_string()
        } else {
            raw.bridge.clone()
        };
        Ok(BridgeConf {
            bridge,
            is_gateway: raw.is_gateway || raw.is_default_gateway,
            is_default_gateway: raw.is_default_gateway,
            force_address: raw.force_address,
            ip_masq: None,
            mtu: u32::try_from(raw.mtu).unwrap_or(0),
            hairpin: raw.hairpin_mode,
            promisc: raw.promisc_mode,
            vlan: 0,
            trunk: Vec::new(),
            preserve_default_vlan: raw.preserve_default_vlan,
            mac_spoof_chk: raw.mac_spoof_chk,
            enable_dad: raw.enable_dad,
            disable_container_interface: raw.disable_container_interface,
            port_isolation: raw.port_isolation,
            dns: raw.dns.clone(),
            mac: None,
            layer3: args.conf.ipam_type().is_some(),
        })
    }
}

fn collect_trunk(items: &[TrunkRaw]) -> Result<Vec<u16>> {
    let bad = |m: &str| Error::invalid_config(m.to_string(), "");
    let in_range = |v: i64| (1..=4094).contains(&v);
    let mut vids = Vec::new();
    for item in items {
        match (item.min_id, item.max_id) {
            (Some(min), Some(max)) => {
                if !in_range(min) {
                    return Err(bad("incorrect trunk minID parameter"));
                }
                if !in_range(max) {
                    return Err(bad("incorrect trunk maxID parameter"));
                }
                if max < min {
                    return Err(bad("minID is greater than maxID in trunk parameter"));
                }
                vids.extend(min..=max);
            }
            (None, Some(_)) => {
                return Err(bad(
                    "minID and maxID should be configured simultaneously, minID is missing",
                ));
            }
            (Some(_), None) => {
                return Err(bad(
                    "minID and maxID should be configured simultaneously, maxID is missing",
                ));
            }
            (None, None) => {}
        }
        if let Some(id) = item.id {
            if !in_range(id) {
                return Err(bad("incorrect trunk id parameter"));
            }
            vids.push(id);
        }
    }
    vids.sort_unstable();
    vids.dedup();
    Ok(vids.into_iter().map(|v| v as u16).collect())
}

/// Six hex octets separated by `:` or `-`. A multicast or all-zero address
/// is refused here: the kernel refuses it too, but only once the veth is
/// being made, and with an errno (EADDRNOTAVAIL) that reads as "not found".
pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let bad = |why: &str| Error::invalid_config(format!("invalid MAC address {s:?}"), why);
    let six = "expected six hex octets such as 0e:00:00:00:aa:01";
    let sep = if s.contains('-') { '-' } else { ':' };
    let parts: Vec<&str> = s.split(sep).collect();
    if parts.len() != 6 {
        return Err(bad(six));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(bad(six));
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| bad(six))?;
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

    #[test]
    fn trunks() {
        let t = |min: Option<i64>, max: Option<i64>, id: Option<i64>| TrunkRaw {
            min_id: min,
            max_id: max,
            id,
        };
        assert_eq!(
            collect_trunk(&[t(Some(3), Some(5), Some(4)), t(None, None, Some(1))]).unwrap(),
            vec![1, 3, 4, 5]
        );
        let cases = [
            (t(Some(0), Some(5), None), "incorrect trunk minID parameter"),
            (
                t(Some(1), Some(4095), None),
                "incorrect trunk maxID parameter",
            ),
            (
                t(Some(9), Some(5), None),
                "minID is greater than maxID in trunk parameter",
            ),
            (
                t(None, Some(5), None),
                "minID and maxID should be configured simultaneously, minID is missing",
            ),
            (
                t(Some(5), None, None),
                "minID and maxID should be configured simultaneously, maxID is missing",
            ),
            (t(None, None, Some(5000)), "incorrect trunk id parameter"),
        ];
        for (item, msg) in cases {
            assert_eq!(collect_trunk(&[item]).unwrap_err().msg(), msg);
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
        for bad in [
            "",
            "0e:00:00:00:aa",
            "0e:00:00:00:aa:zz",
            "0e:00:00:00:aa:001",
            "0e-00:00:00:aa:01",
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
        ] {
            assert_eq!(parse_mac(bad).unwrap_err().code(), 7, "{bad}");
        }
    }
}
