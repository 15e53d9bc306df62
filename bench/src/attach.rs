//! Attaching a container and detaching it again, the two timed operations
//! of every latency scenario. `PluginAttach` execs a plugin from one
//! implementation's directory inside that implementation's own fake host,
//! exactly as a runtime would (clean environment, config on stdin,
//! `CNI_PATH` = the same directory so that the IPAM plugin comes from the
//! same implementation). The kernel-cost floor is another `Attach`
//! (`floor.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use integration::{Netns, TestNs, enter_on_exec};
use serde_json::Value;
use tempfile::TempDir;

use crate::impls::Impl;
use crate::measure::{self, Finished, Sample};
use crate::netconf;
use crate::testbed::{self, Container};
use crate::{Res, interrupt};

pub trait Attach: Sync {
    /// "ours", "theirs", "floor" (the true floor) or "ip-floor".
    fn label(&self) -> &str;
    fn add(&self, c: &Container) -> Res<Sample>;
    fn del(&self, c: &Container) -> Res<Sample>;
    /// Which masquerade backend left state in the fake host, if any
    /// (asked between a warm-up ADD and its DEL).
    fn masq_backend_in_use(&self) -> Option<String> {
        None
    }
}

/// What the fake host needs besides `lo`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum HostSetup {
    Plain,
    /// A veth pair, both ends up, one of them the macvlan master.
    MacvlanMaster,
}

pub struct PluginAttach {
    label: &'static str,
    plugin: PathBuf,
    cni_path: String,
    conf: Vec<u8>,
    /// ADD must return at least one address (plugins with IPAM).
    expects_ips: bool,
    host_netns: Netns,
    host: TestNs,
    _data_dir: TempDir,
}

impl PluginAttach {
    /// A fresh fake host and `dataDir` for `imp`'s `plugin`, with the
    /// config built by `conf` from the `dataDir` path.
    pub fn new(
        imp: &Impl,
        plugin: &str,
        setup: HostSetup,
        conf: impl FnOnce(&Path) -> Value,
    ) -> Res<PluginAttach> {
        let host = testbed::new_ns("bh")?;
        if setup == HostSetup::MacvlanMaster {
            testbed::ip(
                &host,
                &[
                    "link",
                    "add",
                    netconf::MACVLAN_MASTER,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    netconf::MACVLAN_MASTER_PEER,
                ],
            )?;
            for l in [netconf::MACVLAN_MASTER, netconf::MACVLAN_MASTER_PEER] {
                testbed::ip(&host, &["link", "set", l, "up"])?;
            }
        }
        let data_dir = tempfile::Builder::new()
            .prefix("cni-bench-")
            .tempdir()
            .map_err(|e| format!("create temp dataDir: {e}"))?;
        let conf = conf(data_dir.path());
        let host_netns = Netns::open(&host.path)
            .map_err(|e| format!("open {}: {}", host.path.display(), e.to_error()))?;
        Ok(PluginAttach {
            label: imp.label,
            plugin: imp.plugin(plugin),
            cni_path: imp.dir.display().to_string(),
            expects_ips: conf.get("ipam").is_some(),
            conf: conf.to_string().into_bytes(),
            host_netns,
            host,
            _data_dir: data_dir,
        })
    }

    /// Exec the plugin with `command` for `c`; `Err` unless it succeeded.
    pub fn exec(&self, command: &str, c: &Container) -> Res<Finished> {
        interrupt::check()?;
        let mut cmd = Command::new(&self.plugin);
        cmd.env_clear()
            .env("PATH", search_path())
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", &c.id)
            .env("CNI_NETNS", &c.netns_path)
            .env("CNI_IFNAME", "eth0")
            .env("CNI_PATH", &self.cni_path);
        enter_on_exec(&mut cmd, &self.host_netns);
        let out = measure::run(&mut cmd, &self.conf)?;
        if !out.success() {
            return Err(format!(
                "{} {} {command} {}: {}",
                self.label,
                self.plugin.display(),
                c.id,
                out.describe()
            ));
        }
        Ok(out)
    }
}

impl Attach for PluginAttach {
    fn label(&self) -> &str {
        self.label
    }

    fn add(&self, c: &Container) -> Res<Sample> {
        let out = self.exec("ADD", c)?;
        let result: Value = serde_json::from_str(&out.stdout).map_err(|e| {
            format!(
                "{} ADD {}: result is not JSON ({e}): {:?}",
                self.label, c.id, out.stdout
            )
        })?;
        if self.expects_ips && result["ips"].as_array().is_none_or(|a| a.is_empty()) {
            return Err(format!(
                "{} ADD {}: result has no ips: {}",
                self.label, c.id, out.stdout
            ));
        }
        Ok(out.sample)
    }

    fn del(&self, c: &Container) -> Res<Sample> {
        self.exec("DEL", c).map(|o| o.sample)
    }

    fn masq_backend_in_use(&self) -> Option<String> {
        let nft = testbed::output(&self.host, "nft", &["list", "tables"]);
        let ipt = testbed::output(&self.host, "iptables", &["-w", "-t", "nat", "-S"]);
        let mut used = Vec::new();
        if ipt.contains("-N CNI-") {
            used.push("iptables");
        }
        if nft.contains("cni_plugins_masquerade") {
            used.push("nftables");
        }
        Some(if used.is_empty() {
            "none found".into()
        } else {
            used.join("+")
        })
    }
}

/// The benchmark's own `PATH`, with the sbin directories the firewall
/// tools live in when it lacks them.
fn search_path() -> String {
    let base = std::env::var("PATH").unwrap_or_default();
    let mut parts: Vec<&str> = base.split(':').filter(|p| !p.is_empty()).collect();
    for d in ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
        if !parts.contains(&d) {
            parts.push(d);
        }
    }
    parts.join(":")
}
