//! bridge: a veth pair per container, the host end on a Linux bridge,
//! addresses from IPAM, optional gateway, masquerade and MAC spoof-check.

fn main() {
    pkg::skel::run(&bridge::PLUGIN)
}
