//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (Documentation/firewall.md). A chained plugin
//! that passes `prevResult` on unchanged. Backends: iptables (Go's
//! `CNI-FORWARD` layout, `layout.rs`, planned and applied by
//! `iptables.rs`) and firewalld (zone sources over D-Bus, `firewalld.rs`).

fn main() {
    pkg::skel::run(&firewall::PLUGIN)
}
