//! loopback: brings `lo` up in the container (whatever `CNI_IFNAME` says).

fn main() {
    pkg::skel::run(&loopback::PLUGIN)
}
