//! Masquerade in the iptables `nat` table, in Go's layout: a `CNI-<hash>`
//! chain per (network, container) and a POSTROUTING jump per container IP,
//! all commented `name: "<net>" id: "<cid>"`. Go ignores ifname here, and
//! so must we, or Go-made chains would not be found.

use std::collections::{BTreeSet, HashSet};

use ipnet::IpNet;

use crate::error::Result;
use crate::firewall::model::{Action, Family, Handle, Match, Rule, Table, host, multicast};
use crate::firewall::names::{format_chain_name, format_comment, parse_comment};
use crate::firewall::plan::{Op, State};

pub(in crate::firewall) const POSTROUTING: &str = "POSTROUTING";

pub(in crate::firewall) fn table(family: Family) -> Table {
    Table::iptables(family, "nat")
}

fn accept(chain: &str, net: IpNet, comment: &str) -> Rule {
    Rule::new(
        chain,
        vec![Match::Dst {
            negate: false,
            net: net.trunc(),
        }],
        Action::Accept,
    )
    .with_comment(comment)
}

fn masquerade(family: Family, chain: &str, comment: &str) -> Rule {
    Rule::new(
        chain,
        vec![Match::Dst {
            negate: true,
            net: multicast(family),
        }],
        Action::Masquerade,
    )
    .with_comment(comment)
}

fn jump(chain: &str, ip: IpNet, comment: &str) -> Rule {
    Rule::new(
        POSTROUTING,
        vec![Match::Src {
            negate: false,
            net: host(ip.addr()),
        }],
        Action::Jump(chain.to_string()),
    )
    .with_comment(comment)
}

/// What is missing of Go's three rules per CIDR. ACCEPT rules go before
/// MASQUERADE even when a second CIDR joins an existing chain, which Go's
/// AppendUnique gets wrong. A new chain has no rules and no jumps yet (the
/// kernel refuses a jump to a missing chain), so then nothing else is
/// listed: POSTROUTING grows with every container on the node.
pub(super) fn plan_setup(
    state: &mut dyn State,
    family: Family,
    network: &str,
    container_id: &str,
    nets: &[IpNet],
) -> Result<Vec<Op>> {
    let t = table(family);
    let chain = format_chain_name(network, container_id);
    let comment = format_comment(network, container_id);
    let exists = state.chain_exists(t, &chain)?;
    let (have, jumps) = if exists {
        (state.rules(t, &chain)?, state.rules(t, POSTROUTING)?)
    } else {
        (Vec::new(), Vec::new())
    };
    let present = |r: &Rule, queued: &[Rule]| {
        have.iter()
            .chain(&jumps)
            .chain(queued)
            .any(|h| h.same_as(r))
    };
    let mut ops = Vec::new();
    if !exists {
        ops.push(Op::NewChain {
            table: t,
            chain: chain.clone(),
        });
    }
    let masq = masquerade(family, &chain, &comment);
    let masq_present = present(&masq, &[]);
    let mut queued: Vec<Rule> = Vec::new();
    for net in nets {
        let rule = accept(&chain, *net, &comment);
        if !present(&rule, &queued) {
            queued.push(rule.clone());
            ops.push(if masq_present {
                Op::Insert { table: t, rule }
            } else {
                Op::Append { table: t, rule }
            });
        }
    }
    if !masq_present {
        ops.push(Op::Append {
            table: t,
            rule: masq,
        });
    }
    for net in nets {
        let rule = jump(&chain, *net, &comment);
        if !present(&rule, &queued) {
            queued.push(rule.clone());
            ops.push(Op::Append { table: t, rule });
        }
    }
    Ok(ops)
}

