//! Test support for firewall layouts (here and in the plugins that own
//! theirs; feature `testkit`): a [`FakeState`] read from text for golden
//! plans, and for privileged tests a fresh network namespace for the
//! calling thread. The tools a test spawns inherit that thread's netns, so
//! the host firewall is never touched and tests run in parallel.

// Test support: a failed step panics, which is how a test reports it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::process::Command;

use nix::sched::{CloneFlags, setns, unshare};

use super::exec::find_tool;
use super::ipt::{self, Listing};
use super::model::{Dialect, Rule, Table};
use super::plan::{Op, State};
use crate::error::Result;

/// Moves this thread into a new netns; `false` when the test cannot run
/// here (see [`crate::skip`]: skipped with the reason, or failed with it).
#[track_caller]
pub fn fresh_netns(tools: &[&str]) -> bool {
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

/// Tools (`iptables`, `iptables-restore`, `nft`) this thread has run so
/// far: a layout that works over netlink runs none.
pub fn exec_count() -> usize {
    super::exec::exec_count()
}

/// This thread's netns, for worker threads to join with [`join_netns`].
pub fn current_netns() -> File {
    File::open("/proc/thread-self/ns/net").expect("open this thread's netns")
}

pub fn join_netns(ns: &File) {
    setns(ns, CloneFlags::CLONE_NEWNET).expect("join the test's netns");
}

/// Runs a command that must succeed; returns its stdout.
pub fn run(argv: &[&str]) -> String {
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
pub fn nat_rules(tool: &str) -> Vec<String> {
    run(&[tool, "-w", "-t", "nat", "-S"])
        .lines()
        .filter(|l| !l.starts_with("-P "))
        .map(String::from)
        .collect()
}

/// `nft list ruleset`, as text.
pub fn ruleset() -> String {
    run(&["nft", "list", "ruleset"])
}

/// A state read from text: `iptables -S` listings of iptables tables, and
/// rules of nft tables given as values.
#[derive(Default)]
pub struct FakeState {
    pub ipt: Vec<(Table, Listing)>,
    pub nft: Vec<(Table, Vec<Rule>)>,
    /// The chains a plan listed, in order: what it would cost.
    pub listed: Vec<String>,
}

impl FakeState {
    pub fn iptables(table: Table, listing: &str) -> FakeState {
        FakeState {
            ipt: vec![(table, Listing::parse(listing))],
            ..FakeState::default()
        }
    }

    fn rules_of(&self, table: Table) -> Vec<Rule> {
        match table.dialect {
            Dialect::Iptables => self
                .ipt
                .iter()
                .filter(|(t, _)| *t == table)
                .flat_map(|(_, l)| l.rules.clone())
                .collect(),
            Dialect::Nft => self
                .nft
                .iter()
                .filter(|(t, _)| *t == table)
                .flat_map(|(_, r)| r.clone())
                .collect(),
        }
    }
}

impl State for FakeState {
    fn table_exists(&mut self, table: Table) -> Result<bool> {
        Ok(self.ipt.iter().any(|(t, _)| *t == table) || self.nft.iter().any(|(t, _)| *t == table))
    }

    fn chain_exists(&mut self, table: Table, chain: &str) -> Result<bool> {
        Ok(self.chains(table)?.iter().any(|c| c == chain)
            || (table.dialect == Dialect::Iptables && ipt::is_builtin(chain)))
    }

    fn rules(&mut self, table: Table, chain: &str) -> Result<Vec<Rule>> {
        self.listed.push(chain.to_string());
        Ok(self
            .rules_of(table)
            .into_iter()
            .filter(|r| r.chain == chain)
            .collect())
    }

    fn chains(&mut self, table: Table) -> Result<Vec<String>> {
        let mut chains: Vec<String> = self
            .ipt
            .iter()
            .filter(|(t, _)| *t == table)
            .flat_map(|(_, l)| l.chains.clone())
            .collect();
        for r in self.rules_of(table) {
            if !chains.contains(&r.chain) {
                chains.push(r.chain);
            }
        }
        Ok(chains)
    }

    fn all_rules(&mut self, table: Table) -> Result<Vec<Rule>> {
        Ok(self.rules_of(table))
    }
}

/// A plan as the lines the tools would be given: restore lines for
/// iptables tables, nft commands for nft tables.
pub fn plan_lines(ops: &[Op]) -> Vec<String> {
    ops.iter()
        .filter_map(|o| match o.table().dialect {
            Dialect::Iptables => ipt::restore_line(o),
            Dialect::Nft => Some(super::nftext::line(o)),
        })
        .collect()
}
