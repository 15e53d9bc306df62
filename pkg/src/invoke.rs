//! Finding and running plugin executables: used for IPAM delegation and by
//! the runtime library. The only module that spawns plugin processes.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::child::Running;
use crate::error::{Error, Result, code};
use crate::types::decode;

/// Directories of a `CNI_PATH`-style list, empty entries dropped.
pub fn split_path(list: &str) -> Vec<PathBuf> {
    list.split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

/// The first regular file named exactly `plugin` in `dirs` (Documentation/spec-notes.md §7.7).
pub fn find_in_path(plugin: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
    if plugin.is_empty() {
        return Err(Error::invalid_config("no plugin name provided", ""));
    }
    if plugin.contains('/') || plugin == "." || plugin == ".." {
        return Err(Error::invalid_config(
            format!("invalid plugin name: {plugin}"),
            "",
        ));
    }
    if dirs.is_empty() {
        return Err(Error::invalid_config("no paths provided", ""));
    }
    for dir in dirs {
        let candidate = dir.join(plugin);
        if std::fs::metadata(&candidate).is_ok_and(|m| m.is_file()) {
            return Ok(candidate);
        }
    }
    let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::invalid_config(
        format!(
            "failed to find plugin {plugin:?} in path [{}]",
            list.join(" ")
        ),
        "",
    ))
}

/// How to run one plugin command.
pub struct Exec<'a, 'i> {
    pub plugin: &'a Path,
    /// The complete environment of the child (nothing else is inherited).
    pub env: &'a [(OsString, OsString)],
    pub stdin: &'i [u8],
    /// Kill the plugin after this long.
    pub timeout: Option<Duration>,
    /// Copy the plugin's stderr to ours (delegation) instead of only
    /// keeping it for error messages.
    pub forward_stderr: bool,
    /// A plugin delegating (to IPAM): the child dies with the caller, and
    /// a child that fails without an error object is reported as an
    /// [`Error::Internal`] (code 999, what Go's plugins print for it)
    /// instead of Go libcni's code 0, so the caller can tell a crash from
    /// a reported failure.
    pub delegated: bool,
}

/// The error object a failing plugin prints.
#[derive(Deserialize)]
#[serde(default)]
struct ErrorObject {
    code: u32,
    msg: String,
    details: String,
}

impl Default for ErrorObject {
    fn default() -> Self {
        ErrorObject {
            code: code::UNKNOWN,
            msg: String::new(),
            details: String::new(),
        }
    }
}

/// Run the plugin; on exit 0 return its stdout, else its error, decoded as
/// the Go runtime does (Documentation/spec-notes.md §4.3).
pub fn exec(e: &Exec<'_, '_>) -> Result<Vec<u8>> {
    start(e)?.finish()
}

/// A plugin started by [`start`], running until [`Started::finish`].
pub struct Started<'a> {
    run: Running<'a>,
    name: String,
    deadline: Option<Instant>,
    limit: Option<Duration>,
    forward_stderr: bool,
    delegated: bool,
}

/// Start the plugin and hand it its input, without waiting for it: the
/// caller can do independent work (a DEL removing the interface while IPAM
/// releases the address) and collect the outcome with [`Started::finish`].
pub fn start<'i>(e: &Exec<'_, 'i>) -> Result<Started<'i>> {
    let run = spawn_retrying_busy(e)?;
    Ok(Started {
        run,
        name: e.plugin.display().to_string(),
        deadline: e.timeout.map(|t| Instant::now() + t),
        limit: e.timeout,
        forward_stderr: e.forward_stderr,
        delegated: e.delegated,
    })
}

impl Started<'_> {
    /// Wait for the plugin: its stdout on exit 0, else its error.
    pub fn finish(self) -> Result<Vec<u8>> {
        let name = self.name;
        let done = self
            .run
            .finish(self.deadline)
            .map_err(|e| Error::io(format!("waiting for plugin {name}"), e))?;
        if self.forward_stderr && !done.stderr.is_empty() {
            let _ = std::io::stderr().write_all(&done.stderr);
        }
        if done.timed_out {
            return Err(Error::new(
                code::TRY_AGAIN_LATER,
                format!(
                    "plugin {name} timed out after {}s and was killed",
                    self.limit.unwrap_or_default().as_secs_f32()
                ),
                "",
            ));
        }
        if done.status.success() {
            return Ok(done.stdout);
        }
        Err(plugin_failure(
            &done.status,
            &done.stdout,
            &done.stderr,
            self.delegated,
        ))
    }
}

