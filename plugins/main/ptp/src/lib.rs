//! ptp: a veth pair per container with point-to-point routing through the
//! host (Documentation/ptp.md): the container keeps its IPAM prefix but reaches
//! everything, its own subnet included, via the gateway on the host end.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod gc;

use pkg::ipam;
use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    // Always the IPAM plugin's answer, as in Go: ptp cannot work without one.
    status: ipam::status,
    ..Plugin::new("ptp", add::add, del::del, check::check)
};
