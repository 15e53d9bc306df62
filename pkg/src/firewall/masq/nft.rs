//! Masquerade in nftables, in the layout of Go's knftables backend: table
//! `inet cni_plugins_masquerade`, one rule per container IP in
//! `masq_checks`, each commented with a hash of (network, ifname, id) so
//! teardown and GC need nothing but names.

use std::collections::HashSet;

use ipnet::IpNet;

use crate::error::Result;
use crate::firewall::exec::ExecError;
use crate::firewall::names::hash_hex;
use crate::firewall::nfexpr::{Expr, addr_match, comment_udata, encode_list, nfproto};
use crate::firewall::nfnl::{INET, Nft, Op};
use crate::firewall::nftables::{self, Listing};
use crate::types::GcAttachment;

const TABLE: &str = "cni_plugins_masquerade";
const CHAIN: &str = "masq_checks";
const POSTROUTING: &str = "postrouting";
const TABLE_COMMENT: &str = "Masquerading for plugins from github.com/containernetworking/plugins";
const CHAIN_COMMENT: &str =
    "Masquerade traffic from certain IPs to any (non-multicast) IP outside their subnet";
/// knftables' `CommentLengthMax`.
const COMMENT_MAX: usize = 128;

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

pub(super) fn setup(network: &str, ifname: &str, container_id: &str, ips: &[IpNet]) -> Result<()> {
    let prefix = hash_for_instance(network, ifname, container_id);
    let comment = comment_for_instance(network, ifname, container_id);
    let what = format!("setting up masquerade rules in nftables table inet {TABLE} chain {CHAIN}");
    // Usually the base chains exist: the rules then go in over netlink, in
    // one transaction with the removal of this attachment's stale rules,
    // and no process runs at all. Anything unusual takes `nft`.
    if let Ok(mut nl) = Nft::new()
        && let Ok((true, stale)) = probe(&mut nl, &prefix)
        && let Some(ops) = rule_ops(&stale, ips, &comment)
        && nl.commit(&ops).is_ok()
    {
        return Ok(());
    }
    let mut retried = false;
    loop {
        // Asking the kernel directly costs no `nft -j list` process; the
        // listing is the fallback when netlink is not usable.
        let probed = Nft::new().and_then(|mut nl| probe(&mut nl, &prefix));
        let (base, stale) = match probed {
            Ok(found) => found,
            Err(_) => match nftables::list(&["chain", "inet", TABLE, CHAIN]) {
                Ok(listing) => {
                    let stale = handles(listing.as_ref(), |c| c.starts_with(&prefix));
                    (false, stale)
                }
                Err(e) => return Err(e.into_error(&what)),
            },
        };
        match nftables::apply(&setup_script(&stale, ips, &comment, !base)) {
            Ok(()) => return Ok(()),
            // A handle deleted by someone else in between: plan again.
            Err(ExecError::Failed { .. }) if !retried => retried = true,
            Err(e) => return Err(e.into_error(&what)),
        }
    }
}

/// Whether the base chain `postrouting` exists, and the handles of this
/// attachment's rules left in `masq_checks` (an ADD repeated without DEL).
fn probe(nl: &mut Nft, prefix: &str) -> Result<(bool, Vec<u64>)> {
    // Complete when it goes to masq_checks (its last rule).
    let base = nl
        .rules(INET, TABLE, POSTROUTING)?
        .iter()
        .any(|r| r.jump.as_deref() == Some(CHAIN));
    let stale = nl
        .rules(INET, TABLE, CHAIN)?
        .into_iter()
        .filter(|r| r.comment.as_deref().is_some_and(|c| c.starts_with(prefix)))
        .map(|r| r.handle)
        .collect();
    Ok((base, stale))
}

/// The stale rules' deletion and one rule per IP, as netlink operations:
/// the rules `nft` makes of `setup_script`'s `add rule` lines. None when
/// something does not fit the encoding (the tools handle it).
fn rule_ops(stale: &[u64], ips: &[IpNet], comment: &str) -> Option<Vec<Op>> {
    let udata = comment_udata(comment)?;
    let mut ops: Vec<Op> = stale
        .iter()
        .map(|h| Op::DelRule {
            family: INET,
            table: TABLE.into(),
            chain: CHAIN.into(),
            handle: *h,
        })
        .collect();
    for ip in ips {
        let mut exprs = nfproto(ip.addr().is_ipv6()).to_vec();
        exprs.extend(addr_match(true, IpNet::from(ip.addr()), false)?);
        exprs.extend(addr_match(false, ip.trunc(), true)?);
        exprs.push(Expr::Masq);
        ops.push(Op::NewRule {
            family: INET,
            table: TABLE.into(),
            chain: CHAIN.into(),
            exprs: encode_list(&exprs),
            udata: Some(udata.clone()),
        });
    }
    Some(ops)
}

