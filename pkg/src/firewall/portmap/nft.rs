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
use std::net::IpAddr;

use ipnet::IpNet;

use super::{Attachment, Options, PortMapping, ip_port};
use crate::error::{Error, Result};
use crate::firewall::exec::ExecError;
use crate::firewall::names::hash_hex;
use crate::firewall::nftables::{self, Listing, NftRule};
use crate::types::GcAttachment;

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

fn family_name(v4: bool) -> &'static str {
    if v4 { "ip" } else { "ip6" }
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
    handle: u64,
}

fn marker_comment(att: &Attachment<'_>, ip: IpAddr) -> String {
    format!("{} {ip} {}", instance_hash(att), att.container_id)
}

fn markers(listing: &Listing) -> Vec<Marker> {
    listing
        .rules
        .iter()
        .filter(|r| r.chain == MARKERS)
        .filter_map(|r| {
            let mut words = r.comment.as_deref()?.split(' ');
            let (instance, ip, id) = (words.next()?, words.next()?, words.next()?);
            Some(Marker {
                instance: instance.to_string(),
                ip: ip.parse().ok()?,
                container_id: id.to_string(),
                handle: r.handle,
            })
        })
        .collect()
}

/// Whether the rule names `ip` anywhere (match or dnat address). Rendered
/// JSON strings keep the address in its canonical text form.
fn mentions(rule: &NftRule, ip: IpAddr) -> bool {
    rule.expr.to_string().contains(&format!("\"{ip}\""))
}

/// Handles (chain, handle) of rules commented `container_id` that name one
/// of `ips`, or any such rule when `ips` is empty.
fn container_rules(listing: &Listing, container_id: &str, ips: &[IpAddr]) -> Vec<(String, u64)> {
    listing
        .rules
        .iter()
        .filter(|r| RULE_CHAINS.contains(&r.chain.as_str()))
        .filter(|r| r.comment.as_deref() == Some(container_id))
        .filter(|r| ips.is_empty() || ips.iter().any(|ip| mentions(r, *ip)))
        .map(|r| (r.chain.clone(), r.handle))
        .collect()
}

fn delete_lines(v4: bool, handles: &[(String, u64)]) -> String {
    let fam = family_name(v4);
    handles
        .iter()
        .map(|(chain, h)| format!("delete rule {fam} {TABLE} {chain} handle {h}\n"))
        .collect()
}

/// Lists both families' tables, plans one script for both, applies it in
/// one transaction; a failed apply is planned again once from fresh
/// listings. With `cleanup`, a missing nft or table means nothing to do.
fn converge(
    families: &[bool],
    what: &str,
    cleanup: bool,
    plan: impl Fn(bool, Option<&Listing>) -> Result<String>,
) -> Result<()> {
    let mut retried = false;
    loop {
        let mut script = String::new();
        for &v4 in families {
            let listing = match nftables::list(&["table", family_name(v4), TABLE]) {
                Ok(l) => l,
                Err(e) if cleanup && (e.is_missing() || e.is_absent()) => None,
                Err(e) => return Err(e.into_error(what)),
            };
            if cleanup && listing.is_none() {
                continue;
            }
            script.push_str(&plan(v4, listing.as_ref())?);
        }
        if script.is_empty() {
            return Ok(());
        }
        match nftables::apply(&script) {
            Ok(()) => return Ok(()),
            Err(ExecError::Failed { .. }) if !retried => retried = true,
            Err(e) => return Err(e.into_error(what)),
        }
    }
}

pub(super) fn setup(
    att: &Attachment<'_>,
    ips: &[IpNet],
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let families: Vec<bool> = ips.iter().map(|ip| ip.addr().is_ipv4()).collect();
    let what = format!("unable to set up nftables rules for port mappings in tables {TABLE}");
    converge(&families, &what, false, |v4, listing| {
        let Some(ip) = ips.iter().find(|ip| ip.addr().is_ipv4() == v4) else {
            return Ok(String::new());
        };
        setup_script(att, ip.addr(), mappings, opts, listing)
    })
}

