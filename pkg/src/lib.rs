//! The shared library of the Rust CNI plugin suite.
//!
//! | module | what it holds |
//! |---|---|
//! | [`types`] | spec types of every version and conversion between them; pure data |
//! | [`skel`] | the plugin skeleton: env and stdin validation, version gates, dispatch, spec error JSON |
//! | [`error`] | the error type, which carries the CNI error code |
//! | [`validate`] | container ID, network name and interface name rules |
//! | [`ns`] | network namespaces; the only module that calls `setns` |
//! | [`netlink`] | a synchronous rtnetlink client: links, addresses, routes, traffic control |
//! | [`sysctl`] | `/proc/sys/net` paths and writes |
//! | [`invoke`] | finding and executing plugins |
//! | [`child`] | a child process with piped stdio driven by poll(2), no helper threads |
//! | [`ipam`] | IPAM delegation and the rollback guard |
//! | [`iface`] | applying a result's addresses and routes to an interface |
//! | [`files`] | bounded reads of regular files named by configuration |
//! | [`store`] | the host-local on-disk reservation store (Go-compatible) |
//! | [`firewall`] | masquerade, spoof-check, port-mapping and forwarding rules; iptables, nftables and firewalld backends |
//! | [`conntrack`] | netfilter conntrack over netlink: list entries, delete by destination port |
//! | `skip` | tests and feature `testkit`: whether a test that cannot run here skips or fails (`CNI_TESTS_REQUIRE_PRIV`) |
//! | `testkit` | feature `testkit`: scratch namespaces and runtime-like plugin calls for tests |
//!
//! A plugin is a few lines over [`skel`] (see `plugins/sample` and
//! `Documentation/writing-plugins.md`):
//!
//! ```no_run
//! use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
//! use pkg::types::CniResult;
//!
//! struct Passthrough;
//! impl Plugin for Passthrough {
//!     fn add(&self, args: &CmdArgs) -> pkg::Result<CniResult> {
//!         Ok(args.conf.parse_prev_result()?.unwrap_or_default())
//!     }
//!     fn del(&self, _: &CmdArgs) -> pkg::Result<()> { Ok(()) }
//!     fn check(&self, _: &CmdArgs) -> pkg::Result<()> { Ok(()) }
//! }
//!
//! fn main() {
//!     skel::run(&Passthrough, &PluginInfo::all_versions("passthrough"));
//! }
//! ```
//!
//! The path of one ADD: `skel` → the plugin's `add` → `ipam` → `netlink` in
//! the host and container namespaces → result → `skel` prints it in the
//! request's version.

#[cfg(all(feature = "plugin-alloc", target_env = "musl"))]
mod alloc;
pub mod child;
pub mod conntrack;
pub mod error;
pub mod files;
pub mod firewall;
pub mod iface;
pub mod invoke;
pub mod ipam;
pub mod netlink;
pub mod ns;
pub mod skel;
#[cfg(any(test, feature = "testkit"))]
pub mod skip;
pub mod store;
pub mod sysctl;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod types;
pub mod validate;

pub use error::{Context, Error, Result};
