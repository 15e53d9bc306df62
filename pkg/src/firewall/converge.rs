//! The loop every layout's change goes through: read what is there, plan,
//! apply in one transaction per backend; when the apply fails (another
//! process changed the tables in between), plan again from a fresh
//! listing, up to three tries.
//!
//! Which backend a table gets: nft tables and iptables-nft tables go over
//! netlink (`nft::Session`); iptables-legacy tables, and a plan whose rules
//! carry conditions in the tool's own syntax, go through the tools
//! (`ipt::Tools`, `nftext`). iptables makes its own tables and built-in
//! chains the way its version does: a plan that needs one that does not
//! exist yet is planned again for the tools.

use super::exec::ExecError;
use super::ipt::{self, Tools};
use super::model::{Dialect, Rule, Table};
use super::nft::Session;
use super::nftext;
use super::plan::{Op, State};
use crate::error::{Error, Result};

const TRIES: usize = 3;

/// How one change is run.
#[derive(Clone, Copy)]
pub struct Job<'a> {
    /// What the change is, for messages: `setting up masquerade chain X`.
    pub what: &'a str,
    /// A teardown or GC: a missing tool or table means nothing to remove.
    pub cleanup: bool,
    /// Take the namespace's lock from the listing to the end of the
    /// apply: the plan adds rules that attachments share.
    pub lock: bool,
    /// The rules carry conditions in iptables' syntax: list and apply
    /// iptables tables with the tools.
    pub tools: bool,
    /// The rules carry conditions in nft's syntax: apply nft tables with
    /// this ([`NFT_SCRIPT`]). A field rather than a flag so that only the
    /// plugins that need nft's syntax link it.
    pub nft_script: Option<NftScript>,
}

impl<'a> Job<'a> {
    /// A change over netlink wherever it can go, without the lock.
    pub fn new(what: &'a str) -> Job<'a> {
        Job {
            what,
            cleanup: false,
            lock: false,
            tools: false,
            nft_script: None,
        }
    }
}

/// Applies a plan for nft tables in nft's own syntax.
#[derive(Clone, Copy)]
pub struct NftScript(fn(&[&Op]) -> std::result::Result<(), ExecError>);

/// `nft -f -` with the plan written out (`nftext`).
pub const NFT_SCRIPT: NftScript = NftScript(nftext::apply);

/// What a change leaves to wait for: the netfilter socket (closing it
/// waits for the kernel to free deleted rules). Drop it when convenient.
pub struct Applied(Option<Session>);

impl Applied {
    /// The netlink session the change went through, if it had one.
    pub(super) fn session(&mut self) -> Option<&mut Session> {
        self.0.as_mut()
    }

    /// The session, for the next change ([`converge_in`]).
    pub(super) fn into_session(self) -> Option<Session> {
        self.0
    }
}

/// Runs `plan` against the current state until its ops apply.
pub fn converge(
    job: &Job<'_>,
    mut plan: impl FnMut(&mut dyn State) -> Result<Vec<Op>>,
) -> Result<Applied> {
    // One copy of the loop for every layout's closure.
    converge_dyn(job, None, &mut plan)
}

/// [`converge`] through a netfilter session the caller already has open
/// (None: one of its own). Closing one takes the namespace's nf_tables
/// commit lock and waits there for the kernel to free rules anyone
/// deleted, so a plugin opens as few as it can.
pub fn converge_in(
    job: &Job<'_>,
    session: Option<Session>,
    mut plan: impl FnMut(&mut dyn State) -> Result<Vec<Op>>,
) -> Result<Applied> {
    converge_dyn(job, session, &mut plan)
}

fn converge_dyn(
    job: &Job<'_>,
    session: Option<Session>,
    plan: &mut dyn FnMut(&mut dyn State) -> Result<Vec<Op>>,
) -> Result<Applied> {
    let _turn = if job.lock { lock_netns() } else { None };
    let mut router = Router::new(job, session);
    let mut tries = 0;
    loop {
        router.refresh();
        let ops = plan(&mut router)?;
        if ops.is_empty() {
            return Ok(Applied(router.session));
        }
        if router.needs_tools(&ops)? {
            continue;
        }
        tries += 1;
        match router.apply(&ops) {
            Ok(()) => return Ok(Applied(router.session)),
            Err(Failure::Retry(_)) if tries < TRIES => {}
            Err(Failure::Retry(e) | Failure::Final(e)) => return Err(e),
        }
    }
}

/// Reads the current state with `read`, changing nothing: CHECK.
pub fn inspect(job: &Job<'_>, read: impl FnOnce(&mut dyn State) -> Result<()>) -> Result<()> {
    let mut router = Router::new(job, None);
    read(&mut router)
}

enum Failure {
    /// The transaction was refused: the state may have changed under us.
    Retry(Error),
    Final(Error),
}

/// Sends each table to its backend.
struct Router<'a> {
    job: &'a Job<'a>,
    session: Option<Session>,
    /// Why netlink is not usable here, if it is not.
    no_session: Option<Error>,
    tools: Tools,
    /// iptables-nft tables whose built-in chains iptables must make.
    to_tools: Vec<Table>,
    nft_iptables: [Option<bool>; 2],
}

