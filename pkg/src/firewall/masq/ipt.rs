//! Masquerade in the iptables `nat` table, in Go's layout: a `CNI-<hash>`
//! chain per (network, container) and a POSTROUTING jump per container IP,
//! all commented `name: "<net>" id: "<cid>"`. Go ignores ifname here, and
//! so must we, or Go-made chains would not be found.

use std::collections::{BTreeSet, HashSet};

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::firewall::exec;
use crate::firewall::iptables::{self, Family, NatTable, Rule};
use crate::firewall::names::{format_chain_name, format_comment, parse_comment};
use crate::firewall::nfexpr::{Expr, Verdict, addr_match, encode_list};
use crate::firewall::nfnl::{IPV4, IPV6, Nft, Op};

const POSTROUTING: &str = "POSTROUTING";
const NAT: &str = "nat";

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
        let plan = |t: &NatTable| plan_setup(t, family, &chain, &comment, &nets);
        // A new chain has no rules and no jumps yet, and nothing needs to be
        // listed (a listing costs a process and grows with every container
        // on the node): the whole layout goes in over netlink, encoded as
        // iptables-nft encodes it, or else in one restore.
        if let Some(mut nl) = new_chain(family, &chain) {
            if nl
                .chain_exists(nfproto(family), NAT, POSTROUTING)
                .is_ok_and(|e| e)
                && let Some(ops) = setup_ops(family, &chain, &comment, &nets)
                && nl.commit(&ops).is_ok()
            {
                continue;
            }
            if iptables::restore_nat(family, &plan(&NatTable::default())).is_ok() {
                continue;
            }
        }
        iptables::converge_unlocked(family, NAT, &what, false, plan)?;
    }
    Ok(())
}

/// A netfilter socket when the chain is known to be absent without
/// running a tool: iptables keeps its rules in nf_tables and the kernel
/// says it has no such chain in `nat`. None when unknown (legacy iptables,
/// no netlink) or present.
fn new_chain(family: Family, chain: &str) -> Option<Nft> {
    if exec::find_tool(family.tool()).is_none() || !uses_nftables(family) {
        return None;
    }
    let mut nl = Nft::new().ok()?;
    let absent = nl
        .chain_exists(nfproto(family), NAT, chain)
        .is_ok_and(|e| !e);
    absent.then_some(nl)
}

/// `plan_setup`'s lines for a new chain as netlink operations, each rule
/// encoded as iptables-nft encodes it (matches, a counter, the verdict or
/// target), so that `iptables -S` prints it and `iptables -D` finds it.
/// None when something does not fit (a comment too long for iptables, a
/// /0 network): the restore handles it.
fn setup_ops(family: Family, chain: &str, comment: &str, nets: &[IpNet]) -> Option<Vec<Op>> {
    let fam = nfproto(family);
    let v6 = family == Family::V6;
    let xt_comment = Expr::xt_comment(comment)?;
    let rule = |in_chain: &str, mut exprs: Vec<Expr>, last: Expr| {
        exprs.extend([xt_comment.clone(), Expr::Counter, last]);
        Op::NewRule {
            family: fam,
            table: NAT.into(),
            chain: in_chain.into(),
            exprs: encode_list(&exprs),
            udata: None,
        }
    };
    let mut ops = vec![Op::NewChain {
        family: fam,
        table: NAT.into(),
        chain: chain.into(),
    }];
    let mut accepts: Vec<IpNet> = Vec::new();
    for net in nets.iter().map(IpNet::trunc) {
        if !accepts.contains(&net) {
            accepts.push(net);
            let m = addr_match(false, net, false)?;
            ops.push(rule(chain, m, Expr::Immediate(Verdict::Accept)));
        }
    }
    let m = addr_match(false, family.multicast(), true)?;
    ops.push(rule(chain, m, Expr::xt_masquerade(v6)));
    let mut hosts: Vec<IpNet> = Vec::new();
    for host in nets.iter().map(|n| IpNet::from(n.addr())) {
        if !hosts.contains(&host) {
            hosts.push(host);
            let m = addr_match(true, host, false)?;
            ops.push(rule(
                POSTROUTING,
                m,
                Expr::Immediate(Verdict::Jump(chain.into())),
            ));
        }
    }
    Some(ops)
}

/// Whether the family's iptables is iptables-nft (its rules are nf_tables
/// objects that netlink can read and delete), judged by where the binary
/// links to: `xtables-nft-multi` or `iptables-nft`. A missing tool counts
/// too, since then only nf_tables can hold anything.
pub(super) fn uses_nftables(family: Family) -> bool {
    match exec::find_tool(family.tool()) {
        None => true,
        Some(path) => std::fs::canonicalize(&path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().contains("nft")))
            .unwrap_or(false),
    }
}

fn nfproto(family: Family) -> u8 {
    match family {
        Family::V4 => IPV4,
        Family::V6 => IPV6,
    }
}

/// Teardown through the tools: list the table, delete in one restore.
pub(super) fn teardown(network: &str, container_id: &str, family: Family) -> Result<()> {
    let chain = format_chain_name(network, container_id);
    let what = format!(
        "removing masquerade chain {chain} from {} table nat",
        family.tool()
    );
    iptables::converge_unlocked(family, NAT, &what, true, |t| plan_teardown(t, &chain))
}

/// The same teardown as netlink deletions, for iptables-nft: every
/// POSTROUTING rule jumping to the chain, then the chain. Nothing when the
/// chain does not exist (no jump can name a missing chain).
pub(super) fn teardown_ops(
    nl: &mut Nft,
    family: Family,
    network: &str,
    container_id: &str,
) -> Result<Vec<Op>> {
    let chain = format_chain_name(network, container_id);
    let fam = nfproto(family);
    if !nl.chain_exists(fam, NAT, &chain)? {
        return Ok(Vec::new());
    }
    let mut ops: Vec<Op> = nl
        .rules(fam, NAT, POSTROUTING)?
        .into_iter()
        .filter(|r| r.jump.as_deref() == Some(chain.as_str()))
        .map(|r| Op::DelRule {
            family: fam,
            table: NAT.into(),
            chain: POSTROUTING.into(),
            handle: r.handle,
        })
        .collect();
    ops.push(Op::Flush {
        family: fam,
        table: NAT.into(),
        chain: chain.clone(),
    });
    ops.push(Op::DelChain {
        family: fam,
        table: NAT.into(),
        chain,
    });
    Ok(ops)
}

pub(super) fn gc(network: &str, valid_ids: &HashSet<&str>) -> Result<()> {
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing stale masquerade chains of network {network:?} from {} table nat",
                family.tool()
            );
            iptables::converge_unlocked(family, NAT, &what, true, |t| {
                plan_gc(t, network, valid_ids)
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
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
