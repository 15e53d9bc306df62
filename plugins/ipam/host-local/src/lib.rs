//! host-local IPAM as a library: the binary in `main.rs` runs it through
//! `pkg::skel`; the fuzz targets call the parsers directly.

pub mod allocator;
pub mod commands;
pub mod config;
pub mod dns;
pub mod range;

use pkg::builtin::{self, Record};
use pkg::skel::Plugin;

/// This build's record (pkg/src/builtin.rs): in the binary of every
/// plugin that links this code, so that one can tell whether the
/// `host-local` on `CNI_PATH` is the same code and run it in-process.
#[used]
#[unsafe(link_section = ".cni_build")]
static BUILD: Record = builtin::record("host-local", env!("CNI_IPAM_BUILD"));

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: commands::gc,
    status: commands::status,
    build: Some(&BUILD),
    ..Plugin::new("host-local", commands::add, commands::del, commands::check)
};
