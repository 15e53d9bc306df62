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
pub mod tc;

use pkg::skel::{self, Commands, PluginInfo};
use pkg::types::Version;

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    let plugin = Commands {
        gc: gc::gc,
        ..Commands::new(add::add, del::del, check::check)
    };
    // As Go: results before 0.3.0 cannot list the IFB interface.
    skel::run(&plugin, &PluginInfo::since("bandwidth", Version::V0_3_0));
}
