//! Running the firewall tools: finding the binary, feeding a script on
//! stdin, and keeping stderr for the error message.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::child::Running;
use crate::error::Error;

/// Runtimes often start plugins with a PATH lacking the sbin directories.
const FALLBACK_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"];

/// Where `tool` is installed, searching PATH and then the sbin directories.
pub(super) fn find_tool(tool: &str) -> Option<PathBuf> {
    #[cfg(test)]
    if HIDDEN.with(|h| h.borrow().iter().any(|t| t == tool)) {
        return None;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Why a tool run failed; callers decide which failures mean "nothing there".
#[derive(Debug)]
pub(super) enum ExecError {
    /// The binary is not installed.
    Missing { tool: String },
    /// It could not be started or talked to.
    Io { tool: String, source: io::Error },
    /// It ran and exited non-zero.
    Failed {
        tool: String,
        status: String,
        stderr: String,
    },
}

impl ExecError {
    pub(super) fn is_missing(&self) -> bool {
        matches!(self, ExecError::Missing { .. })
    }

    pub(super) fn stderr(&self) -> &str {
        match self {
            ExecError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }

    /// True when the tool said the table, chain or rule is not there, or
    /// the family is not available at all; teardown treats these as done.
    pub(super) fn is_absent(&self) -> bool {
        const ABSENT: [&str; 7] = [
            "No such file or directory",
            "does not exist",
            "No chain/target/match by that name",
            "Address family not supported",
            "Protocol not supported",
            "does a matching rule exist",
            // iptables-nft refusing a table another tool owns: Go treats a
            // backend it cannot use as having nothing to clean up.
            "is incompatible",
        ];
        let stderr = self.stderr();
        ABSENT.iter().any(|m| stderr.contains(m))
    }

    /// The typed error, with `what` naming the table, chain or rule.
    pub(super) fn into_error(self, what: &str) -> Error {
        match self {
            ExecError::Missing { tool } => Error::internal(format!(
                "{what}: {tool} not found in PATH or {}",
                FALLBACK_DIRS.join(", ")
            )),
            ExecError::Io { tool, source } => Error::io(format!("{what}: running {tool}"), source),
            ExecError::Failed {
                tool,
                status,
                stderr,
            } => Error::internal(format!(
                "{what}: {tool} failed ({status}): {}",
                stderr.trim()
            )),
        }
    }
}

/// Runs `tool args...` with `stdin` as its input and returns its stdout.
pub(super) fn run(tool: &str, args: &[&str], stdin: Option<&str>) -> Result<String, ExecError> {
    let path = find_tool(tool).ok_or_else(|| ExecError::Missing { tool: tool.into() })?;
    count_exec();
    let io_err = |source| ExecError::Io {
        tool: tool.into(),
        source,
    };
    let mut cmd = Command::new(path);
    crate::invoke::die_with_parent(&mut cmd);
    cmd.args(args);
    // A tool that talks before it has read all its input cannot deadlock
    // against us: the runner writes and reads as the pipes allow.
    let done = Running::start(&mut cmd, stdin.unwrap_or_default().as_bytes())
        .and_then(|run| run.finish(None))
        .map_err(io_err)?;
    if !done.status.success() {
        return Err(ExecError::Failed {
            tool: tool.into(),
            status: done.status.to_string(),
            stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&done.stdout).into_owned())
}

#[cfg(any(test, feature = "testkit"))]
thread_local! {
    static EXECS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
thread_local! {
    static HIDDEN: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Makes this thread act as if `tools` were not installed, until the
/// returned guard is dropped.
#[cfg(test)]
#[must_use]
pub(super) fn hide_tools(tools: &[&str]) -> HiddenTools {
    HIDDEN.with(|h| h.borrow_mut().extend(tools.iter().map(|t| t.to_string())));
    HiddenTools
}

#[cfg(test)]
pub(super) struct HiddenTools;

#[cfg(test)]
impl Drop for HiddenTools {
    fn drop(&mut self) {
        HIDDEN.with(|h| h.borrow_mut().clear());
    }
}

fn count_exec() {
    #[cfg(any(test, feature = "testkit"))]
    EXECS.with(|c| c.set(c.get() + 1));
}

/// Tool runs started by this thread so far.
#[cfg(any(test, feature = "testkit"))]
pub(super) fn exec_count() -> usize {
    EXECS.with(|c| c.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tool_is_named() {
        let err = run("cni-no-such-tool", &[], None).unwrap_err();
        assert!(err.is_missing());
        let msg = err.into_error("creating chain CNI-x").to_string();
        assert!(
            msg.starts_with("creating chain CNI-x: cni-no-such-tool not found"),
            "{msg}"
        );
    }

    #[test]
    fn stdin_stdout_and_stderr() {
        assert_eq!(run("cat", &[], Some("hello")).unwrap(), "hello");
        let err = run(
            "sh",
            &["-c", "echo 'Error: No such file or directory' >&2; exit 1"],
            None,
        )
        .unwrap_err();
        assert!(err.is_absent());
        let msg = err.into_error("listing table inet t").to_string();
        assert!(
            msg.contains("listing table inet t: sh failed (exit status: 1): Error: No such file"),
            "{msg}"
        );
    }
}
