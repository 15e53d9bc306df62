//! ptp DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or `CNI_NETNS` is empty: the IPAM
//! reservation and the masquerade rules are keyed by container ID and
//! interface name, not by anything read from the container (Go skips the
//! masquerade teardown then, plugins.md §2.2).

use pkg::firewall::masq;
use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::PtpConf;

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = PtpConf::load_lenient(args)?;
    let mut errors = Vec::new();
    match args.netns_if_exists() {
        // Deleting the container end takes the host end, its gateway
        // addresses and the host routes with it.
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
        // The kernel removed the veth pair with the namespace.
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    if conf.layer3
        && let Err(e) = ipam::del(args)
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
