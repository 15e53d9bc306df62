//! dummy: a dummy link in the container, named `CNI_IFNAME`, with the
//! addresses and routes of the IPAM plugin. Documentation/dummy.md.

/// The IPAM plugins linked in, run in-process when `CNI_PATH` resolves to
/// this very build's.
#[cfg(feature = "ipam-in-process")]
static IPAM: [&pkg::skel::Plugin; 2] = [&host_local::PLUGIN, &static_ipam::PLUGIN];

fn main() {
    #[cfg(feature = "ipam-in-process")]
    pkg::builtin::offer(&IPAM, false);
    pkg::skel::run(&dummy::PLUGIN)
}
