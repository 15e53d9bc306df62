//! In-process IPAM (pkg/src/builtin.rs, Documentation/performance.md "One
//! exec"): a main plugin runs host-local or static in its own process only
//! when `CNI_PATH` resolves to a binary of this very build; a wrapper
//! script or another build is exec'd. Results and errors are the same
//! either way.
//!
//! A copy of our IPAM binary without execute permission tells the paths
//! apart: an ADD through it succeeds only in-process, and an exec of it
//! fails with "permission denied".

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use integration::*;
use serde_json::{Value, json};

/// The network `ipnet` on the bridge `cnibr0`, with host-local.
fn net() -> Fixture {
    Fixture::new("bridge", "ipnet")
        .keys(json!({"bridge": "cnibr0", "isGateway": true}))
        .ipam_ranges(json!([[{"subnet": "10.98.0.0/24"}]]))
}

fn static_ipam() -> Value {
    json!({"ipam": {"type": "static", "addresses": [{"address": "10.98.0.9/24"}]}})
}

/// A `CNI_PATH` directory with a copy of our `name` that cannot be
/// exec'd, its build record changed when `other_build`.
fn unexecutable_copy(name: &str, other_build: bool) -> tempfile::TempDir {
    let dir = tempdir();
    let mut bytes = std::fs::read(plugin_path(name)).expect("read our ipam binary");
    if other_build {
        let tag = format!("cni-plugins-build {name} ");
        let at = bytes
            .windows(tag.len())
            .position(|w| w == tag.as_bytes())
            .expect("the binary carries its build record");
        let hash = at + tag.len();
        bytes[hash] = if bytes[hash] == b'0' { b'1' } else { b'0' };
    }
    let copy = dir.path().join(name);
    std::fs::write(&copy, bytes).expect("write the copy");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    dir
}

/// A `CNI_PATH` directory whose `name` is a script that logs the command
/// to `log` and execs our binary.
fn logging_wrapper(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempdir();
    let log = dir.path().join("log");
    write_executable(
        &dir.path().join(name),
        &format!(
            "#!/bin/sh\necho \"$CNI_COMMAND\" >> {}\nexec {} \"$@\"\n",
            log.display(),
            plugin_path(name).display()
        ),
    );
    (dir, log)
}

fn call(net: &Fixture, cmd: &str, ctr: &TestNs, cni_path: &Path) -> Call {
    let mut c = net.call(cmd, ctr, "c1");
    c.path = cni_path.display().to_string();
    c
}

fn logged(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn same_build_runs_in_process() {
    require_root!();
    for (ipam, extra) in [("host-local", json!({})), ("static", static_ipam())] {
        for v in versions_from(Version::V0_3_0) {
            let net = net();
            let dir = unexecutable_copy(ipam, false);
            let ctr = TestNs::new("ctr");
            let conf = net.conf(v, extra.clone());
            let out = call(&net, "ADD", &ctr, dir.path()).run(&conf);
            assert_eq!(out.code, 0, "{ipam} {v:?}: {}{}", out.stdout, out.stderr);
            let r = out.json();
            assert!(
                r["ips"][0]["address"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("10.98.0.")),
                "{ipam} {v:?}: {r}"
            );
            let out = call(&net, "DEL", &ctr, dir.path()).run(&conf);
            assert_eq!(out.code, 0, "{ipam} {v:?}: {}{}", out.stdout, out.stderr);
            net.assert_no_leftovers(&format!("{ipam} {v:?}: after DEL"));
        }
    }
}

#[test]
fn wrapper_and_other_build_are_execd() {
    require_root!();
    for (ipam, extra) in [("host-local", json!({})), ("static", static_ipam())] {
        let net = net();
        let (dir, log) = logging_wrapper(ipam);
        let ctr = TestNs::new("ctr");
        let conf = net.conf(Version::V1_0_0, extra.clone());
        let out = call(&net, "ADD", &ctr, dir.path()).run(&conf);
        assert_eq!(out.code, 0, "{ipam}: {}{}", out.stdout, out.stderr);
        let out = call(&net, "DEL", &ctr, dir.path()).run(&conf);
        assert_eq!(out.code, 0, "{ipam}: {}{}", out.stdout, out.stderr);
        assert_eq!(logged(&log), ["ADD", "DEL"], "{ipam}");
        net.assert_no_leftovers(&format!("{ipam}: after DEL"));

        let other = unexecutable_copy(ipam, true);
        let out = call(&net, "ADD", &ctr, other.path()).run(&conf);
        assert_ne!(out.code, 0, "{ipam}: another build ran in-process");
        assert!(
            out.stdout.to_lowercase().contains("permission denied"),
            "{ipam}: {}",
            out.stdout
        );
        net.assert_no_leftovers(&format!("{ipam}: after the refused ADD"));
    }
}

#[test]
fn errors_are_the_same_in_process_and_execd() {
    require_root!();
    let bad = [
        (
            "host-local",
            json!({"ipam": {"type": "host-local", "ranges": [[{"subnet": "10.98.0.0/33"}]]}}),
        ),
        (
            "static",
            json!({"ipam": {"type": "static", "addresses": [{"address": "not-an-address"}]}}),
        ),
    ];
    for (ipam, extra) in bad {
        let net = net();
        let conf = net.conf(Version::V1_0_0, extra);
        let ctr = TestNs::new("ctr");
        let inproc = unexecutable_copy(ipam, false);
        let (wrapped, log) = logging_wrapper(ipam);
        let a = call(&net, "ADD", &ctr, inproc.path()).run(&conf);
        let b = call(&net, "ADD", &ctr, wrapped.path()).run(&conf);
        assert_eq!(logged(&log), ["ADD"], "{ipam}");
        assert_eq!(a.code, 1, "{ipam}: {}", a.stdout);
        assert_eq!((a.code, a.json()), (b.code, b.json()), "{ipam}");
        net.assert_no_leftovers(&format!("{ipam}: after the failed ADDs"));
    }
}
