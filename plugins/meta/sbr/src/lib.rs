//! sbr: a chained plugin that gives each address of the container
//! interface source-based routing: replies leave by the interface whose
//! address they come from. Each address gets a rule
//! `from <address> lookup <table>` and (unless `table` is configured) a
//! table of its own holding the interface's routes. Documentation/sbr.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod routing;
mod rule;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name. Its state lives in the container's
/// namespace only, so GC and STATUS have nothing to do (as in Go).
pub const PLUGIN: Plugin = Plugin::new("sbr", add::add, del::del, check::check);
