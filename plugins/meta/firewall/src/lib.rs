//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (Documentation/firewall.md). A chained plugin
//! that passes `prevResult` on unchanged. Backends: iptables (Go's
//! `CNI-FORWARD` layout, `layout.rs`, planned and applied by
//! `iptables.rs`) and firewalld (zone sources over D-Bus, `firewalld.rs`).

mod add;
mod check;
mod config;
mod del;
mod firewalld;
mod gc;
mod iptables;
mod layout;

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
