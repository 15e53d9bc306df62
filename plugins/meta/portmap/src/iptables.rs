//! Port mappings in the iptables `nat` table, in Go's layout:
//!
//! ```text
//! PREROUTING, OUTPUT:    -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT
//! CNI-HOSTPORT-DNAT:     -p tcp -m comment --comment 'dnat name: "net" id: "cid"'
//!                        -m multiport --dports 8080,8081 [conditions] -j CNI-DN-<hash>
//! CNI-DN-<hash>:         [-s <subnet>] -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK
//!                        -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK
//!                        -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.88.0.5:80
//! CNI-HOSTPORT-SETMARK:  -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000
//! POSTROUTING (first):   -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ
//! CNI-HOSTPORT-MASQ:     -m mark --mark 0x2000/0x2000 -j MASQUERADE
//! ```
//!
//! Unlike Go, setup flushes the container's chain and replaces its entry
//! rules, so a repeated ADD with other mappings leaves no stale rule
//! behind. The shared chains and jumps are planned from a listing that
//! every attachment changes, so these jobs hold the namespace's lock.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use pkg::firewall::converge::{Job, converge, inspect};
use pkg::firewall::model::{Action, Family, Match, Rule, Table, host};
use pkg::firewall::names::format_chain_name_with_prefix;
use pkg::firewall::plan::{Op, State};
use pkg::{Error, Result};

use crate::mappings::{Attachment, Options, PortMapping};

const TOP_DNAT: &str = "CNI-HOSTPORT-DNAT";
const SETMARK: &str = "CNI-HOSTPORT-SETMARK";
const MASQ: &str = "CNI-HOSTPORT-MASQ";
const SETMARK_COMMENT: &str = "CNI portfwd masquerade mark";
const MASQ_ENTRY_COMMENT: &str = "CNI portfwd requiring masquerade";
/// multiport takes at most 15 ports per rule.
const MULTIPORT_MAX: usize = 15;
/// iptables' comment limit.
const COMMENT_MAX: usize = 255;

fn table(family: Family) -> Table {
    Table::iptables(family, "nat")
}

pub(crate) fn dn_chain(network: &str, container_id: &str) -> String {
    format_chain_name_with_prefix(network, container_id, "DN-")
}

/// The per-container SNAT chain of old Go versions (jumped to from
/// `CNI-HOSTPORT-SNAT`), still removed as Go does.
fn sn_chain(network: &str, container_id: &str) -> String {
    format_chain_name_with_prefix(network, container_id, "SN-")
}

/// Go's entry comment: `%s`, not `%q`, cut to 255 bytes as 253 + "...".
pub(crate) fn entry_comment(network: &str, container_id: &str) -> String {
    let mut c = format!("dnat name: \"{network}\" id: \"{container_id}\"");
    if c.len() > COMMENT_MAX {
        let mut cut = COMMENT_MAX - 2;
        while !c.is_char_boundary(cut) {
            cut -= 1;
        }
        c.truncate(cut);
        c.push_str("...");
    }
    c
}

fn parse_entry_comment(comment: &str) -> Option<(&str, &str)> {
    let rest = comment.strip_prefix("dnat name: \"")?;
    let (network, rest) = rest.split_once("\" id: \"")?;
    Some((network, rest.strip_suffix('"')?))
}

/// `0x2000/0x2000` of `markMasqBit` 13.
fn mark_bit(bit: u8) -> u32 {
    1u32 << u32::from(bit.min(31))
}

