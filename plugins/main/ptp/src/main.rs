//! ptp: a veth pair per container with point-to-point routing through the
//! host (Documentation/ptp.md): the container keeps its IPAM prefix but reaches
//! everything, its own subnet included, via the gateway on the host end.

fn main() {
    pkg::skel::run(&ptp::PLUGIN)
}
