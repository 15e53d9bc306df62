//! ipvlan DEL: IPAM DEL (when `ipam.type` is set) and the link removed
//! from the netns, both attempted, errors reported together
//! (`pkg::attach::del_link_and_ipam`). Unlike Go's ipvlan, it does not
//! resolve the master, so DEL works on a host without a default route and
//! with the master gone.

use pkg::skel::CmdArgs;
use pkg::{Result, attach};

pub fn del(args: &CmdArgs) -> Result<()> {
    attach::del_link_and_ipam(args)
}
