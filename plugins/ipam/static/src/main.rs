//! static IPAM: hands out exactly the addresses it is given.

fn main() {
    pkg::skel::run(&static_ipam::PLUGIN)
}