/// The rules one setup wants, in the order they are written.
struct Wanted {
    chain: String,
    /// The container chain's rules.
    rules: Vec<Rule>,
    /// The jumps into it from CNI-HOSTPORT-DNAT, each inserted at the top
    /// in this order, as Go does.
    entries: Vec<Rule>,
    /// (protocol, host port) the entries must cover.
    ports: BTreeSet<(&'static str, u16)>,
}

fn wanted(att: &Attachment<'_>, ip: IpNet, mappings: &[PortMapping], opts: &Options) -> Wanted {
    let v4 = ip.addr().is_ipv4();
    let chain = dn_chain(att.network, att.container_id);
    let setmark = opts.external_set_mark_chain.as_deref().unwrap_or(SETMARK);
    let mut rules = Vec::new();
    let mut by_proto: BTreeMap<&'static str, (pkg::firewall::model::Protocol, Vec<u16>)> =
        BTreeMap::new();
    let mut ports = BTreeSet::new();
    for m in mappings {
        let Some(dst) = m.destination(v4) else {
            continue;
        };
        let (_, list) = by_proto
            .entry(m.protocol.as_str())
            .or_insert((m.protocol, Vec::new()));
        if !list.contains(&m.host_port) {
            list.push(m.host_port);
        }
        ports.insert((m.protocol.as_str(), m.host_port));
        let rule = |src: Option<IpNet>, action: Action| {
            let mut matches = Vec::new();
            if let Some(net) = src.filter(|s| s.prefix_len() > 0) {
                matches.push(Match::Src { negate: false, net });
            }
            if let Some(dst) = dst {
                matches.push(Match::Dst {
                    negate: false,
                    net: host(dst),
                });
            }
            matches.push(Match::Proto(m.protocol));
            matches.push(Match::Dport(m.protocol, m.host_port));
            Rule::new(chain.as_str(), matches, action)
        };
        if opts.snat {
            // masqAll: from anywhere, which iptables writes as no -s.
            let hairpin = (!opts.masq_all).then(|| ip.trunc());
            rules.push(rule(hairpin, Action::Jump(setmark.into())));
            if v4 && !opts.masq_all {
                let localhost = host(IpAddr::from([127, 0, 0, 1]));
                rules.push(rule(Some(localhost), Action::Jump(setmark.into())));
            }
        }
        let to = SocketAddr::new(ip.addr(), m.container_port);
        rules.push(rule(None, Action::Dnat(to)));
    }
    let comment = entry_comment(att.network, att.container_id);
    let conditions = opts.conditions(v4);
    let mut entries = Vec::new();
    for (proto, list) in by_proto.values() {
        for chunk in list.chunks(MULTIPORT_MAX) {
            let mut matches = vec![Match::Proto(*proto), Match::Dports(chunk.to_vec())];
            if !conditions.is_empty() {
                matches.push(Match::Raw(conditions.to_vec()));
            }
            entries.push(
                Rule::new(TOP_DNAT, matches, Action::Jump(chain.clone()))
                    .with_comment(comment.clone()),
            );
        }
    }
    Wanted {
        chain,
        rules,
        entries,
        ports,
    }
}

/// The shared chains and jumps: PREROUTING/OUTPUT into CNI-HOSTPORT-DNAT,
/// and with SNAT (and no external mark chain) SETMARK, MASQ and the
/// POSTROUTING jump; `true` for a rule that goes first in its chain.
fn shared_rules(opts: &Options) -> Vec<(Rule, bool)> {
    let mut out = Vec::new();
    if opts.snat && opts.external_set_mark_chain.is_none() {
        let mark = mark_bit(opts.mark_masq_bit);
        out.push((
            Rule::new(
                SETMARK,
                Vec::new(),
                Action::SetMark {
                    value: mark,
                    mask: mark,
                },
            )
            .with_comment(SETMARK_COMMENT),
            false,
        ));
        out.push((
            Rule::new(
                MASQ,
                vec![Match::Mark {
                    value: mark,
                    mask: mark,
                }],
                Action::Masquerade,
            ),
            false,
        ));
        // First in POSTROUTING, or bridge's and ptp's masquerade chains
        // would match before it.
        out.push((
            Rule::new("POSTROUTING", Vec::new(), Action::Jump(MASQ.into()))
                .with_comment(MASQ_ENTRY_COMMENT),
            true,
        ));
    }
    for chain in ["PREROUTING", "OUTPUT"] {
        out.push((
            Rule::new(chain, vec![Match::DstLocal], Action::Jump(TOP_DNAT.into())),
            false,
        ));
    }
    out
}

fn shared_chains(opts: &Options) -> Vec<&'static str> {
    let mut chains = Vec::new();
    if opts.snat && opts.external_set_mark_chain.is_none() {
        chains.extend([SETMARK, MASQ]);
    }
    chains.push(TOP_DNAT);
    chains
}

