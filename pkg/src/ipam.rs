//! IPAM delegation (Documentation/spec-notes.md §6): run `ipam.type` from `CNI_PATH` with the
//! caller's exact stdin and environment, only `CNI_COMMAND` changed. When
//! the program found there is this very build's own IPAM plugin
//! ([`crate::builtin`]), it runs in-process on a thread with the same
//! stdin and environment, and its output and exit status are read exactly
//! as an exec'd plugin's would be.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::thread::JoinHandle;

use serde_json::Value;

use crate::builtin;
use crate::error::{Error, Result};
use crate::invoke::{self, Exec};
use crate::ns::Netns;
use crate::skel::{self, CmdArgs, Plugin};
use crate::types::CniResult;

fn ipam_type(args: &CmdArgs) -> Result<&str> {
    args.conf
        .ipam_type()
        .ok_or_else(|| Error::invalid_config("IPAM config missing 'type' key", ""))
}

/// The IPAM plugin's executable. Plugins call this before their first
/// change to the host, so that a bad `ipam.type` (`../../bin/sh`, a name
/// not in `CNI_PATH`) fails the ADD with nothing to undo.
pub fn plugin_path(args: &CmdArgs) -> Result<PathBuf> {
    invoke::find_in_path(ipam_type(args)?, &args.cni_path())
}

fn exec(args: &CmdArgs, command: &'static str) -> Result<Vec<u8>> {
    start(args, command)?.finish()
}

/// An exec'd IPAM plugin, or one running in-process on a thread.
enum Started<'a> {
    Exec(invoke::Started<'a>),
    InProcess(JoinHandle<Result<Vec<u8>>>),
}

impl Started<'_> {
    fn finish(self) -> Result<Vec<u8>> {
        match self {
            Started::Exec(s) => s.finish(),
            Started::InProcess(t) => t
                .join()
                .unwrap_or_else(|_| Err(Error::internal("in-process ipam plugin panicked"))),
        }
    }
}

/// Run `plugin` as its own process would have run, through the same
/// skeleton, and read the outcome as [`invoke`] reads a child's: stdout on
/// success, else the error object it printed.
fn run_in_process(
    plugin: &'static Plugin,
    env: Vec<(OsString, OsString)>,
    stdin: Vec<u8>,
    netns: Option<Netns>,
) -> Result<Vec<u8>> {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let status = skel::dispatch_delegated(
        plugin,
        skel::Io {
            env,
            stdin: &mut stdin.as_slice(),
            stdout: &mut out,
            stderr: &mut err,
        },
        netns,
    );
    if !err.is_empty() {
        let _ = std::io::stderr().write_all(&err);
    }
    if status == 0 {
        return Ok(out);
    }
    let status = ExitStatus::from_raw((status & 0xff) << 8);
    Err(invoke::plugin_failure(&status, &out, &err, true))
}

/// An IPAM plugin started by [`start_add`] or [`start_del`], not yet
/// waited for.
pub struct Pending<'a> {
    started: Started<'a>,
    ipam_type: String,
    command: &'static str,
}

impl Pending<'_> {
    /// The ADD result, for a plugin started with [`start_add`]. When the
    /// IPAM plugin died without an error, or succeeded with a result we
    /// cannot read, it may hold addresses we will never report: they are
    /// released (IPAM DEL) before the error is returned, so a failed ADD
    /// leaves no reservation. A plugin that reported its failure properly
    /// undid its own work.
    pub fn finish_add(self, args: &CmdArgs) -> Result<CniResult> {
        let ipam_type = self.ipam_type.clone();
        let out = self.started.finish().map_err(|e| {
            let died = invoke::died_without_error(&e);
            (failed(e, &ipam_type, "ADD"), died)
        });
        let out = match out {
            Ok(out) => out,
            Err((e, died)) => {
                if died {
                    release_after_failed_add(args);
                }
                return Err(e);
            }
        };
        let parsed = parse_add(&out, args, &ipam_type);
        if parsed.is_err() {
            release_after_failed_add(args);
        }
        parsed
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        let (ipam_type, command) = (self.ipam_type, self.command);
        self.started
            .finish()
            .map_err(|e| failed(e, &ipam_type, command))
    }
}

fn release_after_failed_add(args: &CmdArgs) {
    if let Err(e) = del(args) {
        eprintln!("warning: releasing IPAM addresses after a failed ADD: {e}");
    }
}

fn failed(e: Error, ipam_type: &str, command: &str) -> Error {
    e.context(format!(
        "ipam plugin {ipam_type} failed ({})",
        command.to_lowercase()
    ))
}

