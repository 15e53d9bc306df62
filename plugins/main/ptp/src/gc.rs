//! ptp GC (spec 1.1.0): drop masquerade state of attachments the runtime no
//! longer knows, then let IPAM collect its own. Go's ptp has no GC
//! (upstream #1014).

use pkg::Result;
use pkg::attach;
use pkg::skel::CmdArgs;

use crate::config::PtpConf;

pub fn gc(args: &CmdArgs) -> Result<()> {
    let conf = PtpConf::load_lenient(args)?;
    attach::gc(args, conf.ip_masq.is_some(), conf.layer3, |_| Ok(()))
}