/// One family's part of the setup transaction.
fn setup_script(
    att: &Attachment<'_>,
    ip: IpAddr,
    mappings: &[PortMapping],
    opts: &Options,
    listing: Option<&Listing>,
) -> Result<String> {
    let v4 = ip.is_ipv4();
    let fam = family_name(v4);
    let t = format!("{fam} {TABLE}");
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
    let cond = conditions
        .iter()
        .map(|c| format!("{c} "))
        .collect::<String>();
    let cid = att.container_id;
    let mut s = String::new();
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    line(format!("add table {t} {{ comment \"{TABLE_COMMENT}\" ; }}"));
    for chain in [HOSTPORTS, HOSTIP_HOSTPORTS, HOSTPORTS_ALL] {
        line(format!("add chain {t} {chain}"));
    }
    line(format!(
        "add chain {t} {MARKERS} {{ comment \"{MARKERS_COMMENT}\" ; }}"
    ));
    line(format!("flush chain {t} {HOSTPORTS_ALL}"));
    line(format!(
        "add rule {t} {HOSTPORTS_ALL} jump {HOSTIP_HOSTPORTS}"
    ));
    line(format!("add rule {t} {HOSTPORTS_ALL} jump {HOSTPORTS}"));
    for (chain, hook) in [("prerouting", "prerouting"), ("output", "output")] {
        // -100 is dstnat; the name is not accepted on the output hook.
        line(format!(
            "add chain {t} {chain} {{ type nat hook {hook} priority -100 ; }}"
        ));
        line(format!("flush chain {t} {chain}"));
        line(format!(
            "add rule {t} {chain} {cond}fib daddr type local jump {HOSTPORTS_ALL}"
        ));
    }
    if opts.snat {
        line(format!(
            "add chain {t} {MASQUERADING} {{ type nat hook postrouting priority 100 ; }}"
        ));
    }
    // A repeated ADD replaces this attachment's rules (and only them).
    if let Some(l) = listing {
        let mut stale = container_rules(l, cid, &[ip]);
        let instance = instance_hash(att);
        stale.extend(
            markers(l)
                .into_iter()
                .filter(|m| m.instance == instance)
                .map(|m| (MARKERS.to_string(), m.handle)),
        );
        s.push_str(&delete_lines(v4, &stale));
    }
    let mut line = |l: String| {
        s.push_str(&l);
        s.push('\n');
    };
    for m in mappings {
        let Some(dst) = m.destination(v4) else {
            continue;
        };
        let dst = dst.map(|d| format!("{fam} daddr {d} ")).unwrap_or_default();
        line(format!(
            "add rule {t} {HOSTPORTS} {dst}{} dport {} dnat to {} comment \"{cid}\"",
            m.protocol.as_str(),
            m.host_port,
            ip_port(ip, m.container_port)
        ));
    }
    if opts.snat {
        let src = match (opts.masq_all, v4) {
            (false, _) => ip.to_string(),
            (true, true) => "0.0.0.0/0".to_string(),
            (true, false) => "::/0".to_string(),
        };
        line(format!(
            "add rule {t} {MASQUERADING} {fam} saddr {src} {fam} daddr {ip} masquerade comment \"{cid}\""
        ));
        if v4 && !opts.masq_all {
            line(format!(
                "add rule {t} {MASQUERADING} ip saddr 127.0.0.1 ip daddr {ip} masquerade comment \"{cid}\""
            ));
        }
    }
    let marker = marker_comment(att, ip);
    if marker.len() <= COMMENT_MAX {
        line(format!(
            "add rule {t} {MARKERS} {fam} daddr {ip} comment \"{marker}\""
        ));
    } else {
        eprintln!(
            "warning: container ID too long for an nftables attachment marker; GC will not find the port mappings of {cid}"
        );
    }
    Ok(s)
}

pub(super) fn teardown(att: &Attachment<'_>, known_ips: &[IpNet]) -> Result<()> {
    let what = format!(
        "removing port mappings of container {} from nftables tables {TABLE}",
        att.container_id
    );
    let instance = instance_hash(att);
    converge(&[true, false], &what, true, |v4, listing| {
        let Some(l) = listing else {
            return Ok(String::new());
        };
        let own: Vec<Marker> = markers(l)
            .into_iter()
            .filter(|m| m.instance == instance)
            .collect();
        let mut ips: Vec<IpAddr> = known_ips
            .iter()
            .map(|n| n.addr())
            .filter(|a| a.is_ipv4() == v4)
            .collect();
        ips.extend(own.iter().map(|m| m.ip));
        // Without marker or prevResult, every rule of the container goes,
        // as in Go.
        let mut stale = container_rules(l, att.container_id, &ips);
        stale.extend(own.iter().map(|m| (MARKERS.to_string(), m.handle)));
        Ok(delete_lines(v4, &stale))
    })
}

