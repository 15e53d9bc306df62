//! The whole skeleton path of a chained plugin: env validation, version
//! gates, config and prevResult parsing, conversion to the request's
//! version and printing. Any panic is a bug; every failure must be JSON.
#![no_main]

use std::ffi::OsString;

use libfuzzer_sys::fuzz_target;
use pkg::Result;
use pkg::skel::{self, CmdArgs, Io, Plugin};
use pkg::types::CniResult;

fn add(args: &CmdArgs) -> Result<CniResult> {
    Ok(args.conf.parse_prev_result()?.unwrap_or_default())
}

fn parse_prev(args: &CmdArgs) -> Result<()> {
    args.conf.parse_prev_result().map(drop)
}

const PASS_THROUGH: Plugin = Plugin::new("fuzz", add, parse_prev, parse_prev);

const COMMANDS: [&str; 7] = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION", "BOGUS"];

fuzz_target!(|data: &[u8]| {
    let (cmd, stdin) = match data.split_first() {
        Some((c, rest)) => (COMMANDS[*c as usize % COMMANDS.len()], rest),
        None => return,
    };
    let env: Vec<(OsString, OsString)> = [
        ("CNI_COMMAND", cmd),
        ("CNI_CONTAINERID", "fuzz"),
        ("CNI_NETNS", "/proc/self/ns/net"),
        ("CNI_NETNS_OVERRIDE", "1"),
        ("CNI_IFNAME", "eth0"),
        ("CNI_PATH", "/nonexistent"),
    ]
    .iter()
    .map(|(k, v)| (OsString::from(k), OsString::from(v)))
    .collect();
    let mut input = stdin;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = skel::dispatch(
        &PASS_THROUGH,
        Io { env, stdin: &mut input, stdout: &mut out, stderr: &mut err },
    );
    if code != 0 {
        let v: serde_json::Value = serde_json::from_slice(&out).expect("errors are JSON");
        assert!(v["code"].is_u64() && v["msg"].is_string(), "error object: {v}");
    } else if !out.is_empty() {
        serde_json::from_slice::<serde_json::Value>(&out).expect("results are JSON");
    }
});
