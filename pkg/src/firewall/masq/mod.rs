//! Masquerade for bridge and ptp `ipMasq`, keyed only by network, ifname
//! and container ID so that DEL and GC work without the container's IPs (a
//! netns that is already gone has none to offer). Two layouts, Go's both:
//! iptables chains in `nat` (`ipt`) and the `inet cni_plugins_masquerade`
//! table (`nft`). See Documentation/firewall-rules.md.

pub(super) mod ipt;
mod nft;

use std::collections::HashSet;

use ipnet::IpNet;

use super::Backend;
use super::converge::{Applied, Job, converge, converge_in};
use super::model::Family;
use super::names::format_chain_name;
use super::natmemo;
use super::nft::Session;
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
        Backend::Iptables => {
            let chain = format_chain_name(network, container_id);
            let mut applied = None;
            // One job per family: each has its own tool to blame.
            for family in [Family::Ip, Family::Ip6] {
                let nets: Vec<IpNet> = ips
                    .iter()
                    .filter(|n| Family::of(n) == family)
                    .copied()
                    .collect();
                if nets.is_empty() {
                    continue;
                }
                let table = ipt::table(family);
                let what = format!(
                    "setting up masquerade chain {chain} in {}",
                    table.describe()
                );
                let job = Job::new(&what);
                let session = match applied.take() {
                    Some(a) => Applied::into_session(a),
                    None => natmemo::take_session(),
                };
                applied = Some(converge_in(&job, session, |state| {
                    ipt::plan_setup(state, family, network, container_id, &nets)
                })?);
            }
            if let Some(session) = applied.as_mut().and_then(Applied::session) {
                natmemo::carry(session);
            }
            Ok(())
        }
        Backend::Nftables => {
            let what = format!(
                "setting up masquerade rules in {} chain {}",
                nft::TABLE.describe(),
                nft::CHAIN
            );
            let job = Job::new(&what);
            converge(&job, |state| {
                nft::plan_setup(state, network, ifname, container_id, ips)
            })
            .map(drop)
        }
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
pub type Deferred = Applied;

/// [`teardown`], keeping the netfilter socket open: see [`Deferred`].
/// Both layouts' rules go in one transaction where they are nf_tables
/// objects (nftables, iptables-nft); iptables-legacy is listed and changed
/// with its tools.
pub fn teardown_deferred(network: &str, ifname: &str, container_id: &str) -> Result<Deferred> {
    let what = format!(
        "removing masquerade chain {} and rules {}",
        format_chain_name(network, container_id),
        nft::hash_for_instance(network, ifname, container_id)
    );
    let job = Job {
        cleanup: true,
        ..Job::new(&what)
    };
    let mut session = natmemo::take_session().or_else(|| Session::open().ok());
    if let Some(s) = &mut session {
        natmemo::resume(s);
    }
    // The first plan guesses where the iptables jumps are; a plan made
    // again (the guess missed one and the kernel refused) lists them.
    let mut guess = true;
    let mut applied = converge_in(&job, session, |state| {
        let guess = std::mem::take(&mut guess);
        let mut ops = Vec::new();
        for family in [Family::Ip, Family::Ip6] {
            ops.extend(ipt::plan_teardown(
                state,
                family,
                network,
                container_id,
                guess,
            )?);
        }
        ops.extend(nft::plan_teardown(state, network, ifname, container_id)?);
        Ok(ops)
    })?;
    if let Some(session) = applied.session() {
        natmemo::carry(session);
    }
    Ok(applied)
}

/// Removes masquerade state of attachments of `network` not in `valid`. The
/// iptables layout only records the container ID, so there an attachment is
/// kept if its ID appears with any ifname.
pub fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let ids: HashSet<&str> = valid.iter().map(|a| a.container_id.as_str()).collect();
    let what = format!("removing stale masquerade state of network {network:?}");
    let job = Job {
        cleanup: true,
        ..Job::new(&what)
    };
    let errors: Vec<Error> = [Family::Ip, Family::Ip6]
        .into_iter()
        .filter_map(|family| {
            converge(&job, |state| ipt::plan_gc(state, family, network, &ids)).err()
        })
        .chain(converge(&job, |state| nft::plan_gc(state, network, valid)).err())
        .collect();
    Error::from_list(errors)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
