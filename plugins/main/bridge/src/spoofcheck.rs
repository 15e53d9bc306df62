//! `macspoofchk`: frames entering the bridge from a container's host veth
//! must carry the container's MAC. Go's `pkg/link` layout in the nftables
//! `bridge` family, table `nat` (see Documentation/firewall-rules.md):
//!
//! ```text
//! PREROUTING (filter, priority -300): iifname "<veth>" jump cni-br-iface-<id>-<if>
//! cni-br-iface-<id>-<if>:             jump cni-br-iface-<id>-<if>-mac
//! cni-br-iface-<id>-<if>-mac:         ether saddr <mac> return; drop
//! ```
//!
//! every rule commented `macspoofchk-<id>-<if>`. Chain names embed the
//! ifname; over netlink any name a link may have goes as it is.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use pkg::firewall::converge::{Job, converge};
use pkg::firewall::model::{Action, BaseChain, Chain, Family, Hook, Match, Rule, Table};
use pkg::firewall::plan::{Op, State};
use pkg::types::GcAttachment;
use pkg::{Error, Result};

const TABLE: Table = Table::nft(Family::Bridge, "nat");
const BASE_CHAIN: &str = "PREROUTING";
const CHAIN_PREFIX: &str = "cni-br-iface-";
const COMMENT_PREFIX: &str = "macspoofchk-";
/// nft's `dstnat` for the bridge family's prerouting hook.
const PRIORITY: i32 = -300;

/// Names of one attachment's chains and rules; `ref_id` is
/// `<containerID>-<ifname>`.
struct Names {
    iface_chain: String,
    mac_chain: String,
    comment: String,
}

impl Names {
    fn new(ref_id: &str) -> Names {
        let iface_chain = format!("{CHAIN_PREFIX}{ref_id}");
        Names {
            mac_chain: format!("{iface_chain}-mac"),
            iface_chain,
            comment: format!("{COMMENT_PREFIX}{ref_id}"),
        }
    }

    fn of(container_id: &str, ifname: &str) -> Names {
        Names::new(&format!("{container_id}-{ifname}"))
    }

    /// A base-chain rule that sends traffic into this attachment's chains.
    fn is_entry(&self, rule: &Rule) -> bool {
        rule.chain == BASE_CHAIN
            && (rule.comment.as_deref() == Some(&self.comment)
                || rule.target_chain() == Some(&self.iface_chain))
    }
}

fn job(what: &str, cleanup: bool) -> Job<'_> {
    Job {
        cleanup,
        ..Job::new(what)
    }
}

/// Drops frames from `host_veth` whose source MAC is not `mac`.
pub fn setup(container_id: &str, ifname: &str, host_veth: &str, mac: &str) -> Result<()> {
    let mac = parse_mac(mac).ok_or_else(|| {
        Error::invalid_config(format!("invalid mac address {mac:?} for spoof check"), "")
    })?;
    let names = Names::of(container_id, ifname);
    let what = format!(
        "setting up spoof check for {host_veth} in nftables table bridge nat (chain {})",
        names.iface_chain
    );
    converge(&job(&what, false), |state| {
        plan_setup(state, &names, host_veth, mac)
    })
    .map(drop)
}

/// One transaction: the table, the base chain and both chains declared
/// (nothing when they exist), both chains flushed, this attachment's old
/// entry rules out, its four rules in. Go uses two transactions, one to
/// declare and one to fill.
fn plan_setup(
    state: &mut dyn State,
    names: &Names,
    host_veth: &str,
    mac: [u8; 6],
) -> Result<Vec<Op>> {
    let stale: Vec<Rule> = state
        .rules(TABLE, BASE_CHAIN)?
        .into_iter()
        .filter(|r| names.is_entry(r))
        .collect();
    let rule = |chain: &str, matches: Vec<Match>, action: Action| Op::Append {
        table: TABLE,
        rule: Rule::new(chain, matches, action).with_comment(names.comment.clone()),
    };
    let mut ops = vec![
        Op::AddTable {
            table: TABLE,
            comment: None,
        },
        Op::AddChain {
            table: TABLE,
            chain: Chain {
                name: BASE_CHAIN.into(),
                base: Some(BaseChain {
                    kind: "filter",
                    hook: Hook::Prerouting,
                    priority: PRIORITY,
                    accept_policy: true,
                }),
                comment: None,
            },
        },
    ];
    for chain in [&names.iface_chain, &names.mac_chain] {
        ops.push(Op::AddChain {
            table: TABLE,
            chain: Chain::regular(chain.as_str()),
        });
    }
    for chain in [&names.iface_chain, &names.mac_chain] {
        ops.push(Op::FlushChain {
            table: TABLE,
            chain: chain.clone(),
        });
    }
    ops.extend(
        stale
            .into_iter()
            .map(|rule| Op::Delete { table: TABLE, rule }),
    );
    ops.extend([
        rule(
            BASE_CHAIN,
            vec![Match::InIface {
                negate: false,
                name: host_veth.into(),
            }],
            Action::Jump(names.iface_chain.clone()),
        ),
        rule(
            &names.iface_chain,
            Vec::new(),
            Action::Jump(names.mac_chain.clone()),
        ),
        rule(&names.mac_chain, vec![Match::EtherSrc(mac)], Action::Return),
        rule(&names.mac_chain, Vec::new(), Action::Drop),
    ]);
    Ok(ops)
}

