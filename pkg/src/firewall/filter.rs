//! The firewall plugin's rules in the iptables `filter` table (plugins.md
//! §4.3), in Go's layout:
//!
//! ```text
//! FORWARD (first):        -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
//! CNI-FORWARD (first):    -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
//! CNI-FORWARD:            -d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//!                         -s 10.88.0.5/32 -j ACCEPT
//! ```
//!
//! and for `ingressPolicy` same-bridge / isolated, per bridge:
//!
//! ```text
//! FORWARD (first):        -j CNI-ISOLATION-STAGE-1
//! CNI-ISOLATION-STAGE-1:  -i br ! -o br -j CNI-ISOLATION-STAGE-2
//!                         [isolated] -i br -o br -j DROP
//!                         -j RETURN
//! CNI-ISOLATION-STAGE-2:  -o br -j DROP
//!                         -j RETURN
//! ```
//!
//! The per-IP rules are Go's exactly, so Go's DEL removes ours and ours
//! Go's. Go cannot tell whose they are without `prevResult`, so they leak
//! when the runtime lost it; here each attachment also gets one marker rule
//! per address in `CNI-FW-ATTACHMENTS`, a chain nothing jumps to (so it never
//! sees a packet): `-s <ip>/32 -m comment --comment 'name: "<net>" id:
//! "<cid>" if: "<ifname>"' -j RETURN`. DEL and GC read the addresses from
//! there, and keep rules an address still needs for another attachment.
//! Isolation rules are per bridge, not per container, and stay (as in Go).

use std::collections::HashSet;

use ipnet::IpNet;

use super::Attachment;
use super::iptables::{self, Family, NatTable, Rule};
use super::names::{format_comment, go_quote, go_unquote_prefix};
use crate::error::{Error, Result};
use crate::types::GcAttachment;

const TABLE: &str = "filter";
const FORWARD: &str = "FORWARD";
pub const PRIV_CHAIN: &str = "CNI-FORWARD";
pub const DEFAULT_ADMIN_CHAIN: &str = "CNI-ADMIN";
pub const MARKER_CHAIN: &str = "CNI-FW-ATTACHMENTS";
pub const STAGE1: &str = "CNI-ISOLATION-STAGE-1";
pub const STAGE2: &str = "CNI-ISOLATION-STAGE-2";
const FILTER_COMMENT: &str = "CNI firewall plugin rules";
const ADMIN_COMMENT: &str = "CNI firewall plugin admin overrides";
/// Go's comment on the shared isolation rules (the jump and the RETURNs).
const INGRESS_COMMENT: &str = "CNI firewall plugin rules (ingressPolicy: same-bridge)";
/// iptables chain names hold at most 28 characters.
const CHAIN_MAX: usize = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngressPolicy {
    Open,
    SameBridge,
    Isolated,
}

impl IngressPolicy {
    /// `open` (also empty), `same-bridge` or `isolated`.
    pub fn parse(s: &str) -> Option<IngressPolicy> {
        match s {
            "" | "open" => Some(IngressPolicy::Open),
            "same-bridge" => Some(IngressPolicy::SameBridge),
            "isolated" => Some(IngressPolicy::Isolated),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IngressPolicy::Open => "open",
            IngressPolicy::SameBridge => "same-bridge",
            IngressPolicy::Isolated => "isolated",
        }
    }

    fn comment(self) -> String {
        format!(
            "CNI firewall plugin rules (ingressPolicy: {})",
            self.as_str()
        )
    }
}

/// A user-chosen chain name (`iptablesAdminChainName`) iptables accepts.
pub fn validate_chain_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= CHAIN_MAX
        && !name.starts_with(['-', '!'])
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\'');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid_config(
            format!("invalid iptables chain name {name:?}"),
            "chain names have 1 to 28 printable characters, no quotes, and do not start with '-' or '!'",
        ))
    }
}

