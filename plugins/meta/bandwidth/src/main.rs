//! bandwidth: a chained plugin that rate-limits a veth attachment with
//! token bucket filters. Traffic to the container is shaped by a TBF on the
//! host end of the veth; traffic from it is redirected from the host end's
//! ingress to an IFB device `bwp<hash>` and shaped by a TBF there.

fn main() {
    pkg::skel::run(&bandwidth::PLUGIN)
}
