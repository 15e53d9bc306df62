//! The multi-call binary (`build_linux.sh --multicall`): a plugin is
//! chosen by the name it is executed as, `cni-plugins <name>` works too,
//! and any other name is a spec error. Runs on the install in
//! `$CNI_MULTICALL_DIR` (test_linux.sh builds one into `bin-multicall/` and
//! sets it for both of its test passes), else on `$CNI_BIN_DIR` when that
//! holds `cni-plugins` and links; without one the tests skip, saying so
//! (or fail, under `CNI_TESTS_REQUIRE_PRIV`).

use std::os::unix::fs::symlink;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use integration::*;
use serde_json::Value;

const PLUGINS: [&str; 18] = [
    "bandwidth",
    "bridge",
    "dhcp",
    "dummy",
    "firewall",
    "host-device",
    "host-local",
    "ipvlan",
    "loopback",
    "macvlan",
    "portmap",
    "ptp",
    "sbr",
    "static",
    "tap",
    "tuning",
    "vlan",
    "vrf",
];

/// The directory of the multi-call install and its `cni-plugins`.
fn multicall() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("CNI_MULTICALL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(bin_dir);
    let p = dir.join("cni-plugins");
    let linked =
        std::fs::symlink_metadata(dir.join("bridge")).is_ok_and(|m| m.file_type().is_symlink());
    if p.is_file() && linked {
        Some((dir, p))
    } else {
        skip::because(format!(
            "{} is not a multi-call install (no cni-plugins, or bridge is not a link); set CNI_MULTICALL_DIR (or CNI_BIN_DIR) to the output of build_linux.sh --multicall",
            dir.display()
        ));
        None
    }
}

fn version(cmd: &mut Command) -> Output {
    cmd.env_clear()
        .env("CNI_COMMAND", "VERSION")
        .stdin(Stdio::null())
        .output()
        .expect("exec")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn every_plugin_name_runs_that_plugin() {
    let Some((dir, bin)) = multicall() else {
        return;
    };
    for name in PLUGINS {
        let link = dir.join(name);
        let by_link = version(&mut Command::new(&link));
        let by_arg = version(Command::new(&bin).arg(name));
        assert!(
            by_link.status.success() && by_arg.status.success(),
            "{name}"
        );
        assert_eq!(json(&by_link), json(&by_arg), "{name}");
        // What the plugin says about itself names it, not cni-plugins.
        let about = Command::new(&link).env_clear().output().expect("exec");
        let about = String::from_utf8_lossy(&about.stderr);
        assert!(
            about.contains(&format!("CNI {name} plugin")),
            "{name}: {about}"
        );
    }
}

#[test]
fn any_other_name_is_a_spec_error() {
    let Some((_, bin)) = multicall() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bridge2");
    symlink(&bin, &bogus).unwrap();
    let hard = dir.path().join("bridge");
    // A hard link (or a copy) works as well as a symlink, when the file
    // system allows one; a copy otherwise.
    if std::fs::hard_link(&bin, &hard).is_err() {
        std::fs::copy(&bin, &hard).unwrap();
    }
    let ok = version(&mut Command::new(&hard));
    assert!(ok.status.success());
    assert!(json(&ok)["supportedVersions"].is_array());

    for out in [
        version(&mut Command::new(&bogus)),
        version(Command::new(&bin).arg("nope")),
    ] {
        assert_eq!(out.status.code(), Some(1));
        let e = json(&out);
        assert_eq!(e["code"], 999, "{e}");
        assert!(
            e["msg"].as_str().unwrap().contains("unknown plugin name"),
            "{e}"
        );
        assert!(e["details"].as_str().unwrap().contains("host-local"), "{e}");
    }

    // Alone, it lists what it carries and does nothing.
    let out = version(&mut Command::new(&bin));
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("bridge"));
}
