//! vrf: a chained plugin that puts the container interface into a VRF
//! (a Linux l3mdev with its own routing table) inside the container's
//! network namespace, creating the VRF on first use and deleting it when
//! its last interface leaves. The interface keeps its IPv6 addresses and
//! its routes, which move into the VRF's table.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod master;
mod vrf;

use pkg::skel::Plugin;
use pkg::types::Version;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name. Spec versions from 0.3.1, as Go's.
pub const PLUGIN: Plugin =
    Plugin::new("vrf", add::add, del::del, check::check).since(Version::V0_3_1);
