//! firewall: accepts forwarded traffic of a container's addresses and
//! applies an ingress policy (plugins.md §4.3). A chained plugin that passes
//! `prevResult` on unchanged. Backends: iptables (Go's `CNI-FORWARD`
//! layout, see `pkg::firewall::filter`) and firewalld (zone sources over
//! D-Bus, see `pkg::firewall::firewalld`).

fn main() {
    pkg::skel::run(&firewall::PLUGIN)
}
