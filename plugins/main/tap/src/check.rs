//! tap CHECK: IPAM CHECK, then the container interface in `prevResult` is
//! a tap in the netns with the configured owner, group and queue mode, on
//! the configured bridge, with its MAC, addresses and routes.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, attach, iface, ipam};

use crate::config::TapConf;
use crate::tun;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = TapConf::load(args)?;
    let mut ctr = Netlink::in_netns(args.netns()?)?;
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args.prev_result()?;
    let entry = attach::container_entry(args, &result)?;
    let ifname = args.ifname.as_str();
    let link = attach::container_link(&mut ctr, args, "tun")?;
    let info = tun::info(&link).unwrap_or_default();
    if !info.tap {
        return Err(Error::internal(format!(
            "container interface {ifname} is a tun, not a tap"
        )));
    }
    let wrong = |what: &str, want: String, found: String| {
        Err(Error::internal(format!(
            "tap {ifname} {what} is {found}, configured {want}"
        )))
    };
    let show = |id: Option<u32>| id.map_or_else(|| "none".to_string(), |i| i.to_string());
    if info.owner != conf.owner {
        return wrong("owner", show(conf.owner), show(info.owner));
    }
    if info.group != conf.group {
        return wrong("group", show(conf.group), show(info.group));
    }
    if info.multi_queue != conf.multi_queue {
        return wrong(
            "multiQueue",
            conf.multi_queue.to_string(),
            info.multi_queue.to_string(),
        );
    }
    if let Some(bridge) = &conf.bridge {
        let master = ctr.link_find(LinkId::Name(bridge))?;
        if master.is_none_or(|m| Some(m.index) != link.master) {
            return Err(Error::internal(format!(
                "tap {ifname} is not a port of bridge {bridge}"
            )));
        }
    }
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
