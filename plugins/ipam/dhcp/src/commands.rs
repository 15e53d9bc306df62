//! The plugin's verbs: each is one request to the daemon.

use std::time::Duration;

use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Error, Result};

use crate::config::DhcpConf;
use crate::result::to_result;
use crate::rpc::{self, Key, Request, Response};

/// Acquiring a lease may take the daemon's whole `-resendtimeout` (208 s
/// by default) and a release a server exchange: wait for longer than that.
const LEASE_WAIT: Duration = Duration::from_secs(300);
/// A daemon that does not answer STATUS in this long is not available.
const STATUS_WAIT: Duration = Duration::from_secs(10);

fn key(args: &CmdArgs) -> Key {
    Key {
        container_id: args.container_id.clone(),
        network: args.conf.name.clone(),
        ifname: args.ifname.clone(),
    }
}

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let conf = DhcpConf::load(args)?;
    args.netns()?;
    // The daemon may run in another working directory.
    let netns = std::path::absolute(&args.netns_path).map_err(|e| {
        Error::io(
            format!("failed to make {:?} an absolute path", args.netns_path),
            e,
        )
    })?;
    let req = Request::Allocate {
        key: key(args),
        netns: netns.to_string_lossy().into_owned(),
        options: conf.options,
    };
    match rpc::call(&conf.socket_path, &req, LEASE_WAIT)? {
        Response::Lease(lease) => Ok(to_result(&lease, conf.priority)),
        other => Err(unexpected(&other)),
    }
}

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = DhcpConf::load(args)?;
    let lease = match rpc::call(
        &conf.socket_path,
        &Request::Check { key: key(args) },
        LEASE_WAIT,
    )? {
        Response::Lease(lease) => lease,
        other => return Err(unexpected(&other)),
    };
    let Some(prev) = args.conf.parse_prev_result()? else {
        return Ok(());
    };
    let held = to_result(&lease, conf.priority);
    if prev.ips.is_empty() || prev.ips.iter().any(|ip| ip.address == held.ips[0].address) {
        return Ok(());
    }
    Err(Error::internal(format!(
        "dhcp: the lease of {} on {} is {}, not an address of prevResult",
        args.container_id, args.ifname, held.ips[0].address
    )))
}

pub fn del(args: &CmdArgs) -> Result<()> {
    let socket = DhcpConf::socket_for_cleanup(args)?;
    rpc::call(&socket, &Request::Release { key: key(args) }, LEASE_WAIT).map(|_| ())
}

pub fn gc(args: &CmdArgs) -> Result<()> {
    let socket = DhcpConf::socket_for_cleanup(args)?;
    let valid = args
        .conf
        .gc_valid_attachments()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect();
    let req = Request::Gc {
        network: args.conf.name.clone(),
        valid,
    };
    rpc::call(&socket, &req, LEASE_WAIT).map(|_| ())
}

pub fn status(args: &CmdArgs) -> Result<()> {
    let socket = DhcpConf::socket_for_cleanup(args)?;
    rpc::call(&socket, &Request::Status, STATUS_WAIT)
        .map(|_| ())
        .map_err(|e| Error::not_available(e.msg(), e.details()))
}

fn unexpected(r: &Response) -> Error {
    Error::internal(format!("unexpected answer from the DHCP daemon: {r:?}"))
}
