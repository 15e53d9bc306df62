//! Helpers for the privileged firewall tests. Each test moves its own
//! thread into a fresh network namespace first: the tools it spawns inherit
//! that thread's netns, so the host firewall is never touched and tests run
//! in parallel.

use std::fs::File;
use std::process::Command;

use nix::sched::{CloneFlags, setns, unshare};

use super::exec::find_tool;

/// Moves this thread into a new netns; `false` when the test cannot run
/// here (see [`crate::skip`]: skipped with the reason, or failed with it).
#[track_caller]
pub(crate) fn fresh_netns(tools: &[&str]) -> bool {
    if !nix::unistd::geteuid().is_root() {
        crate::skip::because("needs root");
        return false;
    }
    if let Some(t) = tools.iter().find(|t| find_tool(t).is_none()) {
        crate::skip::because(format!("{t} is not installed"));
        return false;
    }
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNET) {
        crate::skip::because(format!("cannot unshare the network namespace: {e}"));
        return false;
    }
    true
}

/// This thread's netns, for worker threads to join with [`join_netns`].
pub(crate) fn current_netns() -> File {
    File::open("/proc/thread-self/ns/net").unwrap()
}

pub(crate) fn join_netns(ns: &File) {
    setns(ns, CloneFlags::CLONE_NEWNET).unwrap();
}

/// Runs a command that must succeed; returns its stdout.
pub(crate) fn run(argv: &[&str]) -> String {
    let out = Command::new(find_tool(argv[0]).unwrap_or_else(|| argv[0].into()))
        .args(&argv[1..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `iptables -t nat -S` minus the policy lines.
pub(crate) fn nat_rules(tool: &str) -> Vec<String> {
    run(&[tool, "-w", "-t", "nat", "-S"])
        .lines()
        .filter(|l| !l.starts_with("-P "))
        .map(String::from)
        .collect()
}

/// `nft list ruleset`, as text.
pub(crate) fn ruleset() -> String {
    run(&["nft", "list", "ruleset"])
}
