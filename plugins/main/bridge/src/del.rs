//! bridge DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or empty: the host-side state (IPAM
//! reservation, masquerade and spoof-check rules) is keyed by container ID
//! and interface name, not by anything read from the container.

use pkg::firewall::masq;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, iface, ipam};

use crate::config::BridgeConf;
use crate::spoofcheck;

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load_lenient(args)?;
    // Deleting a veth waits in the kernel for RCU grace periods (~20 ms),
    // and so does closing the netfilter socket after deleting rules. The
    // IPAM plugin is started and the rules are deleted first, then the
    // link: the waits overlap instead of adding up.
    let ipam = conf.layer3.then(|| ipam::start_del(args));
    let masq = conf
        .ip_masq
        .is_some()
        .then(|| masq::teardown_deferred(&args.conf.name, &args.ifname, &args.container_id));
    let mut errors = Vec::new();
    if let Err(e) = iface::del_container_link(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(|started| started.and_then(|p| p.finish())) {
        errors.push(e);
    }
    if conf.mac_spoof_chk
        && let Err(e) = spoofcheck::teardown(&args.container_id, &args.ifname)
    {
        errors.push(e);
    }
    // Dropping the teardown's socket waits for the rules to be freed.
    if let Some(Err(e)) = masq {
        errors.push(e);
    }
    Error::from_list(errors)
}
