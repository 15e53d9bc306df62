//! Masquerade for bridge and ptp `ipMasq` (plugins.md §2.10), keyed only by
//! network, ifname and container ID so that DEL and GC work without the
//! container's IPs (a netns that is already gone has none to offer).

mod ipt;
mod nft;

use std::collections::HashSet;

use ipnet::IpNet;

use super::Backend;
use crate::error::{Error, Result};
use crate::types::GcAttachment;

/// Masquerade traffic from each container address (`ips`, CIDRs with host
/// bits, v4 and/or v6) leaving its subnet, for attachment (network, ifname,
/// container_id). Idempotent; safe under concurrent calls for different
/// containers.
pub fn setup(
    backend: Backend,
    network: &str,
    ifname: &str,
    container_id: &str,
    ips: &[IpNet],
) -> Result<()> {
    if ips.is_empty() {
        return Ok(());
    }
    match backend {
        Backend::Iptables => ipt::setup(network, container_id, ips),
        Backend::Nftables => nft::setup(network, ifname, container_id, ips),
    }
}

/// Removes what [`setup`] (ours or Go's) made for this attachment, on both
/// backends, since the attachment may predate a backend change. Anything
/// already missing, including the tools, counts as removed.
pub fn teardown(network: &str, ifname: &str, container_id: &str) -> Result<()> {
    let errors = [
        ipt::teardown(network, container_id),
        nft::teardown(network, ifname, container_id),
    ];
    Error::from_list(errors.into_iter().filter_map(Result::err).collect())
}

/// Removes masquerade state of attachments of `network` not in `valid`. The
/// iptables layout only records the container ID, so there an attachment is
/// kept if its ID appears with any ifname.
pub fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let ids: HashSet<&str> = valid.iter().map(|a| a.container_id.as_str()).collect();
    let errors = [ipt::gc(network, &ids), nft::gc(network, valid)];
    Error::from_list(errors.into_iter().filter_map(Result::err).collect())
}

#[cfg(test)]
#[path = "masq/tests.rs"]
mod tests;
