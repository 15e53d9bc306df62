//! A plan for nft tables in nft's own syntax, run as one `nft -f -`
//! transaction. Only plans whose rules carry the operator's conditions in
//! nft syntax (portmap's `conditionsV4`/`V6`) take this way: nft alone can
//! parse those; everything else goes over netlink.

use super::exec::{self, ExecError};
use super::model::{Action, Chain, Family, Match, Rule};
use super::plan::Op;
use crate::firewall::ipt::args::ip_port;
use crate::firewall::model::host;

/// Runs `ops` (all on nft tables) as one transaction.
pub fn apply(ops: &[&Op]) -> Result<(), ExecError> {
    let script: String = ops.iter().map(|o| line(o) + "\n").collect();
    exec::run("nft", &["-f", "-"], Some(&script)).map(drop)
}

pub fn line(op: &Op) -> String {
    let t = op.table();
    let at = format!("{} {}", t.family.name(), t.name);
    match op {
        Op::AddTable { comment, .. } => match comment {
            Some(c) => format!("add table {at} {{ comment \"{c}\" ; }}"),
            None => format!("add table {at}"),
        },
        Op::AddChain { chain, .. } => format!("add chain {at} {}{}", chain.name, chain_spec(chain)),
        Op::NewChain { chain, .. } => format!("create chain {at} {chain}"),
        Op::FlushChain { chain, .. } => format!("flush chain {at} {chain}"),
        Op::DelChain { chain, .. } => format!("delete chain {at} {chain}"),
        Op::Append { rule, .. } => format!("add rule {at} {} {}", rule.chain, statements(rule)),
        Op::Insert { rule, .. } => {
            format!("insert rule {at} {} {}", rule.chain, statements(rule))
        }
        Op::Delete { rule, .. } => match &rule.handle {
            super::model::Handle::Nft(h) => format!("delete rule {at} {} handle {h}", rule.chain),
            // Never listed over netlink: nothing to name it by.
            _ => String::new(),
        },
    }
}

fn chain_spec(chain: &Chain) -> String {
    let mut parts = Vec::new();
    if let Some(b) = chain.base {
        parts.push(format!(
            "type {} hook {} priority {} ;",
            b.kind,
            b.hook.name(),
            b.priority
        ));
        if b.accept_policy {
            parts.push("policy accept ;".into());
        }
    }
    if let Some(c) = chain.comment {
        parts.push(format!("comment \"{c}\" ;"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {{ {} }}", parts.join(" "))
    }
}

/// The rule's statements in nft syntax.
pub fn statements(rule: &Rule) -> String {
    let mut words: Vec<String> = Vec::new();
    for m in &rule.matches {
        match m {
            Match::Src { negate, net } | Match::Dst { negate, net } => {
                let fam = match Family::of(net) {
                    Family::Ip6 => "ip6",
                    _ => "ip",
                };
                let dir = if matches!(m, Match::Src { .. }) {
                    "saddr"
                } else {
                    "daddr"
                };
                let value = if *net == host(net.addr()) {
                    net.addr().to_string()
                } else {
                    net.trunc().to_string()
                };
                let op = if *negate { "!= " } else { "" };
                words.push(format!("{fam} {dir} {op}{value}"));
            }
            Match::InIface { negate, name } | Match::OutIface { negate, name } => {
                let key = if matches!(m, Match::InIface { .. }) {
                    "iifname"
                } else {
                    "oifname"
                };
                let op = if *negate { "!= " } else { "" };
                words.push(format!("{key} {op}\"{name}\""));
            }
            Match::Dport(p, port) => words.push(format!("{} dport {port}", p.as_str())),
            Match::FibDaddrLocal => words.push("fib daddr type local".into()),
            Match::EtherSrc(mac) => words.push(format!(
                "ether saddr {}",
                mac.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(":")
            )),
            Match::Raw(raw) => words.push(raw.join(" ")),
            // Not in nft tables' rules (iptables' own matches).
            Match::Proto(_)
            | Match::Dports(_)
            | Match::DstLocal
            | Match::CtState(_)
            | Match::Mark { .. }
            | Match::Unknown(_) => {}
        }
    }
    match &rule.action {
        Action::None => {}
        Action::Accept => words.push("accept".into()),
        Action::Drop => words.push("drop".into()),
        Action::Return => words.push("return".into()),
        Action::Jump(c) => words.push(format!("jump {c}")),
        Action::Goto(c) => words.push(format!("goto {c}")),
        Action::Masquerade => words.push("masquerade".into()),
        Action::Dnat(to) => words.push(format!("dnat to {}", ip_port(*to))),
        Action::SetMark { .. } | Action::Unknown(_) => {}
    }
    if let Some(c) = &rule.comment {
        words.push(format!("comment \"{c}\""));
    }
    words.join(" ")
}
