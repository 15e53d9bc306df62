//! bridge: a veth pair per container, the host end on a Linux bridge,
//! addresses from IPAM, optional gateway, masquerade and MAC spoof-check.

mod add;
mod check;
mod config;
mod del;
mod gc;

use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;
use pkg::{Result, ipam};

struct Bridge;

impl Plugin for Bridge {
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
    fn status(&self, args: &CmdArgs) -> Result<()> {
        match args.conf.ipam_type() {
            Some(_) => ipam::status(args),
            None => Ok(()),
        }
    }
}

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    skel::run(&Bridge, &PluginInfo::all_versions("bridge"));
}
