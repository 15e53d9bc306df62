//! bridge `macspoofchk`: frames entering the bridge from a container's
//! host veth must carry the container's MAC. Go's `pkg/link` layout in the
//! nftables `bridge` family, table `nat`; written as JSON because chain
//! names embed the ifname, which the nft text syntax cannot always quote.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::CString;

use serde_json::{Value, json};

use super::exec::ExecError;
use super::nftables::{self, Listing, NftRule};
use crate::error::{Error, Result};
use crate::types::GcAttachment;

const FAMILY: &str = "bridge";
const TABLE: &str = "nat";
const BASE_CHAIN: &str = "PREROUTING";
const CHAIN_PREFIX: &str = "cni-br-iface-";
const COMMENT_PREFIX: &str = "macspoofchk-";

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
    fn is_entry(&self, rule: &NftRule) -> bool {
        rule.chain == BASE_CHAIN
            && (rule.comment.as_deref() == Some(&self.comment)
                || rule.jump_target() == Some(&self.iface_chain))
    }
}

/// Drops frames from `host_veth` whose source MAC is not `mac`.
pub fn setup(container_id: &str, ifname: &str, host_veth: &str, mac: &str) -> Result<()> {
    if !is_mac(mac) {
        return Err(Error::invalid_config(
            format!("invalid mac address {mac:?} for spoof check"),
            "",
        ));
    }
    let names = Names::of(container_id, ifname);
    let what = format!(
        "setting up spoof check for {host_veth} in nftables table {FAMILY} {TABLE} (chain {})",
        names.iface_chain
    );
    converge(&what, false, |listing| {
        let stale: Vec<u64> = listing
            .map(|l| {
                l.rules
                    .iter()
                    .filter(|r| names.is_entry(r))
                    .map(|r| r.handle)
                    .collect()
            })
            .unwrap_or_default();
        Some(setup_commands(&names, host_veth, mac, &stale))
    })
}

/// Removes the base-chain jump and both chains; the table and base chain
/// stay, as Go leaves them. Anything already gone counts as removed.
pub fn teardown(container_id: &str, ifname: &str) -> Result<()> {
    let names = Names::of(container_id, ifname);
    let what = format!(
        "removing spoof check chain {} from nftables table {FAMILY} {TABLE}",
        names.iface_chain
    );
    converge(&what, true, |listing| {
        let cmds = listing
            .map(|l| teardown_commands(l, &names))
            .unwrap_or_default();
        (!cmds.is_empty()).then_some(cmds)
    })
}

/// Removes spoof-check state of attachments not in `valid`. Chain names do
/// not carry the network, so an attachment is only taken as stale if its
/// host veth is gone (or its chains are unreachable anyway).
pub fn gc(valid: &[GcAttachment]) -> Result<()> {
    let keep: HashSet<String> = valid
        .iter()
        .map(|a| format!("{}-{}", a.container_id, a.ifname))
        .collect();
    converge(
        &format!("removing stale spoof check chains from nftables table {FAMILY} {TABLE}"),
        true,
        |listing| {
            let cmds = listing
                .map(|l| gc_commands(l, &keep, link_exists))
                .unwrap_or_default();
            (!cmds.is_empty()).then_some(cmds)
        },
    )
}

/// Lists the table, plans, applies in one transaction; a failed apply is
/// planned again once from a fresh listing (another plugin may have changed
/// the table in between). With `cleanup`, a missing nft or table means
/// there is nothing to remove.
fn converge(
    what: &str,
    cleanup: bool,
    plan: impl Fn(Option<&Listing>) -> Option<Vec<Value>>,
) -> Result<()> {
    let mut retried = false;
    loop {
        let listing = match nftables::list(&["table", FAMILY, TABLE]) {
            Ok(l) => l,
            Err(e) if cleanup && (e.is_missing() || e.is_absent()) => return Ok(()),
            Err(e) => return Err(e.into_error(what)),
        };
        let Some(cmds) = plan(listing.as_ref()) else {
            return Ok(());
        };
        match nftables::apply_json(cmds) {
            Ok(()) => return Ok(()),
            Err(ExecError::Failed { .. }) if !retried => retried = true,
            Err(e) => return Err(e.into_error(what)),
        }
    }
}

