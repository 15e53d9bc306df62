//! portmap: forwards host ports to a container (plugins.md §4.1). A chained
//! plugin: it reads the container's addresses from `prevResult` and passes
//! that result on unchanged. Rules live in iptables or nftables, in Go's
//! layout; see `pkg::firewall::portmap`.

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::Result;
use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;

struct Portmap;

impl Plugin for Portmap {
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
    skel::run(&Portmap, &PluginInfo::all_versions("portmap"));
}
