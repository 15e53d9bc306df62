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

use pkg::Result;
use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::{CniResult, Version};

struct Firewall;

impl Plugin for Firewall {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        add::add(args)
    }
    fn del(&self, args: &CmdArgs) -> Result<()> {
        del::del(args)
    }
    fn check(&self, args: &CmdArgs) -> Result<()> {
        check::check(args)
    }
    fn gc(&self, args: &CmdArgs) -> Result<()> {
        gc::gc(args)
    }
}

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    // As Go: 0.4.0 and later only (the plugin needs prevResult on DEL).
    let info = PluginInfo {
        about: skel::about("firewall"),
        versions: Version::ALL
            .into_iter()
            .filter(|v| *v >= Version::V0_4_0)
            .collect(),
    };
    skel::run(&Firewall, &info);
}
