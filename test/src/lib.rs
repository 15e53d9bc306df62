//! Helpers for this repository's privileged integration tests: the
//! generic ones come from [`pkg::testkit`]; these add where the built
//! binaries, Debian's Go plugins and the recorded fixtures are, the network
//! fixture every plugin test uses ([`Fixture`]), and host-local store
//! inspection.

use std::path::{Path, PathBuf};

pub mod attachment;
pub mod fixture;
pub mod hostile;
pub mod kill;
pub mod link_plugins;
pub mod needs;
pub mod results;
pub mod state;
pub mod sysctls;
pub mod topology;
pub mod veth_plugins;
pub mod wrappers;

pub use attachment::*;
pub use fixture::*;
pub use link_plugins::*;
pub use needs::*;
pub use pkg::testkit::*;
pub use pkg::{require_kernel, require_root, require_tools};
pub use results::*;
pub use sysctls::*;
pub use topology::*;
pub use veth_plugins::*;
pub use wrappers::*;

/// Where the plugin binaries are: `$CNI_BIN_DIR`, else the cargo target
/// directory's `debug` (run `cargo build --workspace` first).
pub fn bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CNI_BIN_DIR") {
        return PathBuf::from(d);
    }
    target_dir().join("debug")
}

/// The cargo target directory these tests were built in (it honours
/// `CARGO_TARGET_DIR`): the test binary is `<target>/<profile>/deps/<test>`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

pub fn plugin_path(name: &str) -> PathBuf {
    let mut p = bin_dir().join(name);
    // Examples such as `sample` are not copied into bin/: they stay where
    // cargo put them (build_linux.sh builds for musl when it can).
    let musl = format!("{}-unknown-linux-musl/release", std::env::consts::ARCH);
    for profile in ["release", musl.as_str(), "debug"] {
        if !p.is_file() {
            p = target_dir().join(profile).join(name);
        }
    }
    let p = if p.is_file() { p } else { bin_dir().join(name) };
    assert!(
        p.is_file(),
        "plugin binary {} not found: run ./build_linux.sh (and set CNI_BIN_DIR=bin) or cargo build --workspace",
        p.display()
    );
    p
}

/// Debian's Go reference plugins, when installed.
pub const GO_PLUGIN_DIR: &str = "/usr/lib/cni";

pub fn go_plugin(name: &str) -> Option<PathBuf> {
    let p = Path::new(GO_PLUGIN_DIR).join(name);
    p.is_file().then_some(p)
}

/// The fixtures copied from real podman/libcni runs.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Regular files under `dir`, recursively, relative names.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else if let Ok(rel) = p.strip_prefix(base) {
                out.push(rel.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Reservation files (named by an IP) under a host-local network dir,
/// anywhere in it, including the index.
pub fn reservation_files(netdir: &Path) -> Vec<String> {
    files_under(netdir)
        .into_iter()
        .filter(|f| {
            Path::new(f)
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.parse::<std::net::IpAddr>().is_ok())
        })
        .collect()
}