fn start<'a>(args: &'a CmdArgs, command: &'static str) -> Result<Pending<'a>> {
    let ipam_type = ipam_type(args)?;
    let plugin = invoke::find_in_path(ipam_type, &args.cni_path())?;
    let env = invoke::child_env(&args.env, &[("CNI_COMMAND", OsStr::new(command))]);
    let started = if let Some(p) = builtin::in_process(ipam_type, &plugin) {
        let stdin = args.stdin.clone();
        // Our CNI_NETNS, opened and checked, on a descriptor of its own.
        let netns = match &args.netns {
            skel::NetnsArg::Open(ns) => ns.try_clone().ok(),
            _ => None,
        };
        Started::InProcess(std::thread::spawn(move || {
            run_in_process(p, env, stdin, netns)
        }))
    } else {
        // No deadline of our own: the protocol has none, a DHCP lease may
        // take long, and the runtime's deadline kills us and the delegate.
        Started::Exec(
            invoke::start(&Exec {
                plugin: &plugin,
                env: &env,
                stdin: &args.stdin,
                timeout: None,
                forward_stderr: true,
                delegated: true,
            })
            .map_err(|e| failed(e, ipam_type, command))?,
        )
    };
    Ok(Pending {
        started,
        ipam_type: ipam_type.to_string(),
        command,
    })
}

/// IPAM ADD; the result in the canonical shape (see [`Pending::finish_add`]
/// for what happens to addresses of a failed ADD).
pub fn add(args: &CmdArgs) -> Result<CniResult> {
    start_add(args)?.finish_add(args)
}

/// IPAM ADD started in the background: [`Pending::finish_add`] waits for
/// it. Lets a plugin create its interface while the address is allocated;
/// if the plugin then fails, it must still finish the IPAM ADD and, when
/// that succeeded, release the address with [`del`]: a plugin starts it
/// with [`Rollback::start_ipam`](crate::rollback::Rollback::start_ipam),
/// which does both.
pub fn start_add(args: &CmdArgs) -> Result<Pending<'_>> {
    start(args, "ADD")
}

fn parse_add(out: &[u8], args: &CmdArgs, ipam_type: &str) -> Result<CniResult> {
    let what = format!("failed to parse the result of ipam plugin {ipam_type}");
    let value: Value =
        serde_json::from_slice(out).map_err(|e| Error::decode(what.as_str(), e.to_string()))?;
    CniResult::from_value(&value, args.version.as_str()).map_err(|e| e.context(&what))
}

pub fn del(args: &CmdArgs) -> Result<()> {
    exec(args, "DEL").map(drop)
}

/// IPAM DEL started in the background: `finish` waits for it. Lets a DEL
/// remove the interface while the IPAM plugin releases the address.
pub fn start_del(args: &CmdArgs) -> Result<Pending<'_>> {
    start(args, "DEL")
}

/// IPAM plugins whose DEL only touches their own store, never the
/// attachment's interface: their DEL may overlap with the removal of the
/// link. Any other IPAM plugin may need the link for its DEL (dhcp sends
/// its DHCPRELEASE from it), so it must finish first.
const RELEASES_WITHOUT_THE_LINK: [&str; 2] = ["host-local", "static"];

/// IPAM DEL of a plugin about to remove the attachment's link, in the
/// order that IPAM plugin needs: see [`del_before_link`].
pub enum DelBeforeLink<'a> {
    /// Running alongside the link's removal.
    Overlapped(Result<Pending<'a>>),
    /// Already finished, before the link was touched.
    Done(Result<()>),
}

impl DelBeforeLink<'_> {
    /// Wait for the IPAM DEL (when it overlapped) and return its outcome.
    pub fn finish(self) -> Result<()> {
        match self {
            DelBeforeLink::Overlapped(started) => started.and_then(|p| p.finish()).map(drop),
            DelBeforeLink::Done(outcome) => outcome,
        }
    }
}

/// Start IPAM DEL before the caller removes the attachment's link: in the
/// background for `host-local` and `static`, whose DEL never needs the
/// link (the kernel's wait for RCU grace periods while it deletes the link
/// then overlaps with the release); to completion for every other IPAM
/// plugin, which may need the link (dhcp releases its lease from it).
pub fn del_before_link(args: &CmdArgs) -> DelBeforeLink<'_> {
    match ipam_type(args) {
        Ok(t) if RELEASES_WITHOUT_THE_LINK.contains(&t) => {
            DelBeforeLink::Overlapped(start_del(args))
        }
        _ => DelBeforeLink::Done(del(args)),
    }
}

