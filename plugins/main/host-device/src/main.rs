//! host-device: an existing device of the host moved into the container
//! under `CNI_IFNAME`, and back under its own name on DEL.
//! Documentation/host-device.md.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&host_device::PLUGIN)
}
