//! IPAM delegation (spec-notes §6): run `ipam.type` from `CNI_PATH` with the
//! caller's exact stdin and environment, only `CNI_COMMAND` changed.

use std::ffi::OsStr;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::invoke::{self, Exec};
use crate::skel::CmdArgs;
use crate::types::CniResult;

fn exec(args: &CmdArgs, command: &str) -> Result<Vec<u8>> {
    let ipam_type = args
        .conf
        .ipam_type()
        .ok_or_else(|| Error::invalid_config("IPAM config missing 'type' key", ""))?;
    let plugin = invoke::find_in_path(ipam_type, &args.cni_path())?;
    let env = invoke::child_env(&args.env, &[("CNI_COMMAND", OsStr::new(command))]);
    invoke::exec(&Exec {
        plugin: &plugin,
        env: &env,
        stdin: &args.stdin,
        timeout: None,
        forward_stderr: true,
    })
    .map_err(|e| {
        e.context(format!(
            "ipam plugin {ipam_type} failed ({})",
            command.to_lowercase()
        ))
    })
}

/// IPAM ADD; the result in the canonical shape.
pub fn add(args: &CmdArgs) -> Result<CniResult> {
    let out = exec(args, "ADD")?;
    let value: Value = serde_json::from_slice(&out)
        .map_err(|e| Error::decode("failed to parse the IPAM plugin's result", e.to_string()))?;
    CniResult::from_value(&value, args.version.as_str())
        .map_err(|e| e.context("failed to parse the IPAM plugin's result"))
}

pub fn del(args: &CmdArgs) -> Result<()> {
    exec(args, "DEL").map(drop)
}

pub fn check(args: &CmdArgs) -> Result<()> {
    exec(args, "CHECK").map(drop)
}

pub fn gc(args: &CmdArgs) -> Result<()> {
    exec(args, "GC").map(drop)
}

pub fn status(args: &CmdArgs) -> Result<()> {
    exec(args, "STATUS").map(drop)
}

/// Runs IPAM DEL when dropped, unless `disarm`ed: an ADD that fails after
/// IPAM ADD succeeded gives its addresses back on every exit path.
pub struct Guard<'a> {
    args: &'a CmdArgs,
    armed: bool,
}

impl<'a> Guard<'a> {
    pub fn new(args: &'a CmdArgs) -> Guard<'a> {
        Guard { args, armed: true }
    }

    pub fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = del(self.args)
        {
            eprintln!("warning: releasing IPAM addresses after a failed ADD: {e}");
        }
    }
}