/// The error of a failed plugin: its own error object when it printed one,
/// otherwise a description of how it died (see [`Exec::delegated`]).
pub(crate) fn plugin_failure(
    status: &ExitStatus,
    stdout: &[u8],
    stderr: &[u8],
    delegated: bool,
) -> Error {
    let exit = describe_status(status);
    let died = |msg: String| {
        if delegated {
            Error::internal(msg)
        } else {
            Error::new(code::UNKNOWN, msg, "")
        }
    };
    if !stdout.iter().all(u8::is_ascii_whitespace) {
        return match decode::from_slice::<ErrorObject>(stdout, "plugin error") {
            Ok(obj) => Error::new(obj.code, obj.msg, obj.details),
            Err(err) => died(format!(
                "netplugin failed but error parsing its diagnostic message {:?}: {}",
                String::from_utf8_lossy(stdout),
                err.details()
            )),
        };
    }
    if !stderr.is_empty() {
        return died(format!(
            "netplugin failed: {:?}: {exit}",
            String::from_utf8_lossy(stderr).trim_end()
        ));
    }
    died(format!("netplugin failed with no error message: {exit}"))
}

/// Whether `e` (straight from [`exec`] with `delegated`) says the plugin
/// died or failed without saying why, leaving its state unknown.
pub fn died_without_error(e: &Error) -> bool {
    matches!(e, Error::Internal(_))
}

/// Make the child die when the thread that started it does. A plugin
/// killed by its runtime's deadline must not leave an IPAM plugin or a
/// firewall tool running, finishing its work after the runtime moved on to
/// DEL: the DEL would find nothing and the late work would stay. Every
/// caller waits for its child on the spawning thread, so that thread
/// outlives the child unless the whole process is killed.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: prctl and getppid are async-signal-safe system calls that
    // touch only the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl: nobody would
            // signal us then.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

