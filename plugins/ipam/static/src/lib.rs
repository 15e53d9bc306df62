//! static IPAM: hands out exactly the addresses it is given.

mod commands;
mod config;

use pkg::skel::{self, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    skel::run(&commands::Static, &PluginInfo::all_versions("static"));
}
