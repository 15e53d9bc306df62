//! vlan: an 802.1Q VLAN link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM. Documentation/vlan.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
pub mod link;

use pkg::skel::{CmdArgs, Plugin};
use pkg::{Result, ipam};

use crate::config::VlanConf;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    // Only IPAM holds state of a vlan attachment outside the netns.
    gc: ipam::gc_if_configured,
    status,
    ..Plugin::new("vlan", add::add, del::del, check::check)
};

/// The IPAM plugin's answer, as in Go; a config that cannot serve an ADD
/// says so. The master is not looked up (Go: "TODO").
fn status(args: &CmdArgs) -> Result<()> {
    VlanConf::load(args)?;
    ipam::status(args)
}
