//! bandwidth GC (spec 1.1.0): remove IFB devices of attachments the
//! runtime no longer knows. An IFB's name is a one-way hash, so which
//! network it belongs to comes from the alias ADD gives it. IFBs without
//! our alias (made by Go's plugin) are removed only when nothing redirects
//! to them any more and their TBF is in place: the veth that fed them is
//! gone, and a concurrent ADD, which adds the TBF last, is never caught
//! half-way. A still-valid attachment's IFB is never touched.

use std::collections::{HashMap, HashSet};

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::host;
use crate::tc::{INGRESS_HANDLE, INGRESS_PARENT, ROOT, Tc};

pub fn gc(args: &CmdArgs) -> Result<()> {
    let network = args.conf.name.as_str();
    // No list at all: no attachment is valid (Documentation/spec-notes.md §1.8).
    let keep: HashSet<String> = args
        .conf
        .gc_valid_attachments()
        .unwrap_or_default()
        .iter()
        .map(|a| host::ifb_name(network, &a.container_id))
        .collect();
    let mut nl = Netlink::new()?;
    let links = nl.link_list()?;
    if !links.iter().any(host::is_bandwidth_ifb) {
        return Ok(());
    }
    let mut tc = Tc::new()?;
    let qdiscs = tc.qdisc_list(None)?;
    let mut errors = Vec::new();
    // IFB index -> the links whose ingress filters redirect to it.
    let mut fed_by: HashMap<u32, Vec<u32>> = HashMap::new();
    for q in qdiscs.iter().filter(|q| q.kind == "ingress") {
        match tc.ingress_redirects(q.index) {
            Ok(targets) => {
                for t in targets {
                    fed_by.entry(t).or_default().push(q.index);
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => errors.push(e),
        }
    }
    // A failed filter listing could hide a feeder: collect only when all
    // of them were read.
    if !errors.is_empty() {
        return Error::from_list(errors);
    }
    for ifb in links.iter().filter(|l| host::is_bandwidth_ifb(l)) {
        if keep.contains(&ifb.name) {
            continue;
        }
        let feeders = fed_by.get(&ifb.index).map(Vec::as_slice).unwrap_or(&[]);
        let stale = match host::alias_network(&ifb.alias) {
            Some(n) => n == network,
            None => {
                feeders.is_empty()
                    && qdiscs
                        .iter()
                        .any(|q| q.index == ifb.index && q.parent == ROOT && q.kind == "tbf")
            }
        };
        if !stale {
            continue;
        }
        // A veth that outlives its attachment would otherwise send the
        // container's traffic to a device that no longer exists.
        for &from in feeders {
            if let Err(e) = tc.qdisc_del(from, INGRESS_PARENT, INGRESS_HANDLE)
                && !e.is_not_found()
            {
                errors.push(e.context(format!(
                    "failed to remove the redirect from link index {from} to {}",
                    ifb.name
                )));
            }
        }
        if let Err(e) = nl.link_del(LinkId::Index(ifb.index))
            && !e.is_not_found()
        {
            errors.push(e.context(format!("failed to delete stale ifb device {}", ifb.name)));
        }
    }
    Error::from_list(errors)
}