fn job<'a>(what: &'a str, cleanup: bool, raw: bool) -> Job<'a> {
    Job {
        cleanup,
        lock: true,
        tools: raw,
        ..Job::new(what)
    }
}

pub(crate) fn setup(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let family = Family::of(&ip);
    let want = wanted(att, ip, mappings, opts);
    let t = table(family);
    let what = format!(
        "setting up port mappings in {} (chain {})",
        t.describe(),
        want.chain
    );
    let raw = !opts.conditions(ip.addr().is_ipv4()).is_empty();
    converge(&job(&what, false, raw), |state| {
        if want.rules.is_empty() {
            // No mapping applies to this family: only clear a stale chain.
            let entries = state.rules(t, TOP_DNAT)?;
            return teardown_ops(state, t, &entries, &[&want.chain]);
        }
        plan_setup(state, t, &want, opts)
    })
    .map(drop)
}

fn plan_setup(state: &mut dyn State, t: Table, want: &Wanted, opts: &Options) -> Result<Vec<Op>> {
    let mut ops = Vec::new();
    for chain in shared_chains(opts) {
        if !state.chain_exists(t, chain)? {
            // `-N`, not `:chain`: with --noflush a declaration flushes a
            // chain that a parallel ADD has just created and filled.
            ops.push(Op::NewChain {
                table: t,
                chain: chain.into(),
            });
        }
    }
    for (rule, first) in shared_rules(opts) {
        let present = state
            .rules(t, &rule.chain)?
            .iter()
            .any(|r| r.same_as(&rule));
        if !present {
            ops.push(if first {
                Op::Insert { table: t, rule }
            } else {
                Op::Append { table: t, rule }
            });
        }
    }
    if state.chain_exists(t, &want.chain)? {
        ops.push(Op::FlushChain {
            table: t,
            chain: want.chain.clone(),
        });
    } else {
        ops.push(Op::NewChain {
            table: t,
            chain: want.chain.clone(),
        });
    }
    ops.extend(
        state
            .rules(t, TOP_DNAT)?
            .into_iter()
            .filter(|r| r.target_chain() == Some(want.chain.as_str()))
            .map(|rule| Op::Delete { table: t, rule }),
    );
    ops.extend(want.rules.iter().map(|rule| Op::Append {
        table: t,
        rule: rule.clone(),
    }));
    // Inserted at the top: the most recent container to claim a port wins,
    // without moving CNI-HOSTPORT-DNAT ahead of other rules in PREROUTING.
    ops.extend(want.entries.iter().map(|rule| Op::Insert {
        table: t,
        rule: rule.clone(),
    }));
    Ok(ops)
}

