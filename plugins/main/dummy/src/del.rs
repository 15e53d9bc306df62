//! dummy DEL: IPAM DEL and the dummy removed from the netns, both
//! attempted, errors reported together; a netns or dummy that is gone is
//! success (`pkg::attach::del_link_and_ipam`).

use pkg::skel::CmdArgs;
use pkg::{Result, attach};

pub fn del(args: &CmdArgs) -> Result<()> {
    attach::del_link_and_ipam(args)
}
