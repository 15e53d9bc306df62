//! host-device: an existing device of the host moved into the container
//! under `CNI_IFNAME`, and back under its own name on DEL.
//! Documentation/host-device.md.

fn main() {
    pkg::skel::run(&host_device::PLUGIN)
}
