//! macvlan: a macvlan link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM or none (L2 mode). plugins.md §2.3.

mod add;
mod check;
mod config;
mod del;

use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;
use pkg::{Result, ipam};

struct Macvlan;

impl Plugin for Macvlan {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        add::add(args)
    }
    fn del(&self, args: &CmdArgs) -> Result<()> {
        del::del(args)
    }
    fn check(&self, args: &CmdArgs) -> Result<()> {
        check::check(args)
    }
    /// Only IPAM holds state of a macvlan attachment outside the netns.
    fn gc(&self, args: &CmdArgs) -> Result<()> {
        match args.conf.ipam_type() {
            Some(_) => ipam::gc(args),
            None => Ok(()),
        }
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
    skel::run(&Macvlan, &PluginInfo::all_versions("macvlan"));
}
