//! vlan CHECK: the master still exists, and the container interface in
//! `prevResult` is a vlan on it with the configured id (and MTU, when one
//! is configured), its MAC, addresses and routes.

use pkg::netlink::Netlink;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, attach, iface, ipam, master};

use crate::config::VlanConf;
use crate::link;

pub fn check(args: &CmdArgs) -> Result<()> {
    let mut conf = VlanConf::load(args)?;
    let mut ctr = Netlink::in_netns(args.netns()?)?;
    let master = conf.master.resolve_with(args, &mut ctr)?;
    ipam::check(args)?;
    let result = args.prev_result()?;
    let entry = attach::container_entry(args, &result)?;
    let link = attach::container_link(&mut ctr, args, "vlan")?;
    master::check_parent(&args.ifname, &link, &master)?;
    let id = link::id_of(&link);
    if id != Some(conf.vlan_id) {
        return Err(Error::internal(format!(
            "container vlan id {} does not match expected value: {}",
            id.map(|i| i.to_string())
                .unwrap_or_else(|| "unknown".into()),
            conf.vlan_id
        )));
    }
    let mtu = conf.master.link_mtu();
    if mtu != 0 && link.mtu != mtu {
        return Err(Error::internal(format!(
            "container interface {} MTU {} does not match expected value: {mtu}",
            args.ifname, link.mtu
        )));
    }
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, &args.ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
