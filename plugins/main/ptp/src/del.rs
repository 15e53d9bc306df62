//! ptp DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or `CNI_NETNS` is empty: the IPAM
//! reservation and the masquerade rules are keyed by container ID and
//! interface name, not by anything read from the container (Go skips the
//! masquerade teardown then, plugins.md §2.2).

use pkg::firewall::masq;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, iface, ipam};

use crate::config::PtpConf;

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = PtpConf::load_lenient(args)?;
    // The link deletion waits in the kernel for RCU grace periods, as does
    // closing the netfilter socket after deleting rules: IPAM and the rules
    // go first and the waits overlap.
    let ipam = conf.layer3.then(|| ipam::start_del(args));
    let masq = conf
        .ip_masq
        .is_some()
        .then(|| masq::teardown_deferred(&args.conf.name, &args.ifname, &args.container_id));
    let mut errors = Vec::new();
    // Deleting the container end takes the host end, its gateway
    // addresses and the host routes with it.
    if let Err(e) = iface::del_container_link(args) {
        errors.push(e);
    }
    if let Some(Err(e)) = ipam.map(|started| started.and_then(|p| p.finish())) {
        errors.push(e);
    }
    if let Some(Err(e)) = masq {
        errors.push(e);
    }
    Error::from_list(errors)
}
