//! static IPAM: hands out exactly the addresses it is given.

mod commands;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin::new("static", commands::add, commands::del, commands::check);
