//! sbr DEL, inside the container's namespace and under its lock; nothing
//! comes from prevResult. Nothing there is success: no namespace (the
//! rules and tables went with it; the path is never opened, Go creates a
//! file there), no rule. The rules are sbr's shape
//! (`from <address> lookup <table>`, nothing else), of the configured
//! table or, without one, of a table from 100:
//! - while `CNI_IFNAME` exists, those from its addresses go, and so do
//!   its routes in their tables (Go leaves the routes to the interface's
//!   deletion);
//! - once it is gone (a retried DEL, or the main plugin's DEL ran first;
//!   Go fails then, so a retried chain DEL never succeeds), its routes
//!   went with it, and the rules left are those from an address no
//!   interface in the namespace holds any more whose table is now empty
//!   (or is the configured one): they can route nothing.

use std::net::IpAddr;

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Context, Error, Result};

use crate::config::SbrConf;
use crate::routing::{self, FIRST_TABLE};
use crate::rule::{Rule, Rules};

pub fn del(args: &CmdArgs) -> Result<()> {
    let Some(ns) = args.netns_if_exists()? else {
        return Ok(());
    };
    let table = SbrConf::table_for_del(&args.config);
    routing::lock(ns)?;
    let mut ctr = Netlink::in_netns(ns)?;
    let mut rules = Rules::in_netns(ns)?;
    let ours = |r: &Rule| r.plain && table.map_or(r.table >= FIRST_TABLE, |t| r.table == t);
    let candidates: Vec<Rule> = rules
        .list()
        .context("failed to list all rules to tidy")?
        .into_iter()
        .filter(ours)
        .collect();
    if candidates.is_empty() {
        return Ok(());
    }
    let ifname = args.ifname.as_str();
    let mut errors = Vec::new();
    let victims: Vec<Rule> = match ctr.link_find(LinkId::Name(ifname))? {
        Some(link) => {
            let held = addresses(&mut ctr, Some(link.index))?;
            let victims: Vec<Rule> = candidates
                .into_iter()
                .filter(|r| r.source().is_some_and(|a| held.contains(&a)))
                .collect();
            if table.is_none() {
                for r in routing::all_routes(&mut ctr)? {
                    let in_ours = victims.iter().any(|v| Some(v.table) == r.table);
                    if in_ours && r.oif == Some(link.index) {
                        match ctr.route_del(&r) {
                            Err(e) if !e.is_not_found() => errors.push(e.context(format!(
                                "failed to delete route {} of {ifname}",
                                r.describe()
                            ))),
                            _ => {}
                        }
                    }
                }
            }
            victims
        }
        None => {
            let held = addresses(&mut ctr, None)?;
            let routes = routing::all_routes(&mut ctr)?;
            candidates
                .into_iter()
                .filter(|r| r.source().is_some_and(|a| !held.contains(&a)))
                .filter(|r| table.is_some() || !routes.iter().any(|x| x.table == Some(r.table)))
                .collect()
        }
    };
    for r in &victims {
        match rules.del(r) {
            Err(e) if !e.is_not_found() => {
                errors.push(e.context(format!("failed to delete rule {}", r.describe())))
            }
            _ => {}
        }
    }
    Error::from_list(errors)
}

/// The addresses of the link `index`, or of every link.
fn addresses(ctr: &mut Netlink, index: Option<u32>) -> Result<Vec<IpAddr>> {
    Ok(ctr
        .addr_list(index, None)
        .context("failed to list addresses")?
        .into_iter()
        .map(|a| a.address.addr())
        .collect())
}
