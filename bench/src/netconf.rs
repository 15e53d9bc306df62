//! The network configurations the scenarios feed the plugins (spec 1.0.0,
//! one plugin per config, as a runtime sends them after expanding a list).

use std::path::Path;

use serde_json::{Value, json};

use crate::impls::CNI_VERSION;

pub const NETWORK: &str = "benchnet";
pub const BRIDGE: &str = "cnibench0";
pub const SUBNET: &str = "10.200.0.0/16";
pub const GATEWAY: &str = "10.200.0.1";
pub const PREFIX_LEN: u8 = 16;
/// The macvlan master: one end of a veth pair inside the fake host.
pub const MACVLAN_MASTER: &str = "bmaster0";
pub const MACVLAN_MASTER_PEER: &str = "bmaster1";

/// Masquerade setting of a bridge network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Masq {
    Off,
    /// `ipMasq` on, no `ipMasqBackend`: the plugin detects (iptables here).
    Detected,
    Iptables,
    Nftables,
}

impl Masq {
    pub fn describe(self) -> &'static str {
        match self {
            Masq::Off => "ipMasq off",
            Masq::Detected => "ipMasq on (backend detected)",
            Masq::Iptables => "ipMasq on, ipMasqBackend iptables",
            Masq::Nftables => "ipMasq on, ipMasqBackend nftables",
        }
    }
}

fn ipam(data_dir: &Path, subnet: &str, routes: bool) -> Value {
    let mut v = json!({
        "type": "host-local",
        "dataDir": data_dir,
        "ranges": [[{"subnet": subnet}]],
    });
    if routes {
        v["routes"] = json!([{"dst": "0.0.0.0/0"}]);
    }
    v
}

/// bridge + host-local, the bridge as gateway (podman's default shape).
pub fn bridge(data_dir: &Path, masq: Masq) -> Value {
    let mut c = json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK,
        "type": "bridge",
        "bridge": BRIDGE,
        "isGateway": true,
        "ipMasq": masq != Masq::Off,
        "ipam": ipam(data_dir, SUBNET, true),
    });
    match masq {
        Masq::Iptables => c["ipMasqBackend"] = json!("iptables"),
        Masq::Nftables => c["ipMasqBackend"] = json!("nftables"),
        Masq::Off | Masq::Detected => {}
    }
    c
}

pub fn ptp(data_dir: &Path) -> Value {
    json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK,
        "type": "ptp",
        "ipMasq": false,
        "ipam": ipam(data_dir, SUBNET, true),
    })
}

pub fn macvlan(data_dir: &Path) -> Value {
    json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK,
        "type": "macvlan",
        "master": MACVLAN_MASTER,
        "mode": "bridge",
        "ipam": ipam(data_dir, SUBNET, true),
    })
}

pub fn loopback() -> Value {
    json!({"cniVersion": CNI_VERSION, "name": "lo", "type": "loopback"})
}

/// A config as an IPAM plugin receives it when called on its own.
pub fn host_local_alone(data_dir: &Path) -> Value {
    json!({
        "cniVersion": CNI_VERSION,
        "name": "hlbench",
        "type": "bridge",
        "ipam": ipam(data_dir, "10.100.0.0/16", false),
    })
}

/// tuning's `sysctl` map, chained after a plugin that put `eth0` with
/// `mac` in the container at `netns` (the `prevResult` tuning requires).
pub fn tuning(data_dir: &Path, netns: &str, mac: &str, sysctls: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> =
        sysctls.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "cniVersion": CNI_VERSION,
        "name": NETWORK,
        "type": "tuning",
        "dataDir": data_dir,
        "sysctl": map,
        "prevResult": {
            "cniVersion": CNI_VERSION,
            "interfaces": [{"name": "eth0", "mac": mac, "sandbox": netns}],
            "ips": [{"address": "10.77.0.2/24", "gateway": "10.77.0.1", "interface": 0}],
        },
    })
}

/// The address the floor gives container `index` (the plugins' host-local
/// hands out .2 upwards the same way; .1 is the gateway).
pub fn floor_address(index: usize) -> String {
    let host = index + 2;
    format!("10.200.{}.{}/{PREFIX_LEN}", host / 256, host % 256)
}
