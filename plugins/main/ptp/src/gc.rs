//! ptp GC (spec 1.1.0): drop masquerade state of attachments the runtime no
//! longer knows, then let IPAM collect its own. Go's ptp has no GC
//! (upstream #1014).

use pkg::firewall::masq;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::PtpConf;

pub fn gc(args: &CmdArgs) -> Result<()> {
    let conf = PtpConf::load_lenient(args)?;
    // No list at all: no attachment is valid (spec-notes §1.8).
    let valid = args.conf.gc_valid_attachments().unwrap_or_default();
    let mut errors = Vec::new();
    if conf.ip_masq.is_some()
        && let Err(e) = masq::gc(&args.conf.name, valid)
    {
        errors.push(e);
    }
    if conf.layer3
        && let Err(e) = ipam::gc(args)
    {
        errors.push(e);
    }
    Error::from_list(errors)
}