impl<'a> Router<'a> {
    fn new(job: &'a Job<'a>, session: Option<Session>) -> Router<'a> {
        let (session, no_session) = match session.map_or_else(Session::open, Ok) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        Router {
            job,
            session,
            no_session,
            tools: Tools::new(job.cleanup, job.what),
            to_tools: Vec::new(),
            nft_iptables: [None, None],
        }
    }

    fn refresh(&mut self) {
        if let Some(s) = &mut self.session {
            s.refresh();
        }
        self.tools.refresh();
    }

    /// Whether `table` is listed by the iptables tools: iptables-legacy,
    /// rules in the tool's syntax, or no netlink.
    fn read_by_tools(&mut self, table: Table) -> bool {
        if table.dialect != Dialect::Iptables {
            return false;
        }
        if self.job.tools || self.session.is_none() {
            return true;
        }
        let slot = &mut self.nft_iptables[usize::from(table.family == super::model::Family::Ip6)];
        !*slot.get_or_insert_with(|| ipt::uses_nftables(table))
    }

    /// Whether `table` is changed by the iptables tools: as it is read, or
    /// an iptables-nft table whose built-in chains iptables must make
    /// (then it is still read over netlink, which costs no process).
    fn write_by_tools(&mut self, table: Table) -> bool {
        self.read_by_tools(table) || self.to_tools.contains(&table)
    }

    /// The netlink session for `table`, or why there is none.
    fn session(&mut self) -> Result<&mut Session> {
        match (&mut self.session, &self.no_session) {
            (Some(s), _) => Ok(s),
            (None, Some(e)) => Err(Error::internal(format!(
                "{}: netfilter netlink is not usable here: {e}",
                self.job.what
            ))),
            (None, None) => Err(Error::internal("no netfilter session")),
        }
    }

    /// Tables whose plan netlink cannot apply as iptables would: an
    /// iptables-nft table or built-in chain that does not exist yet, or a
    /// rule only the tool can write. They go to the tools, and the plan is
    /// made again from their listing.
    fn needs_tools(&mut self, ops: &[Op]) -> Result<bool> {
        let mut found = false;
        for op in ops {
            let table = op.table();
            if table.dialect != Dialect::Iptables || self.write_by_tools(table) {
                continue;
            }
            let chain = match op {
                Op::Append { rule, .. } | Op::Insert { rule, .. } => {
                    if rule.has_raw() {
                        self.to_tools.push(table);
                        found = true;
                        continue;
                    }
                    &rule.chain
                }
                Op::Delete { rule, .. } => &rule.chain,
                Op::FlushChain { chain, .. } => chain,
                _ => continue,
            };
            if ipt::is_builtin(chain) && !self.session()?.chain_exists(table, chain)? {
                self.to_tools.push(table);
                found = true;
            }
        }
        Ok(found)
    }

    fn apply(&mut self, ops: &[Op]) -> std::result::Result<(), Failure> {
        let mut by_netlink: Vec<&Op> = Vec::new();
        let mut by_tools: Vec<&Op> = Vec::new();
        let mut by_nft_text: Vec<&Op> = Vec::new();
        for op in ops {
            let table = op.table();
            if self.write_by_tools(table) {
                by_tools.push(op);
            } else if table.dialect == Dialect::Nft && self.job.nft_script.is_some() {
                by_nft_text.push(op);
            } else {
                by_netlink.push(op);
            }
        }
        let what = self.job.what;
        if !by_netlink.is_empty() {
            let session = self.session().map_err(Failure::Final)?;
            session
                .apply(&by_netlink)
                .map_err(|e| Failure::Retry(e.context(what.to_string())))?;
        }
        if let Some(NftScript(apply)) = self.job.nft_script.filter(|_| !by_nft_text.is_empty()) {
            apply(&by_nft_text).map_err(|e| exec_failure(e, what.to_string()))?;
        }
        if !by_tools.is_empty() {
            self.tools.apply(&by_tools).map_err(|e| {
                let blamed = by_tools
                    .iter()
                    .map(|o| o.table())
                    .find_map(|t| ipt::blamed_line(e.stderr(), &by_tools, t));
                let what = match blamed {
                    Some(line) => format!("{what} (at `{line}`)"),
                    None => what.to_string(),
                };
                exec_failure(e, what)
            })?;
        }
        Ok(())
    }
}

