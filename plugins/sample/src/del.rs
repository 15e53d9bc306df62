//! DEL: remove the label. Best effort and idempotent: a namespace or an
//! interface that is already gone means there is nothing left to undo.

use pkg::Result;
use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;

pub fn del(args: &CmdArgs) -> Result<()> {
    let Some(ns) = args.netns_if_exists()? else {
        return Ok(());
    };
    let mut nl = Netlink::in_netns(ns)?;
    match nl.link_set_alias(LinkId::Name(&args.ifname), "") {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}
