//! Port mappings in nftables, in the layout of Go's knftables backend
//! (with its CVE-2025-67499 fix): tables `ip cni_hostport` and
//! `ip6 cni_hostport`,
//!
//! ```text
//! prerouting (nat, dstnat): [conditions] fib daddr type local jump hostports_all
//! output (nat, -100):       [conditions] fib daddr type local jump hostports_all
//! hostports_all:            jump hostip_hostports; jump hostports
//! hostports:                [ip daddr <hostIP>] tcp dport 8080 dnat to 10.88.0.5:80 comment "<cid>"
//! masquerading (srcnat):    ip saddr 10.88.0.5 ip daddr 10.88.0.5 masquerade comment "<cid>"
//!                           ip saddr 127.0.0.1 ip daddr 10.88.0.5 masquerade comment "<cid>"
//! ```
//!
//! The `fib daddr type local` guard keeps traffic routed *through* the node
//! from being DNATed. `hostip_hostports` stays empty, as Go keeps it for
//! upgrades. Go's comment is only the container ID, so the rules of one
//! container on two networks cannot be told apart by it; this suite also
//! writes one marker rule per attachment in the never-jumped-to chain
//! `attachments` (`ip daddr <container IP> comment "<hash>-<hash> <ip> <cid>"`),
//! which lets DEL without `prevResult` and GC find exactly one
//! attachment's rules (by container ID *and* address).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use pkg::firewall::converge::{Job, NFT_SCRIPT, converge, inspect};
use pkg::firewall::model::{Action, BaseChain, Chain, Family, Hook, Match, Rule, Table, host};
use pkg::firewall::names::hash_hex;
use pkg::firewall::plan::{Op, State};
use pkg::types::GcAttachment;
use pkg::{Error, Result};

use crate::mappings::{Attachment, Options, PortMapping};

const TABLE: &str = "cni_hostport";
const TABLE_COMMENT: &str = "CNI portmap plugin";
const HOSTPORTS: &str = "hostports";
const HOSTIP_HOSTPORTS: &str = "hostip_hostports";
const HOSTPORTS_ALL: &str = "hostports_all";
const MASQUERADING: &str = "masquerading";
const MARKERS: &str = "attachments";
const MARKERS_COMMENT: &str =
    "markers naming the attachment of each container address, never evaluated";
/// Chains whose rules carry the container ID as comment.
const RULE_CHAINS: [&str; 3] = [HOSTPORTS, HOSTIP_HOSTPORTS, MASQUERADING];
/// nftables keeps at most this many bytes of a comment.
const COMMENT_MAX: usize = 128;
/// `dstnat`; the name is not accepted on the output hook.
const DSTNAT: i32 = -100;
/// `srcnat`.
const SRCNAT: i32 = 100;

fn table(v4: bool) -> Table {
    Table::nft(if v4 { Family::Ip } else { Family::Ip6 }, TABLE)
}

/// Hash lengths in markers: short enough that a 64-character container
/// ID and any IPv6 address fit nft's 128-byte comment.
const HASH_LEN: usize = 10;

fn network_hash(network: &str) -> String {
    hash_hex(network, HASH_LEN)
}

fn instance_hash(att: &Attachment<'_>) -> String {
    format!(
        "{}-{}",
        network_hash(att.network),
        hash_hex(&format!("{}:{}", att.ifname, att.container_id), HASH_LEN)
    )
}

/// An attachment marker: `<instance hash> <ip> <container ID>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Marker {
    instance: String,
    ip: IpAddr,
    container_id: String,
    rule: Rule,
}

fn marker_comment(att: &Attachment<'_>, ip: IpAddr) -> String {
    format!("{} {ip} {}", instance_hash(att), att.container_id)
}