fn exec_failure(e: ExecError, what: String) -> Failure {
    match e {
        ExecError::Failed { .. } => Failure::Retry(e.into_error(&what)),
        other => Failure::Final(other.into_error(&what)),
    }
}

impl State for Router<'_> {
    fn table_exists(&mut self, table: Table) -> Result<bool> {
        match self.state(table)? {
            Some(s) => s.table_exists(table),
            None => Ok(false),
        }
    }

    fn chain_exists(&mut self, table: Table, chain: &str) -> Result<bool> {
        match self.state(table)? {
            Some(s) => s.chain_exists(table, chain),
            None => Ok(false),
        }
    }

    fn rules(&mut self, table: Table, chain: &str) -> Result<Vec<Rule>> {
        match self.state(table)? {
            Some(s) => s.rules(table, chain),
            None => Ok(Vec::new()),
        }
    }

    fn chains(&mut self, table: Table) -> Result<Vec<String>> {
        match self.state(table)? {
            Some(s) => s.chains(table),
            None => Ok(Vec::new()),
        }
    }

    fn all_rules(&mut self, table: Table) -> Result<Vec<Rule>> {
        match self.state(table)? {
            Some(s) => s.all_rules(table),
            None => Ok(Vec::new()),
        }
    }

    fn rules_commented(
        &mut self,
        table: Table,
        chain: &str,
        pick: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Rule>> {
        match self.state(table)? {
            Some(s) => s.rules_commented(table, chain, pick),
            None => Ok(Vec::new()),
        }
    }

    fn rule_at(&mut self, table: Table, chain: &str, handle: u64) -> Result<Option<Option<Rule>>> {
        match self.state(table)? {
            Some(s) => s.rule_at(table, chain, handle),
            None => Ok(None),
        }
    }
}

impl Router<'_> {
    /// Who lists `table`; None when nobody can and, for a cleanup, that
    /// means there is nothing to remove.
    fn state(&mut self, table: Table) -> Result<Option<&mut dyn State>> {
        if self.read_by_tools(table) {
            return Ok(Some(&mut self.tools));
        }
        if self.session.is_none() && self.job.cleanup {
            return Ok(None);
        }
        Ok(Some(self.session()?))
    }
}

/// Holds an exclusive flock on the calling thread's network namespace
/// (its nsfs file) until dropped: the plugins of this suite that plan
/// shared rules from a listing take turns per namespace. A failing `-N` is
/// not enough to catch a parallel plugin's change: iptables-nft, when
/// another restore commits first, replays the batch on a fresh cache and
/// skips a `-N` of a chain that now exists, so a shared rule planned from
/// the stale listing (the jump to `CNI-HOSTPORT-DNAT`, to `CNI-FORWARD`)
/// went in twice. The lock creates no file, is per namespace (scratch
/// namespaces of parallel tests do not wait for each other) and goes with
/// the process if it is killed. None where the file cannot be opened or
/// locked: the retry is then the only guard.
pub(super) fn lock_netns() -> Option<std::fs::File> {
    let file = std::fs::File::open("/proc/thread-self/ns/net").ok()?;
    file.lock().ok()?;
    Some(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_lock_excludes_a_second_holder_until_dropped() {
        // A scratch namespace: the lock of the machine's own is not ours to
        // take, and a plugin running there would race with the test.
        if !crate::firewall::testing::fresh_netns(&[]) {
            return;
        }
        let Some(held) = lock_netns() else {
            return crate::skip::because("cannot flock /proc/thread-self/ns/net here");
        };
        // Another thread, another open file: Some(got the lock), None if
        // the nsfs file could not be opened there.
        let other = || {
            std::thread::spawn(|| {
                std::fs::File::open("/proc/thread-self/ns/net")
                    .ok()
                    .map(|f| f.try_lock().is_ok())
            })
            .join()
            .ok()
            .flatten()
        };
        assert_eq!(
            other(),
            Some(false),
            "a second open file must wait while the lock is held"
        );
        drop(held);
        // The lock goes with the last descriptor of the open file, and a
        // child that another test forks while `held` is open keeps a copy
        // until its exec closes it (O_CLOEXEC): allow that moment to pass.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut free = other();
        while free == Some(false) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            free = other();
        }
        assert_eq!(free, Some(true), "free again once dropped");
    }
}
