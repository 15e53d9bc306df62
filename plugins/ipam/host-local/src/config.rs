//! host-local's configuration: `ipam` keys, legacy single-range keys, the
//! `ipRanges`/`ips` capabilities, `args.cni.ips` and `CNI_ARGS IP=`,
//! validated as Go's `LoadIPAMConfig` does.

use std::net::IpAddr;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use pkg::skel::CmdArgs;
use pkg::store::disk::DEFAULT_DATA_DIR;
use pkg::types::{CniArgs, Route, decode};
use pkg::{Error, Result};

use crate::range::{RangeConf, RangeSet, parse_ip_or_cidr};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Top {
    ipam: Option<IpamRaw>,
    runtime_config: RuntimeRaw,
    args: ArgsRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct IpamRaw {
    // the legacy single range, at the top of `ipam`
    subnet: String,
    range_start: String,
    range_end: String,
    gateway: String,
    ranges: Vec<Vec<RangeConf>>,
    routes: Vec<Route>,
    data_dir: String,
    resolv_conf: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RuntimeRaw {
    ips: Vec<String>,
    ip_ranges: Vec<Vec<RangeConf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgsRaw {
    cni: CniRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CniRaw {
    ips: Vec<String>,
}

#[derive(Debug)]
pub struct IpamConfig {
    pub network: String,
    /// Runtime ranges first, then the legacy range, then `ranges`; the
    /// index is the `N` of `last_reserved_ip.N`.
    pub ranges: Vec<RangeSet>,
    pub routes: Vec<Route>,
    pub data_dir: PathBuf,
    pub resolv_conf: Option<PathBuf>,
    /// Specific addresses asked for, in CNI_ARGS, args, runtimeConfig order.
    pub requested: Vec<IpAddr>,
}

fn top(config: &Value) -> Result<(Top, IpamRaw)> {
    let mut top: Top = decode::decode(config, "network config")?;
    let ipam = top
        .ipam
        .take()
        .ok_or_else(|| Error::invalid_config("IPAM config missing 'ipam' key", ""))?;
    Ok((top, ipam))
}

fn data_dir(ipam: &IpamRaw) -> Result<PathBuf> {
    if ipam.data_dir.is_empty() {
        return Ok(PathBuf::from(DEFAULT_DATA_DIR));
    }
    pkg::validate::data_dir("ipam.dataDir", &ipam.data_dir)?;
    Ok(PathBuf::from(&ipam.data_dir))
}

/// Only what DEL and GC need (the store's location): they must work even
/// when ranges or requested IPs in the config would not validate.
pub fn load_store_location(args: &CmdArgs) -> Result<PathBuf> {
    let (_, ipam) = top(&args.config)?;
    data_dir(&ipam)
}

pub fn load(args: &CmdArgs) -> Result<IpamConfig> {
    let (top, ipam) = top(&args.config)?;

    let mut requested: Vec<IpAddr> = Vec::new();
    let env_args = CniArgs::parse(&args.args, &["IP"])?;
    if let Some(v) = env_args.get("IP").filter(|v| !v.is_empty()) {
        let ip = parse_ip_or_cidr(v).ok_or_else(|| {
            Error::invalid_env(
                format!("ARGS: error parsing value of pair \"IP={v}\": invalid IP address"),
                "",
            )
        })?;
        requested.push(ip);
    }
    for s in top.args.cni.ips.iter().chain(top.runtime_config.ips.iter()) {
        let ip = parse_ip_or_cidr(s)
            .ok_or_else(|| Error::invalid_config(format!("cannot understand ip {s:?}"), ""))?;
        if !requested.contains(&ip) {
            requested.push(ip);
        }
    }

    let mut confs: Vec<Vec<RangeConf>> = top.runtime_config.ip_ranges;
    if !ipam.subnet.is_empty() {
        confs.push(vec![RangeConf {
            subnet: ipam.subnet.clone(),
            range_start: ipam.range_start.clone(),
            range_end: ipam.range_end.clone(),
            gateway: ipam.gateway.clone(),
        }]);
    }
    confs.extend(ipam.ranges.iter().cloned());
    if confs.is_empty() {
        return Err(Error::invalid_config("no IP ranges specified", ""));
    }
    let mut ranges = Vec::with_capacity(confs.len());
    for (i, c) in confs.iter().enumerate() {
        let set = RangeSet::canonicalize(c).map_err(|e| {
            Error::invalid_config(format!("invalid range set {i}: {}", e.msg()), e.details())
        })?;
        ranges.push(set);
    }
    let v4 = ranges.iter().filter(|s| s.is_v4()).count();
    if (v4 > 1 || ranges.len() - v4 > 1) && !args.version.has_multiple_ips() {
        return Err(Error::invalid_config(
            format!(
                "CNI version {} does not support more than 1 address per family",
                args.version
            ),
            "",
        ));
    }
    for (i, a) in ranges.iter().enumerate() {
        for (j, b) in ranges.iter().enumerate().skip(i + 1) {
            if a.overlaps(b) {
                return Err(Error::invalid_config(
                    format!("range set {i} overlaps with {j}"),
                    "",
                ));
            }
        }
    }
    Ok(IpamConfig {
        network: args.conf.name.clone(),
        ranges,
        data_dir: data_dir(&ipam)?,
        routes: ipam
            .routes
            .iter()
            .map(|r| pkg::types::mapped::canonical_route(r, "route"))
            .collect::<Result<_>>()?,
        resolv_conf: (!ipam.resolv_conf.is_empty()).then(|| PathBuf::from(&ipam.resolv_conf)),
        requested,
    })
}
