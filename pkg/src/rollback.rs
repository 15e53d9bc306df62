//! The rollback of a failed ADD: each change is recorded as it is made,
//! and if the ADD does not [`commit`](Rollback::commit) they are undone in
//! reverse order when the record is dropped. A step that finds its object
//! gone ("not found") has nothing to undo; every other failure is reported
//! on stderr and the remaining steps still run: the ADD's own error is
//! what the runtime sees.
//!
//! IPAM is a step of its own: an IPAM ADD started in the background is
//! finished first, and only an allocation that succeeded is released (a
//! failed one may have refused a duplicate of a live attachment's, and a
//! delegate that died was already cleaned up by `ipam`).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::ipam;
use crate::skel::CmdArgs;
use crate::types::CniResult;

/// Undo steps of one ADD, run in reverse when dropped uncommitted.
#[derive(Default)]
pub struct Rollback<'a> {
    steps: Vec<Step<'a>>,
}

/// What is undone on failure, with what to call it in the warning.
type Undo<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

enum Step<'a> {
    Undo(Cow<'static, str>, Undo<'a>),
    Ipam(Box<dyn IpamStep + 'a>),
}

/// The IPAM step, behind a trait object so that a plugin without IPAM
/// does not link the delegation code.
trait IpamStep {
    /// Collects the running IPAM ADD; from then on only a success is held.
    fn finish(&mut self) -> Option<Result<CniResult>>;
    /// The rollback: finish a running ADD, release what succeeded.
    fn release(self: Box<Self>);
}

struct IpamAdd<'a> {
    args: &'a CmdArgs,
    state: Ipam<'a>,
}

enum Ipam<'a> {
    Running(Box<ipam::Pending<'a>>),
    /// Succeeded: the addresses are ours to release.
    Held,
    /// Failed: nothing of ours to release.
    Failed,
}

impl IpamStep for IpamAdd<'_> {
    fn finish(&mut self) -> Option<Result<CniResult>> {
        let Ipam::Running(pending) = std::mem::replace(&mut self.state, Ipam::Failed) else {
            return None;
        };
        let result = pending.finish_add(self.args);
        if result.is_ok() {
            self.state = Ipam::Held;
        }
        Some(result)
    }

    fn release(self: Box<Self>) {
        let held = match self.state {
            Ipam::Running(pending) => pending.finish_add(self.args).is_ok(),
            Ipam::Held => true,
            Ipam::Failed => false,
        };
        if held && let Err(e) = ipam::del(self.args) {
            warn("the IPAM reservation", e);
        }
    }
}

#[cold]
#[inline(never)]
fn warn(what: &str, e: Error) {
    eprintln!("warning: rolling back {what} after a failed ADD: {e}");
}

impl<'a> Rollback<'a> {
    pub fn new() -> Rollback<'a> {
        Rollback::default()
    }

    /// Records a change just made: `undo` reverts it, `what` names it in
    /// `warning: rolling back <what> after a failed ADD: ..` (an undo of
    /// several parts returns their failures as one [`Error::List`]).
    pub fn push(
        &mut self,
        what: impl Into<Cow<'static, str>>,
        undo: impl FnOnce() -> Result<()> + 'a,
    ) {
        self.steps.push(Step::Undo(what.into(), Box::new(undo)));
    }

    /// Starts the IPAM ADD in the background (the plugin creates its
    /// interface meanwhile); [`finish_ipam`](Self::finish_ipam) collects it.
    pub fn start_ipam(&mut self, args: &'a CmdArgs) -> Result<()> {
        let state = Ipam::Running(Box::new(ipam::start_add(args)?));
        self.steps
            .push(Step::Ipam(Box::new(IpamAdd { args, state })));
        Ok(())
    }

    /// The result of the IPAM ADD started by [`start_ipam`](Self::start_ipam);
    /// from here on a rollback releases it.
    pub fn finish_ipam(&mut self) -> Result<CniResult> {
        self.steps
            .iter_mut()
            .rev()
            .find_map(|s| match s {
                Step::Ipam(step) => step.finish(),
                Step::Undo(..) => None,
            })
            .unwrap_or_else(|| Err(Error::internal("IPAM ADD was not started")))
    }

    /// IPAM ADD now, released by a rollback once it succeeded.
    pub fn ipam_add(&mut self, args: &'a CmdArgs) -> Result<CniResult> {
        self.start_ipam(args)?;
        self.finish_ipam()
    }

    /// The ADD succeeded: keep every change.
    pub fn commit(&mut self) {
        self.steps.clear();
    }

    fn run(&mut self) {
        while let Some(step) = self.steps.pop() {
            match step {
                Step::Undo(what, undo) => {
                    if let Err(e) = undo()
                        && !e.is_not_found()
                    {
                        warn(&what, e);
                    }
                }
                Step::Ipam(step) => step.release(),
            }
        }
    }
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        self.run();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use nix::errno::Errno;

    use super::*;

    #[test]
    fn undoes_in_reverse_past_failures_unless_committed() {
        let ran = RefCell::new(Vec::new());
        let step = |n: u8, outcome: Result<()>| {
            let ran = &ran;
            move || {
                ran.borrow_mut().push(n);
                outcome
            }
        };
        {
            let mut undo = Rollback::new();
            undo.push("first", step(1, Ok(())));
            let gone = Error::kernel("del link veth0", Errno::ENODEV);
            undo.push("a link that is gone", step(2, Err(gone)));
            undo.push("a failing step", step(3, Err(Error::internal("boom"))));
            undo.push(
                "two failures",
                step(
                    4,
                    Err(Error::List(vec![
                        Error::internal("a"),
                        Error::internal("b"),
                    ])),
                ),
            );
        }
        assert_eq!(*ran.borrow(), [4, 3, 2, 1]);
        ran.borrow_mut().clear();
        let mut undo = Rollback::new();
        undo.push("kept", step(1, Ok(())));
        undo.commit();
        drop(undo);
        assert!(ran.borrow().is_empty());
    }
}
