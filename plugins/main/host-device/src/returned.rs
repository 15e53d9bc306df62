//! Physical devices that came back after their DEL. The kernel returns a
//! physical device to the root namespace when the last reference to its
//! container netns goes, under the name it had inside. DEL waits a few
//! seconds for that; when something else still held the netns, DEL
//! succeeds with the address released and marks the device's record
//! `deleted`. Each later ADD, DEL and GC in the same `dataDir` puts such a
//! device back under its own name, MTU and state once it is on the host,
//! and then removes the record (Documentation/host-device.md).

use std::path::Path;

use pkg::netlink::Netlink;
use pkg::skel::CmdArgs;
use pkg::{Result, ipam};

use crate::config::data_dir;
use crate::{link, state};

/// Restore every device of a `deleted` record in `data_dir` that is back
/// on the host. Best effort: the command that runs it is about something
/// else, and a device not restored now keeps its record for the next one.
pub fn restore(data_dir: &Path) {
    let pending: Vec<_> = state::all(data_dir)
        .into_iter()
        .filter(|(_, r)| r.deleted)
        .collect();
    if pending.is_empty() {
        return;
    }
    let Ok(mut host) = Netlink::new() else {
        return;
    };
    let Ok(links) = host.link_list() else {
        return;
    };
    for (path, rec) in pending {
        let back = links.iter().find(|l| rec.is(l) && l.name != rec.name);
        if let Some(dev) = back
            && link::restore_on_host(&mut host, dev, &rec).is_ok()
        {
            let _ = state::remove(&path);
        }
    }
}

/// GC: the devices back late, then IPAM's collection.
pub fn gc(args: &CmdArgs) -> Result<()> {
    restore(&data_dir(args)?);
    ipam::gc_if_configured(args)
}
