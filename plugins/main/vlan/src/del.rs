//! vlan DEL: IPAM DEL and the link removed from the netns, both attempted,
//! errors reported together (`pkg::attach::del_link_and_ipam`). Unlike Go's
//! vlan, it does not validate the config or look up the master: a master
//! that is gone (which took the vlan link with it) must not keep the
//! address from being released.

use pkg::skel::CmdArgs;
use pkg::{Result, attach};

pub fn del(args: &CmdArgs) -> Result<()> {
    attach::del_link_and_ipam(args)
}
