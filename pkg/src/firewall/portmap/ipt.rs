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
//! Per-container rules are written in the order `iptables -S` prints them,
//! so that CHECK compares them with the listing as parsed values. Unlike
//! Go, setup flushes the container's chain and replaces its entry rules, so
//! a repeated ADD with other mappings leaves no stale rule behind.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Attachment, Options, PortMapping, ip_port};
use crate::error::{Error, Result};
use crate::firewall::iptables::{self, Family, NatTable, Rule};
use crate::firewall::names::format_chain_name_with_prefix;

const TABLE: &str = "nat";
const TOP_DNAT: &str = "CNI-HOSTPORT-DNAT";
const SETMARK: &str = "CNI-HOSTPORT-SETMARK";
const MASQ: &str = "CNI-HOSTPORT-MASQ";
const SETMARK_COMMENT: &str = "CNI portfwd masquerade mark";
const MASQ_ENTRY_COMMENT: &str = "CNI portfwd requiring masquerade";
/// multiport takes at most 15 ports per rule.
const MULTIPORT_MAX: usize = 15;
/// iptables' comment limit.
const COMMENT_MAX: usize = 255;

pub(super) fn dn_chain(network: &str, container_id: &str) -> String {
    format_chain_name_with_prefix(network, container_id, "DN-")
}

/// The per-container SNAT chain of old Go versions (jumped to from
/// `CNI-HOSTPORT-SNAT`), still removed as Go does.
fn sn_chain(network: &str, container_id: &str) -> String {
    format_chain_name_with_prefix(network, container_id, "SN-")
}