/// Removes the base-chain jump and both chains; the table and base chain
/// stay, as Go leaves them. Anything already gone counts as removed.
pub fn teardown(container_id: &str, ifname: &str) -> Result<()> {
    let names = Names::of(container_id, ifname);
    let what = format!(
        "removing spoof check chain {} from nftables table bridge nat",
        names.iface_chain
    );
    converge(&job(&what, true), |state| {
        let entries = state.rules(TABLE, BASE_CHAIN)?;
        let chains = state.chains(TABLE)?;
        Ok(teardown_ops(&entries, &chains, &names))
    })
    .map(drop)
}

/// The entry rules (found by comment or by jump target: Go's teardown
/// matches the comment only), then both chains, flushed first so the kernel
/// sees no reference from the iface chain's jump when the mac chain goes.
fn teardown_ops(entries: &[Rule], chains: &[String], names: &Names) -> Vec<Op> {
    let mut ops: Vec<Op> = entries
        .iter()
        .filter(|r| names.is_entry(r))
        .map(|rule| Op::Delete {
            table: TABLE,
            rule: rule.clone(),
        })
        .collect();
    let present: Vec<&String> = [&names.iface_chain, &names.mac_chain]
        .into_iter()
        .filter(|c| chains.contains(c))
        .collect();
    for chain in &present {
        ops.push(Op::FlushChain {
            table: TABLE,
            chain: chain.to_string(),
        });
    }
    for chain in present {
        ops.push(Op::DelChain {
            table: TABLE,
            chain: chain.clone(),
        });
    }
    ops
}

/// Removes spoof-check state of attachments not in `valid`. Chain names do
/// not carry the network, so an attachment is only taken as stale if its
/// host veth is gone (or its chains are unreachable anyway).
pub fn gc(valid: &[GcAttachment]) -> Result<()> {
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| format!("{}-{}", a.container_id, a.ifname))
        .collect();
    let what = "removing stale spoof check chains from nftables table bridge nat";
    converge(&job(what, true), |state| {
        let entries = state.rules(TABLE, BASE_CHAIN)?;
        let chains = state.chains(TABLE)?;
        Ok(gc_ops(&entries, &chains, &keep, link_exists))
    })
    .map(drop)
}

/// Teardown of every attachment that is neither valid nor alive.
fn gc_ops(
    entries: &[Rule],
    chains: &[String],
    keep: &HashSet<String>,
    link_exists: impl Fn(&str) -> bool,
) -> Vec<Op> {
    // ref_id -> host veths that enter its chains
    let mut attachments: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in entries.iter().filter(|r| r.chain == BASE_CHAIN) {
        let by_comment = rule
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix(COMMENT_PREFIX));
        let by_target = rule
            .target_chain()
            .and_then(|t| t.strip_prefix(CHAIN_PREFIX));
        if let Some(ref_id) = by_comment.or(by_target) {
            let veths = attachments.entry(ref_id.to_string()).or_default();
            veths.extend(rule.matches.iter().filter_map(|m| match m {
                Match::InIface {
                    negate: false,
                    name,
                } => Some(name.clone()),
                _ => None,
            }));
        }
    }
    let has = |name: &str| chains.iter().any(|c| c == name);
    for chain in chains {
        let Some(ref_id) = chain.strip_prefix(CHAIN_PREFIX) else {
            continue;
        };
        // A `-mac` chain belongs to the iface chain next to it, if any.
        let ref_id = match ref_id.strip_suffix("-mac") {
            Some(stem) if has(&format!("{CHAIN_PREFIX}{stem}")) => continue,
            Some(stem) if !has(&format!("{CHAIN_PREFIX}{ref_id}-mac")) => stem,
            _ => ref_id,
        };
        attachments.entry(ref_id.to_string()).or_default();
    }
    attachments
        .iter()
        .filter(|(ref_id, veths)| !keep.contains(*ref_id) && !veths.iter().any(|v| link_exists(v)))
        .flat_map(|(ref_id, _)| teardown_ops(entries, chains, &Names::new(ref_id)))
        .collect()
}

fn parse_mac(mac: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut octets = mac.split(':');
    for byte in &mut out {
        let o = octets.next()?;
        if o.len() != 2 || !o.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(o, 16).ok()?;
    }
    octets.next().is_none().then_some(out)
}

/// Looked up in the calling thread's netns, which /sys/class/net is not.
fn link_exists(name: &str) -> bool {
    nix::net::if_::if_nametoindex(name).is_ok()
}

#[cfg(test)]
#[path = "spoofcheck_tests.rs"]
mod tests;
