//! Against the real Go bridge plugin (Debian ships 1.1.1 in /usr/lib/cni),
//! when it is installed: what Go makes, ours removes, and the reverse. The
//! test's fresh netns plays the host; the container netns is a named one.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use ipnet::IpNet;

use pkg::firewall::testing::{fresh_netns, nat_rules, ruleset, run};
use pkg::firewall::{Backend, masq};

use crate::spoofcheck;

const GO_BRIDGE: &str = "/usr/lib/cni/bridge";

/// A named netns, deleted on drop.
struct NamedNetns(String);

impl NamedNetns {
    fn new() -> NamedNetns {
        let name = format!("cni-rs-fw-{}", std::process::id());
        run(&["ip", "netns", "add", &name]);
        NamedNetns(name)
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.0)
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn go_bridge(command: &str, netns: &str, conf: &str) -> String {
    let mut child = Command::new(GO_BRIDGE)
        .env("CNI_COMMAND", command)
        .env("CNI_CONTAINERID", "goctr")
        .env("CNI_NETNS", netns)
        .env("CNI_IFNAME", "eth0")
        .env("CNI_PATH", "/usr/lib/cni")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(conf.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "go bridge {command}: {stdout}");
    stdout
}

/// Container addresses and MAC from a 0.4.0 result.
fn result_of(stdout: &str) -> (Vec<IpNet>, String) {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    let ips = v["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["address"].as_str().unwrap().parse().unwrap())
        .collect();
    let mac = v["interfaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "eth0")
        .and_then(|i| i["mac"].as_str())
        .unwrap()
        .to_string();
    (ips, mac)
}

#[test]
fn go_bridge_1_1_1_round_trip() {
    if !Path::new(GO_BRIDGE).exists() {
        return pkg::skip::because(format!("{GO_BRIDGE} is not installed"));
    }
    if !fresh_netns(&["ip", "nft", "iptables", "ip6tables", "iptables-restore"]) {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let ctr = NamedNetns::new();
    let conf = serde_json::json!({
        "cniVersion": "0.4.0", "name": "mynet", "type": "bridge", "bridge": "cnitest0",
        "isGateway": true, "ipMasq": true, "macspoofchk": true,
        "ipam": {"type": "host-local", "dataDir": data.path(),
                 "ranges": [[{"subnet": "10.88.0.0/16"}], [{"subnet": "fd00:88::/64"}]]}
    })
    .to_string();

    // Go's ADD; ours removes everything it made for the attachment.
    let (ips, mac) = result_of(&go_bridge("ADD", &ctr.path(), &conf));
    assert_eq!(nat_rules("iptables").len(), 4);
    assert_eq!(nat_rules("ip6tables").len(), 4);
    assert_eq!(ruleset().matches("macspoofchk-goctr-eth0").count(), 4);
    masq::teardown("mynet", "eth0", "goctr").unwrap();
    spoofcheck::teardown("goctr", "eth0").unwrap();
    assert!(nat_rules("iptables").is_empty());
    assert!(nat_rules("ip6tables").is_empty());
    assert!(!ruleset().contains("macspoofchk"));

    // Ours puts them back; Go's DEL removes what ours made.
    let veth = run(&["ip", "-o", "link", "show", "master", "cnitest0"]);
    let veth = veth.split(": ").nth(1).unwrap().split('@').next().unwrap();
    masq::setup(Backend::Iptables, "mynet", "eth0", "goctr", &ips).unwrap();
    spoofcheck::setup("goctr", "eth0", veth, &mac).unwrap();
    assert_eq!(nat_rules("iptables").len(), 4);
    go_bridge("DEL", &ctr.path(), &conf);
    assert!(nat_rules("iptables").is_empty());
    assert!(nat_rules("ip6tables").is_empty());
    assert!(!ruleset().contains("macspoofchk"));
}
