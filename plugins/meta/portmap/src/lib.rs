//! portmap: forwards host ports to a container (Documentation/portmap.md). A chained
//! plugin: it reads the container's addresses from `prevResult` and passes
//! that result on unchanged. Rules live in iptables or nftables, in Go's
//! layouts (`iptables.rs`, `nftables.rs`, behind `mappings.rs`); UDP flows
//! that predate a mapping are flushed from conntrack (`conntrack.rs`).

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod conntrack;
mod del;
mod gc;
mod iptables;
mod mappings;
mod nftables;

use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    ..Plugin::new("portmap", add::add, del::del, check::check)
};