/// `iptablesAdminChainName`: a valid chain name that is none of the chains
/// the plugin jumps from or owns (a jump into them would loop).
pub fn validate_admin_chain(name: &str) -> Result<()> {
    validate_chain_name(name)?;
    const RESERVED: [&str; 8] = [
        "INPUT",
        "OUTPUT",
        FORWARD,
        "PREROUTING",
        "POSTROUTING",
        PRIV_CHAIN,
        MARKER_CHAIN,
        STAGE1,
    ];
    if RESERVED.contains(&name) || name == STAGE2 {
        return Err(Error::invalid_config(
            format!("iptablesAdminChainName {name:?} is a chain the firewall plugin already uses"),
            "",
        ));
    }
    Ok(())
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// The address as Go's `ipString` writes it: /32 or /128.
fn host(ip: &IpNet) -> String {
    IpNet::from(ip.addr()).to_string()
}

fn accept_rules(ip: &IpNet) -> [Rule; 2] {
    let h = host(ip);
    [
        Rule::parse(
            PRIV_CHAIN,
            &strings(&[
                "-d",
                &h,
                "-m",
                "conntrack",
                "--ctstate",
                "RELATED,ESTABLISHED",
                "-j",
                "ACCEPT",
            ]),
        ),
        Rule::parse(PRIV_CHAIN, &strings(&["-s", &h, "-j", "ACCEPT"])),
    ]
}

fn marker_comment(att: &Attachment<'_>) -> String {
    format!(
        "{} if: {}",
        format_comment(att.network, att.container_id),
        go_quote(att.ifname)
    )
}

/// `(network, container ID, ifname)` of a marker comment.
fn parse_marker(comment: &str) -> Option<(String, String, String)> {
    let rest = comment.strip_prefix("name: ")?;
    let (net, rest) = go_unquote_prefix(rest)?;
    let (id, rest) = go_unquote_prefix(rest.strip_prefix(" id: ")?)?;
    let (ifname, rest) = go_unquote_prefix(rest.strip_prefix(" if: ")?)?;
    rest.is_empty().then_some((net, id, ifname))
}

fn marker(att: &Attachment<'_>, ip: &IpNet) -> Rule {
    Rule::parse(
        MARKER_CHAIN,
        &strings(&[
            "-s",
            &host(ip),
            "-m",
            "comment",
            "--comment",
            &marker_comment(att),
            "-j",
            "RETURN",
        ]),
    )
}

fn jump(chain: &str, comment: &str, target: &str) -> Rule {
    Rule::parse(
        chain,
        &strings(&["-m", "comment", "--comment", comment, "-j", target]),
    )
}

/// The isolation rules for `bridge`: (rule, insert at the top).
fn isolation_rules(policy: IngressPolicy, bridge: &str) -> Vec<(Rule, bool)> {
    let p = policy.comment();
    let with = |chain: &str, words: &[&str], comment: &str, target: &str| {
        let mut args = strings(words);
        args.extend(strings(&[
            "-m",
            "comment",
            "--comment",
            comment,
            "-j",
            target,
        ]));
        Rule::parse(chain, &args)
    };
    let mut rules = vec![
        // Ahead of CNI-FORWARD, which is why it comes after it in a batch.
        (jump(FORWARD, INGRESS_COMMENT, STAGE1), true),
        (
            with(STAGE1, &["-i", bridge, "!", "-o", bridge], &p, STAGE2),
            true,
        ),
    ];
    if policy == IngressPolicy::Isolated {
        rules.push((
            with(STAGE1, &["-i", bridge, "-o", bridge], &p, "DROP"),
            true,
        ));
    }
    rules.extend([
        (jump(STAGE1, INGRESS_COMMENT, "RETURN"), false),
        (with(STAGE2, &["-o", bridge], &p, "DROP"), true),
        (jump(STAGE2, INGRESS_COMMENT, "RETURN"), false),
    ]);
    rules
}

/// Ingress isolation for a bridge, when the policy asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Ingress<'a> {
    pub policy: IngressPolicy,
    pub bridge: &'a str,
}

