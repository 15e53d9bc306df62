//! ipvlan: an ipvlan link on a host (or container) interface, sharing its
//! MAC, created directly inside the container under its final name, with
//! addresses from IPAM or from the previous plugin. Documentation/ipvlan.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
pub mod link;

use pkg::ipam;
use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    // Only IPAM holds state of an ipvlan attachment outside the netns; a
    // chained ipvlan without IPAM has none.
    gc: ipam::gc_if_configured,
    status: ipam::status_if_configured,
    ..Plugin::new("ipvlan", add::add, del::del, check::check)
};
