//! The main job: scripts/priv-net-run.sh puts a command in a network
//! namespace on the bundled example networks, and leaves nothing behind.

use std::path::{Path, PathBuf};

use integration::*;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The bundled examples, with host-local's dataDir moved to `data`.
fn example_configs(dir: &Path, data: &Path) {
    for entry in std::fs::read_dir(repo().join("examples/net.d"))
        .unwrap()
        .flatten()
    {
        let mut conf: Value =
            serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
        if let Some(plugins) = conf["plugins"].as_array_mut() {
            for p in plugins {
                if p["ipam"]["type"] == "host-local" {
                    p["ipam"]["dataDir"] = Value::String(data.display().to_string());
                }
            }
        }
        std::fs::write(
            dir.join(entry.file_name()),
            serde_json::to_vec_pretty(&conf).unwrap(),
        )
        .unwrap();
    }
}

fn run_script(host: &TestNs, confdir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = host.cmd(repo().join("scripts/priv-net-run.sh"), args);
    cmd.env("NETCONFPATH", confdir).env("CNI_PATH", bin_dir());
    cmd.output().expect("run priv-net-run.sh")
}

#[test]
fn priv_net_run_puts_a_command_on_the_example_network() {
    require_root!();
    require_tools!("jq");
    let host = TestNs::new("host");
    let tmp = tempdir();
    let (confdir, data) = (tmp.path().join("net.d"), tmp.path().join("data"));
    std::fs::create_dir_all(&confdir).unwrap();
    example_configs(&confdir, &data);

    let out = run_script(&host, &confdir, &["ip", "-br", "addr"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let eth0 = stdout
        .lines()
        .find(|l| l.starts_with("eth0"))
        .unwrap_or_else(|| panic!("no eth0 in {stdout}"));
    assert!(eth0.contains("10.22."), "{eth0}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("lo") && l.contains("127.0.0.1/8")),
        "{stdout}"
    );

    // a failing command: its status comes back, the cleanup still runs
    let out = run_script(&host, &confdir, &["sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));

    let links = output_in(&host, "ip", &["-br", "link"]);
    assert!(
        !links.contains("veth") && !links.contains("cnirs0"),
        "left in the host: {links}"
    );
    assert!(!output_in(&host, "iptables", &["-t", "nat", "-S"]).contains("CNI-"));
    assert!(!output_in(&host, "nft", &["list", "ruleset"]).contains("10.22."));
    assert!(reservation_files(&data.join("mynet")).is_empty());
}