/// Accept forwarded traffic from and (established) to each of `ips`, and
/// apply the ingress policy, in one restore per family. An error may leave
/// the other family set up; the caller undoes with [`teardown`].
pub fn setup(
    att: &Attachment<'_>,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Result<()> {
    validate_admin_chain(admin_chain)?;
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
            "setting up firewall rules for container {} in {} table filter",
            att.container_id,
            family.tool()
        );
        iptables::converge_table(family, TABLE, &what, false, |t| {
            plan_setup(t, att, &nets, admin_chain, ingress)
        })?;
    }
    Ok(())
}

pub(super) fn plan_setup(
    table: &NatTable,
    att: &Attachment<'_>,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Vec<String> {
    let ingress = ingress.filter(|i| i.policy != IngressPolicy::Open);
    let mut lines = Vec::new();
    let mut chains = vec![PRIV_CHAIN, admin_chain, MARKER_CHAIN];
    if ingress.is_some() {
        chains.extend([STAGE1, STAGE2]);
    }
    for chain in chains {
        if !table.has_chain(chain) && !lines.contains(&format!("-N {chain}")) {
            lines.push(format!("-N {chain}"));
        }
    }
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
    add_missing(table, want, &mut lines);
    // This attachment's markers: exactly one per current address.
    let comment = marker_comment(att);
    let mut have = Vec::new();
    for r in table.rules_in(MARKER_CHAIN) {
        if r.comment.as_deref() != Some(comment.as_str()) {
            continue;
        }
        let current = r
            .src
            .is_some_and(|(_, s)| ips.iter().any(|ip| IpNet::from(ip.addr()) == s));
        if current && !have.contains(&r.src) {
            have.push(r.src);
        } else {
            lines.push(r.delete_line());
        }
    }
    for ip in ips {
        if !have.contains(&Some((false, IpNet::from(ip.addr())))) {
            lines.push(marker(att, ip).append_line());
        }
    }
    lines
}

/// Appends (or inserts at the top) the rules of `want` that `table` lacks.
fn add_missing(table: &NatTable, want: Vec<(Rule, bool)>, lines: &mut Vec<String>) {
    let mut queued: Vec<Rule> = Vec::new();
    for (rule, first) in want {
        if table.contains(&rule) || queued.iter().any(|q| q.same_as(&rule)) {
            continue;
        }
        lines.push(if first {
            rule.insert_line()
        } else {
            rule.append_line()
        });
        queued.push(rule);
    }
}

/// Only the ingress isolation, for each family of `ips`: what the
/// firewalld backend still needs iptables for (as in Go).
pub fn setup_isolation(ips: &[IpNet], ingress: Ingress<'_>) -> Result<()> {
    if ingress.policy == IngressPolicy::Open {
        return Ok(());
    }
    for family in Family::ALL {
        if !ips.iter().any(|n| Family::of(n) == family) {
            continue;
        }
        let what = format!(
            "setting up ingress policy {} for bridge {} in {} table filter",
            ingress.policy.as_str(),
            ingress.bridge,
            family.tool()
        );
        iptables::converge_table(family, TABLE, &what, false, |t| {
            let mut lines: Vec<String> = [STAGE1, STAGE2]
                .into_iter()
                .filter(|c| !t.has_chain(c))
                .map(|c| format!("-N {c}"))
                .collect();
            add_missing(
                t,
                isolation_rules(ingress.policy, ingress.bridge),
                &mut lines,
            );
            lines
        })?;
    }
    Ok(())
}

/// Whether the isolation rules for the bridge are there.
pub fn check_isolation(ips: &[IpNet], ingress: Ingress<'_>) -> Result<()> {
    if ingress.policy == IngressPolicy::Open {
        return Ok(());
    }
    for family in Family::ALL {
        if !ips.iter().any(|n| Family::of(n) == family) {
            continue;
        }
        let table = iptables::list_table(family, TABLE)
            .map_err(|e| e.into_error(&format!("listing {} table filter", family.tool())))?;
        if let Some((r, _)) = isolation_rules(ingress.policy, ingress.bridge)
            .iter()
            .find(|(r, _)| !table.contains(r))
        {
            return Err(Error::internal(format!(
                "expected {} rule `{}` not found",
                r.chain,
                r.append_line()
            )));
        }
    }
    Ok(())
}

