//! tap: a tap device in the container, named `CNI_IFNAME`, created
//! persistent (a VM runtime opens it later), optionally owned by a user
//! and group, multi-queue, enslaved to a bridge inside the container, with
//! addresses from IPAM or none (L2). Documentation/tap.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod selinux;
/// Creating a tap device and reading its settings back; public for the
/// integration tests.
pub mod tun;

use pkg::ipam;
use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    // Only IPAM holds state of a tap attachment outside the netns.
    gc: ipam::gc_if_configured,
    status: ipam::status_if_configured,
    ..Plugin::new("tap", add::add, del::del, check::check)
};
