//! macvlan: a macvlan link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM or none (L2 mode). plugins.md §2.3.

mod add;
mod check;
mod config;
mod del;

use pkg::ipam;
use pkg::skel::{self, Commands, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        // Only IPAM holds state of a macvlan attachment outside the netns.
        gc: ipam::gc_if_configured,
        status: ipam::status_if_configured,
        ..Commands::new(add::add, del::del, check::check)
    };
    skel::run(&plugin, &PluginInfo::all_versions("macvlan"));
}
