//! `sample`: a chained plugin to copy when writing a new one. It runs after
//! a main plugin (bridge, ptp, ...), labels the container interface with an
//! alias naming the network, adds a DNS search domain to the result, and
//! undoes the label on DEL.

mod add;
mod check;
mod config;
mod del;

use pkg::skel::{self, Plugin};

/// The commands, under the plugin's name. GC and STATUS keep
/// `Plugin::new`'s success: this plugin keeps no state outside the
/// container's namespace, which the runtime removes, so there is nothing
/// to collect, and nothing it depends on can be unavailable. A plugin
/// that has them names them: `Plugin { gc: gc::gc, ..Plugin::new(..) }`.
const PLUGIN: Plugin = Plugin::new("sample", add::add, del::del, check::check);

fn main() {
    skel::run(&PLUGIN);
}
