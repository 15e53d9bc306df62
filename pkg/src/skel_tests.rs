//! In-process tests of the skeleton: fake environment, stdin and stdout.
//! Test names cite the conformance checklist of Documentation/conformance.md.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Read;

use serde_json::{Value, json};

use super::*;
use crate::types::Version;

/// How the fake plugin's commands behave. Its commands are plain
/// functions, so the behaviour and the calls live in thread-locals, which
/// [`run_with`] resets: each test drives it from its own thread.
#[derive(Default, Clone, Copy)]
struct Fake {
    fail_with: Option<u32>,
    panic: bool,
}

thread_local! {
    static BEHAVIOUR: std::cell::Cell<Fake> = std::cell::Cell::new(Fake::default());
    static CALLS: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

/// The commands the fake plugin ran in the last [`run_with`].
fn calls() -> Vec<&'static str> {
    CALLS.with(|c| c.borrow().clone())
}

fn record(name: &'static str) -> Result<()> {
    CALLS.with(|c| c.borrow_mut().push(name));
    let fake = BEHAVIOUR.with(|b| b.get());
    if fake.panic {
        panic!("kaboom");
    }
    match fake.fail_with {
        Some(999) => Err(Error::internal("untyped failure")),
        Some(c) => Err(Error::new(c, "plugin failed", "because")),
        None => Ok(()),
    }
}

fn fake_add(_args: &CmdArgs) -> Result<CniResult> {
    record("add")?;
    CniResult::from_value(
        &json!({"cniVersion": "1.1.0",
                "interfaces": [{"name": "eth0", "mac": "0e:00:00:00:00:07", "mtu": 1500, "sandbox": "/x"}],
                "ips": [{"interface": 0, "address": "10.1.2.3/24", "gateway": "10.1.2.1"}],
                "routes": [{"dst": "0.0.0.0/0"}]}),
        "",
    )
}

fn fake_del(_: &CmdArgs) -> Result<()> {
    record("del")
}

fn fake_check(_: &CmdArgs) -> Result<()> {
    record("check")
}

const FAKE: Plugin = Plugin::new("fake", fake_add, fake_del, fake_check);

/// A reader that fails if read, standing in for a stdin never closed.
struct Untouchable;
impl Read for Untouchable {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        panic!("stdin must not be read")
    }
}

struct BrokenReader;
impl Read for BrokenReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk on fire"))
    }
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or(Value::Null)
    }
    fn err_code(&self) -> u64 {
        self.json()["code"].as_u64().unwrap_or(u64::MAX)
    }
    fn err_msg(&self) -> String {
        self.json()["msg"].as_str().unwrap_or_default().to_string()
    }
}

fn base_env(cmd: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CNI_COMMAND", cmd.to_string()),
        ("CNI_CONTAINERID", "c1".into()),
        ("CNI_NETNS", String::new()),
        ("CNI_IFNAME", "eth0".into()),
        ("CNI_PATH", "/opt/cni/bin".into()),
        ("CNI_NETNS_OVERRIDE", "1".into()),
    ]
}