fn markers(rules: Vec<Rule>) -> Vec<Marker> {
    rules
        .into_iter()
        .filter_map(|rule| {
            let mut words = rule.comment.as_deref()?.split(' ');
            let (instance, ip, id) = (words.next()?, words.next()?, words.next()?);
            Some(Marker {
                instance: instance.to_string(),
                ip: ip.parse().ok()?,
                container_id: id.to_string(),
                rule: rule.clone(),
            })
        })
        .collect()
}

/// What one family's table holds of the port mappings.
struct Listing {
    /// The rules of `hostports`, `hostip_hostports` and `masquerading`.
    rules: Vec<Rule>,
    markers: Vec<Marker>,
}

fn list(state: &mut dyn State, t: Table) -> Result<Listing> {
    let mut rules = Vec::new();
    for chain in RULE_CHAINS {
        rules.extend(state.rules(t, chain)?);
    }
    Ok(Listing {
        rules,
        markers: markers(state.rules(t, MARKERS)?),
    })
}

/// Rules commented `container_id` that name one of `ips`, or any such rule
/// when `ips` is empty.
fn container_rules(listing: &Listing, container_id: &str, ips: &[IpAddr]) -> Vec<Rule> {
    listing
        .rules
        .iter()
        .filter(|r| r.comment.as_deref() == Some(container_id))
        .filter(|r| ips.is_empty() || ips.iter().any(|ip| r.mentions(*ip)))
        .cloned()
        .collect()
}

fn job(what: &str, cleanup: bool, raw: bool) -> Job<'_> {
    Job {
        cleanup,
        nft_script: raw.then_some(NFT_SCRIPT),
        ..Job::new(what)
    }
}

pub(crate) fn setup(
    att: &Attachment<'_>,
    ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let what = format!("unable to set up nftables rules for port mappings in tables {TABLE}");
    let mut raw = false;
    for v4 in [true, false] {
        let conditions = opts.conditions(v4);
        if let Some(bad) = conditions
            .iter()
            .find(|c| c.contains(['\n', '\r', ';', '#']))
        {
            return Err(Error::invalid_config(
                format!("nftables condition {bad:?} must not contain a newline, ';' or '#'"),
                "",
            ));
        }
        raw |= ips.iter().any(|ip| ip.addr().is_ipv4() == v4) && !conditions.is_empty();
    }
    converge(&job(&what, false, raw), |state| {
        let mut ops = Vec::new();
        for v4 in [true, false] {
            if let Some(ip) = ips.iter().find(|ip| ip.addr().is_ipv4() == v4) {
                ops.extend(plan_setup(state, att, ip.addr(), mappings, opts)?);
            }
        }
        Ok(ops)
    })
    .map(drop)
}

