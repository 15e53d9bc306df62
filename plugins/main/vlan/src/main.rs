//! vlan: an 802.1Q VLAN link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM. Documentation/vlan.md.

fn main() {
    pkg::skel::run(&vlan::PLUGIN)
}
