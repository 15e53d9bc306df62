//! Masquerade in the iptables `nat` table, in Go's layout: a `CNI-<hash>`
//! chain per (network, container) and a POSTROUTING jump per container IP,
//! all commented `name: "<net>" id: "<cid>"`. Go ignores ifname here, and
//! so must we, or Go-made chains would not be found.

use std::collections::{BTreeSet, HashSet};

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::firewall::exec::ExecError;
use crate::firewall::iptables::{self, Family, NatTable, Rule};
use crate::firewall::names::{format_chain_name, format_comment, parse_comment};

const POSTROUTING: &str = "POSTROUTING";

pub(super) fn setup(network: &str, container_id: &str, ips: &[IpNet]) -> Result<()> {
    let chain = format_chain_name(network, container_id);
    let comment = format_comment(network, container_id);
    for family in Family::ALL {
        let nets: Vec<IpNet> = ips
            .iter()
            .filter(|n| Family::of(n) == family)
            .copied()
            .collect();
        if nets.is_empty() {
            continue;
        }
        let what = format!(
            "setting up masquerade chain {chain} in {} table nat",
            family.tool()
        );
        converge(family, &what, false, |t| {
            plan_setup(t, family, &chain, &comment, &nets)
        })?;
    }
    Ok(())
}

pub(super) fn teardown(network: &str, container_id: &str) -> Result<()> {
    let chain = format_chain_name(network, container_id);
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing masquerade chain {chain} from {} table nat",
                family.tool()
            );
            converge(family, &what, true, |t| plan_teardown(t, &chain)).err()
        })
        .collect();
    Error::from_list(errors)
}

pub(super) fn gc(network: &str, valid_ids: &HashSet<&str>) -> Result<()> {
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing stale masquerade chains of network {network:?} from {} table nat",
                family.tool()
            );
            converge(family, &what, true, |t| plan_gc(t, network, valid_ids)).err()
        })
        .collect();
    Error::from_list(errors)
}

/// Lists the table, plans, and applies the plan in one restore. A failed
/// restore is planned again once from a fresh listing, because another
/// plugin may have changed the table in between. With `cleanup`, a missing
/// tool or table means there is nothing to remove.
fn converge(
    family: Family,
    what: &str,
    cleanup: bool,
    plan: impl Fn(&NatTable) -> Vec<String>,
) -> Result<()> {
    let mut retried = false;
    loop {
        let table = match iptables::list_nat(family) {
            Ok(t) => t,
            Err(e) if cleanup && (e.is_missing() || e.is_absent()) => return Ok(()),
            Err(e) => return Err(e.into_error(what)),
        };
        let lines = plan(&table);
        if lines.is_empty() {
            return Ok(());
        }
        match iptables::restore_nat(family, &lines) {
            Ok(()) => return Ok(()),
            Err(ExecError::Failed { .. }) if !retried => retried = true,
            Err(e) => {
                let what = match iptables::blamed_line(e.stderr(), &lines) {
                    Some(line) => format!("{what} (at `{line}`)"),
                    None => what.to_string(),
                };
                return Err(e.into_error(&what));
            }
        }
    }
}

/// What is missing of Go's three rules per CIDR. ACCEPT rules go before
/// MASQUERADE even when a second CIDR joins an existing chain, which Go's
/// AppendUnique gets wrong.
pub(super) fn plan_setup(
    table: &NatTable,
    family: Family,
    chain: &str,
    comment: &str,
    nets: &[IpNet],
) -> Vec<String> {
    let mut lines = Vec::new();
    let exists = table.has_chain(chain);
    if !exists {
        lines.push(format!(":{chain} - [0:0]"));
    }
    let masq = Rule::new(
        chain,
        None,
        Some((true, family.multicast())),
        comment,
        "MASQUERADE",
    );
    let masq_present = exists && table.contains(&masq);
    let mut queued: Vec<Rule> = Vec::new();
    for net in nets {
        let accept = Rule::new(chain, None, Some((false, *net)), comment, "ACCEPT");
        if !table.contains(&accept) && !queued.iter().any(|q| q.same_as(&accept)) {
            lines.push(if masq_present {
                accept.insert_line()
            } else {
                accept.append_line()
            });
            queued.push(accept);
        }
    }
    if !masq_present {
        lines.push(masq.append_line());
    }
    for net in nets {
        let host = IpNet::from(net.addr());
        let jump = Rule::new(POSTROUTING, Some((false, host)), None, comment, chain);
        if !table.contains(&jump) && !queued.iter().any(|q| q.same_as(&jump)) {
            lines.push(jump.append_line());
            queued.push(jump);
        }
    }
    lines
}

/// Every POSTROUTING jump to `chain`, whatever its source or comment (so
/// Go's legacy `-s ip/mask` form goes too), then the chain itself.
pub(super) fn plan_teardown(table: &NatTable, chain: &str) -> Vec<String> {
    let mut lines: Vec<String> = table
        .rules_in(POSTROUTING)
        .filter(|r| r.target.as_deref() == Some(chain))
        .map(Rule::delete_line)
        .collect();
    if table.has_chain(chain) {
        lines.push(format!("-F {chain}"));
        lines.push(format!("-X {chain}"));
    }
    lines
}

/// Chains of `network` whose comment names a container not in `valid_ids`.
/// A chain counts only if its name is the hash of that network and id, so
/// other users of the same comment (portmap's `CNI-DN-` chains) are safe.
pub(super) fn plan_gc(table: &NatTable, network: &str, valid_ids: &HashSet<&str>) -> Vec<String> {
    let mut stale = BTreeSet::new();
    for rule in &table.rules {
        let Some((net, id)) = rule.comment.as_deref().and_then(parse_comment) else {
            continue;
        };
        if net != network || valid_ids.contains(id.as_str()) {
            continue;
        }
        let chain = format_chain_name(network, &id);
        if rule.chain == chain || rule.target.as_deref() == Some(chain.as_str()) {
            stale.insert(chain);
        }
    }
    stale.iter().flat_map(|c| plan_teardown(table, c)).collect()
}

#[cfg(test)]
#[path = "ipt_tests.rs"]
mod tests;
