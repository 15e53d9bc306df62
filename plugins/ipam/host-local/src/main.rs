//! host-local IPAM: allocates addresses from ranges, recording reservations
//! in a Go-compatible store under `dataDir`.

use pkg::skel::{self, PluginInfo};

fn main() {
    skel::run(
        &host_local::commands::HostLocal,
        &PluginInfo::all_versions("host-local"),
    );
}
