//! host-local IPAM as a library: the binary in `main.rs` runs it through
//! `pkg::skel`; the fuzz targets call the parsers directly.

pub mod allocator;
pub mod commands;
pub mod config;
pub mod dns;
pub mod range;

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    pkg::skel::run(
        &commands::HostLocal,
        &pkg::skel::PluginInfo::all_versions("host-local"),
    )
}
