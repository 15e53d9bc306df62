//! host-device CHECK: IPAM CHECK, then the container interface in
//! `prevResult` is in the netns under `CNI_IFNAME` with its MAC, addresses
//! and routes. A PCI function bound to a userspace driver has nothing in
//! the netns to check (Go).

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, attach, iface, ipam};

use crate::config::HostDeviceConf;
use crate::sysfs::{Sysfs, Target};

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = HostDeviceConf::load(args)?;
    let mut ctr = Netlink::in_netns(args.netns()?)?;
    if conf.layer3 {
        ipam::check(args)?;
    }
    let result = args.prev_result()?;
    let userspace = matches!(
        Sysfs::system().resolve(&conf.selector),
        Ok(Target::Userspace { .. })
    );
    if userspace {
        return Ok(());
    }
    let entry = attach::container_entry(args, &result)?;
    let ifname = args.ifname.as_str();
    let link = ctr.link_find(LinkId::Name(ifname))?.ok_or_else(|| {
        Error::internal(format!(
            "container interface {ifname} from prevResult not found in {}",
            args.netns_path
        ))
    })?;
    attach::check_mac("interface", entry, &link)?;
    attach::check_addresses(&mut ctr, ifname, &link, &result)?;
    iface::check_routes(&mut ctr, &result.routes)
}
