//! tuning DEL: restore the attributes recorded in the backup (ours or
//! Go's) and remove it. As in Go, DEL succeeds whatever happens to the
//! restore, so that a runtime's teardown is never blocked by it; failures
//! are reported on stderr and the backup is kept for another try. Unlike
//! Go, a backup that can never be used (netns or interface gone, file
//! unreadable) is removed rather than left behind forever. Sysctls are not
//! restored (Go neither): they die with the namespace.

use pkg::Result;
use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;

use crate::backup::{self, Backup};
use crate::config::{backup_path, data_dir};

pub fn del(args: &CmdArgs) -> Result<()> {
    let path = backup_path(&data_dir(args)?, &args.container_id, &args.ifname);
    let bytes = match backup::read(&path) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(()),
        Err(e) => {
            eprintln!("warning: {e}");
            return Ok(());
        }
    };
    let discard = |why: &str| {
        if let Err(e) = backup::remove(&path) {
            eprintln!("warning: {e}");
        } else if !why.is_empty() {
            eprintln!("warning: removed tuning backup {}: {why}", path.display());
        }
    };
    let saved = match Backup::from_bytes(&bytes, &path) {
        Ok(b) => b,
        Err(e) => {
            discard(&format!("it cannot be read: {e}"));
            return Ok(());
        }
    };
    let ns = match args.netns_if_exists() {
        Ok(Some(ns)) => ns,
        // The interface went with its namespace (or the runtime lost it):
        // nothing to restore. The host end is left alone too: alone, it
        // would disagree with a container end that may still exist.
        Ok(None) => {
            discard("");
            return Ok(());
        }
        Err(e) => {
            eprintln!("warning: not restoring {}: {e}", args.ifname);
            return Ok(());
        }
    };
    let restored = Netlink::in_netns(ns).and_then(|mut ctr| {
        if ctr.link_find(LinkId::Name(&args.ifname))?.is_none() {
            return Ok(Vec::new());
        }
        Ok(saved.restore(&mut ctr, &args.ifname))
    });
    let mut errors = match restored {
        Ok(errors) => errors,
        Err(e) => vec![e],
    };
    if let Err(e) = Netlink::new().and_then(|mut host| saved.restore_host_peer(&mut host)) {
        errors.push(e);
    }
    if errors.is_empty() {
        discard("");
    } else {
        for e in errors {
            eprintln!(
                "warning: restoring {} from {}: {e}",
                args.ifname,
                path.display()
            );
        }
    }
    Ok(())
}
