//! dhcp IPAM: the plugin, or with `daemon` as its first argument the lease
//! daemon.

fn main() {
    dhcp::run()
}
