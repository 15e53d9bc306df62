//! static's configuration: `ipam.addresses`, `routes`, `dns`, overridden by
//! `CNI_ARGS IP=/GATEWAY=` (appended), then `args.cni.ips` and
//! `runtimeConfig.ips` (each replacing the list), as in Go.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use pkg::skel::CmdArgs;
use pkg::types::mapped::{canonical_ip, canonical_net, canonical_route};
use pkg::types::{CniArgs, Dns, Route, decode};
use pkg::{Error, Result};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Top {
    ipam: Option<IpamRaw>,
    runtime_config: IpsRaw,
    args: ArgsRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IpamRaw {
    routes: Vec<Route>,
    addresses: Vec<AddressRaw>,
    dns: Dns,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AddressRaw {
    address: String,
    gateway: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IpsRaw {
    ips: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgsRaw {
    cni: IpsRaw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// With host bits (`10.10.0.1/24`).
    pub address: IpNet,
    pub gateway: Option<IpAddr>,
}

#[derive(Debug)]
pub struct StaticConfig {
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
    pub dns: Dns,
}

/// `s` as written: Go trims only the items of `CNI_ARGS`, not the
/// addresses of the config, so neither does this.
fn cidr(s: &str, what: impl FnOnce() -> String) -> Result<IpNet> {
    let net: IpNet = s.parse().map_err(|_| Error::invalid_config(what(), ""))?;
    // IPv4-mapped IPv6 is IPv4, as Go's To4 sees it.
    canonical_net(net, "address")
}

pub fn load(args: &CmdArgs) -> Result<StaticConfig> {
    let mut top: Top = decode::decode(&args.config, "network config")?;
    let ipam = top
        .ipam
        .take()
        .ok_or_else(|| Error::invalid_config("IPAM config missing 'ipam' key", ""))?;
    let mut addresses = Vec::new();
    for a in &ipam.addresses {
        let address = cidr(&a.address, || {
            format!(
                "the 'address' field is expected to be in CIDR notation, got: {:?}",
                a.address
            )
        })?;
        let gateway = if a.gateway.is_empty() {
            None
        } else {
            Some(a.gateway.parse().map(canonical_ip).map_err(|_| {
                Error::invalid_config(
                    format!("invalid gateway address {:?} for {}", a.gateway, a.address),
                    "",
                )
            })?)
        };
        addresses.push(Address { address, gateway });
    }

    // CNI_ARGS: IP= appends; GATEWAY= applies to those appended addresses
    // only, as in Go (the configured ones carry their own gateways).
    let env = CniArgs::parse(&args.args, &["IP", "GATEWAY"])?;
    let mut from_env = Vec::new();
    if let Some(ips) = env.get("IP").filter(|v| !v.is_empty()) {
        for item in ips.split(',') {
            let address = cidr(item.trim(), || {
                format!("invalid CIDR {:?} in CNI_ARGS IP", item.trim())
            })
            .map_err(|e| Error::invalid_env(e.msg(), ""))?;
            from_env.push(Address {
                address,
                gateway: None,
            });
        }
    }
    if let Some(gws) = env.get("GATEWAY").filter(|v| !v.is_empty()) {
        for item in gws.split(',') {
            let gw: IpAddr = item.trim().parse().map(canonical_ip).map_err(|_| {
                Error::invalid_env(
                    format!("invalid gateway address {item:?} in CNI_ARGS GATEWAY"),
                    "",
                )
            })?;
            for a in from_env.iter_mut().filter(|a| a.address.contains(&gw)) {
                a.gateway = Some(gw);
            }
        }
    }
    addresses.extend(from_env);
    // args.cni.ips, then runtimeConfig.ips, each replace what came before.
    for ips in [&top.args.cni.ips, &top.runtime_config.ips] {
        if ips.is_empty() {
            continue;
        }
        addresses = ips
            .iter()
            .map(|s| {
                cidr(s, || {
                    format!("an entry in the 'ips' field is NOT in CIDR notation, got {s:?}")
                })
                .map(|address| Address {
                    address,
                    gateway: None,
                })
            })
            .collect::<Result<_>>()?;
    }

    let v4 = addresses
        .iter()
        .filter(|a| a.address.addr().is_ipv4())
        .count();
    if (v4 > 1 || addresses.len() - v4 > 1) && !args.version.has_multiple_ips() {
        return Err(Error::invalid_config(
            format!(
                "CNI version {} does not support more than 1 address per family",
                args.version
            ),
            "",
        ));
    }
    ipam.dns.check("ipam.dns")?;
    Ok(StaticConfig {
        addresses,
        routes: ipam
            .routes
            .iter()
            .map(|r| canonical_route(r, "route"))
            .collect::<Result<_>>()?,
        dns: ipam.dns,
    })
}
