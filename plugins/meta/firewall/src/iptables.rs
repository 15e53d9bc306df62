//! The iptables backend: the rules of `layout.rs` planned from what the
//! `filter` table holds and applied, one transaction per family
//! (`pkg::firewall::converge`): over netlink for iptables-nft once its
//! table exists, else through the tools. The jumps and isolation rules are
//! shared by every attachment, and an address's rules by the attachments
//! whose markers name it, so every change holds the namespace's lock.

use std::collections::HashSet;

use ipnet::IpNet;

use pkg::firewall::Attachment;
use pkg::firewall::converge::{self, Applied, Job, converge};
use pkg::firewall::iptables_words;
use pkg::firewall::model::{Family, Rule, Table, host};
use pkg::firewall::plan::{Op, State};
use pkg::types::GcAttachment;
use pkg::{Error, Result};

use crate::layout::{
    ADMIN_COMMENT, FILTER_COMMENT, FORWARD, Ingress, IngressPolicy, MARKER_CHAIN, PRIV_CHAIN,
    STAGE1, STAGE2, accept_rules, isolation_rules, jump, marker, marker_comment, parse_marker,
    source, table, validate_admin_chain,
};

const FAMILIES: [Family; 2] = [Family::Ip, Family::Ip6];

fn job(what: &str, cleanup: bool) -> Job<'_> {
    Job {
        cleanup,
        lock: true,
        ..Job::new(what)
    }
}

/// The addresses of `ips` in `family`.
fn of_family(ips: &[IpNet], family: Family) -> Vec<IpNet> {
    ips.iter()
        .filter(|n| Family::of(n) == family)
        .copied()
        .collect()
}

/// The rules of `chains` (none for a chain that does not exist).
fn listed(state: &mut dyn State, t: Table, chains: &[&str]) -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    for chain in chains {
        rules.extend(state.rules(t, chain)?);
    }
    Ok(rules)
}

/// `-N` for those of `chains` that do not exist yet.
fn new_chains(state: &mut dyn State, t: Table, chains: &[&str]) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    let mut named: Vec<&str> = Vec::new();
    for chain in chains {
        if !named.contains(chain) && !state.chain_exists(t, chain)? {
            named.push(chain);
            ops.push(Op::NewChain {
                table: t,
                chain: chain.to_string(),
            });
        }
    }
    Ok(ops)
}

/// Appends (or inserts at the top) the rules of `want` not in `have`.
fn add_missing(t: Table, have: &[Rule], want: Vec<(Rule, bool)>, ops: &mut Vec<Op>) {
    let mut queued: Vec<Rule> = Vec::new();
    for (rule, first) in want {
        if have.iter().chain(&queued).any(|h| h.same_as(&rule)) {
            continue;
        }
        queued.push(rule.clone());
        ops.push(if first {
            Op::Insert { table: t, rule }
        } else {
            Op::Append { table: t, rule }
        });
    }
}

/// Accept forwarded traffic from and (established) to each of `ips`, and
/// apply the ingress policy, in one transaction per family. An error may
/// leave the other family set up; the caller undoes with [`teardown`].
pub fn setup(
    att: &Attachment<'_>,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Result<()> {
    validate_admin_chain(admin_chain)?;
    for family in FAMILIES {
        let nets = of_family(ips, family);
        if nets.is_empty() {
            continue;
        }
        let what = format!(
            "setting up firewall rules for container {} in {}",
            att.container_id,
            table(family).describe()
        );
        converge(&job(&what, false), |state| {
            plan_setup(state, family, att, &nets, admin_chain, ingress)
        })?;
    }
    Ok(())
}