/// Go's entry comment: `%s`, not `%q`, cut to 255 bytes as 253 + "...".
pub(super) fn entry_comment(network: &str, container_id: &str) -> String {
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

fn family_of(ip: &IpNet) -> Family {
    Family::of(ip)
}

fn tool(family: Family) -> &'static str {
    family.tool()
}

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn mark_def(bit: u8) -> String {
    let value = 1u32 << u32::from(bit.min(31));
    format!("{value:#x}/{value:#x}")
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
    let mut by_proto: BTreeMap<&'static str, Vec<u16>> = BTreeMap::new();
    let mut ports = BTreeSet::new();
    for m in mappings {
        let Some(dst) = m.destination(v4) else {
            continue;
        };
        let proto = m.protocol.as_str();
        let list = by_proto.entry(proto).or_default();
        if !list.contains(&m.host_port) {
            list.push(m.host_port);
        }
        ports.insert((proto, m.host_port));
        let rule = |src: Option<IpNet>, tail: &[&str]| {
            let mut args = Vec::new();
            if let Some(src) = src.filter(|s| s.prefix_len() > 0) {
                args.extend(["-s".to_string(), src.to_string()]);
            }
            if let Some(dst) = dst {
                args.extend(["-d".to_string(), IpNet::from(dst).to_string()]);
            }
            args.extend(strings(&["-p", proto, "-m", proto, "--dport"]));
            args.push(m.host_port.to_string());
            args.extend(strings(tail));
            Rule::parse(&chain, &args)
        };
        if opts.snat {
            let hairpin = if opts.masq_all {
                IpNet::new(
                    if v4 {
                        IpAddr::from([0u8; 4])
                    } else {
                        IpAddr::from([0u8; 16])
                    },
                    0,
                )
                .ok()
            } else {
                Some(ip.trunc())
            };
            rules.push(rule(hairpin, &["-j", setmark]));
            if v4 && !opts.masq_all {
                let localhost = IpNet::from(IpAddr::from([127, 0, 0, 1]));
                rules.push(rule(Some(localhost), &["-j", setmark]));
            }
        }
        let to = ip_port(ip.addr(), m.container_port);
        rules.push(rule(None, &["-j", "DNAT", "--to-destination", &to]));
    }
    let comment = entry_comment(att.network, att.container_id);
    let mut entries = Vec::new();
    for (proto, list) in &by_proto {
        for chunk in list.chunks(MULTIPORT_MAX) {
            let joined = chunk
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let mut args = strings(&["-m", "comment", "--comment", &comment, "-m", "multiport"]);
            args.extend(strings(&["-p", proto, "--destination-ports", &joined]));
            args.extend(opts.conditions(v4).iter().cloned());
            args.extend(strings(&["-j", &chain]));
            entries.push(Rule::parse(TOP_DNAT, &args));
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
/// POSTROUTING jump.
fn shared_rules(opts: &Options) -> Vec<(Rule, bool)> {
    let mut out = Vec::new();
    if opts.snat && opts.external_set_mark_chain.is_none() {
        let mark = mark_def(opts.mark_masq_bit);
        out.push((
            Rule::parse(
                SETMARK,
                &strings(&[
                    "-m",
                    "comment",
                    "--comment",
                    SETMARK_COMMENT,
                    "-j",
                    "MARK",
                    "--set-xmark",
                    &mark,
                ]),
            ),
            false,
        ));
        out.push((
            Rule::parse(
                MASQ,
                &strings(&["-m", "mark", "--mark", &mark, "-j", "MASQUERADE"]),
            ),
            false,
        ));
        // First in POSTROUTING, or bridge's and ptp's masquerade chains
        // would match before it.
        out.push((
            Rule::parse(
                "POSTROUTING",
                &strings(&["-m", "comment", "--comment", MASQ_ENTRY_COMMENT, "-j", MASQ]),
            ),
            true,
        ));
    }
    for chain in ["PREROUTING", "OUTPUT"] {
        out.push((
            Rule::parse(
                chain,
                &strings(&["-m", "addrtype", "--dst-type", "LOCAL", "-j", TOP_DNAT]),
            ),
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

pub(super) fn setup(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let family = family_of(&ip);
    let want = wanted(att, ip, mappings, opts);
    let what = format!(
        "setting up port mappings in {} table nat (chain {})",
        tool(family),
        want.chain
    );
    iptables::converge_table(family, TABLE, &what, false, |t| {
        if want.rules.is_empty() {
            // No mapping applies to this family: only clear a stale chain.
            return plan_teardown(t, &[&want.chain]);
        }
        plan_setup(t, &want, opts)
    })
}

fn plan_setup(table: &NatTable, want: &Wanted, opts: &Options) -> Vec<String> {
    let mut lines = Vec::new();
    for chain in shared_chains(opts) {
        if !table.has_chain(chain) {
            // `-N`, not `:chain`: with --noflush a declaration flushes a
            // chain that a parallel ADD has just created and filled.
            lines.push(format!("-N {chain}"));
        }
    }
    for (rule, first) in shared_rules(opts) {
        if !table.contains(&rule) {
            lines.push(if first {
                rule.insert_line()
            } else {
                rule.append_line()
            });
        }
    }
    if table.has_chain(&want.chain) {
        lines.push(format!("-F {}", want.chain));
    } else {
        lines.push(format!("-N {}", want.chain));
    }
    lines.extend(
        table
            .rules
            .iter()
            .filter(|r| r.target.as_deref() == Some(&want.chain) && r.chain != want.chain)
            .map(Rule::delete_line),
    );
    lines.extend(want.rules.iter().map(Rule::append_line));
    // Inserted at the top: the most recent container to claim a port wins,
    // without moving CNI-HOSTPORT-DNAT ahead of other rules in PREROUTING.
    lines.extend(want.entries.iter().map(Rule::insert_line));
    lines
}

pub(super) fn teardown(att: &Attachment<'_>) -> Result<()> {
    let dn = dn_chain(att.network, att.container_id);
    let sn = sn_chain(att.network, att.container_id);
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing port mapping chain {dn} from {} table nat",
                tool(family)
            );
            iptables::converge_table(family, TABLE, &what, true, |t| {
                plan_teardown(t, &[&dn, &sn])
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
}

/// Every rule that jumps to one of `chains` (whatever its comment), then
/// the chains themselves.
pub(super) fn plan_teardown(table: &NatTable, chains: &[&str]) -> Vec<String> {
    let mut lines: Vec<String> = table
        .rules
        .iter()
        .filter(|r| {
            r.target
                .as_deref()
                .is_some_and(|t| chains.contains(&t) && r.chain != t)
        })
        .map(Rule::delete_line)
        .collect();
    for chain in chains {
        if table.has_chain(chain) {
            lines.push(format!("-F {chain}"));
        }
    }
    for chain in chains {
        if table.has_chain(chain) {
            lines.push(format!("-X {chain}"));
        }
    }
    lines
}

pub(super) fn gc(network: &str, valid_ids: &HashSet<&str>) -> Result<()> {
    let errors = Family::ALL
        .into_iter()
        .filter_map(|family| {
            let what = format!(
                "removing stale port mapping chains of network {network:?} from {} table nat",
                tool(family)
            );
            iptables::converge_table(family, TABLE, &what, true, |t| {
                plan_gc(t, network, valid_ids)
            })
            .err()
        })
        .collect();
    Error::from_list(errors)
}

/// Containers of `network` named by an entry rule's comment and not in
/// `valid_ids`. The chain must be the hash of that network and ID, so a
/// cut comment or a foreign rule cannot make us remove anything else.
pub(super) fn plan_gc(table: &NatTable, network: &str, valid_ids: &HashSet<&str>) -> Vec<String> {
    let mut stale = BTreeSet::new();
    for rule in table.rules_in(TOP_DNAT) {
        let Some((net, id)) = rule.comment.as_deref().and_then(parse_entry_comment) else {
            continue;
        };
        if net != network || valid_ids.contains(id) {
            continue;
        }
        let chain = dn_chain(net, id);
        if rule.target.as_deref() == Some(chain.as_str()) {
            stale.insert((chain, sn_chain(net, id)));
        }
    }
    stale
        .iter()
        .flat_map(|(dn, sn)| plan_teardown(table, &[dn, sn]))
        .collect()
}

pub(super) fn check(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let family = family_of(&ip);
    let table = iptables::list_nat(family)
        .map_err(|e| e.into_error(&format!("listing {} table nat", tool(family))))?;
    check_table(&table, &wanted(att, ip, mappings, opts), opts)
}

fn check_table(table: &NatTable, want: &Wanted, opts: &Options) -> Result<()> {
    if want.rules.is_empty() {
        return Ok(());
    }
    let missing = |rule: &Rule| {
        Error::internal(format!(
            "rule `{}` in chain {} not found in iptables table nat",
            rule.append_line(),
            rule.chain
        ))
    };
    if !table.has_chain(&want.chain) {
        return Err(Error::internal(format!(
            "chain {} not found in iptables table nat",
            want.chain
        )));
    }
    for rule in &want.rules {
        if !table.contains(rule) {
            return Err(missing(rule));
        }
    }
    // Entry rules carry arbitrary conditions, printed however iptables
    // likes: check that jumps to our chain cover every port instead.
    let mut covered: BTreeSet<(String, u16)> = BTreeSet::new();
    for rule in table.rules_in(TOP_DNAT) {
        if rule.target.as_deref() != Some(&want.chain) {
            continue;
        }
        let value = |flag: &str| {
            rule.extra
                .iter()
                .position(|w| w == flag)
                .and_then(|i| rule.extra.get(i + 1))
        };
        let (Some(proto), Some(ports)) = (
            value("-p"),
            value("--dports").or_else(|| value("--destination-ports")),
        ) else {
            continue;
        };
        for p in ports.split(',') {
            if let Ok(p) = p.parse::<u16>() {
                covered.insert((proto.clone(), p));
            }
        }
    }
    for (proto, port) in &want.ports {
        if !covered.contains(&(proto.to_string(), *port)) {
            return Err(Error::internal(format!(
                "no rule in chain {TOP_DNAT} of iptables table nat sends {proto} port {port} to {}",
                want.chain
            )));
        }
    }
    for chain in shared_chains(opts) {
        if !table.has_chain(chain) {
            return Err(Error::internal(format!(
                "chain {chain} not found in iptables table nat"
            )));
        }
    }
    for (rule, _) in shared_rules(opts) {
        if !table.contains(&rule) {
            return Err(missing(&rule));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::firewall::portmap::Protocol;

    pub(crate) fn mapping(host: u16, ctr: u16, proto: Protocol, ip: Option<&str>) -> PortMapping {
        PortMapping {
            host_port: host,
            container_port: ctr,
            protocol: proto,
            host_ip: ip.map(|s| s.parse().unwrap()),
        }
    }

    const ATT: Attachment<'static> = Attachment {
        network: "test",
        container_id: "icee6giejonei6so",
        ifname: "eth0",
    };

    #[test]
    fn names_and_comments_match_go() {
        assert_eq!(dn_chain("test", "1234"), "CNI-DN-2bbe0c48b91a7d1b8a675");
        assert_eq!(entry_comment("n", "c"), r#"dnat name: "n" id: "c""#);
        let long = entry_comment(&"x".repeat(300), "c");
        assert_eq!(long.len(), 256);
        assert!(long.ends_with("..."));
        assert_eq!(
            parse_entry_comment(r#"dnat name: "n" id: "c""#),
            Some(("n", "c"))
        );
        assert_eq!(parse_entry_comment(r#"name: "n" id: "c""#), None);
        assert_eq!(mark_def(13), "0x2000/0x2000");
        assert_eq!(mark_def(0), "0x1/0x1");
        assert_eq!(mark_def(31), "0x80000000/0x80000000");
    }

    /// The rules Go's fillDnatRules makes for its unit-test input, as
    /// `iptables -S` prints them.
    #[test]
    fn container_rules_like_go() {
        let mappings = [
            mapping(8080, 80, Protocol::Tcp, None),
            mapping(8081, 80, Protocol::Tcp, None),
            mapping(8080, 81, Protocol::Udp, None),
            mapping(8082, 82, Protocol::Udp, None),
            mapping(8083, 83, Protocol::Tcp, Some("192.168.0.2")),
            mapping(8084, 84, Protocol::Tcp, Some("0.0.0.0")),
            mapping(8085, 85, Protocol::Tcp, Some("2001:db8:a::1")),
            mapping(8086, 86, Protocol::Tcp, Some("::")),
        ];
        let opts = Options {
            conditions_v4: vec!["-a".into(), "b".into()],
            ..Options::default()
        };
        let w = wanted(&ATT, "10.0.0.2/24".parse().unwrap(), &mappings, &opts);
        let c = &w.chain;
        let lines: Vec<String> = w.rules.iter().map(Rule::append_line).collect();
        let want = [
            "-s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
            "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80",
            "-s 10.0.0.0/24 -p tcp -m tcp --dport 8081 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -p tcp -m tcp --dport 8081 -j CNI-HOSTPORT-SETMARK",
            "-p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.0.0.2:80",
            "-s 10.0.0.0/24 -p udp -m udp --dport 8080 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -p udp -m udp --dport 8080 -j CNI-HOSTPORT-SETMARK",
            "-p udp -m udp --dport 8080 -j DNAT --to-destination 10.0.0.2:81",
            "-s 10.0.0.0/24 -p udp -m udp --dport 8082 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -p udp -m udp --dport 8082 -j CNI-HOSTPORT-SETMARK",
            "-p udp -m udp --dport 8082 -j DNAT --to-destination 10.0.0.2:82",
            "-s 10.0.0.0/24 -d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j CNI-HOSTPORT-SETMARK",
            "-d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j DNAT --to-destination 10.0.0.2:83",
            "-s 10.0.0.0/24 -p tcp -m tcp --dport 8084 -j CNI-HOSTPORT-SETMARK",
            "-s 127.0.0.1/32 -p tcp -m tcp --dport 8084 -j CNI-HOSTPORT-SETMARK",
            "-p tcp -m tcp --dport 8084 -j DNAT --to-destination 10.0.0.2:84",
        ]
        .map(|r| format!("-A {c} {r}"));
        assert_eq!(lines, want);
        let entries: Vec<String> = w.entries.iter().map(Rule::insert_line).collect();
        assert_eq!(
            entries,
            [
                format!(
                    r#"-I CNI-HOSTPORT-DNAT 1 -m comment --comment "dnat name: \"test\" id: \"icee6giejonei6so\"" -m multiport -p tcp --destination-ports 8080,8081,8083,8084 -a b -j {c}"#
                ),
                format!(
                    r#"-I CNI-HOSTPORT-DNAT 1 -m comment --comment "dnat name: \"test\" id: \"icee6giejonei6so\"" -m multiport -p udp --destination-ports 8080,8082 -a b -j {c}"#
                ),
            ]
        );

        // IPv6, masqAll, no snat for localhost; an external mark chain.
        let opts = Options {
            masq_all: true,
            external_set_mark_chain: Some("KUBE-MARK-MASQ".into()),
            ..Options::default()
        };
        let w = wanted(
            &ATT,
            "2001:db8::2/64".parse().unwrap(),
            &mappings[..1],
            &opts,
        );
        let lines: Vec<String> = w.rules.iter().map(Rule::append_line).collect();
        assert_eq!(
            lines,
            [
                format!("-A {c} -p tcp -m tcp --dport 8080 -j KUBE-MARK-MASQ"),
                format!(
                    "-A {c} -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:db8::2]:80"
                ),
            ]
        );
        // snat off: DNAT only
        let opts = Options {
            snat: false,
            ..Options::default()
        };
        let w = wanted(&ATT, "10.0.0.2/24".parse().unwrap(), &mappings[..1], &opts);
        assert_eq!(w.rules.len(), 1);
    }

    #[test]
    fn entries_split_at_fifteen_ports() {
        let mappings: Vec<PortMapping> = (1..=31)
            .map(|p| mapping(p, p, Protocol::Tcp, None))
            .collect();
        let w = wanted(
            &ATT,
            "10.0.0.2/24".parse().unwrap(),
            &mappings,
            &Options::default(),
        );
        assert_eq!(w.entries.len(), 3);
        assert!(w.entries[2].extra.contains(&"31".to_string()));
    }

    #[test]
    fn plans_setup_teardown_and_gc() {
        let ip: IpNet = "10.0.0.2/24".parse().unwrap();
        let mappings = [mapping(8080, 80, Protocol::Tcp, None)];
        let opts = Options::default();
        let w = wanted(&ATT, ip, &mappings, &opts);
        let empty = NatTable::default();
        let lines = plan_setup(&empty, &w, &opts);
        assert_eq!(
            lines[..3],
            [
                "-N CNI-HOSTPORT-SETMARK",
                "-N CNI-HOSTPORT-MASQ",
                "-N CNI-HOSTPORT-DNAT"
            ]
        );
        assert!(lines.contains(&format!("-N {}", w.chain)));
        // Once set up (as iptables would print it), a second setup only
        // refreshes the container's own chain and entry.
        let listing = format!(
            "-N CNI-HOSTPORT-SETMARK\n-N CNI-HOSTPORT-MASQ\n-N CNI-HOSTPORT-DNAT\n-N {c}\n\
             -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
             -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
             -A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n\
             -A CNI-HOSTPORT-SETMARK -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000\n\
             -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE\n\
             -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"test\\\" id: \\\"icee6giejonei6so\\\"\" -m multiport --dports 8080 -j {c}\n\
             -A {c} -s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
             -A {c} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
             -A {c} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80\n",
            c = w.chain
        );
        let table = NatTable::parse(&listing);
        check_table(&table, &w, &opts).unwrap();
        let lines = plan_setup(&table, &w, &opts);
        assert_eq!(lines[0], format!("-F {}", w.chain));
        assert!(lines[1].starts_with("-D CNI-HOSTPORT-DNAT "), "{lines:?}");
        assert_eq!(lines.len(), 2 + 3 + 1);
        // CHECK notices a missing port and a missing shared rule
        let other = wanted(&ATT, ip, &[mapping(9090, 80, Protocol::Tcp, None)], &opts);
        assert!(check_table(&table, &other, &opts).is_err());
        let no_masq =
            NatTable::parse(&listing.replace("-A CNI-HOSTPORT-MASQ -m mark", "-A X -m mark"));
        let err = check_table(&no_masq, &w, &opts).unwrap_err();
        assert!(err.to_string().contains("MASQUERADE"), "{err}");

        let td = plan_teardown(&table, &[&w.chain, "CNI-SN-x"]);
        assert_eq!(td.len(), 3, "{td:?}");
        assert!(td[0].starts_with("-D CNI-HOSTPORT-DNAT"));
        let keep: HashSet<&str> = ["icee6giejonei6so"].into();
        assert!(plan_gc(&table, "test", &keep).is_empty());
        assert!(plan_gc(&table, "other", &HashSet::new()).is_empty());
        assert_eq!(plan_gc(&table, "test", &HashSet::new()), td);
    }
}
