//! dhcp's configuration: `ipam.daemonSocketPath`, `request`, `provide` and
//! `priority`, as in Go. The options are resolved here, in the plugin, so
//! that a bad name is a configuration error of this ADD and the daemon only
//! ever sees option numbers and bytes.

use std::path::PathBuf;

use serde::Deserialize;

use pkg::skel::CmdArgs;
use pkg::types::decode;
use pkg::{Error, Result};

use crate::options::{self, Options};

/// Where the daemon listens unless the config says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/cni/dhcp.sock";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Top {
    ipam: Option<IpamRaw>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct IpamRaw {
    daemon_socket_path: String,
    request: Vec<RequestRaw>,
    provide: Vec<ProvideRaw>,
    priority: i64,
}

/// One entry of `ipam.request`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RequestRaw {
    pub option: String,
    pub skip_default: bool,
}

/// One entry of `ipam.provide`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProvideRaw {
    pub option: String,
    pub value: String,
    pub from_arg: String,
}

#[derive(Debug)]
pub struct DhcpConf {
    pub socket_path: PathBuf,
    pub options: Options,
    /// The metric of every route of the result (0: none).
    pub priority: u32,
}

impl DhcpConf {
    /// The whole configuration, for ADD and CHECK.
    pub fn load(args: &CmdArgs) -> Result<DhcpConf> {
        let ipam = ipam(args)?;
        let priority = u32::try_from(ipam.priority).map_err(|_| {
            Error::invalid_config(
                format!("invalid ipam.priority {}", ipam.priority),
                "a route metric is between 0 and 4294967295",
            )
        })?;
        let options = options::resolve(&ipam.request, &ipam.provide, &args.args)?;
        Ok(DhcpConf {
            socket_path: socket_path(&ipam),
            options,
            priority,
        })
    }

    /// The socket alone, for DEL, GC and STATUS: a config that an older
    /// version accepted must never block the cleanup.
    pub fn socket_for_cleanup(args: &CmdArgs) -> Result<PathBuf> {
        Ok(socket_path(&ipam(args)?))
    }
}

fn ipam(args: &CmdArgs) -> Result<IpamRaw> {
    let top: Top = decode::decode(&args.config, "network config")?;
    top.ipam
        .ok_or_else(|| Error::invalid_config("IPAM config missing 'ipam' key", ""))
}

fn socket_path(ipam: &IpamRaw) -> PathBuf {
    if ipam.daemon_socket_path.is_empty() {
        PathBuf::from(DEFAULT_SOCKET)
    } else {
        PathBuf::from(&ipam.daemon_socket_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::{Value, json};

    fn args(ipam: Value) -> CmdArgs {
        let config = json!({"cniVersion": "1.0.0", "name": "n", "type": "macvlan", "ipam": ipam});
        CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: String::new(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: "K8S_POD_NAME=p".into(),
            path: String::new(),
            conf: NetConf::from_value(&config).unwrap(),
            stdin: config.to_string().into_bytes(),
            config,
            version: Version::V1_0_0,
            env: Vec::new(),
        }
    }

    #[test]
    fn loads_and_refuses() {
        let c = DhcpConf::load(&args(json!({"type": "dhcp"}))).unwrap();
        assert_eq!(c.socket_path, PathBuf::from(DEFAULT_SOCKET));
        assert_eq!(c.priority, 0);
        assert_eq!(c.options.request, crate::options::DEFAULT_REQUEST);
        let c = DhcpConf::load(&args(json!({"type": "dhcp", "DaemonSocketPath": "/x.sock",
            "priority": 7, "provide": [{"option": "host-name", "fromArg": "K8S_POD_NAME"}]})))
        .unwrap();
        assert_eq!((c.socket_path, c.priority), (PathBuf::from("/x.sock"), 7));
        assert_eq!(c.options.provide, [(12, b"p".to_vec())]);
        for (ipam, code) in [
            (json!({"type": "dhcp", "priority": -1}), 7),
            (json!({"type": "dhcp", "priority": "1"}), 6),
            (json!({"type": "dhcp", "request": [{"option": "nope"}]}), 7),
            (json!({"type": "dhcp", "provide": 5}), 6),
        ] {
            assert_eq!(
                DhcpConf::load(&args(ipam.clone())).unwrap_err().code(),
                code,
                "{ipam}"
            );
        }
        // DEL reads the socket alone: a bad option does not block it
        let bad = args(
            json!({"type": "dhcp", "daemonSocketPath": "/y.sock", "request": [{"option": "nope"}]}),
        );
        assert_eq!(
            DhcpConf::socket_for_cleanup(&bad).unwrap(),
            PathBuf::from("/y.sock")
        );
        let mut no_ipam = args(json!({}));
        no_ipam.config = json!({"cniVersion": "1.0.0", "name": "n", "type": "dhcp"});
        assert_eq!(DhcpConf::load(&no_ipam).unwrap_err().code(), 7);
    }
}