pub(crate) fn teardown(att: &Attachment<'_>) -> Result<()> {
    let dn = dn_chain(att.network, att.container_id);
    let sn = sn_chain(att.network, att.container_id);
    let errors = [Family::Ip, Family::Ip6]
        .into_iter()
        .filter_map(|family| {
            let t = table(family);
            let what = format!("removing port mapping chain {dn} from {}", t.describe());
            converge(&job(&what, true, false), |state| {
                let rules = state.all_rules(t)?;
                teardown_ops(state, t, &rules, &[&dn, &sn])
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
}

/// Every rule of `rules` that jumps to one of `chains` (whatever its
/// comment), then the chains themselves.
fn teardown_ops(
    state: &mut dyn State,
    t: Table,
    rules: &[Rule],
    chains: &[&str],
) -> Result<Vec<Op>> {
    let mut ops: Vec<Op> = rules
        .iter()
        .filter(|r| {
            r.target_chain()
                .is_some_and(|c| chains.contains(&c) && r.chain != c)
        })
        .map(|rule| Op::Delete {
            table: t,
            rule: rule.clone(),
        })
        .collect();
    let mut present = Vec::new();
    for chain in chains {
        if state.chain_exists(t, chain)? {
            present.push(chain.to_string());
        }
    }
    for chain in &present {
        ops.push(Op::FlushChain {
            table: t,
            chain: chain.clone(),
        });
    }
    for chain in present {
        ops.push(Op::DelChain { table: t, chain });
    }
    Ok(ops)
}

pub(crate) fn gc(network: &str, valid_ids: &HashSet<&str>) -> Result<()> {
    let errors = [Family::Ip, Family::Ip6]
        .into_iter()
        .filter_map(|family| {
            let t = table(family);
            let what = format!(
                "removing stale port mapping chains of network {network:?} from {}",
                t.describe()
            );
            converge(&job(&what, true, false), |state| {
                plan_gc(state, t, network, valid_ids)
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
}

/// Containers of `network` named by an entry rule's comment and not in
/// `valid_ids`. The chain must be the hash of that network and ID, so a
/// cut comment or a foreign rule cannot make us remove anything else.
fn plan_gc(
    state: &mut dyn State,
    t: Table,
    network: &str,
    valid_ids: &HashSet<&str>,
) -> Result<Vec<Op>> {
    let mut stale = BTreeSet::new();
    for rule in state.rules(t, TOP_DNAT)? {
        let Some((net, id)) = rule.comment.as_deref().and_then(parse_entry_comment) else {
            continue;
        };
        if net != network || valid_ids.contains(id) {
            continue;
        }
        let chain = dn_chain(net, id);
        if rule.target_chain() == Some(chain.as_str()) {
            stale.insert((chain, sn_chain(net, id)));
        }
    }
    if stale.is_empty() {
        return Ok(Vec::new());
    }
    let rules = state.all_rules(t)?;
    let mut ops = Vec::new();
    for (dn, sn) in &stale {
        ops.extend(teardown_ops(state, t, &rules, &[dn, sn])?);
    }
    Ok(ops)
}

pub(crate) fn check(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let t = table(Family::of(&ip));
    let what = format!("listing {}", t.describe());
    let raw = !opts.conditions(ip.addr().is_ipv4()).is_empty();
    let want = wanted(att, ip, mappings, opts);
    inspect(&job(&what, false, raw), |state| {
        check_state(state, t, &want, opts)
    })
}

fn check_state(state: &mut dyn State, t: Table, want: &Wanted, opts: &Options) -> Result<()> {
    if want.rules.is_empty() {
        return Ok(());
    }
    let missing = |rule: &Rule| {
        Error::internal(format!(
            "rule `-A {} {}` in chain {} not found in iptables table nat",
            rule.chain,
            pkg::firewall::iptables_words(rule),
            rule.chain
        ))
    };
    if !state.chain_exists(t, &want.chain)? {
        return Err(Error::internal(format!(
            "chain {} not found in iptables table nat",
            want.chain
        )));
    }
    let have = state.rules(t, &want.chain)?;
    if let Some(rule) = want
        .rules
        .iter()
        .find(|r| !have.iter().any(|h| h.same_as(r)))
    {
        return Err(missing(rule));
    }
    // Entry rules carry arbitrary conditions: check that jumps to our chain
    // cover every port instead.
    let mut covered: BTreeSet<(&'static str, u16)> = BTreeSet::new();
    for rule in state.rules(t, TOP_DNAT)? {
        if rule.target_chain() != Some(want.chain.as_str()) {
            continue;
        }
        let proto = rule.matches.iter().find_map(|m| match m {
            Match::Proto(p) => Some(p.as_str()),
            _ => None,
        });
        let Some(proto) = proto else { continue };
        for m in &rule.matches {
            if let Match::Dports(ports) = m {
                covered.extend(ports.iter().map(|p| (proto, *p)));
            }
        }
    }
    for (proto, port) in &want.ports {
        if !covered.contains(&(*proto, *port)) {
            return Err(Error::internal(format!(
                "no rule in chain {TOP_DNAT} of iptables table nat sends {proto} port {port} to {}",
                want.chain
            )));
        }
    }
    for chain in shared_chains(opts) {
        if !state.chain_exists(t, chain)? {
            return Err(Error::internal(format!(
                "chain {chain} not found in iptables table nat"
            )));
        }
    }
    for (rule, _) in shared_rules(opts) {
        if !state
            .rules(t, &rule.chain)?
            .iter()
            .any(|r| r.same_as(&rule))
        {
            return Err(missing(&rule));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "iptables_tests.rs"]
mod tests;