/// Removes this attachment's per-IP rules and markers. The addresses are
/// `known_ips` (from `prevResult`, may be empty) plus those its markers
/// name; rules an address still needs for another attachment's marker
/// stay. Anything already gone, tools included, counts as removed.
pub fn teardown(att: &Attachment<'_>, known_ips: &[IpNet]) -> Result<()> {
    let comment = marker_comment(att);
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing firewall rules of container {} from {} table filter",
                att.container_id,
                family.tool()
            );
            iptables::converge_table(family, TABLE, &what, true, |t| {
                let known: Vec<IpNet> = known_ips
                    .iter()
                    .filter(|n| Family::of(n) == family)
                    .copied()
                    .collect();
                plan_remove(t, &known, |c| c == comment)
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
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
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing stale firewall rules of network {network:?} from {} table filter",
                family.tool()
            );
            iptables::converge_table(family, TABLE, &what, true, |t| plan_remove(t, &[], stale))
                .err()
        })
        .collect();
    Error::from_list(errors)
}

/// Deletes the markers whose comment passes `doomed`, and the accept rules
/// of their addresses and of `known` that no other marker still names.
pub(super) fn plan_remove(
    table: &NatTable,
    known: &[IpNet],
    doomed: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut addrs: Vec<IpNet> = known.iter().map(|n| IpNet::from(n.addr())).collect();
    let mut in_use = HashSet::new();
    for r in table.rules_in(MARKER_CHAIN) {
        let Some((_, src)) = r.src else { continue };
        if r.comment.as_deref().is_some_and(&doomed) {
            lines.push(r.delete_line());
            addrs.push(src);
        } else if r.comment.as_deref().and_then(parse_marker).is_some() {
            in_use.insert(src);
        }
    }
    let mut done = HashSet::new();
    for ip in addrs {
        if in_use.contains(&ip) || !done.insert(ip) {
            continue;
        }
        for want in accept_rules(&ip) {
            lines.extend(
                table
                    .rules
                    .iter()
                    .filter(|r| r.same_as(&want))
                    .map(Rule::delete_line),
            );
        }
    }
    lines
}

/// Whether the chains, jumps, per-IP rules and isolation rules are there.
pub fn check(ips: &[IpNet], admin_chain: &str, ingress: Option<Ingress<'_>>) -> Result<()> {
    for family in Family::ALL {
        let nets: Vec<IpNet> = ips
            .iter()
            .filter(|n| Family::of(n) == family)
            .copied()
            .collect();
        if nets.is_empty() {
            continue;
        }
        let table = iptables::list_table(family, TABLE)
            .map_err(|e| e.into_error(&format!("listing {} table filter", family.tool())))?;
        check_table(&table, &nets, admin_chain, ingress)?;
    }
    Ok(())
}

pub(super) fn check_table(
    table: &NatTable,
    ips: &[IpNet],
    admin_chain: &str,
    ingress: Option<Ingress<'_>>,
) -> Result<()> {
    for chain in [PRIV_CHAIN, admin_chain] {
        if !table.has_chain(chain) {
            return Err(Error::internal(format!(
                "chain {chain} not found in iptables table filter"
            )));
        }
    }
    let mut want = vec![
        jump(FORWARD, FILTER_COMMENT, PRIV_CHAIN),
        jump(PRIV_CHAIN, ADMIN_COMMENT, admin_chain),
    ];
    for ip in ips {
        want.extend(accept_rules(ip));
    }
    if let Some(i) = ingress.filter(|i| i.policy != IngressPolicy::Open) {
        want.extend(
            isolation_rules(i.policy, i.bridge)
                .into_iter()
                .map(|(r, _)| r),
        );
    }
    match want.iter().find(|r| !table.contains(r)) {
        Some(r) => Err(Error::internal(format!(
            "expected {} rule `{}` not found",
            r.chain,
            r.append_line()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
