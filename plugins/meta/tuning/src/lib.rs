//! tuning: a chained plugin that changes a container interface's link
//! attributes (MAC, promiscuous and all-multicast modes, MTU, transmit
//! queue length) and sysctls of the container's network namespace, and
//! restores the link attributes on DEL.

mod add;
mod backup;
mod check;
mod config;
mod del;

use pkg::skel::{self, Commands, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands::new(add::add, del::del, check::check);
    skel::run(&plugin, &PluginInfo::all_versions("tuning"));
}
