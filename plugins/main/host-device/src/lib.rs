//! host-device: an existing device of the host (chosen by name, MAC,
//! kernel path, PCI address or the runtime's `deviceID`) moved into the
//! container under `CNI_IFNAME`, with addresses from IPAM or none; DEL
//! moves it back under its original name and MTU, also after the
//! container netns is gone. Documentation/host-device.md.

mod add;
mod check;
/// The configuration and its validation; public for the fuzz targets
/// (fuzz/fuzz_targets/plugin_configs.rs).
pub mod config;
mod del;
mod link;
mod returned;
/// The record of a moved device's original name and MTU; public for the
/// integration tests, which look at it.
pub mod state;
/// What sysfs says about a selected device; public for the integration
/// tests.
pub mod sysfs;

use pkg::ipam;
use pkg::skel::Plugin;

/// The plugin: its binary runs it with `pkg::skel::run`, and so does the
/// multi-call binary for this name.
pub const PLUGIN: Plugin = Plugin {
    gc: returned::gc,
    status: ipam::status_if_configured,
    ..Plugin::new("host-device", add::add, del::del, check::check)
};