pub(super) fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
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
    converge(&[true, false], &what, true, |v4, listing| {
        let Some(l) = listing else {
            return Ok(String::new());
        };
        let mut stale = Vec::new();
        for m in markers(l) {
            if !m.instance.starts_with(&net) || keep.contains(&m.instance) {
                continue;
            }
            stale.extend(container_rules(l, &m.container_id, &[m.ip]));
            stale.push((MARKERS.to_string(), m.handle));
        }
        Ok(delete_lines(v4, &stale))
    })
}

pub(super) fn check(
    att: &Attachment<'_>,
    ip: IpNet,
    mappings: &[PortMapping],
    opts: &Options,
) -> Result<()> {
    let v4 = ip.addr().is_ipv4();
    let fam = family_name(v4);
    let listing = nftables::list(&["table", fam, TABLE])
        .map_err(|e| e.into_error(&format!("listing nftables table {fam} {TABLE}")))?
        .ok_or_else(|| Error::internal(format!("nftables table {fam} {TABLE} not found")))?;
    check_listing(&listing, att, ip.addr(), mappings, opts)
}

fn check_listing(
    listing: &Listing,
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
            .filter(|r| mentions(r, ip))
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
    for chain in ["prerouting", "output"] {
        let hooked = listing
            .rules
            .iter()
            .any(|r| r.chain == chain && r.jump_target() == Some(HOSTPORTS_ALL));
        if !hooked {
            return Err(Error::internal(format!(
                "chain {chain:?} of nftables table {} {TABLE} does not jump to {HOSTPORTS_ALL:?}",
                family_name(v4)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::portmap::Protocol;
    use crate::firewall::portmap::ipt::tests::mapping;

    const ATT: Attachment<'static> = Attachment {
        network: "test",
        container_id: "icee6giejonei6so",
        ifname: "eth0",
    };

    #[test]
    fn setup_script_like_go_with_the_local_guard() {
        let mappings = [
            mapping(8080, 80, Protocol::Tcp, None),
            mapping(8080, 81, Protocol::Udp, None),
            mapping(8083, 83, Protocol::Tcp, Some("192.168.0.2")),
            mapping(8084, 84, Protocol::Sctp, Some("0.0.0.0")),
            mapping(8085, 85, Protocol::Tcp, Some("2001:db8:a::1")),
        ];
        let opts = Options {
            conditions_v4: vec!["ip saddr != 10.9.9.9".into()],
            ..Options::default()
        };
        let s = setup_script(&ATT, "10.0.0.2".parse().unwrap(), &mappings, &opts, None).unwrap();
        let t = "ip cni_hostport";
        let cid = "icee6giejonei6so";
        for want in [
            format!("add table {t} {{ comment \"CNI portmap plugin\" ; }}"),
            format!(
                "add rule {t} prerouting ip saddr != 10.9.9.9 fib daddr type local jump hostports_all"
            ),
            format!(
                "add rule {t} output ip saddr != 10.9.9.9 fib daddr type local jump hostports_all"
            ),
            format!("add rule {t} hostports_all jump hostip_hostports"),
            format!("add rule {t} hostports tcp dport 8080 dnat to 10.0.0.2:80 comment \"{cid}\""),
            format!("add rule {t} hostports udp dport 8080 dnat to 10.0.0.2:81 comment \"{cid}\""),
            format!(
                "add rule {t} hostports ip daddr 192.168.0.2 tcp dport 8083 dnat to 10.0.0.2:83 comment \"{cid}\""
            ),
            format!("add rule {t} hostports sctp dport 8084 dnat to 10.0.0.2:84 comment \"{cid}\""),
            format!(
                "add rule {t} masquerading ip saddr 10.0.0.2 ip daddr 10.0.0.2 masquerade comment \"{cid}\""
            ),
            format!(
                "add rule {t} masquerading ip saddr 127.0.0.1 ip daddr 10.0.0.2 masquerade comment \"{cid}\""
            ),
        ] {
            assert!(s.lines().any(|l| l == want), "missing {want:?} in\n{s}");
        }
        assert!(!s.contains("8085"), "{s}");
        assert!(s.contains(&format!(
            "add rule {t} attachments ip daddr 10.0.0.2 comment \"{} 10.0.0.2 {cid}\"",
            instance_hash(&ATT)
        )));

        let opts = Options {
            masq_all: true,
            ..Options::default()
        };
        let s = setup_script(&ATT, "2001:db8::2".parse().unwrap(), &mappings, &opts, None).unwrap();
        assert!(s.contains("add rule ip6 cni_hostport hostports ip6 daddr 2001:db8:a::1 tcp dport 8085 dnat to [2001:db8::2]:85"), "{s}");
        assert!(
            s.contains("ip6 saddr ::/0 ip6 daddr 2001:db8::2 masquerade"),
            "{s}"
        );
        assert!(!s.contains("127.0.0.1"));
        let opts = Options {
            snat: false,
            conditions_v6: vec!["meta mark 1 ; flush ruleset".into()],
            ..Options::default()
        };
        let err =
            setup_script(&ATT, "2001:db8::2".parse().unwrap(), &mappings, &opts, None).unwrap_err();
        assert_eq!(err.code(), 7);
    }

    fn listing(rules: &[(&str, u64, Option<&str>, serde_json::Value)]) -> Listing {
        Listing {
            chains: vec![
                HOSTPORTS.into(),
                MASQUERADING.into(),
                MARKERS.into(),
                "prerouting".into(),
                "output".into(),
            ],
            rules: rules
                .iter()
                .map(|(chain, handle, comment, expr)| NftRule {
                    chain: chain.to_string(),
                    handle: *handle,
                    comment: comment.map(String::from),
                    expr: expr.clone(),
                })
                .collect(),
        }
    }

    #[test]
    fn finds_one_attachments_rules() {
        use serde_json::json;
        let dnat = |ip: &str| json!([{"dnat": {"addr": ip, "port": 80}}]);
        let other = Attachment {
            network: "net2",
            ..ATT
        };
        let cid = Some(ATT.container_id);
        let l = listing(&[
            (HOSTPORTS, 10, cid, dnat("10.0.0.2")),
            (HOSTPORTS, 11, cid, dnat("10.1.0.2")),
            (HOSTPORTS, 12, Some("someone-else"), dnat("10.0.0.2")),
            (
                MASQUERADING,
                13,
                cid,
                json!([{"match": {"right": "10.0.0.2"}}, {"masquerade": null}]),
            ),
            (
                MASQUERADING,
                14,
                cid,
                json!([{"match": {"right": "127.0.0.1"}}, {"match": {"right": "10.0.0.2"}}, {"masquerade": null}]),
            ),
            (
                MARKERS,
                20,
                Some(&marker_comment(&ATT, "10.0.0.2".parse().unwrap())),
                json!([]),
            ),
            (
                MARKERS,
                21,
                Some(&marker_comment(&other, "10.1.0.2".parse().unwrap())),
                json!([]),
            ),
            (
                "prerouting",
                30,
                None,
                json!([{"jump": {"target": "hostports_all"}}]),
            ),
            (
                "output",
                31,
                None,
                json!([{"jump": {"target": "hostports_all"}}]),
            ),
        ]);
        let ms = markers(&l);
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].instance, instance_hash(&ATT));
        assert_eq!(ms[1].container_id, ATT.container_id);
        let ip: IpAddr = "10.0.0.2".parse().unwrap();
        let handles = |v: Vec<(String, u64)>| v.into_iter().map(|(_, h)| h).collect::<Vec<_>>();
        assert_eq!(
            handles(container_rules(&l, ATT.container_id, &[ip])),
            [10, 13, 14]
        );
        assert_eq!(
            handles(container_rules(&l, ATT.container_id, &[])),
            [10, 11, 13, 14]
        );
        let m = [mapping(8080, 80, Protocol::Tcp, None)];
        check_listing(&l, &ATT, ip, &m, &Options::default()).unwrap();
        let two = [
            mapping(8080, 80, Protocol::Tcp, None),
            mapping(8081, 80, Protocol::Tcp, None),
        ];
        let err = check_listing(&l, &ATT, ip, &two, &Options::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing hostport rules in \"hostports\" chain"
        );
        // a re-ADD replaces only this attachment's rules and marker
        let s = setup_script(&ATT, ip, &m, &Options::default(), Some(&l)).unwrap();
        for h in [10, 13, 14, 20] {
            assert!(s.contains(&format!(" handle {h}\n")), "{h}: {s}");
        }
        for h in [11, 12, 21] {
            assert!(!s.contains(&format!(" handle {h}\n")), "{h}: {s}");
        }
    }
}
