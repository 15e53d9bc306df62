//! vlan: an 802.1Q VLAN link on a host (or container) interface, created
//! directly inside the container under its final name, with addresses
//! from IPAM. Documentation/vlan.md.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&vlan::PLUGIN)
}