/// Every POSTROUTING jump to the chain, whatever its source or comment (so
/// Go's legacy `-s ip/mask` form goes too), then the chain itself. Nothing
/// when the chain does not exist: no jump can name a missing chain. With
/// `guess`, the jumps are first looked for where our setup puts them
/// ([`guess_jumps`]) instead of in a listing of POSTROUTING, which holds a
/// jump per container on the node.
pub(super) fn plan_teardown(
    state: &mut dyn State,
    family: Family,
    network: &str,
    container_id: &str,
    guess: bool,
) -> Result<Vec<Op>> {
    let t = table(family);
    let chain = format_chain_name(network, container_id);
    if !state.chain_exists(t, &chain)? {
        return Ok(Vec::new());
    }
    if guess && let Some(jumps) = guess_jumps(state, t, &chain)? {
        return Ok(teardown_ops(family, &jumps, &chain));
    }
    let jumps = state.rules(t, POSTROUTING)?;
    Ok(teardown_ops(family, &jumps, &chain))
}

/// The POSTROUTING jumps to `chain` where [`plan_setup`] over netlink puts
/// them: the chain, its rules and the jumps go in one nf_tables
/// transaction, which the kernel processes under its commit lock, and a
/// table numbers its chains and rules from one counter, so the jumps'
/// handles follow the chain's last rule's (one jump per ACCEPT rule: at
/// most as many as the chain has rules). Each candidate is looked up by
/// handle and kept only if it jumps to `chain`. None (list POSTROUTING
/// instead) when the state cannot look up by handle or nothing is found
/// there (a chain Go or `iptables-restore` made). A jump that is missed
/// keeps the chain in use, so the kernel refuses the transaction's deletion
/// of the chain, nothing changes, and the teardown is planned again from a
/// listing.
fn guess_jumps(state: &mut dyn State, t: Table, chain: &str) -> Result<Option<Vec<Rule>>> {
    let own = state.rules(t, chain)?;
    let Some(last) = own
        .iter()
        .filter_map(|r| match r.handle {
            Handle::Nft(h) => Some(h),
            _ => None,
        })
        .max()
    else {
        return Ok(None);
    };
    let mut jumps = Vec::new();
    for handle in (last + 1..).take(own.len()) {
        match state.rule_at(t, POSTROUTING, handle)? {
            None => return Ok(None),
            Some(Some(rule)) if rule.target_chain() == Some(chain) => jumps.push(rule),
            Some(_) => {}
        }
    }
    Ok((!jumps.is_empty()).then_some(jumps))
}

fn teardown_ops(family: Family, postrouting: &[Rule], chain: &str) -> Vec<Op> {
    let t = table(family);
    let mut ops: Vec<Op> = postrouting
        .iter()
        .filter(|r| r.target_chain() == Some(chain))
        .map(|r| Op::Delete {
            table: t,
            rule: r.clone(),
        })
        .collect();
    ops.push(Op::FlushChain {
        table: t,
        chain: chain.to_string(),
    });
    ops.push(Op::DelChain {
        table: t,
        chain: chain.to_string(),
    });
    ops
}

/// Chains of `network` whose comment names a container not in `valid_ids`.
/// A chain counts only if its name is the hash of that network and id, so
/// other users of the same comment (portmap's `CNI-DN-` chains) are safe.
pub(super) fn plan_gc(
    state: &mut dyn State,
    family: Family,
    network: &str,
    valid_ids: &HashSet<&str>,
) -> Result<Vec<Op>> {
    let t = table(family);
    let rules = state.all_rules(t)?;
    let chains = state.chains(t)?;
    let mut stale = BTreeSet::new();
    for rule in &rules {
        let Some((net, id)) = rule.comment.as_deref().and_then(parse_comment) else {
            continue;
        };
        if net != network || valid_ids.contains(id.as_str()) {
            continue;
        }
        let chain = format_chain_name(network, &id);
        if rule.chain == chain || rule.target_chain() == Some(chain.as_str()) {
            stale.insert(chain);
        }
    }
    let postrouting: Vec<Rule> = rules
        .iter()
        .filter(|r| r.chain == POSTROUTING)
        .cloned()
        .collect();
    Ok(stale
        .iter()
        .flat_map(|chain| {
            let mut ops = teardown_ops(family, &postrouting, chain);
            if !chains.contains(chain) {
                ops.retain(|o| matches!(o, Op::Delete { .. }));
            }
            ops
        })
        .collect())
}

#[cfg(test)]
#[path = "ipt_tests.rs"]
mod tests;