fn describe_status(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// Exec fails with ETXTBSY while a plugin binary is being replaced; retry
/// for a few seconds, then fail (Go returns an empty success here).
fn spawn_retrying_busy<'i>(e: &Exec<'_, 'i>) -> Result<Running<'i>> {
    let mut attempt = 0;
    loop {
        let mut cmd = Command::new(e.plugin);
        cmd.env_clear()
            .envs(e.env.iter().map(|(k, v)| (k.as_os_str(), v.as_os_str())));
        if e.delegated {
            die_with_parent(&mut cmd);
        }
        if e.timeout.is_some() {
            // Its own process group, so the deadline kills whatever the
            // plugin started too: a child still holding stdout would
            // otherwise keep us waiting past the deadline.
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        match Running::start(&mut cmd, e.stdin) {
            Ok(run) => return Ok(run),
            Err(err) if err.raw_os_error() == Some(libc::ETXTBSY) && attempt < 5 => {
                attempt += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(err) => {
                return Err(Error::io(
                    format!("failed to run plugin {}", e.plugin.display()),
                    err,
                ));
            }
        }
    }
}

/// The environment of a child plugin: `base` with the given `CNI_*`
/// variables replaced (later wins, as in Go).
pub fn child_env(
    base: &[(OsString, OsString)],
    overrides: &[(&str, &OsStr)],
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = base
        .iter()
        .filter(|(k, _)| !overrides.iter().any(|(o, _)| OsStr::new(o) == k))
        .cloned()
        .collect();
    env.extend(
        overrides
            .iter()
            .map(|(k, v)| (OsString::from(k), v.to_os_string())),
    );
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    fn run(p: &Path, timeout: Option<Duration>) -> Result<Vec<u8>> {
        let env = vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
        exec(&Exec {
            plugin: p,
            env: &env,
            stdin: b"{\"x\":1}",
            timeout,
            forward_stderr: false,
            delegated: false,
        })
    }

    #[test]
    fn finds_plugins() {
        let d = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        script(d2.path(), "foo", "true");
        std::fs::create_dir(d.path().join("foo")).unwrap(); // a directory is not a plugin
        let dirs = vec![d.path().to_path_buf(), d2.path().to_path_buf()];
        assert_eq!(find_in_path("foo", &dirs).unwrap(), d2.path().join("foo"));
        for (name, msg) in [
            ("", "no plugin name provided"),
            ("../foo", "invalid plugin name: ../foo"),
            ("bar", "failed to find plugin \"bar\""),
        ] {
            assert!(
                find_in_path(name, &dirs)
                    .unwrap_err()
                    .msg()
                    .starts_with(msg),
                "{name}"
            );
        }
        assert_eq!(
            find_in_path("foo", &[]).unwrap_err().msg(),
            "no paths provided"
        );
        assert_eq!(
            split_path("/a::/b:"),
            vec![PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn decodes_failures_like_go() {
        let d = tempfile::tempdir().unwrap();
        let cases = [
            ("cat", Ok("{\"x\":1}")),
            (
                "echo '{\"code\":7,\"msg\":\"bad\",\"details\":\"d\"}'; exit 1",
                Err((7, "bad")),
            ),
            (
                "echo garbage; exit 1",
                Err((
                    0,
                    "netplugin failed but error parsing its diagnostic message",
                )),
            ),
            (
                "echo oops >&2; exit 3",
                Err((0, "netplugin failed: \"oops\": exit status 3")),
            ),
            (
                "exit 2",
                Err((0, "netplugin failed with no error message: exit status 2")),
            ),
            (
                "kill -9 $$",
                Err((
                    0,
                    "netplugin failed with no error message: killed by signal 9",
                )),
            ),
        ];
        for (i, (body, want)) in cases.into_iter().enumerate() {
            let p = script(d.path(), &format!("p{i}"), body);
            match (run(&p, None), want) {
                (Ok(out), Ok(w)) => assert_eq!(String::from_utf8(out).unwrap(), w),
                (Err(e), Err((c, m))) => {
                    assert_eq!(e.code(), c, "{body}: {e}");
                    assert!(e.msg().starts_with(m), "{body}: {e}");
                }
                (got, _) => panic!("{body}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn delegated_crashes_are_internal_errors() {
        let d = tempfile::tempdir().unwrap();
        let env = vec![(OsString::from("PATH"), OsString::from("/usr/bin:/bin"))];
        for (body, died) in [
            ("kill -9 $$", true),
            ("echo oops >&2; exit 3", true),
            ("echo garbage; exit 1", true),
            ("echo '{\"code\":0,\"msg\":\"said so\"}'; exit 1", false),
        ] {
            let p = script(d.path(), "p", body);
            let e = exec(&Exec {
                plugin: &p,
                env: &env,
                stdin: b"{}",
                timeout: None,
                forward_stderr: false,
                delegated: true,
            })
            .unwrap_err();
            assert_eq!(died_without_error(&e), died, "{body}: {e}");
            assert_eq!(e.code(), if died { 999 } else { 0 }, "{body}");
        }
    }

    // The child of a delegating plugin dies with the thread that started
    // it, as it would with a plugin killed by its runtime.
    #[test]
    fn delegate_dies_with_its_caller() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        die_with_parent(&mut cmd);
        let mut child = std::thread::spawn(move || cmd.spawn().unwrap())
            .join()
            .unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn timeout_kills() {
        let d = tempfile::tempdir().unwrap();
        let p = script(d.path(), "slow", "exec sleep 10");
        let t = std::time::Instant::now();
        let e = run(&p, Some(Duration::from_millis(200))).unwrap_err();
        assert_eq!(e.code(), 11, "{e}");
        assert!(t.elapsed() < Duration::from_secs(5));
        // A child of the plugin holding its stdout dies with it: were it
        // left running, we would wait for it and find its mark.
        let mark = d.path().join("mark");
        let p = script(
            d.path(),
            "forks",
            &format!("(sleep 10; echo late > {})", mark.display()),
        );
        let e = run(&p, Some(Duration::from_millis(200))).unwrap_err();
        assert_eq!(e.code(), 11, "{e}");
        assert!(!mark.exists(), "the plugin's child outlived the deadline");
    }

    #[test]
    fn env_override() {
        let base = vec![
            (OsString::from("CNI_COMMAND"), OsString::from("ADD")),
            (OsString::from("PATH"), OsString::from("/bin")),
        ];
        let env = child_env(&base, &[("CNI_COMMAND", OsStr::new("DEL"))]);
        assert_eq!(
            env,
            vec![
                (OsString::from("PATH"), OsString::from("/bin")),
                (OsString::from("CNI_COMMAND"), OsString::from("DEL")),
            ]
        );
    }
}