fn setup_commands(names: &Names, host_veth: &str, mac: &str, stale: &[u64]) -> Vec<Value> {
    let chain = |name: &str| json!({"family": FAMILY, "table": TABLE, "name": name});
    let rule = |chain: &str, expr: Value| {
        json!({"add": {"rule": {
            "family": FAMILY, "table": TABLE, "chain": chain, "comment": names.comment, "expr": expr
        }}})
    };
    let mut cmds = vec![
        json!({"add": {"table": {"family": FAMILY, "name": TABLE}}}),
        json!({"add": {"chain": {
            "family": FAMILY, "table": TABLE, "name": BASE_CHAIN,
            "type": "filter", "hook": "prerouting", "prio": -300, "policy": "accept"
        }}}),
        json!({"add": {"chain": chain(&names.iface_chain)}}),
        json!({"add": {"chain": chain(&names.mac_chain)}}),
        json!({"flush": {"chain": chain(&names.iface_chain)}}),
        json!({"flush": {"chain": chain(&names.mac_chain)}}),
    ];
    cmds.extend(stale.iter().map(|h| delete_rule(BASE_CHAIN, *h)));
    cmds.push(rule(
        BASE_CHAIN,
        json!([
            {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": host_veth}},
            {"jump": {"target": names.iface_chain}}
        ]),
    ));
    cmds.push(rule(
        &names.iface_chain,
        json!([{"jump": {"target": names.mac_chain}}]),
    ));
    cmds.push(rule(
        &names.mac_chain,
        json!([
            {"match": {"op": "==", "left": {"payload": {"protocol": "ether", "field": "saddr"}}, "right": mac}},
            {"return": null}
        ]),
    ));
    cmds.push(rule(&names.mac_chain, json!([{"drop": null}])));
    cmds
}

fn teardown_commands(listing: &Listing, names: &Names) -> Vec<Value> {
    let mut cmds: Vec<Value> = listing
        .rules
        .iter()
        .filter(|r| names.is_entry(r))
        .map(|r| delete_rule(BASE_CHAIN, r.handle))
        .collect();
    // Flushed first so the kernel sees no reference from the iface chain's
    // jump when the mac chain goes.
    for chain in [&names.iface_chain, &names.mac_chain] {
        if listing.has_chain(chain) {
            cmds.push(
                json!({"flush": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}}),
            );
        }
    }
    for chain in [&names.iface_chain, &names.mac_chain] {
        if listing.has_chain(chain) {
            cmds.push(
                json!({"delete": {"chain": {"family": FAMILY, "table": TABLE, "name": chain}}}),
            );
        }
    }
    cmds
}

/// Teardown commands for every attachment that is neither valid nor alive.
fn gc_commands(
    listing: &Listing,
    keep: &HashSet<String>,
    link_exists: impl Fn(&str) -> bool,
) -> Vec<Value> {
    // ref_id -> host veths that enter its chains
    let mut attachments: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rule in listing.rules.iter().filter(|r| r.chain == BASE_CHAIN) {
        let by_comment = rule
            .comment
            .as_deref()
            .and_then(|c| c.strip_prefix(COMMENT_PREFIX));
        let by_target = rule
            .jump_target()
            .and_then(|t| t.strip_prefix(CHAIN_PREFIX));
        if let Some(ref_id) = by_comment.or(by_target) {
            let veths = attachments.entry(ref_id.to_string()).or_default();
            veths.extend(rule.iifname().map(String::from));
        }
    }
    for chain in &listing.chains {
        let Some(ref_id) = chain.strip_prefix(CHAIN_PREFIX) else {
            continue;
        };
        // A `-mac` chain belongs to the iface chain next to it, if any.
        let ref_id = match ref_id.strip_suffix("-mac") {
            Some(stem) if listing.has_chain(&format!("{CHAIN_PREFIX}{stem}")) => continue,
            Some(stem) if !listing.has_chain(&format!("{CHAIN_PREFIX}{ref_id}-mac")) => stem,
            _ => ref_id,
        };
        attachments.entry(ref_id.to_string()).or_default();
    }
    attachments
        .iter()
        .filter(|(ref_id, veths)| !keep.contains(*ref_id) && !veths.iter().any(|v| link_exists(v)))
        .flat_map(|(ref_id, _)| teardown_commands(listing, &Names::new(ref_id)))
        .collect()
}

fn delete_rule(chain: &str, handle: u64) -> Value {
    json!({"delete": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain, "handle": handle}}})
}

fn is_mac(mac: &str) -> bool {
    let octets: Vec<&str> = mac.split(':').collect();
    octets.len() == 6
        && octets
            .iter()
            .all(|o| o.len() == 2 && o.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Looked up in the calling thread's netns, which /sys/class/net is not.
fn link_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) != 0 }
}

#[cfg(test)]
#[path = "spoofcheck_tests.rs"]
mod tests;
