//! vrf: a chained plugin that puts the container interface into a VRF
//! inside the container's network namespace.

fn main() {
    pkg::skel::run(&vrf::PLUGIN)
}
