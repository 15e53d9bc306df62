//! cni-plugins: every plugin of the suite in one executable, which runs the
//! plugin named by the last component of the path it was executed as
//! (`/opt/cni/bin/bridge` runs bridge). Installed as one file plus links
//! named after the plugins, the set takes the disk space of its largest
//! plugin instead of the sum of all of them; runtimes exec the links like
//! any plugin binary. `cni-plugins <name>` runs a plugin by name.

use std::ffi::OsStr;
use std::path::Path;

use pkg::Error;
use pkg::skel::{self, Plugin};

const SELF: &str = "cni-plugins";

/// Sorted by name: what `cni-plugins` lists and build_linux.sh links.
const PLUGINS: &[&Plugin] = &[
    &bandwidth::PLUGIN,
    &bridge::PLUGIN,
    &dhcp::PLUGIN,
    &dummy::PLUGIN,
    &firewall::PLUGIN,
    &host_device::PLUGIN,
    &host_local::PLUGIN,
    &ipvlan::PLUGIN,
    &loopback::PLUGIN,
    &macvlan::PLUGIN,
    &portmap::PLUGIN,
    &ptp::PLUGIN,
    &sbr::PLUGIN,
    &static_ipam::PLUGIN,
    &tap::PLUGIN,
    &tuning::PLUGIN,
    &vlan::PLUGIN,
    &vrf::PLUGIN,
];

fn lookup(name: &OsStr) -> Option<&'static Plugin> {
    PLUGINS.iter().copied().find(|p| OsStr::new(p.name) == name)
}

fn names() -> String {
    PLUGINS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn main() {
    // An IPAM plugin on CNI_PATH that is this file (or this build's) runs
    // in-process.
    pkg::builtin::offer(PLUGINS, true);
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_default();
    let name = Path::new(&argv0).file_name().unwrap_or_default().to_owned();
    if let Some(plugin) = lookup(&name) {
        run(plugin, args)
    }
    if name == SELF {
        match args.next() {
            Some(arg) => match lookup(&arg) {
                Some(plugin) => run(plugin, args),
                None => unknown(&arg),
            },
            None => {
                eprintln!("{SELF}: the CNI plugins {} in one binary", names());
                eprintln!("run it through a link named after a plugin, or as `{SELF} <plugin>`");
                std::process::exit(0)
            }
        }
    }
    unknown(&name)
}

/// `dhcp daemon [flags]` is dhcp's lease daemon, not the plugin.
fn run(plugin: &'static Plugin, mut args: std::env::ArgsOs) -> ! {
    if plugin.name == dhcp::PLUGIN.name && args.next().is_some_and(|a| a == "daemon") {
        std::process::exit(dhcp::daemon::main(
            args.map(|a| a.to_string_lossy().into_owned()).collect(),
        ))
    }
    skel::run(plugin)
}

fn unknown(name: &OsStr) -> ! {
    skel::fail(&Error::new(
        999,
        format!("unknown plugin name {:?}", name.to_string_lossy()),
        format!(
            "{SELF} runs only {}: install it (a link or a copy) under one of those names",
            names()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::PLUGINS;
    use std::path::Path;

    /// A plugin added under plugins/<kind>/ must be added here too, or the
    /// multi-call install would lack it.
    #[test]
    fn carries_every_plugin_of_the_workspace() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins");
        let mut on_disk = Vec::new();
        for kind in std::fs::read_dir(&root).unwrap() {
            let kind = kind.unwrap().path();
            for plugin in std::fs::read_dir(&kind).into_iter().flatten() {
                let plugin = plugin.unwrap().path();
                if plugin.join("Cargo.toml").is_file() {
                    on_disk.push(plugin.file_name().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let ours: Vec<String> = PLUGINS.iter().map(|p| p.name.to_string()).collect();
        assert_eq!(ours, on_disk);
    }
}
