//! loopback: brings `lo` up in the container (whatever `CNI_IFNAME` says).

mod commands;
mod lo;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin::new("loopback", commands::add, commands::del, commands::check);
