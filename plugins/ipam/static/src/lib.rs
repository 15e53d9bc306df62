//! static IPAM: hands out exactly the addresses it is given.

mod commands;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;

use pkg::builtin::{self, Record};
use pkg::skel::Plugin;

/// This build's record (pkg/src/builtin.rs), as host-local's.
#[used]
#[unsafe(link_section = ".cni_build")]
static BUILD: Record = builtin::record("static", env!("CNI_IPAM_BUILD"));

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    build: Some(&BUILD),
    ..Plugin::new("static", commands::add, commands::del, commands::check)
};
