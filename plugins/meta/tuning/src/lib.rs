//! tuning: a chained plugin that changes a container interface's link
//! attributes (MAC, promiscuous and all-multicast modes, MTU, transmit
//! queue length) and sysctls of the container's network namespace, and
//! restores the link attributes on DEL.

mod add;
mod backup;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod sysctls;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin::new("tuning", add::add, del::del, check::check);
