//! Reading a plugin's result in any spec version's shape, and writing the
//! prevResult a main plugin would have handed to a chained one.

use std::net::IpAddr;

use pkg::types::{CniResult, Interface, IpConfig};
use serde_json::Value;

use crate::Version;

/// The addresses of a result (CIDRs, as printed): `ip4` and `ip6` of
/// 0.1.0/0.2.0, else `ips`, in order.
pub fn addresses(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for k in ["ip4", "ip6"] {
        if let Some(ip) = r[k]["ip"].as_str() {
            out.push(ip.to_string());
        }
    }
    for ip in r["ips"].as_array().into_iter().flatten() {
        out.push(
            ip["address"]
                .as_str()
                .unwrap_or_else(|| panic!("an address without `address`: {r}"))
                .to_string(),
        );
    }
    out
}

/// The `i`-th address of a result, without its prefix length.
pub fn ip_of(r: &Value, i: usize) -> IpAddr {
    let all = addresses(r);
    let cidr = all
        .get(i)
        .unwrap_or_else(|| panic!("no address {i} in {r}"));
    without_prefix(cidr)
}

/// The first address of a family in a result, without its prefix length.
pub fn address_of(r: &Value, v4: bool) -> IpAddr {
    addresses(r)
        .iter()
        .map(|a| without_prefix(a))
        .find(|ip| ip.is_ipv4() == v4)
        .unwrap_or_else(|| panic!("no IPv{} address in {r}", if v4 { 4 } else { 6 }))
}

fn without_prefix(cidr: &str) -> IpAddr {
    let ip = cidr.split('/').next().unwrap_or_default();
    ip.parse()
        .unwrap_or_else(|e| panic!("{cidr:?} is not an address: {e}"))
}

/// One end of a veth in a result: name, MAC, and the netns path for the
/// container's end ("" for the host's).
pub struct End<'a> {
    pub name: &'a str,
    pub mac: &'a str,
    pub sandbox: &'a str,
}

/// The result a main plugin returns for a veth from the host to the
/// container, in `v`'s shape: the two ends (host first) and one address on
/// the container's end.
pub fn veth_result(
    v: Version,
    host: End<'_>,
    ctr: End<'_>,
    address: &str,
    gateway: Option<&str>,
) -> Value {
    let end = |e: End<'_>| Interface {
        name: e.name.into(),
        mac: e.mac.into(),
        sandbox: e.sandbox.into(),
        ..Default::default()
    };
    let r = CniResult {
        cni_version: v.as_str().into(),
        interfaces: vec![end(host), end(ctr)],
        ips: vec![IpConfig {
            interface: Some(1),
            address: address.parse().expect("a CIDR"),
            gateway: gateway.map(|g| g.parse().expect("an address")),
        }],
        ..Default::default()
    };
    r.to_value(v).expect("a result in the version's shape")
}
