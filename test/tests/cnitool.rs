//! cnitool (and through it libcni) run as a user would: against our plugins
//! and Debian's Go plugins with the same conflists, against fake plugins
//! for the error paths, against result caches written by Go's libcni, and
//! through scripts/priv-net-run.sh (scripts/docker-run.sh has its own end
//! to end test with a real Docker engine: test/e2e/docker.sh).
//!
//! Configs, plugin directories and the result cache live in temporary
//! directories; nothing here reads or writes /etc/cni or /var/lib/cni.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use integration::*;
use pkg::netlink::LinkId;
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What one cnitool run returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Assert that cnitool exited 0.
    fn expect_success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "cnitool failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {:?}", self.stdout))
    }

    /// Assert a failure (exit 1, nothing on stdout) whose stderr contains
    /// every one of `parts`.
    fn fails_with(&self, parts: &[&str]) {
        assert_eq!(self.code, 1, "want exit 1: {self:?}");
        assert!(self.stdout.is_empty(), "stdout on failure: {self:?}");
        for p in parts {
            assert!(
                self.stderr.contains(p),
                "stderr lacks {p:?}: {}",
                self.stderr
            );
        }
    }
}

/// A cnitool setup: config dir, plugin path, cache dir, all temporary.
struct Tool {
    tmp: tempfile::TempDir,
    confdir: PathBuf,
    cache: PathBuf,
    cni_path: String,
    host: Option<PathBuf>,
}

impl Tool {
    fn new(cni_path: &str) -> Tool {
        let tmp = tempdir();
        let confdir = tmp.path().join("net.d");
        let cache = tmp.path().join("cache");
        std::fs::create_dir_all(&confdir).unwrap();
        Tool {
            confdir,
            cache,
            cni_path: cni_path.to_string(),
            host: None,
            tmp,
        }
    }

    /// A tool whose plugins are fake scripts in its own bin dir.
    fn fake() -> Tool {
        let mut t = Tool::new("");
        let bin = t.tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        t.cni_path = bin.display().to_string();
        t
    }

    fn bin(&self) -> PathBuf {
        PathBuf::from(&self.cni_path)
    }

    fn log(&self) -> PathBuf {
        self.tmp.path().join("calls.log")
    }

    fn conf(&self, file: &str, v: &Value) {
        std::fs::write(
            self.confdir.join(file),
            serde_json::to_vec_pretty(v).unwrap(),
        )
        .unwrap();
    }

    /// A fake plugin: logs each call (one tab-separated line: name, the
    /// CNI_* variables, stdin) and then runs `body`. The default body of
    /// `plugin()` prints a result on ADD.
    fn script(&self, name: &str, body: &str) {
        let p = self.bin().join(name);
        let text = format!(
            "#!/bin/sh\nstdin=$(cat)\nprintf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' {name} \"$CNI_COMMAND\" \"$CNI_CONTAINERID\" \"$CNI_NETNS\" \"$CNI_IFNAME\" \"$CNI_ARGS\" \"$CNI_PATH\" \"$stdin\" >> {log}\n{body}\n",
            log = self.log().display()
        );
        write_executable(&p, &text);
    }

