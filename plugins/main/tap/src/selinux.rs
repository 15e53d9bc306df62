//! `selinuxContext`: the tap is created by a process running in that
//! context, so that the kernel labels the device with it (the tun driver
//! labels a new device with its creator's context). As Go does, the
//! context is set for the next exec of the creating thread
//! (`/proc/thread-self/attr/exec`) and `ip tuntap add` creates the tap.
//! Where SELinux is not enabled the request is refused before anything is
//! created, in words (Go fails writing the attribute, with an errno).

use std::path::Path;
use std::process::Command;

use pkg::{Error, Result};

use crate::tun::TapSpec;

/// Present when SELinux is enabled (selinuxfs mounted).
const SELINUXFS_ENFORCE: &str = "/sys/fs/selinux/enforce";

/// Refuses a context where SELinux is not enabled.
pub fn require(context: &str) -> Result<()> {
    if Path::new(SELINUXFS_ENFORCE).exists() {
        return Ok(());
    }
    Err(Error::new(
        pkg::error::code::INTERNAL,
        format!(
            "cannot create the tap with selinuxContext {context:?}: SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)"
        ),
        "remove \"selinuxContext\" from the config on hosts without SELinux",
    ))
}

/// Creates the tap `name` as [`crate::tun::create`] does, from a process
/// in `context`. Call it inside `Netns::run`: the attribute and the child
/// process belong to the calling thread.
pub fn create_labelled(name: &str, spec: TapSpec, context: &str) -> Result<()> {
    std::fs::write("/proc/thread-self/attr/exec", context)
        .map_err(|e| Error::io(format!("set exec context {context:?}"), e))?;
    let mut cmd = Command::new("ip");
    cmd.args(["tuntap", "add", "mode", "tap", "name", name]);
    if spec.multi_queue {
        cmd.arg("multi_queue");
    }
    if let Some(uid) = spec.owner {
        cmd.args(["user", &uid.to_string()]);
    }
    if let Some(gid) = spec.group {
        cmd.args(["group", &gid.to_string()]);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::io(format!("run ip tuntap add for {name}"), e))?;
    if !out.status.success() {
        return Err(Error::internal(format!(
            "failed to create tap {name} in context {context:?}: ip tuntap add: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}
