//! ptp: a veth pair per container with point-to-point routing through the
//! host (plugins.md §2.2): the container keeps its IPAM prefix but reaches
//! everything, its own subnet included, via the gateway on the host end.

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;
use pkg::{Result, ipam};

struct Ptp;

impl Plugin for Ptp {
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
    /// Always the IPAM plugin's answer, as in Go: ptp cannot work without one.
    fn status(&self, args: &CmdArgs) -> Result<()> {
        ipam::status(args)
    }
}

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    skel::run(&Ptp, &PluginInfo::all_versions("ptp"));
}
