//! `sample`: a chained plugin to copy when writing a new one. It runs after
//! a main plugin (bridge, ptp, ...), labels the container interface with an
//! alias naming the network, adds a DNS search domain to the result, and
//! undoes the label on DEL.

mod add;
mod check;
mod config;
mod del;

use pkg::Result;
use pkg::skel::{self, CmdArgs, Plugin, PluginInfo};
use pkg::types::CniResult;

struct Sample;

impl Plugin for Sample {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        add::add(args)
    }
    fn del(&self, args: &CmdArgs) -> Result<()> {
        del::del(args)
    }
    fn check(&self, args: &CmdArgs) -> Result<()> {
        check::check(args)
    }
    // GC: this plugin keeps no state outside the container's namespace, which
    // the runtime removes; nothing to collect.
    fn gc(&self, _args: &CmdArgs) -> Result<()> {
        Ok(())
    }
    // STATUS: nothing this plugin depends on can be unavailable.
    fn status(&self, _args: &CmdArgs) -> Result<()> {
        Ok(())
    }
}

fn main() {
    skel::run(&Sample, &PluginInfo::all_versions("sample"));
}
