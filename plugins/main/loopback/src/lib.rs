//! loopback: brings `lo` up in the container (whatever `CNI_IFNAME` says).

mod commands;
mod lo;

use pkg::skel::{self, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    skel::run(&commands::Loopback, &PluginInfo::all_versions("loopback"));
}
