//! firewall GC (spec 1.1.0): remove the per-IP rules of this network's
//! attachments the runtime no longer lists, found by their markers.
//! firewalld records no owner for a zone source, so GC leaves it alone.

use pkg::Result;
use pkg::skel::CmdArgs;

use crate::iptables;

pub fn gc(args: &CmdArgs) -> Result<()> {
    // No list at all: no attachment is valid (Documentation/spec-notes.md §1.8).
    let valid = args.conf.gc_valid_attachments().unwrap_or_default();
    iptables::gc(&args.conf.name, valid)
}