    fn plugin(&self, name: &str) {
        self.script(
            name,
            r#"case "$CNI_COMMAND" in
VERSION) echo '{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}' ;;
ADD) printf '{"interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"10.1.2.3/24","gateway":"10.1.2.1","interface":0}]}\n' "$CNI_IFNAME" "$CNI_NETNS" ;;
esac"#,
        );
    }

    /// The logged calls, each as (plugin, command, env map, stdin JSON).
    fn calls(&self) -> Vec<Logged> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let _ = std::fs::remove_file(self.log());
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.splitn(8, '\t').collect();
                assert_eq!(f.len(), 8, "log line {l:?}");
                Logged {
                    plugin: f[0].into(),
                    command: f[1].into(),
                    container_id: f[2].into(),
                    netns: f[3].into(),
                    ifname: f[4].into(),
                    args: f[5].into(),
                    path: f[6].into(),
                    stdin: serde_json::from_str(f[7]).unwrap_or(Value::Null),
                }
            })
            .collect()
    }

    fn in_host(mut self, host: &TestNs) -> Tool {
        self.host = Some(host.path.clone());
        self
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(&[], args)
    }

    fn run_env(&self, extra: &[(&str, &str)], args: &[&str]) -> Run {
        let mut cmd = Command::new(plugin_path("cnitool"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("NETCONFPATH", &self.confdir)
            .env("CNI_PATH", &self.cni_path)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        if let Some(host) = &self.host {
            enter_on_exec(&mut cmd, &Netns::open(host).unwrap());
        }
        let out = cmd.output().expect("run cnitool");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn cache_files(&self) -> Vec<String> {
        files_under(&self.cache.join("results"))
    }
}

#[derive(Debug)]
struct Logged {
    plugin: String,
    command: String,
    container_id: String,
    netns: String,
    ifname: String,
    args: String,
    path: String,
    stdin: Value,
}

/// `printf %s <path> | sha512sum | cut -c1-20`, the way upstream names
/// cnitool's containers.
fn expected_container_id(netns: &str) -> String {
    let out = Command::new("sh")
        .args([
            "-c",
            "printf %s \"$1\" | sha512sum | cut -c1-20",
            "sh",
            netns,
        ])
        .output()
        .unwrap();
    format!("cnitool-{}", String::from_utf8_lossy(&out.stdout).trim())
}

/// A file standing in for a netns path where the plugins are fakes.
fn fake_netns(t: &Tool) -> String {
    let p = t.tmp.path().join("netns");
    std::fs::write(&p, "").unwrap();
    p.display().to_string()
}

fn chain(name: &str, version: &str, types: &[&str]) -> Value {
    json!({"cniVersion": version, "name": name,
           "plugins": types.iter().map(|t| json!({"type": t})).collect::<Vec<_>>()})
}

// Documentation/conformance.md item 68: container ID from SHA-512 of the absolute netns path,
// ifname default eth0, NETCONFPATH, CNI_PATH, CNI_ARGS, CAP_ARGS,
// CNI_IFNAME, the ADD result on stdout, exit 1 and a message on failure
#[test]
fn conformance_68_cnitool_parameters_and_exit_codes() {
    let t = Tool::fake();
    t.plugin("fake");
    t.conf(
        "10-n.conflist",
        &json!({"cniVersion": "1.0.0", "name": "n",
                "plugins": [{"type": "fake", "capabilities": {"portMappings": true}}]}),
    );
    let netns = fake_netns(&t);
    let cid = expected_container_id(&netns);
    struct Case {
        env: Vec<(&'static str, &'static str)>,
        flags: Vec<&'static str>,
        ifname: &'static str,
    }
    let cases = [
        Case {
            env: vec![],
            flags: vec![],
            ifname: "eth0",
        },
        Case {
            env: vec![("CNI_IFNAME", "")],
            flags: vec![],
            ifname: "eth0",
        },
        Case {
            env: vec![("CNI_IFNAME", "net1")],
            flags: vec![],
            ifname: "net1",
        },
        Case {
            env: vec![("CNI_IFNAME", "net1")],
            flags: vec!["-i", "net2"],
            ifname: "net2",
        },
        Case {
            env: vec![],
            flags: vec!["--ifname", "net3"],
            ifname: "net3",
        },
    ];
    for c in cases {
        let mut args = c.flags.clone();
        args.extend(["add", "n", &netns]);
        let mut env = c.env.clone();
        env.push(("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=web"));
        env.push(("CAP_ARGS", r#"{"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp"}],"unused":1}"#));
        let run = t.run_env(&env, &args);
        run.expect_success();
        // the result, indented by four spaces
        assert!(
            run.stdout
                .starts_with("{\n    \"cniVersion\": \"1.0.0\",\n    \"interfaces\""),
            "{}",
            run.stdout
        );
        assert_eq!(run.json()["interfaces"][0]["name"], json!(c.ifname));
        let calls = t.calls();
        assert_eq!(calls.len(), 1);
        let call = &calls[0];
        assert_eq!(
            (
                call.command.as_str(),
                call.container_id.as_str(),
                call.netns.as_str(),
                call.ifname.as_str()
            ),
            ("ADD", cid.as_str(), netns.as_str(), c.ifname)
        );
        assert_eq!(call.args, "IgnoreUnknown=1;K8S_POD_NAME=web");
        assert_eq!(call.path, t.cni_path);
        assert_eq!(
            call.stdin["runtimeConfig"],
            json!({"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
        );
        assert!(
            t.cache
                .join(format!("results/n-{cid}-{}", c.ifname))
                .is_file()
        );
    }
    // a relative netns path is made absolute first (upstream's Abs)
    let rel = Command::new(plugin_path("cnitool"))
        .current_dir(t.tmp.path())
        .env_clear()
        .env("NETCONFPATH", &t.confdir)
        .env("CNI_PATH", &t.cni_path)
        .args([
            "--cache-dir",
            &t.cache.display().to_string(),
            "add",
            "n",
            "./netns",
        ])
        .output()
        .unwrap();
    assert!(
        rel.status.success(),
        "{}",
        String::from_utf8_lossy(&rel.stderr)
    );
    assert_eq!(t.calls()[0].container_id, cid);
    // --container-id overrides the derived ID
    t.run(&["--container-id", "mine", "add", "n", &netns])
        .expect_success();
    assert_eq!(t.calls()[0].container_id, "mine");

    // failure: exit 1, the plugin's message, details and code on stderr
    t.script(
        "fake",
        "echo '{\"code\":7,\"msg\":\"bad config\",\"details\":\"subnet missing\"}'; exit 1",
    );
    t.run(&["add", "n", &netns]).fails_with(&[
        "plugin type=\"fake\" failed (add): bad config",
        "details: subnet missing",
        "code: 7 (invalid network configuration)",
    ]);
    // usage errors exit 1 too
    assert_eq!(t.run(&["add", "n"]).code, 1);
    assert_eq!(t.run(&[]).code, 1);
    assert_eq!(t.run(&["--help"]).code, 0);
}

// The bad input of the issue: each a clear error naming what is wrong, and
// exit 1.
#[test]
fn bad_input_is_a_clear_error() {
    let t = Tool::fake();
    t.plugin("fake");
    t.script("hang", "exec sleep 60");
    t.script("garbage", "echo 'this is not json'");
    t.script("crash", "kill -SEGV $$");
    t.conf("10-ok.conflist", &chain("ok", "1.0.0", &["fake"]));
    t.conf(
        "20-missing.conflist",
        &chain("missing", "1.0.0", &["fake", "nope"]),
    );
    t.conf("30-hang.conflist", &chain("hang", "1.0.0", &["hang"]));
    t.conf(
        "40-garbage.conflist",
        &chain("garbage", "1.0.0", &["garbage"]),
    );
    t.conf("50-crash.conflist", &chain("crash", "1.0.0", &["crash"]));
    let netns = fake_netns(&t);
    let confdir = t.confdir.display().to_string();
    struct Case {
        what: &'static str,
        env: Vec<(&'static str, String)>,
        args: Vec<String>,
        stderr: Vec<String>,
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let add = |net: &str| s(&["add", net, &netns]);
    let cases = vec![
        Case {
            what: "missing plugin",
            env: vec![],
            args: add("missing"),
            stderr: s(&[
                "plugin type=\"nope\" failed (add): failed to find plugin \"nope\" in path",
            ]),
        },
        Case {
            what: "hanging plugin",
            env: vec![],
            args: s(&["--timeout", "0.5", "add", "hang", &netns]),
            stderr: s(&["plugin type=\"hang\" failed (add)", "timed out", "code: 11"]),
        },
        Case {
            what: "invalid JSON output",
            env: vec![],
            args: add("garbage"),
            stderr: s(&[
                "invalid plugin result: not JSON",
                "this is not json",
                "code: 6",
            ]),
        },
        Case {
            what: "crashing plugin",
            env: vec![],
            args: add("crash"),
            stderr: s(&["netplugin failed with no error message: killed by signal 11"]),
        },
        Case {
            what: "invalid CNI_ARGS pair",
            env: vec![("CNI_ARGS", "A=1;B".into())],
            args: add("ok"),
            stderr: s(&["invalid CNI_ARGS pair \"B\"", "code: 4"]),
        },
        Case {
            what: "CAP_ARGS not an object",
            env: vec![("CAP_ARGS", "[1,2]".into())],
            args: add("ok"),
            stderr: s(&["CAP_ARGS must be a JSON object", "got [1,2]"]),
        },
        Case {
            what: "CAP_ARGS not JSON",
            env: vec![("CAP_ARGS", "{ips".into())],
            args: add("ok"),
            stderr: s(&["CAP_ARGS is not valid JSON"]),
        },
        Case {
            what: "netns that does not exist",
            env: vec![],
            args: s(&["add", "ok", "/nonexistent/netns"]),
            stderr: s(&["netns path /nonexistent/netns cannot be used", "code: 8"]),
        },
        Case {
            what: "netns that does not exist (check)",
            env: vec![],
            args: s(&["check", "ok", "/nonexistent/netns"]),
            stderr: s(&["netns path /nonexistent/netns cannot be used"]),
        },
        Case {
            what: "unknown network",
            env: vec![],
            args: add("nope"),
            stderr: vec![format!(
                "no net configuration with name \"nope\" in {confdir}"
            )],
        },
        Case {
            what: "no CNI_PATH",
            env: vec![("CNI_PATH", String::new())],
            args: add("ok"),
            stderr: s(&["no paths provided"]),
        },
    ];
    for c in cases {
        let env: Vec<(&str, &str)> = c.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let run = t.run_env(&env, &args);
        assert_eq!(run.code, 1, "{}: {run:?}", c.what);
        for part in &c.stderr {
            assert!(
                run.stderr.contains(part.as_str()),
                "{}: stderr lacks {part:?}: {}",
                c.what,
                run.stderr
            );
        }
        assert!(
            run.stderr.starts_with("cnitool: "),
            "{}: {}",
            c.what,
            run.stderr
        );
    }
    // nothing was cached by any of the failures
    assert!(t.cache_files().is_empty(), "{:?}", t.cache_files());

    // malformed and unreadable config files are named
    std::fs::write(t.confdir.join("05-broken.conflist"), "{\"name\": ").unwrap();
    t.run(&["add", "ok", &netns]).fails_with(&[
        &format!(
            "{}/05-broken.conflist: error parsing configuration list",
            confdir
        ),
        "code: 6",
    ]);
    std::fs::remove_file(t.confdir.join("05-broken.conflist")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/file", t.confdir.join("05-dangling.conflist"))
        .unwrap();
    t.run(&["add", "ok", &netns])
        .fails_with(&[&format!("error reading {}/05-dangling.conflist", confdir)]);
}

// DEL of a chain where plugins fail still runs every plugin, reports every
// failure and keeps the cache entry (Go stops at the first failure).
#[test]
fn del_runs_every_plugin_and_reports_every_failure() {
    let t = Tool::fake();
    for p in ["a", "b", "c"] {
        t.plugin(p);
    }
    t.conf("10-n.conflist", &chain("n", "1.0.0", &["a", "b", "c"]));
    let netns = fake_netns(&t);
    t.run(&["add", "n", &netns]).expect_success();
    t.calls();
    let fail = r#"case "$CNI_COMMAND" in DEL) echo '{"code":999,"msg":"cannot delete NAME"}'; exit 1 ;; esac"#;
    t.script("a", &fail.replace("NAME", "a"));
    t.script("c", &fail.replace("NAME", "c"));
    let run = t.run(&["del", "n", &netns]);
    run.fails_with(&[
        "2 failures",
        "plugin type=\"c\" failed (delete): cannot delete c",
        "plugin type=\"a\" failed (delete): cannot delete a",
    ]);
    let order: Vec<String> = t
        .calls()
        .iter()
        .map(|c| format!("{}:{}", c.plugin, c.command))
        .collect();
    assert_eq!(order, vec!["c:DEL", "b:DEL", "a:DEL"]);
    assert_eq!(
        t.cache_files().len(),
        1,
        "a failed DEL keeps the cache entry"
    );
    // each plugin had the cached result as prevResult
    t.plugin("a");
    t.plugin("c");
    t.run(&["del", "n", &netns]).expect_success();
    for c in t.calls() {
        assert_eq!(
            c.stdin["prevResult"]["ips"][0]["address"],
            json!("10.1.2.3/24"),
            "{}",
            c.plugin
        );
    }
    assert!(t.cache_files().is_empty());
    // DEL again (nothing cached, no prevResult) succeeds
    t.run(&["del", "n", &netns]).expect_success();
    assert!(
        t.calls()
            .iter()
            .all(|c| c.stdin.get("prevResult").is_none())
    );
    // and works when the netns is gone
    std::fs::remove_file(&netns).unwrap();
    t.run(&["del", "n", &netns]).expect_success();
}

/// A scenario of the Go fixtures: its directory and its args.json.
fn go_fixture(scenario: &str) -> (PathBuf, Value) {
    let dir = fixtures_dir().join("libcni-cache").join(scenario);
    let args: Value =
        serde_json::from_slice(&std::fs::read(dir.join("args.json")).unwrap()).unwrap();
    (dir, args)
}

// A cache written by Go's libcni is read by cnitool: CHECK and DEL get its
// result as prevResult (in the list's version), CHECK leaves the file
// alone, DEL removes it. (Our writes are compared byte for byte with Go's
// in libcni's unit tests.)
#[test]
fn reads_result_caches_written_by_go_libcni() {
    struct Case {
        scenario: &'static str,
        conf: &'static str,
        check: bool,
        prev_on_del: bool,
    }
    let cases = [
        Case {
            scenario: "s1-conflist-1.0.0-bridge-dualstack-portmap",
            conf: "10-fx-s1.conflist",
            check: true,
            prev_on_del: true,
        },
        Case {
            scenario: "s2-conflist-0.4.0-bridge-cap-ips",
            conf: "20-fx-s2.conflist",
            check: true,
            prev_on_del: true,
        },
        Case {
            scenario: "s3-conf-0.3.1-ptp",
            conf: "30-fx-s3.conf",
            check: false,
            prev_on_del: false,
        },
        Case {
            scenario: "s4c-conflist-1.1.0-fake-plugin-1.0.0-result",
            conf: "42-fx-s4c.conflist",
            check: true,
            prev_on_del: true,
        },
        Case {
            scenario: "s5-json-encoding-loopback",
            conf: "50-fx-s5.conflist",
            check: true,
            prev_on_del: true,
        },
    ];
    for c in cases {
        let t = Tool::fake();
        for p in ["bridge", "portmap", "ptp", "loopback", "fx-res100"] {
            t.plugin(p);
        }
        let (dir, args) = go_fixture(c.scenario);
        std::fs::copy(dir.join(c.conf), t.confdir.join(c.conf)).unwrap();
        let results = dir.join("cache-after-add/results");
        let file = std::fs::read_dir(&results)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        std::fs::create_dir_all(t.cache.join("results")).unwrap();
        let cached = t.cache.join("results").join(file.file_name().unwrap());
        std::fs::copy(&file, &cached).unwrap();
        let go_bytes = std::fs::read(&cached).unwrap();
        let go_entry: Value = serde_json::from_slice(&go_bytes).unwrap();
        let go_result = &go_entry["result"];
        let netns = fake_netns(&t);
        let a = |k: &str| args[k].as_str().unwrap().to_string();
        let flags = [
            "--container-id",
            &a("CNI_CONTAINERID"),
            "-i",
            &a("CNI_IFNAME"),
        ];
        let net = a("network");
        let same_result = |prev: &Value, what: &str| {
            // the addresses and interfaces Go cached, in the list version
            assert_eq!(
                prev["ips"].as_array().map(Vec::len),
                go_result["ips"].as_array().map(Vec::len),
                "{} {what}",
                c.scenario
            );
            for (i, ip) in go_result["ips"].as_array().unwrap().iter().enumerate() {
                assert_eq!(
                    prev["ips"][i]["address"], ip["address"],
                    "{} {what}",
                    c.scenario
                );
            }
            assert_eq!(
                prev["interfaces"], go_result["interfaces"],
                "{} {what}",
                c.scenario
            );
        };
        if c.check {
            let mut args = flags.to_vec();
            args.extend(["check", net.as_str(), netns.as_str()]);
            t.run(&args).expect_success();
            let calls = t.calls();
            assert!(!calls.is_empty());
            for call in &calls {
                assert_eq!(call.command, "CHECK");
                let prev = &call.stdin["prevResult"];
                assert_eq!(prev["cniVersion"], call.stdin["cniVersion"]);
                same_result(prev, "CHECK");
            }
            assert_eq!(
                std::fs::read(&cached).unwrap(),
                go_bytes,
                "{}: CHECK rewrote the cache",
                c.scenario
            );
        }
        let mut args = flags.to_vec();
        args.extend(["del", net.as_str(), netns.as_str()]);
        t.run(&args).expect_success();
        let calls = t.calls();
        assert!(!calls.is_empty());
        for call in &calls {
            assert_eq!(call.command, "DEL");
            assert_eq!(call.container_id, a("CNI_CONTAINERID"));
            match (call.stdin.get("prevResult"), c.prev_on_del) {
                (Some(prev), true) => same_result(prev, "DEL"),
                (None, false) => {}
                (got, _) => panic!("{}: DEL prevResult {got:?}", c.scenario),
            }
        }
        assert!(
            !cached.exists(),
            "{}: DEL removed the cache file",
            c.scenario
        );
    }
}

// GC deletes every cached attachment of the network (cnitool passes no
// valid set) and then sends GC without attachment keys; STATUS reports the
// first failing plugin's code.
#[test]
fn gc_and_status() {
    let t = Tool::fake();
    t.plugin("a");
    t.plugin("b");
    t.conf("10-n.conflist", &chain("n", "1.1.0", &["a", "b"]));
    t.conf("20-m.conflist", &chain("m", "1.1.0", &["a"]));
    let netns = fake_netns(&t);
    t.run(&["add", "n", &netns]).expect_success();
    t.run(&["-i", "eth1", "add", "n", &netns]).expect_success();
    t.run(&["add", "m", &netns]).expect_success();
    assert_eq!(t.cache_files().len(), 3);
    t.calls();
    t.run(&["gc", "n", &netns]).expect_success();
    let calls: Vec<String> = t
        .calls()
        .iter()
        .map(|c| {
            assert!(c.stdin.get("cni.dev/valid-attachments").is_none());
            format!("{}:{}:{}", c.plugin, c.command, c.ifname)
        })
        .collect();
    assert_eq!(
        calls,
        vec![
            "b:DEL:eth0",
            "a:DEL:eth0",
            "b:DEL:eth1",
            "a:DEL:eth1",
            "a:GC:",
            "b:GC:"
        ]
    );
    let left = t.cache_files();
    assert_eq!(left.len(), 1);
    assert!(left[0].starts_with("m-"), "{left:?}");
    // the netns argument is optional for gc and status
    t.run(&["gc", "n"]).expect_success();
    t.calls();

    t.run(&["status", "n"]).expect_success();
    assert_eq!(t.calls().len(), 2);
    t.script("a", r#"[ "$CNI_COMMAND" = STATUS ] && { echo '{"code":50,"msg":"pool exhausted","details":"10.1.2.0/24"}'; exit 1; }; true"#);
    t.run(&["status", "n"]).fails_with(&[
        "plugin type=\"a\" failed (status): pool exhausted",
        "details: 10.1.2.0/24",
        "code: 50 (plugin not available)",
    ]);
    assert_eq!(t.calls().len(), 1, "STATUS stops at the first failure");
    // below 1.1.0 nothing is asked
    t.conf("10-n.conflist", &chain("n", "1.0.0", &["a", "b"]));
    t.run(&["status", "n"]).expect_success();
    assert!(t.calls().is_empty());
}

#[test]
fn list_version_and_validate() {
    let t = Tool::fake();
    t.plugin("fake");
    t.script(
        "old",
        r#"[ "$CNI_COMMAND" = VERSION ] && echo '{"cniVersion":"0.2.0"}'; true"#,
    );
    t.conf(
        "10-a.conflist",
        &json!({"cniVersion": "1.0.0", "name": "a",
        "plugins": [{"type": "fake", "ipam": {"type": "old"}, "capabilities": {"ips": true}}]}),
    );
    t.conf("30-a.conflist", &chain("a", "1.0.0", &["other"]));
    t.conf(
        "40-b.conf",
        &json!({"cniVersion": "0.4.0", "name": "b", "type": "old"}),
    );
    t.conf(
        "50-a.json",
        &json!({"cniVersion": "0.4.0", "name": "a", "type": "fake"}),
    );
    let run = t.run(&["list"]);
    run.expect_success();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("NETWORK"), "{}", run.stdout);
    assert!(
        lines[1].starts_with("a ")
            && lines[1].contains("fake+old")
            && lines[1].contains("10-a.conflist"),
        "{}",
        run.stdout
    );
    assert!(
        lines[2].contains("30-a.conflist") && lines[2].ends_with("shadowed by 10-a.conflist"),
        "{}",
        run.stdout
    );
    assert!(
        lines[3].starts_with("b ") && lines[3].contains("0.4.0"),
        "{}",
        run.stdout
    );
    assert!(
        lines[4].ends_with("shadowed by 10-a.conflist"),
        "{}",
        run.stdout
    );
    assert_eq!(t.run(&["list", "--quiet"]).stdout, "a\nb\n");
    let json = t.run(&["list", "--json"]).json();
    assert_eq!(json.as_array().unwrap().len(), 4);
    assert_eq!(json[0]["plugins"], json!(["fake"]));

    // an invalid file is flagged and blocks the networks behind it
    std::fs::write(t.confdir.join("20-bad.conflist"), "{\"name\": 1}").unwrap();
    let run = t.run(&["list"]);
    assert!(
        run.stdout.contains("invalid: ") && run.stdout.contains("invalid name type"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("unreachable: the lookup stops at invalid 20-bad.conflist"),
        "{}",
        run.stdout
    );
    let quiet = t.run(&["list", "-q"]);
    assert_eq!(quiet.stdout, "a\n");
    assert!(
        quiet.stderr.contains("warning: ") && quiet.stderr.contains("20-bad.conflist"),
        "{}",
        quiet.stderr
    );
    std::fs::remove_file(t.confdir.join("20-bad.conflist")).unwrap();

    let run = t.run(&["version"]);
    run.expect_success();
    assert!(run.stdout.starts_with("cnitool "), "{}", run.stdout);
    assert!(
        run.stdout.contains("\nfake: 0.4.0, 1.0.0, 1.1.0\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\nold: 0.1.0, 0.2.0\n"),
        "{}",
        run.stdout
    );
    // "other" is only used by a shadowed file: not asked. A plugin that
    // does not exist fails `version`, named.
    assert!(!run.stdout.contains("other"), "{}", run.stdout);
    let run = t.run(&["version", "fake", "nope"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("fake: "), "{}", run.stdout);
    assert!(
        run.stderr
            .contains("plugin nope: failed to find plugin \"nope\""),
        "{}",
        run.stderr
    );

    let run = t.run(&["validate", "a"]);
    run.expect_success();
    assert!(run.stdout.contains("capabilities: ips"), "{}", run.stdout);
    t.run(&["validate", "b"])
        .fails_with(&["plugin old does not support config version \"0.4.0\""]);
}

// ---- real plugins, in a fake host namespace ----

/// bridge + host-local, the bridge taking `ips` from CAP_ARGS.
fn bridge_conf(version: &str, data: &Path, bridge: &str) -> Value {
    json!({
        "cniVersion": version,
        "name": "cninet",
        "plugins": [{
            "type": "bridge",
            "bridge": bridge,
            "isGateway": true,
            "capabilities": {"ips": true},
            "ipam": {
                "type": "host-local",
                "dataDir": data,
                "ranges": [[{"subnet": "10.66.0.0/24"}]]
            }
        }]
    })
}

/// The result with what differs from run to run (MACs, veth names)
/// replaced by placeholders.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("mac", Value::String(_)) => json!("<mac>"),
                        ("name", Value::String(s)) if s.starts_with("veth") => json!("<veth>"),
                        ("sandbox", Value::String(_)) => json!("<netns>"),
                        _ => shape(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        other => other.clone(),
    }
}

/// ADD → CHECK → DEL of the bridge network with the plugins of `bin`;
/// returns the ADD result's shape. Nothing may be left afterwards.
fn add_check_del(bin: &Path, version: &str, what: &str) -> Value {
    let host = TestNs::new("host");
    let ctr = TestNs::new("ctr");
    let t = Tool::new(&bin.display().to_string()).in_host(&host);
    let data = t.tmp.path().join("ipam");
    t.conf(
        "10-cninet.conflist",
        &bridge_conf(version, &data, "cnitbr0"),
    );
    let netns = ctr.path_str();
    let cap = ("CAP_ARGS", r#"{"ips":["10.66.0.9/24"]}"#);
    let add = t.run_env(&[cap], &["add", "cninet", &netns]);
    add.expect_success();
    let result = add.json();
    assert_eq!(result["cniVersion"], json!(version), "{what}");
    assert!(
        ctr.ip(&["-br", "addr", "show", "eth0"])
            .contains("10.66.0.9/24"),
        "{what}"
    );
    let cid = expected_container_id(&netns);
    let cached = t.cache.join(format!("results/cninet-{cid}-eth0"));
    let mode = std::fs::metadata(&cached).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{what}");
    let entry: Value = serde_json::from_slice(&std::fs::read(&cached).unwrap()).unwrap();
    assert_eq!(entry["kind"], json!("cniCacheV1"));
    assert_eq!(entry["netns"], json!(netns));
    assert_eq!(entry["capabilityArgs"], json!({"ips": ["10.66.0.9/24"]}));
    assert!(
        !reservation_files(&data.join("cninet")).is_empty(),
        "{what}: no reservation"
    );

    let check = t.run_env(&[cap], &["check", "cninet", &netns]);
    if version == "0.3.1" {
        check.fails_with(&["configuration version \"0.3.1\" does not support the CHECK command"]);
    } else {
        check.expect_success();
    }
    // a CHECK that must fail: the container's interface is gone
    if version != "0.3.1" {
        ctr.ip(&["link", "set", "eth0", "name", "moved0"]);
        let bad = t.run_env(&[cap], &["check", "cninet", &netns]);
        assert_eq!(bad.code, 1, "{what}: CHECK of a missing eth0 passed");
        ctr.ip(&["link", "set", "moved0", "name", "eth0"]);
    }

    t.run_env(&[cap], &["del", "cninet", &netns])
        .expect_success();
    assert!(!cached.exists(), "{what}: cache entry left");
    assert!(
        reservation_files(&data.join("cninet")).is_empty(),
        "{what}: reservation left"
    );
    assert!(
        ctr.netlink()
            .link_find(LinkId::Name("eth0"))
            .unwrap()
            .is_none(),
        "{what}: eth0 left"
    );
    assert!(
        veths_in(&host).is_empty(),
        "{what}: veths left: {:?}",
        veths_in(&host)
    );
    // DEL is idempotent
    t.run_env(&[cap], &["del", "cninet", &netns])
        .expect_success();
    shape(&result)
}

// cnitool add/check/del with our plugins and with Debian's Go plugins,
// same conflists: results of the same shape, nothing left behind
#[test]
fn cnitool_drives_our_plugins_and_go_plugins_alike() {
    require_root!();
    let ours = bin_dir();
    plugin_path("bridge");
    // Go's too, when they are installed
    let go = require_go("bridge", &["host-local"]).map(|p| p.parent().unwrap().to_path_buf());
    for version in ["0.3.1", "0.4.0", "1.0.0", "1.1.0"] {
        let our_shape = add_check_del(&ours, version, &format!("ours {version}"));
        // Go's plugins 1.1.1 stop at 1.0.0
        if let Some(go) = go.as_ref().filter(|_| version != "1.1.0") {
            let go_shape = add_check_del(go, version, &format!("go {version}"));
            assert_eq!(our_shape, go_shape, "{version}: results differ in shape");
            eprintln!("{version}: ours and Go's: {our_shape}");
        }
    }
}

// scripts/priv-net-run.sh goes through cnitool: every network is added and
// deleted by it, and its private cache is gone afterwards.
#[test]
fn priv_net_run_uses_cnitool() {
    require_root!();
    require_tools!("jq");
    let host = TestNs::new("host");
    let t = Tool::new(&bin_dir().display().to_string());
    let data = t.tmp.path().join("ipam");
    t.conf("10-cninet.conflist", &bridge_conf("1.1.0", &data, "cnipr0"));
    t.conf(
        "99-lo.conf",
        &json!({"cniVersion": "1.1.0", "name": "lo", "type": "loopback"}),
    );
    // a cnitool that logs its arguments
    let wrapper = t.tmp.path().join("cnitool-wrapper");
    let log = t.tmp.path().join("cnitool.log");
    write_executable(
        &wrapper,
        &format!(
            "#!/bin/sh\necho \"$*\" >> {}\necho \"$CNI_CACHE_DIR\" > {}.cache\nexec {} \"$@\"\n",
            log.display(),
            log.display(),
            plugin_path("cnitool").display()
        ),
    );
    let mut cmd = host.cmd(
        repo().join("scripts/priv-net-run.sh"),
        &["ip", "-br", "addr", "show", "eth0"],
    );
    cmd.env("NETCONFPATH", &t.confdir)
        .env("CNI_PATH", &t.cni_path)
        .env("CNITOOL", &wrapper);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("10.66.0."), "{stdout}");
    let calls = std::fs::read_to_string(&log).unwrap();
    let verbs: Vec<String> = calls
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            match w.iter().position(|x| ["add", "del", "list"].contains(x)) {
                Some(i) => w[i..w.len().min(i + 2)].join(" "),
                None => l.to_string(),
            }
        })
        .collect();
    assert_eq!(
        verbs,
        vec![
            "list --quiet",
            "add cninet",
            "add lo",
            "list --quiet",
            "del lo",
            "del cninet"
        ],
        "{calls}"
    );
    let cache = std::fs::read_to_string(log.with_extension("log.cache")).unwrap();
    let cache = cache.trim();
    assert!(
        !cache.is_empty() && !cache.starts_with("/var/lib/cni"),
        "{cache}"
    );
    assert!(
        !Path::new(cache).exists(),
        "private cache {cache} left behind"
    );
    assert!(reservation_files(&data.join("cninet")).is_empty());
    assert!(veths_in(&host).is_empty());
}
