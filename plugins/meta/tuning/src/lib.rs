//! tuning: a chained plugin that changes a container interface's link
//! attributes (MAC, promiscuous and all-multicast modes, MTU, transmit
//! queue length) and sysctls of the container's network namespace, and
//! restores the link attributes on DEL.

mod add;
mod backup;
mod check;
mod config;
mod del;

use pkg::Result;
use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;

struct Tuning;

impl Plugin for Tuning {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        add::add(args)
    }
    fn del(&self, args: &CmdArgs) -> Result<()> {
        del::del(args)
    }
    fn check(&self, args: &CmdArgs) -> Result<()> {
        check::check(args)
    }
}

/// Runs the plugin on this process's environment and standard streams:
/// the binary's `main`, and the multi-call binary's for this name.
pub fn main() -> ! {
    skel::run(&Tuning, &PluginInfo::all_versions("tuning"));
}