fn run_with(fake: Fake, plugin: &Plugin, env: &[(&str, String)], stdin: &mut dyn Read) -> Outcome {
    BEHAVIOUR.with(|b| b.set(fake));
    CALLS.with(|c| c.borrow_mut().clear());
    let env: Vec<(OsString, OsString)> = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = dispatch(
        plugin,
        Io {
            env,
            stdin,
            stdout: &mut out,
            stderr: &mut err,
        },
    );
    Outcome {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn run(env: &[(&str, String)], stdin: &str) -> (Outcome, Vec<&'static str>) {
    let o = run_with(Fake::default(), &FAKE, env, &mut stdin.as_bytes());
    (o, calls())
}

fn conf(version: &str) -> String {
    json!({"cniVersion": version, "name": "net1", "type": "fake"}).to_string()
}

fn without(env: &[(&'static str, String)], keys: &[&str]) -> Vec<(&'static str, String)> {
    env.iter()
        .filter(|(k, _)| !keys.contains(k))
        .cloned()
        .collect()
}

#[test]
fn conformance_01_02_version_without_stdin() {
    let o = run_with(
        Fake::default(),
        &FAKE,
        &[("CNI_COMMAND", "VERSION".into())],
        &mut Untouchable,
    );
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n"
    );
}

#[test]
fn conformance_03_no_command_prints_about() {
    let (o, calls) = run(&[], "");
    assert!(o.stderr.contains("CNI fake plugin"), "{}", o.stderr);
    assert!(o.stderr.contains(
        "CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
    ));
    assert_ne!(o.code, 0);
    assert_eq!(o.err_code(), 4);
    assert_eq!(o.err_msg(), "required env variables [CNI_COMMAND] missing");
    assert!(calls.is_empty());
}

#[test]
fn conformance_04_unknown_command() {
    let (o, _) = run(&base_env("FOO"), "");
    assert_ne!(o.code, 0);
    assert_eq!(o.err_code(), 4);
    assert_eq!(o.err_msg(), "unknown CNI_COMMAND: FOO");
}

#[test]
fn conformance_05_missing_vars_listed_together() {
    let env = without(&base_env("ADD"), &["CNI_NETNS", "CNI_IFNAME", "CNI_PATH"]);
    let (o, calls) = run(&env, &conf("1.0.0"));
    assert_eq!(o.err_code(), 4);
    assert_eq!(
        o.err_msg(),
        "required env variables [CNI_NETNS,CNI_IFNAME,CNI_PATH] missing"
    );
    assert!(calls.is_empty());
}

#[test]
fn conformance_06_del_without_netns() {
    let (o, calls) = run(&base_env("DEL"), &conf("1.0.0"));
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(o.stdout, "");
    assert_eq!(calls, vec!["del"]);
}

#[test]
fn conformance_07_gc_status_need_only_command_and_path() {
    for cmd in ["GC", "STATUS"] {
        let env = vec![
            ("CNI_COMMAND", cmd.to_string()),
            ("CNI_PATH", "/opt/cni/bin".into()),
        ];
        let (o, _) = run(&env, &conf("1.1.0"));
        assert_eq!(o.code, 0, "{cmd}: {}", o.stdout);
        let (o, _) = run(&[("CNI_COMMAND", cmd.to_string())], &conf("1.1.0"));
        assert_eq!(o.err_msg(), "required env variables [CNI_PATH] missing");
    }
}

#[test]
fn conformance_08_container_id_characters() {
    for cmd in ["ADD", "CHECK", "DEL"] {
        let mut env = base_env(cmd);
        env[1].1 = "a%b".into();
        let (o, calls) = run(&env, &conf("1.0.0"));
        assert_eq!(o.err_code(), 4, "{cmd}");
        assert_eq!(o.err_msg(), "invalid characters in containerID");
        assert_eq!(o.json()["details"], "a%b");
        assert!(calls.is_empty());
    }
}

#[test]
fn conformance_09_ifname_rules_through_skel() {
    for (ifname, ok) in [
        ("123456789012345", true),
        ("1234567890123456", false),
        ("..", false),
        ("a:b", false),
        ("a b", false),
    ] {
        let mut env = base_env("DEL");
        env[3].1 = ifname.into();
        let (o, _) = run(&env, &conf("1.0.0"));
        assert_eq!(o.code == 0, ok, "{ifname}: {}", o.stdout);
        if !ok {
            assert_eq!(o.err_code(), 4);
        }
    }
}

#[test]
fn conformance_10_bad_stdin() {
    let cases = [
        ("not json", 6, "error unmarshall network config"),
        ("[1,2]", 6, "error unmarshall network config"),
        (r#"{"cniVersion":"1.0.0"}"#, 7, "missing network name"),
        (
            r#"{"cniVersion":"1.0.0","name":""}"#,
            7,
            "missing network name",
        ),
        (
            r#"{"cniVersion":"1.0.0","name":"te%st"}"#,
            7,
            "invalid characters found in network name",
        ),
        (
            r#"{"cniVersion":"1.0.0","name":5}"#,
            6,
            "error unmarshall network config",
        ),
    ];
    for (stdin, code, msg) in cases {
        let (o, calls) = run(&base_env("DEL"), stdin);
        assert_eq!(o.err_code(), code, "{stdin}");
        assert!(o.err_msg().starts_with(msg), "{stdin}: {}", o.err_msg());
        assert!(calls.is_empty());
    }
    // 1 MiB of garbage
    let garbage: String = std::iter::repeat_n("\u{1}{[\"x", 262_144).collect();
    let mut env = base_env("ADD");
    env[2].1 = "/proc/self/ns/net".into();
    let (o, _) = run(&env, &garbage);
    assert_eq!(o.err_code(), 6);
    // a failing stdin is an I/O error
    let o = run_with(Fake::default(), &FAKE, &base_env("DEL"), &mut BrokenReader);
    assert_eq!(o.err_code(), 5);
    assert!(o.err_msg().starts_with("error reading from stdin:"));
}

/// An endless stdin: skel must stop reading at the cap instead of
/// buffering until memory runs out.
struct Endless(u64);
impl Read for Endless {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        buf.fill(b' ');
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
}

#[test]
fn env_values_must_be_utf8() {
    use std::os::unix::ffi::OsStringExt;
    let mut env: Vec<(OsString, OsString)> = base_env("ADD")
        .into_iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    env[3].1 = OsString::from_vec(b"eth\xff".to_vec());
    BEHAVIOUR.with(|b| b.set(Fake::default()));
    CALLS.with(|c| c.borrow_mut().clear());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch(
        &FAKE,
        Io {
            env,
            stdin: &mut conf("1.0.0").as_bytes(),
            stdout: &mut out,
            stderr: &mut err,
        },
    );
    assert_eq!(code, 1);
    let j: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(j["code"], 4);
    assert_eq!(j["msg"], "CNI_IFNAME is not valid UTF-8");
    assert!(calls().is_empty());
}

#[test]
fn stdin_is_capped() {
    let mut endless = Endless(0);
    let o = run_with(Fake::default(), &FAKE, &base_env("DEL"), &mut endless);
    assert_eq!(o.err_code(), 6);
    assert!(
        o.err_msg().contains("stdin is larger than 16 MiB"),
        "{}",
        o.err_msg()
    );
    assert!(
        endless.0 <= MAX_STDIN as u64 + (1 << 20),
        "read {} bytes",
        endless.0
    );
    assert!(calls().is_empty());
    // Exactly at the cap is still read (and here fails only as JSON).
    let mut padded = conf("1.0.0").into_bytes();
    padded.resize(MAX_STDIN, b' ');
    let (o, calls) = run(&base_env("DEL"), std::str::from_utf8(&padded).unwrap());
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(calls, ["del"]);
}

#[test]
fn conformance_11_incompatible_versions() {
    for cmd in ["ADD", "DEL"] {
        let mut env = base_env(cmd);
        env[2].1 = "/proc/self/ns/net".into();
        let (o, calls) = run(&env, &conf("0.9.0"));
        assert_eq!(o.err_code(), 1);
        assert_eq!(o.err_msg(), "incompatible CNI versions");
        assert_eq!(
            o.json()["details"],
            r#"config is "0.9.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]"#
        );
        assert!(calls.is_empty());
    }
}

#[test]
fn conformance_12_missing_version_is_010() {
    let (o, calls) = run(&base_env("DEL"), r#"{"name":"net1"}"#);
    assert_eq!(o.code, 0);
    assert_eq!(calls, vec!["del"]);
    let plugin = Plugin {
        versions: &[Version::V1_0_0],
        ..FAKE
    };
    let o = run_with(
        Fake::default(),
        &plugin,
        &base_env("DEL"),
        &mut r#"{"name":"net1"}"#.as_bytes(),
    );
    assert_eq!(o.err_code(), 1);
    assert!(
        o.json()["details"]
            .as_str()
            .unwrap()
            .starts_with("config is \"0.1.0\"")
    );
}

#[test]
fn conformance_13_version_gates() {
    let cases = [
        (
            "CHECK",
            "0.3.1",
            Some("config version does not allow CHECK"),
        ),
        ("CHECK", "0.4.0", None),
        ("GC", "1.0.0", Some("config version does not allow GC")),
        (
            "STATUS",
            "1.0.0",
            Some("config version does not allow STATUS"),
        ),
        ("GC", "1.1.0", None),
        ("STATUS", "1.1.0", None),
    ];
    for (cmd, v, want) in cases {
        let mut env = base_env(cmd);
        env[2].1 = "/proc/self/ns/net".into();
        let (o, _) = run(&env, &conf(v));
        match want {
            Some(msg) => {
                assert_eq!(o.err_code(), 1, "{cmd} {v}");
                assert_eq!(o.err_msg(), msg);
            }
            None => assert_eq!(o.code, 0, "{cmd} {v}: {}", o.stdout),
        }
    }
    // a plugin that stops at 1.0.0 cannot be asked for GC at 1.1.0
    let plugin = Plugin {
        versions: &[Version::V0_4_0, Version::V1_0_0],
        ..FAKE
    };
    let o = run_with(
        Fake::default(),
        &plugin,
        &base_env("GC"),
        &mut conf("1.1.0").as_bytes(),
    );
    assert_eq!(o.err_msg(), "plugin version does not allow GC");
}

#[test]
fn conformance_14_unparseable_version_on_gated_commands() {
    for cmd in ["CHECK", "GC", "STATUS"] {
        let mut env = base_env(cmd);
        env[2].1 = "/proc/self/ns/net".into();
        let (o, _) = run(&env, &conf("abc"));
        assert_eq!(o.err_code(), 6, "{cmd}: {}", o.stdout);
    }
    let (o, _) = run(&base_env("DEL"), r#"{"name":"n","cniVersion":1}"#);
    assert_eq!(o.err_code(), 6);
}

#[test]
fn conformance_15_16_errors_are_json_with_nonzero_exit() {
    for fail in [7u32, 999, 11] {
        let fake = Fake {
            fail_with: Some(fail),
            ..Default::default()
        };
        let o = run_with(fake, &FAKE, &base_env("DEL"), &mut conf("0.4.0").as_bytes());
        assert_ne!(o.code, 0);
        let j = o.json();
        assert_eq!(j["code"], fail);
        assert_eq!(j["cniVersion"], "0.4.0");
        assert!(j["msg"].is_string());
        if fail == 999 {
            assert_eq!(j["msg"], "untyped failure");
            assert!(j.get("details").is_none());
        } else {
            assert_eq!(j["details"], "because");
        }
    }
    // a panic is still a spec error
    let fake = Fake {
        panic: true,
        ..Default::default()
    };
    let o = run_with(fake, &FAKE, &base_env("DEL"), &mut conf("1.0.0").as_bytes());
    assert_ne!(o.code, 0);
    assert_eq!(o.err_code(), 999);
    assert!(o.err_msg().contains("kaboom"));
}

// Documentation/conformance.md items 17, 18: ADD prints exactly the request version's shape
#[test]
fn conformance_17_18_add_output_shape() {
    for v in Version::ALL {
        let mut env = base_env("ADD");
        env[2].1 = "/proc/self/ns/net".into();
        let (o, calls) = run(&env, &conf(v.as_str()));
        assert_eq!(o.code, 0, "{v}: {}", o.stdout);
        assert_eq!(calls, vec!["add"]);
        let j = o.json();
        assert_eq!(j["cniVersion"], v.as_str());
        match v {
            Version::V0_1_0 | Version::V0_2_0 => {
                assert_eq!(j["ip4"]["ip"], "10.1.2.3/24");
                assert!(j.get("ips").is_none());
            }
            Version::V0_3_0 | Version::V0_3_1 | Version::V0_4_0 => {
                assert_eq!(j["ips"][0]["version"], "4");
                assert!(j["interfaces"][0].get("mtu").is_none());
            }
            _ => {
                assert!(j["ips"][0].get("version").is_none());
                assert_eq!(j["interfaces"][0]["mtu"], 1500);
            }
        }
    }
}

#[test]
fn conformance_36_own_netns_refused_before_handler() {
    for cmd in ["ADD", "DEL"] {
        let mut env = without(&base_env(cmd), &["CNI_NETNS_OVERRIDE"]);
        env[2].1 = "/proc/self/ns/net".into();
        let (o, calls) = run(&env, &conf("1.0.0"));
        assert_eq!(o.err_code(), 8, "{cmd}");
        assert_eq!(
            o.err_msg(),
            "plugin's netns and netns from CNI_NETNS should not be the same"
        );
        assert!(calls.is_empty(), "{cmd} handler must not run");
        for ov in ["1", "true", "TRUE"] {
            let mut env2 = env.clone();
            env2.push(("CNI_NETNS_OVERRIDE", ov.into()));
            let (o, calls) = run(&env2, &conf("1.0.0"));
            assert_eq!(o.code, 0, "{cmd} override {ov}");
            assert_eq!(calls.len(), 1);
        }
    }
    // an unopenable netns is not an error for the check (DEL of a gone netns)
    let mut env = without(&base_env("DEL"), &["CNI_NETNS_OVERRIDE"]);
    env[2].1 = "/nonexistent/ns".into();
    let (o, _) = run(&env, &conf("1.0.0"));
    assert_eq!(o.code, 0);
}

// A plugin run in-process by another one gets CNI_NETNS as that one
// opened and checked it: not opened or checked again (its own-namespace
// refusal happened in the delegating plugin), unless the path differs.
#[test]
fn delegated_netns_is_taken_as_checked() {
    let mut env = without(&base_env("ADD"), &["CNI_NETNS_OVERRIDE"]);
    env[2].1 = "/proc/self/ns/net".into();
    let delegated = |opened: &str| {
        CALLS.with(|c| c.borrow_mut().clear());
        let env = env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = dispatch_delegated(
            &FAKE,
            Io {
                env,
                stdin: &mut conf("1.0.0").as_bytes(),
                stdout: &mut out,
                stderr: &mut err,
            },
            Some(Netns::open(opened).unwrap()),
        );
        (code, String::from_utf8(out).unwrap(), calls())
    };
    let (code, out, calls) = delegated("/proc/self/ns/net");
    assert_eq!(code, 0, "{out}");
    assert_eq!(calls, vec!["add"]);
    let (code, out, calls) = delegated("/proc/thread-self/ns/net");
    assert_eq!(code, 1);
    assert!(out.contains("should not be the same"), "{out}");
    assert!(calls.is_empty());
}

#[test]
fn check_needs_netns_and_passes() {
    let mut env = base_env("CHECK");
    env[2].1 = "/proc/self/ns/net".into();
    let (o, calls) = run(&env, &conf("1.0.0"));
    assert_eq!(o.code, 0);
    assert_eq!(o.stdout, "");
    assert_eq!(calls, vec!["check"]);
}

// Documentation/conformance.md item 35: capabilities and unknown keys are tolerated
#[test]
fn conformance_35_unknown_keys_tolerated() {
    let stdin = json!({"cniVersion": "1.0.0", "name": "n", "type": "fake",
        "capabilities": {"portMappings": true}, "whatever": {"deep": [1, 2]},
        "args": {"cni": {"labels": [{"key": "a", "value": "b"}]}, "other": 1}})
    .to_string();
    let (o, calls) = run(&base_env("DEL"), &stdin);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert_eq!(calls, vec!["del"]);
}

#[test]
fn plugin_since_keeps_that_version_and_later() {
    for (oldest, want) in [
        (Version::V0_1_0, Version::ALL.len()),
        (Version::V0_3_0, 5),
        (Version::V0_4_0, 3),
        (Version::V1_1_0, 1),
    ] {
        let plugin = Plugin::new("x", fake_add, fake_del, fake_check).since(oldest);
        assert_eq!(plugin.versions.len(), want, "{oldest:?}");
        assert!(plugin.versions.iter().all(|v| *v >= oldest));
        assert_eq!(
            plugin.about(),
            format!(
                "CNI x plugin v{} (Rust, commit {})",
                env!("CARGO_PKG_VERSION"),
                crate::release::COMMIT
            )
        );
    }
}

#[test]
fn plugin_calls_the_functions_given_and_defaults_gc_status_to_success() {
    fn add(_: &CmdArgs) -> Result<CniResult> {
        Err(Error::new(101, "add", ""))
    }
    fn del(_: &CmdArgs) -> Result<()> {
        Err(Error::new(102, "del", ""))
    }
    fn check(_: &CmdArgs) -> Result<()> {
        Err(Error::new(103, "check", ""))
    }
    fn gc(_: &CmdArgs) -> Result<()> {
        Err(Error::new(104, "gc", ""))
    }
    let plain = Plugin::new("fake", add, del, check);
    let with_gc = Plugin { gc, ..plain };
    for (plugin, cmd, want) in [
        (&plain, "ADD", Some(101)),
        (&plain, "DEL", Some(102)),
        (&plain, "CHECK", Some(103)),
        (&plain, "GC", None),
        (&plain, "STATUS", None),
        (&with_gc, "GC", Some(104)),
        (&with_gc, "STATUS", None),
    ] {
        let mut env = base_env(cmd);
        env[2].1 = "/proc/self/ns/net".into();
        let o = run_with(Fake::default(), plugin, &env, &mut conf("1.1.0").as_bytes());
        match want {
            Some(code) => assert_eq!(o.err_code(), code, "{cmd}: {}", o.stdout),
            None => assert_eq!(o.code, 0, "{cmd}: {}", o.stdout),
        }
    }
}
