//! ptp DEL: best effort, every step attempted, errors reported together.
//! Works when the netns is gone or `CNI_NETNS` is empty: the IPAM
//! reservation and the masquerade rules are keyed by container ID and
//! interface name, not by anything read from the container (Go skips the
//! masquerade teardown then, Documentation/ptp.md).

use pkg::Result;
use pkg::attach;
use pkg::skel::CmdArgs;

use crate::config::PtpConf;

/// Deleting the container end takes the host end, its gateway addresses
/// and the host routes with it.
pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = PtpConf::load_lenient(args)?;
    attach::del(args, conf.layer3, conf.ip_masq.is_some(), || Ok(()))
}
