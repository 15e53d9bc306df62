//! macvlan DEL: best effort, every step attempted, errors reported
//! together. It reads nothing but `ipam.type` from the config and never
//! looks up the master, so neither a changed config nor a master (or
//! default route) that is gone can keep the address from being released.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

pub fn del(args: &CmdArgs) -> Result<()> {
    let mut errors = Vec::new();
    // IPAM runs while the kernel deletes the link (which waits for RCU
    // grace periods).
    let ipam = args
        .conf
        .ipam_type()
        .is_some()
        .then(|| ipam::start_del(args));
    match args.netns_if_exists() {
        Ok(Some(ns)) => {
            let removed =
                Netlink::in_netns(ns).and_then(|mut nl| nl.link_del(LinkId::Name(&args.ifname)));
            match removed {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => errors.push(e.context(format!(
                    "failed to delete {} in {}",
                    args.ifname, args.netns_path
                ))),
            }
        }
        // The macvlan went with the namespace.
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    if let Some(Err(e)) = ipam.map(|started| started.and_then(|p| p.finish())) {
        errors.insert(0, e);
    }
    Error::from_list(errors)
}
