//! Masquerade in nftables, in the layout of Go's knftables backend: table
//! `inet cni_plugins_masquerade`, one rule per container IP in
//! `masq_checks`, each commented with a hash of (network, ifname, id) so
//! teardown and GC need nothing but names.

use std::collections::HashSet;

use ipnet::IpNet;

use crate::error::Result;
use crate::firewall::model::{
    Action, BaseChain, Chain, Family, Hook, Match, Rule, Table, host, multicast,
};
use crate::firewall::names::hash_hex;
use crate::firewall::plan::{Op, State};
use crate::types::GcAttachment;

pub(super) const TABLE: Table = Table::nft(Family::Inet, "cni_plugins_masquerade");
pub(super) const CHAIN: &str = "masq_checks";
const POSTROUTING: &str = "postrouting";
const TABLE_COMMENT: &str = "Masquerading for plugins from github.com/containernetworking/plugins";
const CHAIN_COMMENT: &str =
    "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet";
/// knftables' `CommentLengthMax`.
const COMMENT_MAX: usize = 128;
/// `srcnat`.
const SRCNAT: i32 = 100;

pub(super) fn hash_for_network(network: &str) -> String {
    hash_hex(network, 16)
}

pub(super) fn hash_for_instance(network: &str, ifname: &str, container_id: &str) -> String {
    format!(
        "{}-{}",
        hash_for_network(network),
        hash_hex(&format!("{ifname}:{container_id}"), 16)
    )
}

/// Go's comment. Stripping `"` is also what keeps it safe inside the nft
/// quoted string, which has no escapes.
pub(super) fn comment_for_instance(network: &str, ifname: &str, container_id: &str) -> String {
    let strip = |s: &str| s.replace('"', "");
    let mut comment = format!(
        "{}, net: {}, if: {}, id: {}",
        hash_for_instance(network, ifname, container_id),
        strip(network),
        strip(ifname),
        strip(container_id)
    );
    // Go cuts bytes; cutting on a char boundary is the same for ASCII.
    let mut cut = COMMENT_MAX.min(comment.len());
    while !comment.is_char_boundary(cut) {
        cut -= 1;
    }
    comment.truncate(cut);
    comment
}

/// Go's transaction, less what is already in place and less the listing:
/// the table, both chains and `postrouting`'s three rules only when
/// `postrouting` does not yet end in `goto masq_checks`; then one rule per
/// IP. Go declares and refills the base on every call, but re-declaring an
/// existing chain is an update the kernel frees after an RCU grace period,
/// as it does deleted rules, and the socket's close waits for that (10–20
/// ms here): with the base in place the transaction only adds rules, and
/// nothing waits. Two first ADDs racing both declare and fill, and the
/// later transaction's flush leaves one copy of the base rules.
///
/// Go also lists `masq_checks` first and deletes this attachment's earlier
/// rules. Finding them costs a dump of the whole chain (one rule per
/// container on the node: 4–5 µs each, 4.5 ms at a thousand), and there
/// are none unless a runtime repeats ADD without DEL, which the spec
/// forbids and which the plugins already refuse before this (the
/// container's interface exists, host-local holds the ID's address). Such
/// rules stay until the attachment's DEL or GC, which remove every rule
/// with its hash, as the iptables layout keeps an earlier ADD's jumps.
pub(super) fn plan_setup(
    state: &mut dyn State,
    network: &str,
    ifname: &str,
    container_id: &str,
    ips: &[IpNet],
) -> Result<Vec<Op>> {
    let comment = comment_for_instance(network, ifname, container_id);
    let base = state
        .rules(TABLE, POSTROUTING)?
        .iter()
        .any(|r| r.target_chain() == Some(CHAIN));
    let mut ops = Vec::new();
    if !base {
        ops.extend(base_ops());
    }
    for ip in ips {
        let rule = Rule::new(
            CHAIN,
            vec![
                Match::Src {
                    negate: false,
                    net: host(ip.addr()),
                },
                Match::Dst {
                    negate: true,
                    net: ip.trunc(),
                },
            ],
            Action::Masquerade,
        )
        .with_comment(comment.clone());
        ops.push(Op::Append { table: TABLE, rule });
    }
    Ok(ops)
}

/// The table, its two chains, and `postrouting` refilled.
fn base_ops() -> Vec<Op> {
    let base_rule = |matches: Vec<Match>, action| Op::Append {
        table: TABLE,
        rule: Rule::new(POSTROUTING, matches, action),
    };
    let skip = |family| {
        vec![Match::Dst {
            negate: false,
            net: multicast(family),
        }]
    };
    vec![
        Op::AddTable {
            table: TABLE,
            comment: Some(TABLE_COMMENT),
        },
        Op::AddChain {
            table: TABLE,
            chain: Chain {
                name: CHAIN.into(),
                base: None,
                comment: Some(CHAIN_COMMENT),
            },
        },
        Op::AddChain {
            table: TABLE,
            chain: Chain {
                name: POSTROUTING.into(),
                base: Some(BaseChain {
                    kind: "nat",
                    hook: Hook::Postrouting,
                    priority: SRCNAT,
                    accept_policy: false,
                }),
                comment: None,
            },
        },
        Op::FlushChain {
            table: TABLE,
            chain: POSTROUTING.into(),
        },
        base_rule(skip(Family::Ip), Action::Return),
        base_rule(skip(Family::Ip6), Action::Return),
        base_rule(Vec::new(), Action::Goto(CHAIN.into())),
    ]
}

/// Deletions of the rules of `masq_checks` whose comment passes `pick`.
fn own_rules(state: &mut dyn State, pick: impl Fn(&str) -> bool) -> Result<Vec<Op>> {
    Ok(state
        .rules_commented(TABLE, CHAIN, &pick)?
        .into_iter()
        .map(|rule| Op::Delete { table: TABLE, rule })
        .collect())
}

/// This attachment's rules; the table and both chains stay, as Go leaves
/// them.
pub(super) fn plan_teardown(
    state: &mut dyn State,
    network: &str,
    ifname: &str,
    container_id: &str,
) -> Result<Vec<Op>> {
    let prefix = hash_for_instance(network, ifname, container_id);
    own_rules(state, |c| c.starts_with(&prefix))
}

/// Every rule of `network` whose instance hash is not that of a valid
/// attachment.
pub(super) fn plan_gc(
    state: &mut dyn State,
    network: &str,
    valid: &[GcAttachment],
) -> Result<Vec<Op>> {
    let net_prefix = format!("{}-", hash_for_network(network));
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| hash_for_instance(network, &a.ifname, &a.container_id))
        .collect();
    own_rules(state, |c| {
        c.starts_with(&net_prefix)
            && !c
                .get(..net_prefix.len() + 16)
                .is_some_and(|h| keep.contains(h))
    })
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
