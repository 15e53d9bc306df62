//! portmap: forwards host ports to a container (Documentation/portmap.md). A chained
//! plugin: it reads the container's addresses from `prevResult` and passes
//! that result on unchanged. Rules live in iptables or nftables, in Go's
//! layouts (`mappings.rs`, `iptables.rs`, `nftables.rs`).

fn main() {
    pkg::skel::run(&portmap::PLUGIN)
}
