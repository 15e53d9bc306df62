//! The shared library of the Rust CNI plugin suite.
//!
//! | module | what it holds | feature |
//! |---|---|---|
//! | [`types`] | spec types of every version and conversion between them; pure data | |
//! | [`skel`] | the plugin skeleton: env and stdin validation, version gates, dispatch, spec error JSON | |
//! | [`error`] | the error type, which carries the CNI error code | |
//! | [`validate`] | container ID, network name and interface name rules | |
//! | [`ns`] | network namespaces; the only module that calls `setns` | |
//! | [`netlink`] | the netlink transport (one socket type, every message family: `netlink-transport`) and the rtnetlink verbs: links, addresses, routes | `netlink` |
//! | [`sysctl`] | `/proc/sys/net` paths and writes | |
//! | [`invoke`] | finding and executing plugins | |
//! | [`child`] | a child process with piped stdio driven by poll(2), no helper threads | |
//! | [`ipam`] | IPAM delegation | |
//! | [`builtin`] | whether an IPAM plugin on `CNI_PATH` is this very build's, to run it in-process | |
//! | [`rollback`] | undoing a failed ADD's changes in reverse, IPAM included | |
//! | [`attach`] | one attachment being added, checked or deleted: the shared preambles of the interface-creating plugins (its DEL and GC also need `firewall`) | `netlink` |
//! | [`master`] | the master of a link made on another interface (macvlan, ipvlan, vlan): `master`, `mtu`, `linkInContainer` | `netlink` |
//! | [`iface`] | applying a result's addresses and routes to an interface | `netlink` |
//! | [`files`] | bounded reads of regular files named by configuration | |
//! | [`release`] | the suite's version and the commit it was built from | |
//! | [`store`] | the host-local on-disk reservation store (Go-compatible) | `store` |
//! | [`firewall`] | the netfilter model every firewall layout is written in, applied over nf_tables netlink or the iptables and nft tools; masquerade rules | `firewall` |
//! | `skip` | whether a test that cannot run here skips or fails (`CNI_TESTS_REQUIRE_PRIV`) | tests, `testkit` |
//! | [`testkit`] | throwaway namespaces and plugin runs for tests | `testkit` (implies `netlink`) |
//!
//! Modules without a feature are always built: that is all a runtime
//! (`libcni`, `cnitool`) needs. The default features are `netlink`,
//! `firewall` and `store`; crates of this workspace turn the defaults off
//! and name what they use in their own `Cargo.toml`, and `plugin-alloc`
//! (dlmalloc as the global allocator on musl) is for plugin binaries.
//!
//! A plugin is a few lines over [`skel`] (see `plugins/sample` and
//! `Documentation/writing-plugins.md`):
//!
//! ```no_run
//! use pkg::skel::{self, CmdArgs, Plugin};
//! use pkg::types::CniResult;
//!
//! fn add(args: &CmdArgs) -> pkg::Result<CniResult> {
//!     Ok(args.conf.parse_prev_result()?.unwrap_or_default())
//! }
//! fn nothing(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
//!
//! pub const PLUGIN: Plugin = Plugin::new("passthrough", add, nothing, nothing);
//!
//! fn main() {
//!     skel::run(&PLUGIN);
//! }
//! ```
//!
//! The path of one ADD: `skel` → the plugin's `add` → `ipam` → `netlink` in
//! the host and container namespaces → result → `skel` prints it in the
//! request's version.

#[cfg(all(feature = "plugin-alloc", target_env = "musl"))]
mod alloc;
#[cfg(feature = "netlink")]
pub mod attach;
pub mod builtin;
pub mod child;
pub mod error;
pub mod files;
#[cfg(feature = "firewall")]
pub mod firewall;
#[cfg(feature = "netlink")]
pub mod iface;
pub mod invoke;
pub mod ipam;
#[cfg(feature = "netlink")]
pub mod master;
#[cfg(feature = "netlink-transport")]
pub mod netlink;
pub mod ns;
pub mod release;
pub mod rollback;
pub mod skel;
#[cfg(any(test, feature = "testkit"))]
pub mod skip;
#[cfg(feature = "store")]
pub mod store;
pub mod sysctl;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod types;
pub mod validate;

pub use error::{Context, Error, Result};
