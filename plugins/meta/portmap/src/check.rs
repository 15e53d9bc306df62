//! portmap CHECK: the rules for each container address in `prevResult`
//! are there. Only families the container has are checked (Go 1.1.1 also
//! demanded IPv6 rules of IPv4-only containers).

use pkg::Result;

use pkg::skel::CmdArgs;

use crate::config::{PortmapConf, container_ips};
use crate::mappings::{self as portmap, Attachment};

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = PortmapConf::load(args)?;
    let prev = args.prev_result()?;
    if conf.mappings.is_empty() {
        return Ok(());
    }
    let ips = container_ips(&prev, &args.ifname);
    if ips.is_empty() {
        return Ok(());
    }
    let att = Attachment::of(args);
    portmap::check(conf.backend()?, &att, &ips, &conf.mappings, &conf.opts)
}
