//! dummy: a dummy link in the container, named `CNI_IFNAME`, with the
//! addresses and routes of the IPAM plugin; traffic to those addresses
//! stays inside the container. Documentation/dummy.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;

use pkg::skel::{CmdArgs, Plugin};
use pkg::{Result, ipam};

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    // Only IPAM holds state of a dummy attachment outside the netns.
    gc: ipam::gc_if_configured,
    status,
    ..Plugin::new("dummy", add::add, del::del, check::check)
};

/// The IPAM plugin's answer, as in Go; a config without IPAM cannot serve
/// an ADD, and says so.
fn status(args: &CmdArgs) -> Result<()> {
    config::load(args)?;
    ipam::status(args)
}
