//! firewall DEL: best effort. The per-IP rules are found through
//! `prevResult` and, when the runtime lost it, through the attachment's
//! marker rules (Go leaks them then). Isolation rules are per bridge and
//! stay, as in Go.

use pkg::firewall::Attachment;
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::config::{Backend, FirewallConf, result_ips, source};
use crate::{firewalld, iptables};

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = FirewallConf::load_lenient(args)?;
    let ips = args
        .conf
        .prev_result_for_cleanup()
        .map(|prev| result_ips(&prev))
        .unwrap_or_default();
    let att = Attachment::of(args);
    let mut errors = Vec::new();
    if conf.backend_for_cleanup() == Backend::Firewalld {
        // Go ignores these errors: the source may be gone already.
        for ip in &ips {
            if let Err(e) = firewalld::remove_source(&conf.zone, &source(ip)) {
                eprintln!("warning: {e}");
            }
        }
    }
    // Markers exist only for the iptables backend; looking costs a listing
    // of the marker chain per family (over netlink with iptables-nft).
    if let Err(e) = iptables::teardown(&att, &ips) {
        errors.push(e);
    }
    Error::from_list(errors)
}
