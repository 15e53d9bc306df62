//! ptp: a veth pair per container with point-to-point routing through the
//! host (plugins.md §2.2): the container keeps its IPAM prefix but reaches
//! everything, its own subnet included, via the gateway on the host end.

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::ipam;
use pkg::skel::{self, Commands, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        gc: gc::gc,
        // Always the IPAM plugin's answer, as in Go: ptp cannot work without one.
        status: ipam::status,
        ..Commands::new(add::add, del::del, check::check)
    };
    skel::run(&plugin, &PluginInfo::all_versions("ptp"));
}
