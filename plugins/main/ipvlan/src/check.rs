//! ipvlan CHECK: the container interface in `prevResult` is an ipvlan in
//! the configured mode, with its MAC, addresses and routes; with `master`
//! configured, the master still exists and the ipvlan is on it.

use pkg::netlink::Netlink;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, attach, iface, ipam, master};

use crate::config::IpvlanConf;
use crate::link::{self, Mode};

pub fn check(args: &CmdArgs) -> Result<()> {
    let mut conf = IpvlanConf::load_keys(args)?;
    let mut ctr = Netlink::in_netns(args.netns()?)?;
    // Without `master`, ADD took the default route's interface or the
    // previous plugin's; neither can be told from the chain's final
    // result, and a default route that moved since does not break the
    // attachment.
    let master = if conf.master.name.is_empty() {
        None
    } else {
        Some(conf.master.resolve_with(args, &mut ctr)?)
    };
    if args.conf.ipam_type().is_some() {
        ipam::check(args)?;
    }
    let result = args.prev_result()?;
    let entry = attach::container_entry(args, &result)?;
    let link = attach::container_link(&mut ctr, args, "ipvlan")?;
    if let Some(master) = &master {
        master::check_parent(&args.ifname, &link, master)?;
    }
    match link::mode_of(&link) {
        Some(m) if m == conf.mode => {}
        found => {
            return Err(Error::internal(format!(
                "container ipvlan mode {} does not match expected value: {}",
                found.map(Mode::as_str).unwrap_or("unknown"),
                conf.mode.as_str()
            )));
        }
    }
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, &args.ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
