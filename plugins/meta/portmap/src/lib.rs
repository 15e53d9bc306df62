//! portmap: forwards host ports to a container (plugins.md §4.1). A chained
//! plugin: it reads the container's addresses from `prevResult` and passes
//! that result on unchanged. Rules live in iptables or nftables, in Go's
//! layouts (`iptables.rs`, `nftables.rs`, behind `mappings.rs`); UDP flows
//! that predate a mapping are flushed from conntrack (`conntrack.rs`).

mod add;
mod check;
mod config;
mod conntrack;
mod del;
mod gc;
mod iptables;
mod mappings;
mod nftables;

use pkg::skel::{self, Commands, PluginInfo};

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        gc: gc::gc,
        ..Commands::new(add::add, del::del, check::check)
    };
    skel::run(&plugin, &PluginInfo::all_versions("portmap"));
}
