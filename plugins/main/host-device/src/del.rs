//! host-device DEL: IPAM DEL and the device back on the host, both
//! attempted, errors reported together, the IPAM error first. The device
//! is found in the container under `CNI_IFNAME` (its original name from
//! the record ADD wrote, or from its alias); with the netns gone, or
//! `CNI_IFNAME` not there, it is looked for on the host by the record (the
//! kernel returns a physical device to the root namespace under the name
//! it had inside, and a killed ADD may not have moved it). A device found
//! nowhere needs nothing (a veth end dies with its netns; Go fails). The
//! record goes last, once the device is home, so a second DEL succeeds.
//! Nothing of the config but `ipam.type` and `dataDir` is read: a
//! selector that no longer resolves cannot keep the device or the address
//! from coming back.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::data_dir;
use crate::link;
use crate::state::{self, Record};

pub fn del(args: &CmdArgs) -> Result<()> {
    let ipam = args
        .conf
        .ipam_type()
        .is_some()
        .then(|| ipam::start_del(args));
    let mut errors = Vec::new();
    if let Err(e) = device_home(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(|started| started.and_then(|p| p.finish())) {
        errors.insert(0, e);
    }
    Error::from_list(errors)
}

fn device_home(args: &CmdArgs) -> Result<()> {
    let path = state::path(&data_dir(args)?, &args.container_id, &args.ifname);
    let rec = state::read(&path)?;
    if let Some(ns) = args.netns_if_exists()? {
        let mut ctr = Netlink::in_netns(ns)?;
        if let Some(dev) = ctr.link_find(LinkId::Name(&args.ifname))? {
            let rec = link::original_name(&dev, rec.as_ref(), &args.ifname)?;
            link::move_out(&mut ctr, &dev, &rec)?;
            return state::remove(&path);
        }
    }
    if let Some(rec) = &rec {
        returned(rec)?;
    }
    state::remove(&path)
}

/// The recorded device on the host, if it is there: restored.
fn returned(rec: &Record) -> Result<()> {
    let mut host = Netlink::new()?;
    match link::find(&mut host, rec)? {
        Some(dev) => link::restore_on_host(&mut host, &dev, rec),
        None => Ok(()),
    }
}