fn plan_setup(
    state: &mut dyn State,
    family: Family,
    att: &Attachment<'_>,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Result<Vec<Op>> {
    let t = table(family);
    let ingress = ingress.filter(|i| i.policy != IngressPolicy::Open);
    let mut chains = vec![PRIV_CHAIN, admin_chain, MARKER_CHAIN];
    if ingress.is_some() {
        chains.extend([STAGE1, STAGE2]);
    }
    let mut ops = new_chains(state, t, &chains)?;
    // A chain about to be made has no rules to list.
    let made = |chain: &&str| {
        ops.iter()
            .any(|o| matches!(o, Op::NewChain { chain: c, .. } if c == chain))
    };
    let mut shared = vec![FORWARD, PRIV_CHAIN];
    if ingress.is_some() {
        shared.extend([STAGE1, STAGE2]);
    }
    shared.retain(|c| !made(c));
    let have = listed(state, t, &shared)?;
    let markers = if made(&MARKER_CHAIN) {
        Vec::new()
    } else {
        listed(state, t, &[MARKER_CHAIN])?
    };
    let mut want: Vec<(Rule, bool)> = vec![
        (jump(FORWARD, FILTER_COMMENT, PRIV_CHAIN), true),
        (jump(PRIV_CHAIN, ADMIN_COMMENT, admin_chain), true),
    ];
    for ip in ips {
        want.extend(accept_rules(ip).map(|r| (r, false)));
    }
    if let Some(i) = ingress {
        want.extend(isolation_rules(i.policy, i.bridge));
    }
    add_missing(t, &have, want, &mut ops);
    // This attachment's markers: exactly one per current address.
    let comment = marker_comment(att);
    let mut kept = Vec::new();
    for r in markers {
        if r.comment.as_deref() != Some(comment.as_str()) {
            continue;
        }
        let src = source(&r);
        let current = src.is_some_and(|(_, s)| ips.iter().any(|ip| host(ip.addr()) == s));
        if current && !kept.contains(&src) {
            kept.push(src);
        } else {
            ops.push(Op::Delete { table: t, rule: r });
        }
    }
    for ip in ips {
        if !kept.contains(&Some((false, host(ip.addr())))) {
            ops.push(Op::Append {
                table: t,
                rule: marker(att, ip),
            });
        }
    }
    Ok(ops)
}

/// Only the ingress isolation, for each family of `ips`: what the
/// firewalld backend still needs iptables for (as in Go).
pub fn setup_isolation(ips: &[IpNet], ingress: Ingress<'_>) -> Result<()> {
    if ingress.policy == IngressPolicy::Open {
        return Ok(());
    }
    for family in FAMILIES {
        if of_family(ips, family).is_empty() {
            continue;
        }
        let what = format!(
            "setting up ingress policy {} for bridge {} in {}",
            ingress.policy.as_str(),
            ingress.bridge,
            table(family).describe()
        );
        converge(&job(&what, false), |state| {
            let t = table(family);
            let mut ops = new_chains(state, t, &[STAGE1, STAGE2])?;
            let have = listed(state, t, &[FORWARD, STAGE1, STAGE2])?;
            add_missing(
                t,
                &have,
                isolation_rules(ingress.policy, ingress.bridge),
                &mut ops,
            );
            Ok(ops)
        })?;
    }
    Ok(())
}

/// Reads `family`'s filter table with `check`, changing nothing.
fn inspect(family: Family, check: impl Fn(&mut dyn State) -> Result<()>) -> Result<()> {
    let what = format!("checking {}", table(family).describe());
    converge::inspect(&Job::new(&what), check)
}

/// The first of `want` that `have` lacks, as CHECK reports it.
fn first_missing<'a>(have: &[Rule], mut want: impl Iterator<Item = &'a Rule>) -> Result<()> {
    match want.find(|w| !have.iter().any(|h| h.same_as(w))) {
        Some(r) => Err(Error::internal(format!(
            "expected {} rule `-A {} {}` not found",
            r.chain,
            r.chain,
            iptables_words(r)
        ))),
        None => Ok(()),
    }
}

/// Whether the isolation rules for the bridge are there.
pub fn check_isolation(ips: &[IpNet], ingress: Ingress<'_>) -> Result<()> {
    if ingress.policy == IngressPolicy::Open {
        return Ok(());
    }
    for family in FAMILIES {
        if of_family(ips, family).is_empty() {
            continue;
        }
        inspect(family, |state| {
            let have = listed(state, table(family), &[FORWARD, STAGE1, STAGE2])?;
            let want = isolation_rules(ingress.policy, ingress.bridge);
            first_missing(&have, want.iter().map(|(r, _)| r))
        })?;
    }
    Ok(())
}

/// Whether the chains, jumps, per-IP rules and isolation rules are there.
pub fn check(ips: &[IpNet], admin_chain: &str, ingress: Option<Ingress<'_>>) -> Result<()> {
    for family in FAMILIES {
        let nets = of_family(ips, family);
        if nets.is_empty() {
            continue;
        }
        inspect(family, |state| {
            check_rules(state, family, &nets, admin_chain, ingress)
        })?;
    }
    Ok(())
}

