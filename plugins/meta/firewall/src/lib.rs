//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (plugins.md §4.3). A chained plugin that passes
//! `prevResult` on unchanged. Backends: iptables (Go's `CNI-FORWARD`
//! layout, see `pkg::firewall::filter`) and firewalld (zone sources over
//! D-Bus, see `pkg::firewall::firewalld`).

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::skel::Plugin;
use pkg::types::Version;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name. As Go, it speaks 0.4.0 and later only
/// (it needs prevResult on DEL).
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    ..Plugin::new("firewall", add::add, del::del, check::check).since(Version::V0_4_0)
};