/// One family's part of the setup transaction.
fn plan_setup(
    state: &mut dyn State,
    att: &Attachment<'_>,
    ip: IpAddr,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<Vec<Op>> {
    let v4 = ip.is_ipv4();
    let t = table(v4);
    let cid = att.container_id;
    let base = |name: &str, hook, priority| Op::AddChain {
        table: t,
        chain: Chain {
            name: name.into(),
            base: Some(BaseChain {
                kind: "nat",
                hook,
                priority,
                accept_policy: false,
            }),
            comment: None,
        },
    };
    let append = |chain: &str, matches: Vec<Match>, action: Action| Op::Append {
        table: t,
        rule: Rule::new(chain, matches, action),
    };
    let mut ops = vec![Op::AddTable {
        table: t,
        comment: Some(TABLE_COMMENT),
    }];
    for chain in [HOSTPORTS, HOSTIP_HOSTPORTS, HOSTPORTS_ALL] {
        ops.push(Op::AddChain {
            table: t,
            chain: Chain::regular(chain),
        });
    }
    ops.push(Op::AddChain {
        table: t,
        chain: Chain {
            name: MARKERS.into(),
            base: None,
            comment: Some(MARKERS_COMMENT),
        },
    });
    ops.push(Op::FlushChain {
        table: t,
        chain: HOSTPORTS_ALL.into(),
    });
    ops.push(append(
        HOSTPORTS_ALL,
        Vec::new(),
        Action::Jump(HOSTIP_HOSTPORTS.into()),
    ));
    ops.push(append(
        HOSTPORTS_ALL,
        Vec::new(),
        Action::Jump(HOSTPORTS.into()),
    ));
    let conditions = opts.conditions(v4);
    for (chain, hook) in [("prerouting", Hook::Prerouting), ("output", Hook::Output)] {
        ops.push(base(chain, hook, DSTNAT));
        ops.push(Op::FlushChain {
            table: t,
            chain: chain.into(),
        });
        let mut matches = Vec::new();
        if !conditions.is_empty() {
            matches.push(Match::Raw(conditions.to_vec()));
        }
        matches.push(Match::FibDaddrLocal);
        ops.push(append(chain, matches, Action::Jump(HOSTPORTS_ALL.into())));
    }
    if opts.snat {
        ops.push(base(MASQUERADING, Hook::Postrouting, SRCNAT));
    }
    // A repeated ADD replaces this attachment's rules (and only them).
    let listing = list(state, t)?;
    let instance = instance_hash(att);
    let mut stale = container_rules(&listing, cid, &[ip]);
    stale.extend(
        listing
            .markers
            .into_iter()
            .filter(|m| m.instance == instance)
            .map(|m| m.rule),
    );
    ops.extend(stale.into_iter().map(|rule| Op::Delete { table: t, rule }));
    let commented = |chain: &str, matches: Vec<Match>, action: Action| Op::Append {
        table: t,
        rule: Rule::new(chain, matches, action).with_comment(cid),
    };
    for m in mappings {
        let Some(dst) = m.destination(v4) else {
            continue;
        };
        let mut matches = Vec::new();
        if let Some(d) = dst {
            matches.push(Match::Dst {
                negate: false,
                net: host(d),
            });
        }
        matches.push(Match::Dport(m.protocol, m.host_port));
        ops.push(commented(
            HOSTPORTS,
            matches,
            Action::Dnat(SocketAddr::new(ip, m.container_port)),
        ));
    }
    if opts.snat {
        let src = if opts.masq_all {
            let any = if v4 {
                IpAddr::from([0u8; 4])
            } else {
                IpAddr::from([0u8; 16])
            };
            IpNet::new(any, 0).unwrap_or(host(any))
        } else {
            host(ip)
        };
        let to_container = |src: IpNet| {
            vec![
                Match::Src {
                    negate: false,
                    net: src,
                },
                Match::Dst {
                    negate: false,
                    net: host(ip),
                },
            ]
        };
        ops.push(commented(
            MASQUERADING,
            to_container(src),
            Action::Masquerade,
        ));
        if v4 && !opts.masq_all {
            let localhost = host(IpAddr::from([127, 0, 0, 1]));
            ops.push(commented(
                MASQUERADING,
                to_container(localhost),
                Action::Masquerade,
            ));
        }
    }
    let marker = marker_comment(att, ip);
    if marker.len() <= COMMENT_MAX {
        ops.push(Op::Append {
            table: t,
            rule: Rule::new(
                MARKERS,
                vec![Match::Dst {
                    negate: false,
                    net: host(ip),
                }],
                Action::None,
            )
            .with_comment(marker),
        });
    } else {
        eprintln!(
            "warning: container ID too long for an nftables attachment marker; GC will not find the port mappings of {cid}"
        );
    }
    Ok(ops)
}

pub(crate) fn teardown(att: &Attachment<'_>, known_ips: &[IpNet]) -> Result<()> {
    let what = format!(
        "removing port mappings of container {} from nftables tables {TABLE}",
        att.container_id
    );
    let instance = instance_hash(att);
    converge(&job(&what, true, false), |state| {
        let mut ops = Vec::new();
        for v4 in [true, false] {
            let t = table(v4);
            let listing = list(state, t)?;
            let own: Vec<&Marker> = listing
                .markers
                .iter()
                .filter(|m| m.instance == instance)
                .collect();
            let mut ips: Vec<IpAddr> = known_ips
                .iter()
                .map(|n| n.addr())
                .filter(|a| a.is_ipv4() == v4)
                .collect();
            ips.extend(own.iter().map(|m| m.ip));
            // Without marker or prevResult, every rule of the container
            // goes, as in Go.
            let mut stale = container_rules(&listing, att.container_id, &ips);
            stale.extend(own.iter().map(|m| m.rule.clone()));
            ops.extend(stale.into_iter().map(|rule| Op::Delete { table: t, rule }));
        }
        Ok(ops)
    })
    .map(drop)
}

pub(crate) fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let net = format!("{}-", network_hash(network));
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| {
            instance_hash(&Attachment {
                network,
                container_id: &a.container_id,
                ifname: &a.ifname,
            })
        })
        .collect();
    let what =
        format!("removing stale port mappings of network {network:?} from nftables tables {TABLE}");
    converge(&job(&what, true, false), |state| {
        let mut ops = Vec::new();
        for v4 in [true, false] {
            let t = table(v4);
            let listing = list(state, t)?;
            for m in &listing.markers {
                if !m.instance.starts_with(&net) || keep.contains(&m.instance) {
                    continue;
                }
                let stale = container_rules(&listing, &m.container_id, &[m.ip]);
                ops.extend(stale.into_iter().map(|rule| Op::Delete { table: t, rule }));
                ops.push(Op::Delete {
                    table: t,
                    rule: m.rule.clone(),
                });
            }
        }
        Ok(ops)
    })
    .map(drop)
}

