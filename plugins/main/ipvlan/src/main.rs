//! ipvlan: an ipvlan link on a host (or container) interface, sharing its
//! MAC, created directly inside the container under its final name, with
//! addresses from IPAM or from the previous plugin. Documentation/ipvlan.md.

fn main() {
    pkg::skel::run(&ipvlan::PLUGIN)
}
