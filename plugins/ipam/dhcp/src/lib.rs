//! dhcp IPAM: addresses from a DHCP server, through a lease daemon.
//!
//! `dhcp daemon [flags]` runs the daemon ([`daemon`]): it holds one lease
//! per attachment, talking DHCP on the container's interface, renews it,
//! and keeps it across restarts. Every other invocation is the plugin, a
//! client of the daemon's socket ([`rpc`]).

pub mod client;
mod commands;
/// The configuration; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
pub mod daemon;
pub mod lease;
pub mod options;
pub mod result;
pub mod rpc;
pub mod store;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: commands::gc,
    status: commands::status,
    ..Plugin::new("dhcp", commands::add, commands::del, commands::check)
};

/// The binary's entry: the daemon for `dhcp daemon ...`, else the plugin.
pub fn run() -> ! {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "daemon") {
        std::process::exit(daemon::main(
            args.map(|a| a.to_string_lossy().into_owned()).collect(),
        ))
    }
    pkg::skel::run(&PLUGIN)
}