pub fn check(args: &CmdArgs) -> Result<()> {
    exec(args, "CHECK").map(drop)
}

pub fn gc(args: &CmdArgs) -> Result<()> {
    exec(args, "GC").map(drop)
}

pub fn status(args: &CmdArgs) -> Result<()> {
    exec(args, "STATUS").map(drop)
}

/// IPAM GC when the config names an IPAM plugin; without one (a plugin in
/// L2 mode) there is no IPAM state to collect.
pub fn gc_if_configured(args: &CmdArgs) -> Result<()> {
    match args.conf.ipam_type() {
        Some(_) => gc(args),
        None => Ok(()),
    }
}

/// IPAM STATUS when the config names an IPAM plugin; without one the
/// plugin needs nothing else to be ready.
pub fn status_if_configured(args: &CmdArgs) -> Result<()> {
    match args.conf.ipam_type() {
        Some(_) => status(args),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use super::*;
    use crate::rollback::Rollback;
    use crate::skel::{Command, NetnsArg};
    use crate::types::{NetConf, Version};

    /// A fake IPAM plugin that logs what it was given and answers ADD.
    fn fake_ipam(dir: &Path, fail_add: bool) {
        let log = dir.join("log");
        let script = format!(
            "#!/bin/sh\n{{ echo \"$CNI_COMMAND|$CNI_CONTAINERID|$CNI_IFNAME|$CNI_NETNS|$CNI_ARGS|$EXTRA\"; cat; echo; }} >> {log}\n\
             if [ \"$CNI_COMMAND\" = ADD ]; then\n\
               {fail}\n\
               echo '{{\"cniVersion\":\"0.4.0\",\"ips\":[{{\"version\":\"4\",\"address\":\"10.1.0.5/24\",\"gateway\":\"10.1.0.1\"}}]}}'\n\
             fi\n",
            log = log.display(),
            fail = if fail_add {
                "echo '{\"code\":11,\"msg\":\"busy\"}'; exit 1"
            } else {
                ":"
            },
        );
        let p = dir.join("fake-ipam");
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn args(dir: &Path) -> CmdArgs {
        let stdin = br#"{"cniVersion":"0.4.0","name":"n","type":"bridge","ipam":{"type":"fake-ipam","x":1}}"#.to_vec();
        let config: Value = serde_json::from_slice(&stdin).unwrap();
        let env: Vec<(OsString, OsString)> = [
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/run/netns/x"),
            ("CNI_ARGS", "IgnoreUnknown=1"),
            ("CNI_PATH", dir.to_str().unwrap()),
            ("EXTRA", "kept"),
            ("PATH", "/usr/bin:/bin"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
        CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: "/run/netns/x".into(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: "IgnoreUnknown=1".into(),
            path: dir.to_str().unwrap().into(),
            conf: NetConf::from_value(&config).unwrap(),
            config,
            stdin,
            version: Version::V0_4_0,
            env,
        }
    }

    fn log(dir: &Path) -> Vec<String> {
        std::fs::read_to_string(dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    // Documentation/conformance.md item 26: same stdin and environment, only CNI_COMMAND changed
    #[test]
    fn conformance_26_delegate_gets_same_stdin_and_env() {
        let d = tempfile::tempdir().unwrap();
        fake_ipam(d.path(), false);
        let a = args(d.path());
        let r = add(&a).unwrap();
        assert_eq!(r.ips[0].address.to_string(), "10.1.0.5/24");
        let lines = log(d.path());
        assert_eq!(lines[0], "ADD|c1|eth0|/run/netns/x|IgnoreUnknown=1|kept");
        assert_eq!(lines[1].as_bytes(), a.stdin.as_slice());
    }

    // Documentation/conformance.md item 27: a failure after IPAM ADD releases the address
    #[test]
    fn conformance_27_rollback_releases_unless_committed() {
        let d = tempfile::tempdir().unwrap();
        fake_ipam(d.path(), false);
        let a = args(d.path());
        {
            let mut undo = Rollback::new();
            undo.ipam_add(&a).unwrap();
            // the caller fails here: the rollback drops uncommitted
        }
        assert!(
            log(d.path())[2].starts_with("DEL|c1|eth0|"),
            "{:?}",
            log(d.path())
        );
        let d2 = tempfile::tempdir().unwrap();
        fake_ipam(d2.path(), false);
        let a2 = args(d2.path());
        let mut undo = Rollback::new();
        undo.ipam_add(&a2).unwrap();
        undo.commit();
        drop(undo);
        assert!(log(d2.path()).iter().all(|l| !l.starts_with("DEL")));
    }

    // An IPAM ADD still running when the ADD fails is finished first; only
    // one that succeeded is released, after the later steps are undone.
    #[test]
    fn rollback_finishes_a_running_ipam_add_and_releases_only_success() {
        for (body, released) in [
            ("echo '{\"cniVersion\":\"0.4.0\",\"ips\":[]}'", true),
            ("echo '{\"code\":11,\"msg\":\"busy\"}'; exit 1", false),
        ] {
            let d = tempfile::tempdir().unwrap();
            scripted_ipam(d.path(), body);
            let a = args(d.path());
            let seen = std::cell::RefCell::new(Vec::new());
            {
                let mut undo = Rollback::new();
                undo.start_ipam(&a).unwrap();
                undo.push("a veth", || {
                    seen.borrow_mut().extend(log(d.path()));
                    Ok(())
                });
            }
            let want: &[&str] = if released { &["ADD", "DEL"] } else { &["ADD"] };
            assert_eq!(log(d.path()), want, "{body}");
            // the later step was undone before IPAM was released
            assert!(!seen.into_inner().iter().any(|l| l == "DEL"), "{body}");
        }
        // finished and failed: nothing to release on rollback
        let d = tempfile::tempdir().unwrap();
        scripted_ipam(d.path(), "echo '{\"code\":11,\"msg\":\"busy\"}'; exit 1");
        let a = args(d.path());
        let mut undo = Rollback::new();
        undo.start_ipam(&a).unwrap();
        assert_eq!(undo.finish_ipam().unwrap_err().code(), 11);
        drop(undo);
        assert_eq!(log(d.path()), ["ADD"]);
    }

    /// A fake IPAM whose ADD runs `add_body`; every call is logged.
    fn scripted_ipam(dir: &Path, add_body: &str) {
        let log = dir.join("log");
        let script = format!(
            "#!/bin/sh\necho \"$CNI_COMMAND\" >> {log}\nif [ \"$CNI_COMMAND\" = ADD ]; then {add_body}; fi\n",
            log = log.display(),
        );
        let p = dir.join("fake-ipam");
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // A delegate that dies, or answers what we cannot read, may hold
    // addresses: they are released. One that reports its failure is not
    // second-guessed.
    #[test]
    fn failed_add_of_unknown_state_is_released() {
        let cases = [
            (
                "kill -9 $$",
                Some("netplugin failed with no error message: killed by signal 9"),
            ),
            (
                "echo '{\"ips\": [garbage'; exit 0",
                Some("failed to parse the result of ipam plugin fake-ipam"),
            ),
            (
                "echo 'not json'; exit 1",
                Some("netplugin failed but error parsing its diagnostic message"),
            ),
            ("echo '{\"code\":11,\"msg\":\"busy\"}'; exit 1", None),
        ];
        for (body, released) in cases {
            let d = tempfile::tempdir().unwrap();
            scripted_ipam(d.path(), body);
            let e = add(&args(d.path())).unwrap_err();
            let calls = log(d.path());
            match released {
                Some(msg) => {
                    assert!(e.msg().contains(msg), "{body}: {e}");
                    assert!(e.code() == 999 || e.code() == 6, "{body}: {}", e.code());
                    assert_eq!(calls, ["ADD", "DEL"], "{body}");
                }
                None => {
                    assert_eq!(e.code(), 11, "{body}");
                    assert_eq!(calls, ["ADD"], "{body}");
                }
            }
        }
    }

    // Documentation/conformance.md item 28: DEL/CHECK/GC/STATUS are forwarded, errors propagate with their code
    #[test]
    fn conformance_28_forwarding_and_errors() {
        let d = tempfile::tempdir().unwrap();
        fake_ipam(d.path(), true);
        let a = args(d.path());
        del(&a).unwrap();
        check(&a).unwrap();
        gc(&a).unwrap();
        status(&a).unwrap();
        let cmds: Vec<String> = log(d.path())
            .iter()
            .filter(|l| l.contains('|'))
            .map(|l| l.split('|').next().unwrap().to_string())
            .collect();
        assert_eq!(cmds, ["DEL", "CHECK", "GC", "STATUS"]);
        let e = add(&a).unwrap_err();
        assert_eq!(e.code(), 11);
        assert_eq!(e.msg(), "ipam plugin fake-ipam failed (add): busy");
        let mut missing = args(d.path());
        missing.path = "/nonexistent".into();
        assert!(
            add(&missing)
                .unwrap_err()
                .msg()
                .contains("failed to find plugin \"fake-ipam\"")
        );
    }
}
