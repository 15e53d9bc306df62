//! host-local IPAM: allocates addresses from ranges, recording reservations
//! in a Go-compatible store under `dataDir`.

fn main() {
    pkg::skel::run(&host_local::PLUGIN)
}
