//! bridge: a veth pair per container, the host end on a Linux bridge,
//! addresses from IPAM, optional gateway, masquerade and MAC spoof-check.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&bridge::PLUGIN)
}
