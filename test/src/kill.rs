//! Killing a plugin part way through, the way a runtime's deadline does,
//! and collecting whatever it had started; a small seeded PRNG and the
//! environment knobs that size the reliability tests.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use crate::{Call, Outcome};

/// An environment variable as a number, else `default`.
pub fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// The seed in `var`, else one from the clock; printed either way so a
/// failing run can be repeated.
pub fn seed(var: &str, test: &str) -> u64 {
    let seed = std::env::var(var)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("{test}: seed {seed} (repeat with {var}={seed})");
    seed
}

/// splitmix64: small, seedable, good enough to spread kill points.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `0..=max`.
    pub fn duration(&mut self, max: Duration) -> Duration {
        Duration::from_micros(self.below(max.as_micros() as u64 + 1))
    }
}

/// Make this process the reaper of orphans of its children, so that what a
/// killed plugin started (an IPAM plugin, iptables) can be waited for.
pub fn become_subreaper() {
    nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
}

/// How a plugin run ended.
#[derive(Debug)]
pub enum Fate {
    /// SIGKILLed while running.
    Killed,
    /// It finished before the kill.
    Finished(Outcome),
}

/// A plugin run that was (maybe) killed; its process group may still hold
/// processes it started. Call [`Killed::reap`] before judging the state.
pub struct Killed {
    pub fate: Fate,
    pgid: i32,
}

/// Start `call` with `stdin`, SIGKILL it (only the plugin, as Go's
/// runtimes do) after `after`, and wait for it; a call that finished by then
/// is reported as such.
pub fn run_and_kill(call: &Call, stdin: &[u8], after: Duration) -> Killed {
    let mut child = call.spawn(stdin);
    let pid = child.id() as i32;
    std::thread::sleep(after);
    let fate = match child.try_wait() {
        Ok(Some(_)) => None,
        _ => Some(kill(Pid::from_raw(pid), Signal::SIGKILL)),
    };
    let out = child.wait_with_output().expect("wait for plugin");
    use std::os::unix::process::ExitStatusExt;
    let fate = if fate.is_some() && out.status.signal() == Some(libc_sigkill()) {
        Fate::Killed
    } else {
        Fate::Finished(Outcome {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    };
    Killed { fate, pgid: pid }
}

fn libc_sigkill() -> i32 {
    Signal::SIGKILL as i32
}

impl Killed {
    pub fn was_killed(&self) -> bool {
        matches!(self.fate, Fate::Killed)
    }

    /// Wait until nothing the plugin started is left (needs
    /// [`become_subreaper`]); panics after `limit`, naming what is left.
    pub fn reap(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            match waitpid(
                Pid::from_raw(-self.pgid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            ) {
                Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                    assert!(
                        start.elapsed() < limit,
                        "processes of group {} still running after {limit:?}",
                        self.pgid
                    );
                    std::thread::sleep(Duration::from_millis(1));
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(Errno::ECHILD) => return,
                Err(e) => panic!("waitpid -{}: {e}", self.pgid),
            }
        }
    }
}
