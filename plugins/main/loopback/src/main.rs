//! loopback: brings `lo` up in the container (whatever `CNI_IFNAME` says).

mod commands;
mod lo;

use pkg::skel::{self, PluginInfo};

fn main() {
    skel::run(&commands::Loopback, &PluginInfo::all_versions("loopback"));
}
