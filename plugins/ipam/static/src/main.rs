//! static IPAM: hands out exactly the addresses it is given.

mod commands;
mod config;

use pkg::skel::{self, PluginInfo};

fn main() {
    skel::run(&commands::Static, &PluginInfo::all_versions("static"));
}
