//! Running one plugin command (Documentation/spec-notes.md §7.6): the environment a plugin
//! gets, the [`Exec`] seam runtimes can replace (logging, sandboxes, test
//! fakes), and decoding what an ADD prints (§7.3 step 5). Processes are
//! spawned only through `pkg::invoke`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use pkg::invoke;
use pkg::types::CniResult;
use pkg::{Error, Result};

/// How plugins are found and run. [`DefaultExec`] execs the binary; a
/// runtime may wrap it.
pub trait Exec: Send + Sync {
    /// Run `plugin` with exactly `env` and `stdin`; on exit 0 return its
    /// stdout, otherwise its error decoded as Go's `pkg/invoke` does
    /// (Documentation/spec-notes.md §4.3).
    fn exec_plugin(
        &self,
        plugin: &Path,
        stdin: &[u8],
        env: &[(OsString, OsString)],
    ) -> Result<Vec<u8>>;

    /// The executable for plugin type `name` in `dirs` (Documentation/spec-notes.md §7.7).
    fn find_in_path(&self, name: &str, dirs: &[PathBuf]) -> Result<PathBuf> {
        invoke::find_in_path(name, dirs)
    }
}

/// Exec the plugin binary, killing it after `timeout`. A plugin's stderr
/// is copied to ours unless `quiet`.
#[derive(Debug, Clone, Default)]
pub struct DefaultExec {
    pub timeout: Option<Duration>,
    pub quiet: bool,
}

impl Exec for DefaultExec {
    fn exec_plugin(
        &self,
        plugin: &Path,
        stdin: &[u8],
        env: &[(OsString, OsString)],
    ) -> Result<Vec<u8>> {
        invoke::exec(&invoke::Exec {
            plugin,
            env,
            stdin,
            timeout: self.timeout,
            forward_stderr: !self.quiet,
            delegated: false,
        })
    }
}

/// The `CNI_*` parameters of one invocation.
#[derive(Debug, Clone, Default)]
pub struct Args<'a> {
    pub command: &'a str,
    pub container_id: &'a str,
    pub netns: &'a str,
    pub ifname: &'a str,
    pub args: String,
    pub path: String,
}

impl Args<'_> {
    /// The runtime's own environment with all six `CNI_*` variables set
    /// (possibly empty), ours winning over inherited ones (Go `AsEnv`).
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let base: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        self.env_over(&base)
    }

    pub fn env_over(&self, base: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
        invoke::child_env(
            base,
            &[
                ("CNI_COMMAND", OsStr::new(self.command)),
                ("CNI_CONTAINERID", OsStr::new(self.container_id)),
                ("CNI_NETNS", OsStr::new(self.netns)),
                ("CNI_ARGS", OsStr::new(&self.args)),
                ("CNI_IFNAME", OsStr::new(self.ifname)),
                ("CNI_PATH", OsStr::new(&self.path)),
            ],
        )
    }
}

/// `CNI_PATH` from the plugin directories.
pub fn join_path(dirs: &[PathBuf]) -> String {
    dirs.iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// Decode an ADD result: a result without (or with an empty)
/// `cniVersion` is read in the request's version (upstream issue 895);
/// otherwise its own version is used, whichever known version it is.
/// `null` counts as an empty object; empty or non-JSON output is an error.
pub fn parse_result(stdout: &[u8], request_version: &str) -> Result<CniResult> {
    if stdout.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::decode(
            "invalid plugin result: no output",
            "a successful ADD must print a result",
        ));
    }
    let value: Value = serde_json::from_slice(stdout).map_err(|e| {
        Error::decode(
            "invalid plugin result: not JSON",
            format!("{e}: {:?}", truncate(stdout)),
        )
    })?;
    let value = match value {
        Value::Null => Value::Object(Map::new()),
        v => v,
    };
    CniResult::from_value(&value, request_version)
}

fn truncate(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Documentation/conformance.md item 62: the six CNI_* variables are always set, ours win over
    // inherited ones, CNI_ARGS is k=v;k=v
    #[test]
    fn conformance_62_plugin_environment() {
        let base = vec![
            (OsString::from("PATH"), OsString::from("/bin")),
            (OsString::from("CNI_NETNS"), OsString::from("/inherited")),
            (OsString::from("CNI_IFNAME"), OsString::from("stale")),
        ];
        let a = Args {
            command: "GC",
            path: join_path(&[PathBuf::from("/a"), PathBuf::from("/b")]),
            args: "A=1;B=2".into(),
            ..Default::default()
        };
        let env = a.env_over(&base);
        let get = |k: &str| {
            let hits: Vec<_> = env.iter().filter(|(n, _)| n == k).collect();
            assert_eq!(hits.len(), 1, "{k} set once");
            hits[0].1.to_string_lossy().into_owned()
        };
        assert_eq!(get("PATH"), "/bin");
        assert_eq!(get("CNI_COMMAND"), "GC");
        assert_eq!(get("CNI_CONTAINERID"), "");
        assert_eq!(get("CNI_NETNS"), "");
        assert_eq!(get("CNI_IFNAME"), "");
        assert_eq!(get("CNI_ARGS"), "A=1;B=2");
        assert_eq!(get("CNI_PATH"), "/a:/b");
    }

    // Documentation/conformance.md item 50: a result without cniVersion is read in the request's
    // version; empty output is an error
    #[test]
    fn conformance_50_result_version_and_empty_output() {
        let cases: Vec<(&str, &str, std::result::Result<Value, u32>)> = vec![
            (
                r#"{"ips":[{"version":"4","address":"10.0.0.2/24"}]}"#,
                "0.4.0",
                Ok(
                    json!({"cniVersion": "0.4.0", "ips": [{"version": "4", "address": "10.0.0.2/24"}], "dns": {}}),
                ),
            ),
            (
                r#"{"cniVersion":"","ips":[{"address":"10.0.0.2/24"}]}"#,
                "1.1.0",
                Ok(json!({"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.2/24"}]})),
            ),
            // a declared version wins over the request's
            (
                r#"{"cniVersion":"0.2.0","ip4":{"ip":"10.0.0.2/24"}}"#,
                "1.0.0",
                Ok(json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.0.0.2/24"}, "dns": {}})),
            ),
            ("null", "1.0.0", Ok(json!({"cniVersion": "1.0.0"}))),
            ("", "1.0.0", Err(6)),
            ("  \n", "1.0.0", Err(6)),
            ("garbage", "1.0.0", Err(6)),
            ("[1]", "1.0.0", Err(6)),
            (r#"{"cniVersion":"9.9.9"}"#, "1.0.0", Err(6)),
        ];
        for (out, req, want) in cases {
            match (parse_result(out.as_bytes(), req), want) {
                (Ok(r), Ok(want)) => {
                    let v = pkg::types::Version::from_exact(&r.cni_version).unwrap();
                    assert_eq!(r.to_value(v).unwrap(), want, "{out}");
                }
                (Err(e), Err(code)) => assert_eq!(e.code(), code, "{out}: {e}"),
                (got, want) => panic!("{out}: got {got:?}, want {want:?}"),
            }
        }
    }
}