/// This attachment's rules as deletions for one netlink transaction; none
/// when the table does not exist.
pub(super) fn teardown_ops(nl: &mut Nft, prefix: &str) -> Result<Vec<Op>> {
    if !nl.table_exists(INET, TABLE)? {
        return Ok(Vec::new());
    }
    Ok(nl
        .rules(INET, TABLE, CHAIN)?
        .into_iter()
        .filter(|r| r.comment.as_deref().is_some_and(|c| c.starts_with(prefix)))
        .map(|r| Op::DelRule {
            family: INET,
            table: TABLE.into(),
            chain: CHAIN.into(),
            handle: r.handle,
        })
        .collect())
}

pub(super) fn teardown(network: &str, ifname: &str, container_id: &str) -> Result<()> {
    let prefix = hash_for_instance(network, ifname, container_id);
    let what = format!("removing masquerade rules {prefix} from nftables table inet {TABLE}");
    converge(&what, true, |listing| {
        let stale = handles(listing, |c| c.starts_with(&prefix));
        (!stale.is_empty()).then(|| delete_script(&stale))
    })
}

pub(super) fn gc(network: &str, valid: &[GcAttachment]) -> Result<()> {
    let net_prefix = format!("{}-", hash_for_network(network));
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| hash_for_instance(network, &a.ifname, &a.container_id))
        .collect();
    let what = format!(
        "removing stale masquerade rules of network {network:?} from nftables table inet {TABLE}"
    );
    converge(&what, true, |listing| {
        let stale = handles(listing, |c| {
            c.starts_with(&net_prefix)
                && !c
                    .get(..net_prefix.len() + 16)
                    .is_some_and(|h| keep.contains(h))
        });
        (!stale.is_empty()).then(|| delete_script(&stale))
    })
}

/// Handles of rules in `masq_checks` whose comment passes `pick`.
fn handles(listing: Option<&Listing>, pick: impl Fn(&str) -> bool) -> Vec<u64> {
    listing
        .into_iter()
        .flat_map(|l| &l.rules)
        .filter(|r| r.chain == CHAIN && r.comment.as_deref().is_some_and(&pick))
        .map(|r| r.handle)
        .collect()
}

/// Lists `masq_checks`, plans a script, runs it. A failed run (a handle
/// deleted by someone else in between) is planned again once. With
/// `cleanup`, a missing nft or table means there is nothing to remove.
fn converge(
    what: &str,
    cleanup: bool,
    plan: impl Fn(Option<&Listing>) -> Option<String>,
) -> Result<()> {
    let mut retried = false;
    loop {
        let listing = match nftables::list(&["chain", "inet", TABLE, CHAIN]) {
            Ok(l) => l,
            Err(e) if cleanup && (e.is_missing() || e.is_absent()) => return Ok(()),
            Err(e) => return Err(e.into_error(what)),
        };
        if cleanup && listing.is_none() {
            return Ok(());
        }
        let Some(script) = plan(listing.as_ref()) else {
            return Ok(());
        };
        match nftables::apply(&script) {
            Ok(()) => return Ok(()),
            Err(ExecError::Failed { .. }) if !retried => retried = true,
            Err(e) => return Err(e.into_error(what)),
        }
    }
}

/// Go's transaction: declare table and chains, fill `postrouting`, drop
/// this attachment's old rules and add one rule per IP; the declarations
/// and `postrouting` only when the base is not complete (`with_base`).
/// Go declares and refills on every call, but re-declaring an existing
/// chain is an update the kernel frees after an RCU grace period, as it
/// does deleted rules, and `nft` waits for that on exit (10–20 ms here):
/// with the base in place the transaction only adds rules, and nothing
/// waits. Two first ADDs racing both declare and fill, and the later
/// transaction's flush leaves one copy of the base rules.
pub(super) fn setup_script(stale: &[u64], ips: &[IpNet], comment: &str, with_base: bool) -> String {
    let t = format!("inet {TABLE}");
    let mut s = String::new();
    if with_base {
        s.push_str(&format!(
            "add table {t} {{ comment \"{TABLE_COMMENT}\" ; }}\n"
        ));
        s.push_str(&format!(
            "add chain {t} {CHAIN} {{ comment \"{CHAIN_COMMENT}\" ; }}\n"
        ));
        s.push_str(&format!(
            "add chain {t} postrouting {{ type nat hook postrouting priority srcnat ; }}\n"
        ));
        s.push_str(&format!("flush chain {t} postrouting\n"));
        s.push_str(&format!(
            "add rule {t} postrouting ip daddr 224.0.0.0/4 return\n"
        ));
        s.push_str(&format!(
            "add rule {t} postrouting ip6 daddr ff00::/8 return\n"
        ));
        s.push_str(&format!("add rule {t} postrouting goto {CHAIN}\n"));
    }
    s.push_str(&delete_script(stale));
    for ip in ips {
        let family = match ip {
            IpNet::V4(_) => "ip",
            IpNet::V6(_) => "ip6",
        };
        s.push_str(&format!(
            "add rule {t} {CHAIN} {family} saddr {} {family} daddr != {} masquerade comment \"{comment}\"\n",
            ip.addr(),
            ip.trunc()
        ));
    }
    s
}

pub(super) fn delete_script(handles: &[u64]) -> String {
    handles
        .iter()
        .map(|h| format!("delete rule inet {TABLE} {CHAIN} handle {h}\n"))
        .collect()
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
