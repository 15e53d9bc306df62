//! bridge DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or empty: the host-side state (IPAM
//! reservation, masquerade and spoof-check rules) is keyed by container ID
//! and interface name, not by anything read from the container.

use pkg::Result;
use pkg::attach;
use pkg::skel::CmdArgs;

use crate::config::BridgeConf;
use crate::spoofcheck;

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load_lenient(args)?;
    attach::del(args, conf.layer3, conf.ip_masq.is_some(), || {
        if conf.mac_spoof_chk {
            spoofcheck::teardown(&args.container_id, &args.ifname)
        } else {
            Ok(())
        }
    })
}
