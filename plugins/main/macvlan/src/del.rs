//! macvlan DEL: best effort, every step attempted, errors reported
//! together. It reads nothing but `ipam.type` from the config and never
//! looks up the master, so neither a changed config nor a master (or
//! default route) that is gone can keep the address from being released.

use pkg::skel::CmdArgs;
use pkg::{Error, Result, iface, ipam};

pub fn del(args: &CmdArgs) -> Result<()> {
    let mut errors = Vec::new();
    // IPAM runs while the kernel deletes the link (which waits for RCU
    // grace periods).
    let ipam = args
        .conf
        .ipam_type()
        .is_some()
        .then(|| ipam::start_del(args));
    if let Err(e) = iface::del_container_link(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(|started| started.and_then(|p| p.finish())) {
        errors.insert(0, e);
    }
    Error::from_list(errors)
}
