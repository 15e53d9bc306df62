//! Masquerade for bridge and ptp `ipMasq` (plugins.md §2.10), keyed only by
//! network, ifname and container ID so that DEL and GC work without the
//! container's IPs (a netns that is already gone has none to offer).

mod ipt;
mod nft;

use std::collections::HashSet;

use ipnet::IpNet;

use super::Backend;
use super::iptables::Family;
use super::nfnl::Nft;
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
    teardown_deferred(network, ifname, container_id).map(drop)
}

/// What a teardown leaves to wait for: the kernel frees deleted rules after
/// an RCU grace period, and closing the netfilter socket (dropping this)
/// waits for that. A DEL drops it after its other slow work (the veth's own
/// grace periods) so the waits overlap.
pub struct Deferred(#[allow(dead_code)] Option<Nft>);

/// [`teardown`], keeping the netfilter socket open: see [`Deferred`].
///
/// Where the rules are nf_tables objects (the nftables backend, and
/// iptables-nft), they are found and deleted over netlink in one
/// transaction, without running a tool; iptables-legacy is listed and
/// changed with its tools.
pub fn teardown_deferred(network: &str, ifname: &str, container_id: &str) -> Result<Deferred> {
    let legacy: Vec<Family> = Family::ALL
        .into_iter()
        .filter(|f| !ipt::uses_nftables(*f))
        .collect();
    let mut errors = Vec::new();
    let nl = match netlink_teardown(network, ifname, container_id, &legacy) {
        Ok(nl) => Some(nl),
        // No usable netlink (or a refused transaction, twice): the tools
        // say why in their own words.
        Err(_) => {
            errors.extend(
                Family::ALL
                    .into_iter()
                    .filter(|f| !legacy.contains(f))
                    .filter_map(|f| ipt::teardown(network, container_id, f).err()),
            );
            errors.extend(nft::teardown(network, ifname, container_id).err());
            None
        }
    };
    for family in legacy {
        errors.extend(ipt::teardown(network, container_id, family).err());
    }
    Error::from_list(errors)?;
    Ok(Deferred(nl))
}

fn netlink_teardown(
    network: &str,
    ifname: &str,
    container_id: &str,
    skip: &[Family],
) -> Result<Nft> {
    let mut nl = Nft::new()?;
    let prefix = nft::hash_for_instance(network, ifname, container_id);
    let mut retried = false;
    loop {
        let mut ops = Vec::new();
        for family in Family::ALL.into_iter().filter(|f| !skip.contains(f)) {
            ops.extend(ipt::teardown_ops(&mut nl, family, network, container_id)?);
        }
        ops.extend(nft::teardown_ops(&mut nl, &prefix)?);
        match nl.commit(&ops) {
            Ok(()) => return Ok(nl),
            // Someone changed the chains in between: plan again.
            Err(_) if !retried => retried = true,
            Err(e) => return Err(e),
        }
    }
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
