//! portmap GC (spec 1.1.0): remove the port mappings of this network's
//! attachments that the runtime no longer lists, on both backends.

use crate::mappings as portmap;
use pkg::Result;
use pkg::skel::CmdArgs;

pub fn gc(args: &CmdArgs) -> Result<()> {
    // No list at all: no attachment is valid (Documentation/spec-notes.md §1.8).
    let valid = args.conf.gc_valid_attachments().unwrap_or_default();
    portmap::gc(&args.conf.name, valid)
}
