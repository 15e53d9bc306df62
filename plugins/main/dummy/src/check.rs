//! dummy CHECK: IPAM CHECK, then the container interface in `prevResult`
//! is a dummy in the netns, up, with its MAC, addresses and routes.

use pkg::attach;
use pkg::netlink::Netlink;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, iface, ipam};

use crate::config;

pub fn check(args: &CmdArgs) -> Result<()> {
    config::load(args)?;
    let mut ctr = Netlink::in_netns(args.netns()?)?;
    ipam::check(args)?;
    let result = args.prev_result()?;
    let entry = attach::container_entry(args, &result)?;
    let link = attach::container_link(&mut ctr, args, "dummy")?;
    attach::check_mac("interface", entry, &link)?;
    if !link.is_up() {
        return Err(Error::internal(format!(
            "interface {} is down",
            args.ifname
        )));
    }
    attach::check_addresses(&mut ctr, &args.ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
