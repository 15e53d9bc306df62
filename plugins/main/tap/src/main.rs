//! tap: a tap device in the container, named `CNI_IFNAME`, for a VM
//! runtime to open, with addresses from IPAM or none (L2).
//! Documentation/tap.md.

fn main() {
    pkg::skel::run(&tap::PLUGIN)
}
