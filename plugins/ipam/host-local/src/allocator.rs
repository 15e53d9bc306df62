//! Picking an address from one range set, as Go's allocator does.

use std::net::IpAddr;

use ipnet::IpNet;

use pkg::store::disk::Store;
use pkg::types::IpConfig;
use pkg::{Error, Result};

use crate::range::{RangeSet, canonical_ip};

/// One address for the attachment from range set `idx`: the requested one
/// if given, else the next free one after the last handed out.
pub fn get(
    store: &mut Store,
    set: &RangeSet,
    idx: usize,
    id: &str,
    ifname: &str,
    requested: Option<IpAddr>,
) -> Result<IpConfig> {
    if let Some(ip) = requested.map(canonical_ip) {
        let r = set
            .range_for(ip)
            .ok_or_else(|| Error::internal(format!("{ip} not in range set {set}")))?;
        if ip == r.gateway {
            return Err(Error::internal(format!(
                "requested ip {ip} is subnet's gateway"
            )));
        }
        if !store.reserve(id, ifname, ip, idx)? {
            return Err(Error::internal(format!(
                "requested IP address {ip} is not available in range set {set}"
            )));
        }
        let address = IpNet::new(ip, r.subnet.prefix_len())
            .map_err(|e| Error::internal(format!("address {ip}: {e}")))?;
        return Ok(IpConfig {
            interface: None,
            address,
            gateway: Some(r.gateway),
        });
    }

    // The spec forbids a second ADD for the same attachment without a DEL.
    if let Some(held) = store
        .get_by_id(id, ifname)?
        .into_iter()
        .find(|ip| set.contains(*ip))
    {
        return Err(Error::internal(format!(
            "{held} has been allocated to {id}, duplicate allocation is not allowed"
        )));
    }
    for (address, gateway) in set.iter_from(store.last_reserved(idx)) {
        if store.reserve(id, ifname, address.addr(), idx)? {
            return Ok(IpConfig {
                interface: None,
                address,
                gateway: Some(gateway),
            });
        }
    }
    Err(Error::internal(format!(
        "no IP addresses available in range set: {set}"
    )))
}
