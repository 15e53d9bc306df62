//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (Documentation/firewall.md). A chained plugin
//! that passes `prevResult` on unchanged. Backends: iptables (Go's
//! `CNI-FORWARD` layout, `layout.rs`, planned and applied by
//! `iptables.rs`) and firewalld (zone sources over D-Bus, `firewalld.rs`).

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod firewalld;
mod gc;
mod iptables;
mod layout;

use pkg::skel::Plugin;
use pkg::types::Version;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name. As Go, it speaks 0.4.0 and later only
/// (it needs prevResult on DEL).
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    ..Plugin::new("firewall", add::add, del::del, check::check).since(Version::V0_4_0)
};
