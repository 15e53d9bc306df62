//! portmap DEL: needs neither netns nor `prevResult`. Rules are found by
//! network name and container ID (iptables) or container ID and the
//! attachment's marker (nftables), on both backends, since the backend may
//! have changed since ADD.

use crate::mappings::{self as portmap, Attachment};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::add::flush_udp;
use crate::config::{PortmapConf, container_ips};

pub fn del(args: &CmdArgs) -> Result<()> {
    let conf = PortmapConf::load_lenient(args)?;
    // As in Go (plugins#510): no mappings, no firewall work. GC collects
    // what a runtime that omits them on DEL leaves behind.
    if conf.mappings.is_empty() {
        return Ok(());
    }
    // prevResult only narrows the nftables rules to this attachment's
    // addresses.
    let known = args
        .conf
        .prev_result_for_cleanup()
        .map(|prev| container_ips(&prev, &args.ifname))
        .unwrap_or_default();
    let att = Attachment::of(args);
    let mut errors = Vec::new();
    if let Err(e) = portmap::teardown(&att, &known) {
        errors.push(e);
    }
    flush_udp(&conf.udp_ports(), [true, false].into_iter());
    Error::from_list(errors)
}
