//! bandwidth: a chained plugin that rate-limits a veth attachment with
//! token bucket filters. Traffic to the container is shaped by a TBF on the
//! host end of the veth; traffic from it is redirected from the host end's
//! ingress to an IFB device `bwp<hash>` and shaped by a TBF there.

mod add;
mod check;
mod config;
mod del;
mod gc;
mod host;

use pkg::Result;
use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::{CniResult, Version};

struct Bandwidth;

impl Plugin for Bandwidth {
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
    // As Go: results before 0.3.0 cannot list the IFB interface.
    let info = PluginInfo {
        about: skel::about("bandwidth"),
        versions: Version::ALL
            .into_iter()
            .filter(|v| *v >= Version::V0_3_0)
            .collect(),
    };
    skel::run(&Bandwidth, &info);
}
