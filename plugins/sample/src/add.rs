//! ADD: label the container interface created by the previous plugin and
//! pass its result on with the search domain added.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Error, Result};

use crate::config::SampleConf;

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    // Everything that can fail without side effects comes first.
    let conf = SampleConf::load(args)?;
    let mut result = args.conf.parse_prev_result()?.ok_or_else(|| {
        Error::invalid_config(
            "sample must be chained after a plugin that creates the interface: no prevResult",
            "",
        )
    })?;
    let ns = args.netns()?;
    // The netlink socket is made inside the container namespace on a
    // short-lived thread; it can then be used from here.
    let mut nl = Netlink::in_netns(ns)?;
    nl.link_set_alias(LinkId::Name(&args.ifname), &conf.alias)
        .map_err(|e| {
            e.context(format!(
                "failed to label {} in {}",
                args.ifname, args.netns_path
            ))
        })?;
    if let Some(domain) = conf.search_domain
        && !result.dns.search.contains(&domain)
    {
        result.dns.search.push(domain);
    }
    Ok(result)
}
