//! bridge GC (spec 1.1.0): drop masquerade and spoof-check state of
//! attachments the runtime no longer knows, then let IPAM collect its own.

use pkg::Result;
use pkg::attach;
use pkg::skel::CmdArgs;

use crate::config::BridgeConf;
use crate::spoofcheck;

pub fn gc(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load_lenient(args)?;
    attach::gc(args, conf.ip_masq.is_some(), conf.layer3, |valid| {
        if conf.mac_spoof_chk {
            spoofcheck::gc(valid)
        } else {
            Ok(())
        }
    })
}
