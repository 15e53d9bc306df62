//! ADD, DEL, CHECK, GC and STATUS of host-local.

use std::net::IpAddr;

use pkg::error::code;
use pkg::skel::CmdArgs;
use pkg::store::disk::Store;
use pkg::types::CniResult;
use pkg::{Error, Result};

use crate::{allocator, config, dns};

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let cfg = config::load(args)?;
    let mut result = CniResult::default();
    // Everything that can fail without side effects comes first.
    if let Some(path) = &cfg.resolv_conf {
        result.dns = dns::parse_resolv_conf(path)?;
    }
    let mut store = Store::open(&cfg.data_dir, &cfg.network)?;
    let mut pending = cfg.requested.clone();
    let mut taken: Vec<IpAddr> = Vec::new();
    for (idx, set) in cfg.ranges.iter().enumerate() {
        let requested = pending
            .iter()
            .position(|ip| set.contains(*ip))
            .map(|i| pending.remove(i));
        match allocator::get(
            &mut store,
            set,
            idx,
            &args.container_id,
            &args.ifname,
            requested,
        ) {
            Ok(ip) => {
                taken.push(ip.address.addr());
                result.ips.push(ip);
            }
            Err(e) => {
                rollback(&mut store, &taken);
                return Err(e.context(format!("failed to allocate for range {idx}")));
            }
        }
    }
    if !pending.is_empty() {
        rollback(&mut store, &taken);
        let list: Vec<String> = pending.iter().map(|ip| ip.to_string()).collect();
        return Err(Error::internal(format!(
            "failed to allocate all requested IPs: {}",
            list.join(" ")
        )));
    }
    result.routes = cfg.routes;
    Ok(result)
}

pub fn del(args: &CmdArgs) -> Result<()> {
    let data_dir = config::load_store_location(args)?;
    let mut store = Store::open(&data_dir, &args.conf.name)?;
    store.release_by_id(&args.container_id, &args.ifname)?;
    Ok(())
}

pub fn check(args: &CmdArgs) -> Result<()> {
    let cfg = config::load(args)?;
    let mut store = Store::open(&cfg.data_dir, &cfg.network)?;
    if !store.find_by_id(&args.container_id, &args.ifname)? {
        return Err(Error::internal(format!(
            "host-local: failed to find an address reserved for container {} interface {} in {}",
            args.container_id,
            args.ifname,
            store.path().display()
        )));
    }
    Ok(())
}

pub fn gc(args: &CmdArgs) -> Result<()> {
    let data_dir = config::load_store_location(args)?;
    // No list at all means no attachment is valid (Documentation/spec-notes.md §1.8).
    let valid: Vec<(String, String)> = args
        .conf
        .gc_valid_attachments()
        .unwrap_or_default()
        .iter()
        .map(|a| (a.container_id.clone(), a.ifname.clone()))
        .collect();
    let mut store = Store::open(&data_dir, &args.conf.name)?;
    let released = store.gc(&valid)?;
    if !released.is_empty() {
        eprintln!(
            "host-local: gc released {} address(es) of network {}",
            released.len(),
            args.conf.name
        );
    }
    Ok(())
}

pub fn status(args: &CmdArgs) -> Result<()> {
    let cfg = config::load(args)?;
    let unusable = |e: Error| {
        Error::new(
            code::NOT_AVAILABLE,
            format!(
                "host-local store {} is not usable",
                cfg.data_dir.join(&cfg.network).display()
            ),
            e.to_string(),
        )
    };
    let store = Store::open(&cfg.data_dir, &cfg.network).map_err(unusable)?;
    let held: Vec<IpAddr> = store
        .reservations()
        .map_err(unusable)?
        .iter()
        .filter_map(|(name, _)| name.parse().ok())
        .collect();
    for set in &cfg.ranges {
        let used = held.iter().filter(|ip| set.contains(**ip)).count() as u128;
        if used >= set.capacity() {
            return Err(Error::new(
                code::NOT_AVAILABLE,
                "address pool exhausted",
                format!("range set {set} has no free addresses"),
            ));
        }
    }
    Ok(())
}

fn rollback(store: &mut Store, taken: &[IpAddr]) {
    for ip in taken {
        if let Err(e) = store.release(*ip) {
            eprintln!("warning: releasing {ip} after a failed ADD: {e}");
        }
    }
}
