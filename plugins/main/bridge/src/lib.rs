//! bridge: a veth pair per container, the host end on a Linux bridge,
//! addresses from IPAM, optional gateway, masquerade and MAC spoof-check.

mod add;
mod check;
mod config;
mod del;
mod gc;
#[cfg(test)]
mod interop_tests;
mod spoofcheck;

use pkg::ipam;
use pkg::skel::{self, Commands, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        gc: gc::gc,
        status: ipam::status_if_configured,
        ..Commands::new(add::add, del::del, check::check)
    };
    skel::run(&plugin, &PluginInfo::all_versions("bridge"));
}
