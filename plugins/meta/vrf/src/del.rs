//! vrf DEL, inside the container's namespace: release `CNI_IFNAME` from
//! the VRF, and delete the VRF when no interface is left in it. Nothing
//! there is success: no namespace, no VRF, no interface (Go fails on a
//! missing interface, which stops a runtime's DEL of the rest of the chain
//! and leaks the main plugin's link), or an interface that is not in this
//! VRF (Go releases it from whatever master it has).

use pkg::Result;
use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;

use crate::config::VrfConf;
use crate::vrf::{self, Vrf};

pub fn del(args: &CmdArgs) -> Result<()> {
    let Some(name) = VrfConf::name_for_del(args)? else {
        return Ok(());
    };
    let Some(ns) = args.netns_if_exists()? else {
        return Ok(());
    };
    let mut ctr = Netlink::in_netns(ns)?;
    // A link of that name that is not a VRF is not ours either.
    let Some(vrf) = ctr
        .link_find(LinkId::Name(&name))?
        .as_ref()
        .and_then(Vrf::of)
    else {
        return Ok(());
    };
    let ifname = args.ifname.as_str();
    if let Some(link) = ctr.link_find(LinkId::Name(ifname))?
        && link.master == Some(vrf.index)
    {
        match ctr.link_set_master(LinkId::Index(link.index), None) {
            Err(e) if !e.is_not_found() => {
                return Err(e.context(format!("could not release {ifname} from VRF {name}")));
            }
            _ => {}
        }
    }
    if vrf::members(&mut ctr, &vrf)?.is_empty() {
        match ctr.link_del(LinkId::Index(vrf.index)) {
            Err(e) if !e.is_not_found() => {
                return Err(e.context(format!("could not delete VRF {name}")));
            }
            _ => {}
        }
    }
    Ok(())
}
