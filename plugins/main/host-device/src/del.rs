//! host-device DEL: IPAM DEL and the device back on the host, both
//! attempted, errors reported together, the IPAM error first. The device
//! is found in the container under `CNI_IFNAME` (its original name from
//! the record ADD wrote, or from its alias); with the netns gone, or
//! `CNI_IFNAME` not there, it is looked for on the host by the record (the
//! kernel returns a physical device to the root namespace under the name
//! it had inside, and a killed ADD may not have moved it). A device found
//! nowhere needs nothing (a veth end dies with its netns; Go fails); a
//! physical one is waited for a few seconds when its netns is gone. The
//! record goes last, once the device is home, so a second DEL succeeds.
//! Nothing of the config but `ipam.type` and `dataDir` is read: a
//! selector that no longer resolves cannot keep the device or the address
//! from coming back.

use std::time::{Duration, Instant};

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::data_dir;
use crate::state::{self, Record};
use crate::{link, returned};

pub fn del(args: &CmdArgs) -> Result<()> {
    if let Ok(dir) = data_dir(args) {
        returned::restore(&dir);
    }
    let ipam = args
        .conf
        .ipam_type()
        .is_some()
        .then(|| ipam::del_before_link(args));
    let mut errors = Vec::new();
    if let Err(e) = device_home(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(ipam::DelBeforeLink::finish) {
        errors.insert(0, e);
    }
    Error::from_list(errors)
}

fn device_home(args: &CmdArgs) -> Result<()> {
    let path = state::path(&data_dir(args)?, &args.container_id, &args.ifname);
    let rec = state::read(&path)?;
    let netns = match args.netns_if_exists()? {
        Some(ns) => Netns::Open(ns),
        None if args.netns_path.is_empty() => Netns::Unknown,
        None => Netns::Gone,
    };
    if let Netns::Open(ns) = netns {
        let mut ctr = Netlink::in_netns(ns)?;
        if let Some(dev) = ctr.link_find(LinkId::Name(&args.ifname))? {
            if let Some(rec) = link::original_name(&dev, rec.as_ref()) {
                link::move_out(&mut ctr, &dev, &rec)?;
            }
            return state::remove(&path);
        }
    }
    let Some(rec) = rec else {
        // a kill may have left half a record behind
        return state::remove(&path);
    };
    let wait = if matches!(netns, Netns::Gone) && rec.physical {
        RETURN_LIMIT
    } else {
        Duration::ZERO
    };
    let found = returned(&rec, wait)?;
    match netns {
        _ if found => state::remove(&path),
        // the device may still be in a live container: its record stays
        // for the DEL that names the netns
        Netns::Unknown => Ok(()),
        // something still holds the destroyed netns; the kernel returns
        // the device when it lets go, and a later command restores it
        Netns::Gone if rec.physical => state::write(
            &path,
            &Record {
                deleted: true,
                ..rec
            },
        ),
        _ => state::remove(&path),
    }
}

/// Where the container netns is.
enum Netns<'a> {
    Open(&'a pkg::ns::Netns),
    /// Its path is gone: a physical device is on its way back to the root
    /// namespace (the kernel destroys a netns in a work queue, after the
    /// last reference), a virtual one is deleted.
    Gone,
    /// `CNI_NETNS` is empty.
    Unknown,
}

/// How long DEL waits for the kernel to return a physical device from a
/// destroyed netns.
const RETURN_LIMIT: Duration = Duration::from_secs(5);

/// The recorded device on the host, restored, waiting up to `wait` for it
/// to appear; whether it was found.
fn returned(rec: &Record, wait: Duration) -> Result<bool> {
    let mut host = Netlink::new()?;
    let deadline = Instant::now() + wait;
    loop {
        if let Some(dev) = link::find(&mut host, rec)? {
            link::restore_on_host(&mut host, &dev, rec)?;
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
