//! A child process with piped stdin, stdout and stderr, driven from the
//! calling thread with poll(2): its input is written and both outputs are
//! read as they become ready. Running a plugin or a firewall tool then
//! costs no helper threads, and a caller can start a child, do other work
//! while it runs, and collect it afterwards.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// A started child whose output has not been collected yet.
pub struct Running<'a> {
    child: Child,
    input: &'a [u8],
    stdin: Option<ChildStdin>,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    out: Vec<u8>,
    err: Vec<u8>,
}

/// A reaped child and everything it printed.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// The deadline passed and the child was killed.
    pub timed_out: bool,
}

impl<'a> Running<'a> {
    /// Spawn `cmd` with the three streams piped and give it as much of
    /// `input` as the pipe takes without waiting (all of it, for a plugin
    /// config), so that it can run while the caller does something else.
    pub fn start(cmd: &mut Command, input: &'a [u8]) -> io::Result<Running<'a>> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let mut run = Running {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            input,
            out: Vec::new(),
            err: Vec::new(),
        };
        let fds = [
            run.stdin.as_ref().map(AsFd::as_fd),
            run.stdout.as_ref().map(AsFd::as_fd),
            run.stderr.as_ref().map(AsFd::as_fd),
        ];
        for fd in fds.into_iter().flatten() {
            set_nonblocking(fd)?;
        }
        run.feed();
        Ok(run)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Write the rest of the input, read both outputs to their end and reap
    /// the child. At `deadline` the child is killed with its process group
    /// (when it leads one, see `CommandExt::process_group`), and the
    /// collection goes on until the pipes close.
    pub fn finish(mut self, deadline: Option<Instant>) -> io::Result<Finished> {
        let mut timed_out = false;
        while self.stdin.is_some() || self.stdout.is_some() || self.stderr.is_some() {
            let timeout = match deadline {
                Some(d) if !timed_out => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up: a poll that wakes a hair early would spin.
                    let ms = left.as_micros().div_ceil(1000);
                    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
                }
                _ => PollTimeout::NONE,
            };
            let ready = self.wait_ready(timeout)?;
            if ready == [false; 3] {
                if deadline.is_some_and(|d| Instant::now() >= d) && !timed_out {
                    timed_out = true;
                    self.kill();
                }
                continue;
            }
            if ready[0] {
                self.feed();
            }
            if ready[1] {
                drain(&mut self.stdout, &mut self.out);
            }
            if ready[2] {
                drain(&mut self.stderr, &mut self.err);
            }
        }
        let status = loop {
            match self.child.wait() {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        Ok(Finished {
            status,
            stdout: self.out,
            stderr: self.err,
            timed_out,
        })
    }

    /// Which of stdin, stdout, stderr can make progress.
    fn wait_ready(&self, timeout: PollTimeout) -> io::Result<[bool; 3]> {
        let streams = [
            (self.stdin.as_ref().map(AsFd::as_fd), PollFlags::POLLOUT),
            (self.stdout.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
            (self.stderr.as_ref().map(AsFd::as_fd), PollFlags::POLLIN),
        ];
        let mut fds = Vec::with_capacity(3);
        let mut slots = Vec::with_capacity(3);
        for (slot, (fd, events)) in streams.into_iter().enumerate() {
            if let Some(fd) = fd {
                fds.push(PollFd::new(fd, events));
                slots.push(slot);
            }
        }
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(Errno::EINTR) => return Ok([false; 3]),
            Err(e) => return Err(e.into()),
        }
        let mut ready = [false; 3];
        for (fd, slot) in fds.iter().zip(slots) {
            ready[slot] = fd.revents().is_some_and(|r| !r.is_empty());
        }
        Ok(ready)
    }

    /// Write what the pipe takes; close it once everything is written or
    /// the child stopped reading (a plugin may exit without reading, as
    /// for VERSION: EPIPE is not an error then).
    fn feed(&mut self) {
        let Some(pipe) = self.stdin.as_mut() else {
            return;
        };
        while !self.input.is_empty() {
            match pipe.write(self.input) {
                Ok(0) => break,
                Ok(n) => self.input = &self.input[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => break,
            }
        }
        self.stdin = None;
    }

    fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        if nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL).is_err() {
            let _ = self.child.kill();
        }
    }
}

/// Read what is there; drop the pipe at its end (or on a read error).
fn drain<R: Read>(pipe: &mut Option<R>, buf: &mut Vec<u8>) {
    let Some(r) = pipe.as_mut() else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => break,
        }
    }
    *pipe = None;
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = fcntl(fd, FcntlArg::F_GETFL)?;
    let flags = OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK;
    fcntl(fd, FcntlArg::F_SETFL(flags))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script);
        c
    }

    #[test]
    fn large_input_and_output_without_deadlock() {
        // More than a pipe holds in each direction, echoed back while the
        // input is still being written.
        let input: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let run = Running::start(&mut sh("cat; echo done >&2"), &input).unwrap();
        let f = run.finish(None).unwrap();
        assert!(f.status.success());
        assert_eq!(f.stdout, input);
        assert_eq!(f.stderr, b"done\n");
        assert!(!f.timed_out);
    }

    #[test]
    fn child_that_does_not_read() {
        let input = vec![b'x'; 200_000];
        let f = Running::start(&mut sh("echo hi; exit 3"), &input)
            .unwrap()
            .finish(None)
            .unwrap();
        assert_eq!(f.status.code(), Some(3));
        assert_eq!(f.stdout, b"hi\n");
    }

    #[test]
    fn deadline_kills_the_group() {
        use std::os::unix::process::CommandExt;
        let mut cmd = sh("sleep 10 & sleep 10");
        cmd.process_group(0);
        let t = Instant::now();
        let f = Running::start(&mut cmd, b"")
            .unwrap()
            .finish(Some(t + Duration::from_millis(100)))
            .unwrap();
        assert!(f.timed_out);
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
