//! macvlan CHECK: the master still exists, and the container interface in
//! `prevResult` is a macvlan on it, in the configured mode, with its MAC,
//! addresses and routes.

use pkg::netlink::Netlink;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, iface, ipam};
use pkg::{attach, master};

use crate::config::MacvlanConf;
use crate::link::{self as macvlan, Mode};

pub fn check(args: &CmdArgs) -> Result<()> {
    let mut conf = MacvlanConf::load(args)?;
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let master = conf.master.resolve_with(args, &mut ctr)?;
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args.prev_result()?;
    let entry = attach::container_entry(args, &result)?;
    let link = attach::container_link(&mut ctr, args, "macvlan")?;
    master::check_parent(&args.ifname, &link, &master)?;
    match macvlan::mode_of(&link) {
        Some(m) if m == conf.mode => {}
        found => {
            return Err(Error::internal(format!(
                "container macvlan mode {} does not match expected value: {}",
                found.map(Mode::as_str).unwrap_or("unknown"),
                conf.mode.as_str()
            )));
        }
    }
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, &args.ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
