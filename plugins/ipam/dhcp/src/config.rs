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
