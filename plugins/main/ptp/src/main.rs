//! ptp: a veth pair per container with point-to-point routing through the
//! host (Documentation/ptp.md): the container keeps its IPAM prefix but reaches
//! everything, its own subnet included, via the gateway on the host end.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&ptp::PLUGIN)
}