fn check_rules(
    state: &mut dyn State,
    family: Family,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Result<()> {
    let t = table(family);
    for chain in [PRIV_CHAIN, admin_chain] {
        if !state.chain_exists(t, chain)? {
            return Err(Error::internal(format!(
                "chain {chain} not found in iptables table filter"
            )));
        }
    }
    let ingress = ingress.filter(|i| i.policy != IngressPolicy::Open);
    let mut want = vec![
        jump(FORWARD, FILTER_COMMENT, PRIV_CHAIN),
        jump(PRIV_CHAIN, ADMIN_COMMENT, admin_chain),
    ];
    for ip in ips {
        want.extend(accept_rules(ip));
    }
    let mut chains = vec![FORWARD, PRIV_CHAIN];
    if let Some(i) = ingress {
        want.extend(
            isolation_rules(i.policy, i.bridge)
                .into_iter()
                .map(|(r, _)| r),
        );
        chains.extend([STAGE1, STAGE2]);
    }
    let have = listed(state, t, &chains)?;
    first_missing(&have, want.iter())
}

/// Removes this attachment's per-IP rules and markers. The addresses are
/// `known_ips` (from `prevResult`, may be empty) plus those its markers
/// name; rules an address still needs for another attachment's marker
/// stay. Anything already gone, tools included, counts as removed.
pub fn teardown(att: &Attachment<'_>, known_ips: &[IpNet]) -> Result<()> {
    let comment = marker_comment(att);
    remove_each_family(
        |family| {
            format!(
                "removing firewall rules of container {} from {}",
                att.container_id,
                table(family).describe()
            )
        },
        |state, family| {
            plan_remove(state, family, &of_family(known_ips, family), |c| {
                c == comment
            })
        },
    )
}

/// Removes attachments of `network` that are not in `valid` and that this
/// suite marked; Go-made rules carry no owner and are left to DEL.
pub fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let keep: HashSet<(&str, &str)> = valid
        .iter()
        .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
        .collect();
    let stale = |comment: &str| {
        parse_marker(comment).is_some_and(|(net, id, ifname)| {
            net == network && !keep.contains(&(id.as_str(), ifname.as_str()))
        })
    };
    remove_each_family(
        |family| {
            format!(
                "removing stale firewall rules of network {network:?} from {}",
                table(family).describe()
            )
        },
        |state, family| plan_remove(state, family, &[], stale),
    )
}

/// A cleanup of each family, the second even when the first fails. The
/// netfilter sockets close together at the end, so that the kernel's
/// waits for deleted rules to be freed overlap.
fn remove_each_family(
    what: impl Fn(Family) -> String,
    plan: impl Fn(&mut dyn State, Family) -> Result<Vec<Op>>,
) -> Result<()> {
    let mut applied: Vec<Applied> = Vec::new();
    let mut errors = Vec::new();
    for family in FAMILIES {
        let what = what(family);
        match converge(&job(&what, true), |state| plan(state, family)) {
            Ok(a) => applied.push(a),
            Err(e) => errors.push(e),
        }
    }
    drop(applied);
    Error::from_list(errors)
}

/// Deletes the markers whose comment passes `doomed`, and the accept rules
/// of their addresses and of `known` that no other marker still names.
fn plan_remove(
    state: &mut dyn State,
    family: Family,
    known: &[IpNet],
    doomed: impl Fn(&str) -> bool,
) -> Result<Vec<Op>> {
    let t = table(family);
    let mut ops = Vec::new();
    let mut addrs: Vec<IpNet> = known.iter().map(|n| host(n.addr())).collect();
    let mut in_use = HashSet::new();
    for r in listed(state, t, &[MARKER_CHAIN])? {
        let Some((_, src)) = source(&r) else { continue };
        if r.comment.as_deref().is_some_and(&doomed) {
            ops.push(Op::Delete { table: t, rule: r });
            addrs.push(src);
        } else if r.comment.as_deref().and_then(parse_marker).is_some() {
            in_use.insert(src);
        }
    }
    let mut done = HashSet::new();
    addrs.retain(|ip| !in_use.contains(ip) && done.insert(*ip));
    if addrs.is_empty() {
        return Ok(ops);
    }
    let accepts = listed(state, t, &[PRIV_CHAIN])?;
    for ip in &addrs {
        for want in accept_rules(ip) {
            ops.extend(
                accepts
                    .iter()
                    .filter(|r| r.same_as(&want))
                    .map(|r| Op::Delete {
                        table: t,
                        rule: r.clone(),
                    }),
            );
        }
    }
    Ok(ops)
}

#[cfg(test)]
#[path = "iptables_tests.rs"]
mod tests;
