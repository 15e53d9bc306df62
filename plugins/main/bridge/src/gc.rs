//! bridge GC (spec 1.1.0): drop masquerade and spoof-check state of
//! attachments the runtime no longer knows, then let IPAM collect its own.

use pkg::firewall::masq;
use pkg::skel::CmdArgs;
use pkg::{Error, Result, ipam};

use crate::config::BridgeConf;
use crate::spoofcheck;

pub fn gc(args: &CmdArgs) -> Result<()> {
    let conf = BridgeConf::load_lenient(args)?;
    // No list at all: no attachment is valid (spec-notes §1.8).
    let valid = args.conf.gc_valid_attachments().unwrap_or_default();
    let mut errors = Vec::new();
    if conf.ip_masq.is_some()
        && let Err(e) = masq::gc(&args.conf.name, valid)
    {
        errors.push(e);
    }
    if conf.mac_spoof_chk
        && let Err(e) = spoofcheck::gc(valid)
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
