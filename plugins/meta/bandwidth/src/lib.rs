//! bandwidth: a chained plugin that rate-limits a veth attachment with
//! token bucket filters. Traffic to the container is shaped by a TBF on the
//! host end of the veth; traffic from it is redirected from the host end's
//! ingress to an IFB device `bwp<hash>` and shaped by a TBF there.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod gc;
mod host;
pub mod tc;

use pkg::skel::Plugin;
use pkg::types::Version;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name. As Go, it speaks 0.3.0 and later only:
/// results before 0.3.0 cannot list the IFB interface.
pub const PLUGIN: Plugin = Plugin {
    gc: gc::gc,
    ..Plugin::new("bandwidth", add::add, del::del, check::check).since(Version::V0_3_0)
};
