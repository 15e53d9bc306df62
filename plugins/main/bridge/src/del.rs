//! bridge DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or empty: the host-side state (IPAM
//! reservation, masquerade and spoof-check rules) is keyed by container ID
//! and interface name, not by anything read from the container.

use pkg::firewall::{masq, spoofcheck};
use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::BridgeConf;

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load_lenient(args)?;
    let mut errors = Vec::new();
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
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    if conf.layer3
        && let Err(e) = ipam::del(args)
    {
        errors.push(e);
    }
    if conf.mac_spoof_chk
        && let Err(e) = spoofcheck::teardown(&args.container_id, &args.ifname)
    {
        errors.push(e);
    }
    if conf.ip_masq.is_some()
        && let Err(e) = masq::teardown(&args.conf.name, &args.ifname, &args.container_id)
    {
        errors.push(e);
    }
    Error::from_list(errors)
}
