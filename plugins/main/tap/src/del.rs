//! tap DEL: IPAM DEL and the tap removed from the netns, both attempted,
//! errors reported together; a netns or tap that is gone is success
//! (`pkg::attach::del_link_and_ipam`). Nothing of the config but
//! `ipam.type` is read, so a config or `CNI_ARGS` an ADD would refuse
//! cannot keep the address from being released (Go reads both first).

use pkg::skel::CmdArgs;
use pkg::{Result, attach};

pub fn del(args: &CmdArgs) -> Result<()> {
    attach::del_link_and_ipam(args)
}