pub(crate) fn check(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let v4 = ip.addr().is_ipv4();
    let t = table(v4);
    let what = format!("listing nftables table {} {TABLE}", t.family.name());
    inspect(&job(&what, false, false), |state| {
        if !state.table_exists(t)? {
            return Err(Error::internal(format!(
                "nftables table {} {TABLE} not found",
                t.family.name()
            )));
        }
        let listing = list(state, t)?;
        let mut hooked = Vec::new();
        for chain in ["prerouting", "output"] {
            hooked.push(
                state
                    .rules(t, chain)?
                    .iter()
                    .any(|r| r.target_chain() == Some(HOSTPORTS_ALL)),
            );
        }
        check_listing(&listing, &hooked, att, ip.addr(), mappings, opts)
    })
}

fn check_listing(
    listing: &Listing,
    hooked: &[bool],
    att: &Attachment<'_>,
    ip: IpAddr,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let v4 = ip.is_ipv4();
    let count = |chain: &str| {
        listing
            .rules
            .iter()
            .filter(|r| r.chain == chain && r.comment.as_deref() == Some(att.container_id))
            .filter(|r| r.mentions(ip))
            .count()
    };
    let missing =
        |chain: &str| Error::internal(format!("missing hostport rules in {chain:?} chain"));
    let want = mappings
        .iter()
        .filter(|m| m.destination(v4).is_some())
        .count();
    if want == 0 {
        return Ok(());
    }
    if count(HOSTPORTS) + count(HOSTIP_HOSTPORTS) < want {
        return Err(missing(HOSTPORTS));
    }
    if opts.snat {
        let masq = if v4 && !opts.masq_all { 2 } else { 1 };
        if count(MASQUERADING) < masq {
            return Err(missing(MASQUERADING));
        }
    }
    for (chain, hooked) in ["prerouting", "output"].iter().zip(hooked) {
        if !hooked {
            return Err(Error::internal(format!(
                "chain {chain:?} of nftables table {} {TABLE} does not jump to {HOSTPORTS_ALL:?}",
                table(v4).family.name()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "nftables_tests.rs"]
mod tests;
