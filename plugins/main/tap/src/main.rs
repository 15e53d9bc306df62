//! tap: a tap device in the container, named `CNI_IFNAME`, for a VM
//! runtime to open, with addresses from IPAM or none (L2).
//! Documentation/tap.md.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&tap::PLUGIN)
}
