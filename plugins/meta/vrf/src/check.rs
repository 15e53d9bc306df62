//! vrf CHECK: the VRF exists (with the configured table, when one is
//! configured) and `CNI_IFNAME` is enslaved to it.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::add::{prev_result, refuse_other_table};
use crate::config::VrfConf;
use crate::vrf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = VrfConf::load(args)?;
    prev_result(args)?;
    let ns = args.netns()?;
    let mut ctr = Netlink::in_netns(ns)?;
    let name = conf.name.as_str();
    let vrf = vrf::find(&mut ctr, name)?
        .ok_or_else(|| Error::internal(format!("VRF {name} not found in {}", args.netns_path)))?;
    refuse_other_table(&vrf, &conf)?;
    let ifname = args.ifname.as_str();
    let link = ctr.link_find(LinkId::Name(ifname))?;
    if link.is_none_or(|l| l.master != Some(vrf.index)) {
        // Go's words.
        return Err(Error::internal(format!(
            "failed to find {ifname} associated to vrf {name}"
        )));
    }
    Ok(())
}
