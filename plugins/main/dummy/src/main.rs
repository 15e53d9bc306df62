//! dummy: a dummy link in the container, named `CNI_IFNAME`, with the
//! addresses and routes of the IPAM plugin. Documentation/dummy.md.

fn main() {
    pkg::skel::run(&dummy::PLUGIN)
}
