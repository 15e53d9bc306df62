//! macvlan DEL: best effort, every step attempted, errors reported
//! together (`pkg::attach::del_link_and_ipam`). It reads nothing but
//! `ipam.type` from the config and never looks up the master, so neither a
//! changed config nor a master (or default route) that is gone can keep
//! the address from being released.

use pkg::skel::CmdArgs;
use pkg::{Result, attach};

pub fn del(args: &CmdArgs) -> Result<()> {
    attach::del_link_and_ipam(args)
}
