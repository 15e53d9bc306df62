//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (plugins.md §4.3). A chained plugin that passes
//! `prevResult` on unchanged. Backends: iptables (Go's `CNI-FORWARD`
//! layout, see `pkg::firewall::filter`) and firewalld (zone sources over
//! D-Bus, see `pkg::firewall::firewalld`).

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::skel::{self, Commands, PluginInfo};
use pkg::types::Version;

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        gc: gc::gc,
        ..Commands::new(add::add, del::del, check::check)
    };
    // As Go: 0.4.0 and later only (the plugin needs prevResult on DEL).
    skel::run(&plugin, &PluginInfo::since("firewall", Version::V0_4_0));
}
