//! tuning: a chained plugin that changes a container interface's link
//! attributes (MAC, promiscuous and all-multicast modes, MTU, transmit
//! queue length) and sysctls of the container's network namespace, and
//! restores the link attributes on DEL.

fn main() {
    pkg::skel::run(&tuning::PLUGIN)
}
