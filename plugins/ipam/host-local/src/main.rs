//! host-local IPAM: allocates addresses from ranges, recording reservations
//! in a Go-compatible store under `dataDir`.

mod allocator;
mod commands;
mod config;
mod dns;
mod range;

use pkg::skel::{self, PluginInfo};

fn main() {
    skel::run(
        &commands::HostLocal,
        &PluginInfo::all_versions("host-local"),
    );
}
