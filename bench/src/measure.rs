//! Running one process the way a runtime does and measuring what the runtime
//! sees: wall time from spawn to reaped exit, and the user+sys CPU time and
//! peak RSS of the process together with every descendant it reaped
//! (`wait4`'s rusage includes them: the IPAM plugin, `iptables`, `nft`).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::Res;

/// One measured execution.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    pub wall_ms: f64,
    /// user + sys of the process and its reaped descendants (the sum is
    /// exact, the kernel's split between the two is not, for processes
    /// this short).
    pub cpu_ms: f64,
    /// Largest peak RSS among the process and its reaped descendants.
    pub maxrss_kb: f64,
}

impl Sample {
    /// Two processes run one after the other (the floor's host and
    /// container `ip` calls): times add up, memory is the larger peak.
    pub fn then(self, next: Sample) -> Sample {
        Sample {
            wall_ms: self.wall_ms + next.wall_ms,
            cpu_ms: self.cpu_ms + next.cpu_ms,
            maxrss_kb: self.maxrss_kb.max(next.maxrss_kb),
        }
    }
}

/// How a measured process ended, with its output.
pub struct Finished {
    pub sample: Sample,
    /// Exit code, or `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// `exit 1: <stdout> <stderr>`, for error messages.
    pub fn describe(&self) -> String {
        let how = match self.code {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".to_string(),
        };
        let mut out = how;
        for s in [self.stdout.trim(), self.stderr.trim()] {
            if !s.is_empty() {
                out.push_str(": ");
                out.push_str(s);
            }
        }
        out
    }
}

/// Spawn `cmd` with `stdin` as its input, collect stdout and stderr, and
/// reap it with `wait4`. The clock starts before the fork and stops when
/// the exit has been reaped.
///
/// Always a real fork: without a `pre_exec` hook std uses `posix_spawn`,
/// whose child shares the benchmark's memory until the exec, and the
/// kernel then counts the benchmark's whole RSS into the child's
/// `ru_maxrss`. A forked child only carries the pages it had to copy
/// (the spawn baseline in the header shows how much that is).
pub fn run(cmd: &mut Command, stdin: &[u8]) -> Res<Finished> {
    // SAFETY: the hook does nothing, so it is trivially async-signal-safe.
    unsafe {
        cmd.pre_exec(|| Ok(()));
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn {program}: {e}"))?;
    if let Some(mut w) = child.stdin.take() {
        // A plugin may exit without reading its input (VERSION); that is
        // its business, not a measurement error.
        let _ = w.write_all(stdin);
    }
    let stderr_pipe = child.stderr.take();
    // stderr is drained on a helper thread so that neither pipe can fill
    // up while the other is being read.
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = stderr_pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    });
    let mut stdout = Vec::new();
    if let Some(mut p) = child.stdout.take() {
        p.read_to_end(&mut stdout)
            .map_err(|e| format!("read stdout of {program}: {e}"))?;
    }
    let stderr = stderr_reader.join().unwrap_or_default();
    let (status, usage) = wait4(child.id())?;
    let wall = start.elapsed();
    let code = if libc::WIFEXITED(status) {
        Some(libc::WEXITSTATUS(status))
    } else {
        None
    };
    Ok(Finished {
        sample: Sample {
            wall_ms: wall.as_secs_f64() * 1e3,
            cpu_ms: ms(usage.ru_utime) + ms(usage.ru_stime),
            maxrss_kb: usage.ru_maxrss as f64,
        },
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

fn ms(t: libc::timeval) -> f64 {
    t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3
}

/// Reap `pid`, returning its wait status and the rusage of it and its
/// reaped descendants.
fn wait4(pid: u32) -> Res<(i32, libc::rusage)> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| format!("pid {pid} out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child (std's Child never waits
        // unless asked); the pointers are to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return Ok((status, usage));
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4 {pid}: {err}"));
        }
    }
}
