//! macvlan: a macvlan link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM or none (L2 mode). Documentation/macvlan.md.

fn main() {
    pkg::skel::run(&macvlan::PLUGIN)
}
