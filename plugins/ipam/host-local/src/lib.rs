//! host-local IPAM as a library: the binary in `main.rs` runs it through
//! `pkg::skel`; the fuzz targets call the parsers directly.

pub mod allocator;
pub mod commands;
pub mod config;
pub mod dns;
pub mod range;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: commands::gc,
    status: commands::status,
    ..Plugin::new("host-local", commands::add, commands::del, commands::check)
};
