//! bridge: a veth pair per container, the host end on a Linux bridge,
//! addresses from IPAM, optional gateway, masquerade and MAC spoof-check.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod gc;
#[cfg(test)]
mod interop_tests;
mod spoofcheck;

use pkg::ipam;
use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    status: ipam::status_if_configured,
    ..Plugin::new("bridge", add::add, del::del, check::check)
};
