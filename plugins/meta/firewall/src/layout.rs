//! The iptables backend's rules in the `filter` table, as model values, in
//! Go's layout (Documentation/firewall.md):
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

use ipnet::IpNet;

use pkg::firewall::Attachment;
use pkg::firewall::model::{Action, Family, Match, Rule, Table, ct, host};
use pkg::firewall::names::{format_comment, go_quote, go_unquote_prefix, validate_chain_name};
use pkg::{Error, Result};

pub const FORWARD: &str = "FORWARD";
pub const PRIV_CHAIN: &str = "CNI-FORWARD";
pub const DEFAULT_ADMIN_CHAIN: &str = "CNI-ADMIN";
pub const MARKER_CHAIN: &str = "CNI-FW-ATTACHMENTS";
pub const STAGE1: &str = "CNI-ISOLATION-STAGE-1";
pub const STAGE2: &str = "CNI-ISOLATION-STAGE-2";
pub const FILTER_COMMENT: &str = "CNI firewall plugin rules";
pub const ADMIN_COMMENT: &str = "CNI firewall plugin admin overrides";
/// Go's comment on the shared isolation rules (the jump and the RETURNs).
const INGRESS_COMMENT: &str = "CNI firewall plugin rules (ingressPolicy: same-bridge)";

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

/// Ingress isolation for a bridge, when the policy asks for it.
#[derive(Debug, Clone, Copy)]
pub struct Ingress<'a> {
    pub policy: IngressPolicy,
    pub bridge: &'a str,
}

/// `iptablesAdminChainName`: a valid chain name that is none of the chains
/// the plugin jumps from or owns (a jump into them would loop).
pub fn validate_admin_chain(name: &str) -> Result<()> {
    validate_chain_name(name)?;
    const RESERVED: [&str; 9] = [
        "INPUT",
        "OUTPUT",
        FORWARD,
        "PREROUTING",
        "POSTROUTING",
        PRIV_CHAIN,
        MARKER_CHAIN,
        STAGE1,
        STAGE2,
    ];
    if RESERVED.contains(&name) {
        return Err(Error::invalid_config(
            format!("iptablesAdminChainName {name:?} is a chain the firewall plugin already uses"),
            "",
        ));
    }
    Ok(())
}

pub fn table(family: Family) -> Table {
    Table::iptables(family, "filter")
}

/// Go's two rules per address, on the address as `ipString` writes it
/// (/32 or /128).
pub fn accept_rules(ip: &IpNet) -> [Rule; 2] {
    let h = host(ip.addr());
    [
        Rule::new(
            PRIV_CHAIN,
            vec![
                Match::Dst {
                    negate: false,
                    net: h,
                },
                Match::CtState(ct::RELATED | ct::ESTABLISHED),
            ],
            Action::Accept,
        ),
        Rule::new(
            PRIV_CHAIN,
            vec![Match::Src {
                negate: false,
                net: h,
            }],
            Action::Accept,
        ),
    ]
}

pub fn marker_comment(att: &Attachment<'_>) -> String {
    format!(
        "{} if: {}",
        format_comment(att.network, att.container_id),
        go_quote(att.ifname)
    )
}

/// `(network, container ID, ifname)` of a marker comment.
pub fn parse_marker(comment: &str) -> Option<(String, String, String)> {
    let rest = comment.strip_prefix("name: ")?;
    let (net, rest) = go_unquote_prefix(rest)?;
    let (id, rest) = go_unquote_prefix(rest.strip_prefix(" id: ")?)?;
    let (ifname, rest) = go_unquote_prefix(rest.strip_prefix(" if: ")?)?;
    rest.is_empty().then_some((net, id, ifname))
}

pub fn marker(att: &Attachment<'_>, ip: &IpNet) -> Rule {
    Rule::new(
        MARKER_CHAIN,
        vec![Match::Src {
            negate: false,
            net: host(ip.addr()),
        }],
        Action::Return,
    )
    .with_comment(marker_comment(att))
}

/// The `-s` of a listed rule: (negated, network).
pub fn source(rule: &Rule) -> Option<(bool, IpNet)> {
    rule.matches.iter().find_map(|m| match m {
        Match::Src { negate, net } => Some((*negate, *net)),
        _ => None,
    })
}

pub fn jump(chain: &str, comment: &str, target: &str) -> Rule {
    Rule::new(chain, Vec::new(), Action::Jump(target.to_string())).with_comment(comment)
}

fn iface(inbound: bool, negate: bool, bridge: &str) -> Match {
    let name = bridge.to_string();
    if inbound {
        Match::InIface { negate, name }
    } else {
        Match::OutIface { negate, name }
    }
}

/// The isolation rules for `bridge`: (rule, insert at the top).
pub fn isolation_rules(policy: IngressPolicy, bridge: &str) -> Vec<(Rule, bool)> {
    let p = policy.comment();
    let rule = |chain: &str, matches: Vec<Match>, comment: &str, action: Action| {
        Rule::new(chain, matches, action).with_comment(comment)
    };
    let mut rules = vec![
        // Ahead of CNI-FORWARD, which is why it comes after it in a plan.
        (jump(FORWARD, INGRESS_COMMENT, STAGE1), true),
        (
            rule(
                STAGE1,
                vec![iface(true, false, bridge), iface(false, true, bridge)],
                &p,
                Action::Jump(STAGE2.to_string()),
            ),
            true,
        ),
    ];
    if policy == IngressPolicy::Isolated {
        rules.push((
            rule(
                STAGE1,
                vec![iface(true, false, bridge), iface(false, false, bridge)],
                &p,
                Action::Drop,
            ),
            true,
        ));
    }
    rules.extend([
        (
            rule(STAGE1, Vec::new(), INGRESS_COMMENT, Action::Return),
            false,
        ),
        (
            rule(STAGE2, vec![iface(false, false, bridge)], &p, Action::Drop),
            true,
        ),
        (
            rule(STAGE2, Vec::new(), INGRESS_COMMENT, Action::Return),
            false,
        ),
    ]);
    rules
}
