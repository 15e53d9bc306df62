//! The plugin skeleton: reads `CNI_*` and stdin, validates them exactly as
//! Go's `pkg/skel` does (Documentation/spec-notes.md §1.9), gates commands by version, calls
//! the plugin and prints the result or the spec error. The only place that
//! writes to stdout or chooses the exit code.
//!
//! Everything comes in through `Io`, so tests drive it in-process with fake
//! environments and buffers.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;

use crate::error::{Error, Result, code};
use crate::ns::{Netns, NetnsError};
use crate::types::version::{self, Version};
use crate::types::{CniResult, NetConf};
use crate::validate;

/// A plugin: its name, the versions it answers and its five commands.
/// A plugin crate defines one as a `const` in its lib.rs, its binary runs
/// it with [`run`], and the multi-call binary finds it by [`Plugin::name`].
/// [`Plugin::new`] takes ADD, DEL and CHECK; GC and STATUS succeed doing
/// nothing, which is what the spec asks of a plugin with nothing to
/// collect or report. Name the others with struct update syntax:
///
/// ```
/// use pkg::skel::{CmdArgs, Plugin};
/// use pkg::types::{CniResult, Version};
/// # fn add(_: &CmdArgs) -> pkg::Result<CniResult> { unimplemented!() }
/// # fn del(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// # fn check(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// # fn gc(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// pub const PLUGIN: Plugin = Plugin {
///     gc,
///     ..Plugin::new("my-plugin", add, del, check).since(Version::V0_4_0)
/// };
/// // main.rs: fn main() { pkg::skel::run(&my_plugin::PLUGIN) }
/// # assert_eq!(PLUGIN.versions, [Version::V0_4_0, Version::V1_0_0, Version::V1_1_0]);
/// ```
#[derive(Clone, Copy)]
pub struct Plugin {
    pub name: &'static str,
    /// The versions it answers, oldest first.
    pub versions: &'static [Version],
    pub add: fn(&CmdArgs) -> Result<CniResult>,
    pub del: fn(&CmdArgs) -> Result<()>,
    pub check: fn(&CmdArgs) -> Result<()>,
    pub gc: fn(&CmdArgs) -> Result<()>,
    pub status: fn(&CmdArgs) -> Result<()>,
    /// The build record an IPAM plugin carries in its binary, which lets a
    /// plugin linking the same code run it in-process (`builtin`).
    pub build: Option<&'static crate::builtin::Record>,
}

impl Plugin {
    /// A plugin of this suite that speaks every version; ADD, DEL and
    /// CHECK as given, GC and STATUS succeed doing nothing.
    pub const fn new(
        name: &'static str,
        add: fn(&CmdArgs) -> Result<CniResult>,
        del: fn(&CmdArgs) -> Result<()>,
        check: fn(&CmdArgs) -> Result<()>,
    ) -> Plugin {
        Plugin {
            name,
            versions: &Version::ALL,
            add,
            del,
            check,
            gc: nothing,
            status: nothing,
            build: None,
        }
    }

    /// The same plugin answering only `oldest` and every later version.
    pub const fn since(self, oldest: Version) -> Plugin {
        let all: &'static [Version] = &Version::ALL;
        let mut first = 0;
        while first < all.len() && (all[first] as u8) < (oldest as u8) {
            first += 1;
        }
        Plugin {
            versions: all.split_at(first).1,
            ..self
        }
    }

    /// The one-line description printed when a human runs the binary, in
    /// Go's shape ("CNI bridge plugin v1.9.0") with the commit added.
    pub fn about(&self) -> String {
        format!("CNI {} plugin {}", self.name, crate::release::describe())
    }

    fn version_strings(&self) -> Vec<&'static str> {
        self.versions.iter().map(|v| v.as_str()).collect()
    }
}

fn nothing(_args: &CmdArgs) -> Result<()> {
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Gc,
    Status,
    Version,
}

impl Command {
    fn parse(s: &str) -> Option<Command> {
        Some(match s {
            "ADD" => Command::Add,
            "DEL" => Command::Del,
            "CHECK" => Command::Check,
            "GC" => Command::Gc,
            "STATUS" => Command::Status,
            "VERSION" => Command::Version,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Gc => "GC",
            Command::Status => "STATUS",
            Command::Version => "VERSION",
        }
    }
}

/// The state of `CNI_NETNS`, opened once by skel.
#[derive(Debug)]
pub enum NetnsArg {
    /// `CNI_NETNS` was empty (allowed for DEL, GC, STATUS).
    Unset,
    Open(Netns),
    Failed(NetnsError),
}

/// One invocation, validated.
pub struct CmdArgs {
    pub command: Command,
    pub container_id: String,
    pub netns_path: String,
    pub netns: NetnsArg,
    pub ifname: String,
    /// `CNI_ARGS`, unparsed: each plugin knows its own keys.
    pub args: String,
    /// `CNI_PATH`.
    pub path: String,
    pub stdin: Vec<u8>,
    /// stdin as JSON.
    pub config: Value,
    /// The keys every plugin shares, decoded from `config`.
    pub conf: NetConf,
    /// The request's version (one the plugin supports).
    pub version: Version,
    /// The environment the plugin was started with, for delegation.
    pub env: Vec<(OsString, OsString)>,
}

impl CmdArgs {
    /// The open container netns, or why it is not usable.
    pub fn netns(&self) -> Result<&Netns> {
        match &self.netns {
            NetnsArg::Open(ns) => Ok(ns),
            NetnsArg::Failed(e) => Err(e.to_error()),
            NetnsArg::Unset => Err(Error::invalid_env("CNI_NETNS is empty", "")),
        }
    }

    /// For DEL: the netns if it still exists; `None` when it is unset or
    /// gone, which is not an error.
    pub fn netns_if_exists(&self) -> Result<Option<&Netns>> {
        match &self.netns {
            NetnsArg::Open(ns) => Ok(Some(ns)),
            NetnsArg::Unset => Ok(None),
            NetnsArg::Failed(e) if e.is_not_exist() => Ok(None),
            NetnsArg::Failed(e) => Err(e.to_error()),
        }
    }

    /// `prevResult`, which the command requires (code 7 when absent).
    pub fn prev_result(&self) -> Result<CniResult> {
        self.conf
            .parse_prev_result()?
            .ok_or_else(|| Error::invalid_config("required prevResult missing", ""))
    }

    pub fn cni_path(&self) -> Vec<std::path::PathBuf> {
        crate::invoke::split_path(&self.path)
    }
}

/// Where skel reads and writes: the process's, or a test's.
pub struct Io<'a> {
    pub env: Vec<(OsString, OsString)>,
    pub stdin: &'a mut dyn Read,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
}

/// The request's cniVersion once known, for the panic hook.
static PANIC_VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Release builds abort on panic (no unwinding tables: smaller binaries),
/// so [`dispatch`]'s `catch_unwind` cannot turn a panic into a spec error
/// there; this hook does instead, then exits with status 1 before the
/// abort. Written with raw `write(2)`: the panic may have happened while
/// stdout's lock was held.
#[cfg(panic = "abort")]
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let version = PANIC_VERSION
            .get()
            .map(String::as_str)
            .unwrap_or(Version::CURRENT.as_str());
        let e = Error::internal(format!("internal error: plugin panicked: {what}"));
        let mut out = Vec::new();
        let _ = write_json(&mut out, &error_json(&e, version), true);
        let mut rest = out.as_slice();
        while !rest.is_empty() {
            // SAFETY: writes from a live buffer to fd 1.
            let n = unsafe { libc::write(1, rest.as_ptr().cast(), rest.len()) };
            if n <= 0 {
                break;
            }
            rest = &rest[n as usize..];
        }
        // SAFETY: ends the process without running anything else.
        unsafe { libc::_exit(1) }
    }));
}

/// Entry point of every plugin binary.
pub fn run(plugin: &Plugin) -> ! {
    #[cfg(panic = "abort")]
    install_panic_hook();
    let stdin = std::io::stdin();
    // stdout and stderr are not held locked for the whole run: an IPAM
    // plugin running in-process on another thread (`ipam`) writes its
    // warnings to stderr while this one waits for it.
    let code = dispatch(
        plugin,
        Io {
            env: std::env::vars_os().collect(),
            stdin: &mut stdin.lock(),
            stdout: &mut std::io::stdout(),
            stderr: &mut std::io::stderr(),
        },
    );
    std::process::exit(code)
}

/// Ends the process with `e` as a spec error on stdout, for a binary that
/// fails before it knows which plugin it is (the multi-call binary given a
/// name it does not carry).
pub fn fail(e: &Error) -> ! {
    let stdout = std::io::stdout();
    let _ = write_json(
        &mut stdout.lock(),
        &error_json(e, Version::CURRENT.as_str()),
        true,
    );
    std::process::exit(1)
}

/// Run one invocation; returns the exit status. This is what [`run`] does
/// with the process's environment and standard streams; tests call it with
/// their own.
///
/// ```
/// use pkg::skel::{dispatch, CmdArgs, Io, Plugin};
/// use pkg::types::CniResult;
///
/// fn add(_: &CmdArgs) -> pkg::Result<CniResult> { Ok(CniResult::default()) }
/// fn nothing(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// const NOOP: Plugin = Plugin::new("noop", add, nothing, nothing);
///
/// let env = vec![("CNI_COMMAND".into(), "VERSION".into())];
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let io = Io { env, stdin: &mut std::io::empty(), stdout: &mut out, stderr: &mut err };
/// assert_eq!(dispatch(&NOOP, io), 0);
/// assert!(String::from_utf8(out).unwrap().contains("\"supportedVersions\""));
/// ```
pub fn dispatch(plugin: &Plugin, io: Io<'_>) -> i32 {
    dispatch_with(plugin, io, None)
}

/// [`dispatch`] for a plugin run in-process by another plugin of this
/// suite with the same environment (the IPAM plugin: see [`crate::ipam`]):
/// `netns` is `CNI_NETNS` as that plugin already opened it and checked it
/// is not its own namespace, so it is not opened and checked twice.
pub fn dispatch_delegated(plugin: &Plugin, io: Io<'_>, netns: Option<Netns>) -> i32 {
    dispatch_with(plugin, io, netns)
}

fn dispatch_with(plugin: &Plugin, io: Io<'_>, opened: Option<Netns>) -> i32 {
    let Io {
        env,
        stdin,
        stdout,
        stderr,
    } = io;
    if getenv(&env, "CNI_COMMAND").is_empty() {
        let _ = writeln!(stderr, "{}", plugin.about());
        let _ = writeln!(
            stderr,
            "CNI protocol versions supported: {}",
            plugin.version_strings().join(", ")
        );
    }
    // The version of the request, once known, labels the error output.
    let mut request_version = String::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_command(plugin, env, stdin, opened, &mut request_version)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::internal(format!(
            "internal error: plugin panicked: {what}"
        )))
    });
    match outcome {
        Ok(Some(json)) => {
            // Go prints VERSION compact and results indented.
            let pretty = json.get("supportedVersions").is_none();
            if write_json(stdout, &json, pretty).is_err() {
                return 1;
            }
            0
        }
        Ok(None) => 0,
        Err(e) => {
            let version = if request_version.is_empty() {
                Version::CURRENT.as_str().to_string()
            } else {
                request_version
            };
            let _ = write_json(stdout, &error_json(&e, &version), true);
            1
        }
    }
}

/// The value of `key` (the last one set), or empty.
fn getenv(env: &[(OsString, OsString)], key: &str) -> String {
    env.iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The spec error object for `e`.
pub fn error_json(e: &Error, version: &str) -> Value {
    let mut obj = serde_json::Map::new();
    obj.insert("cniVersion".into(), Value::String(version.to_string()));
    obj.insert("code".into(), Value::from(e.code()));
    obj.insert("msg".into(), Value::String(e.msg()));
    let details = e.details();
    if !details.is_empty() {
        obj.insert("details".into(), Value::String(details));
    }
    Value::Object(obj)
}

fn write_json(w: &mut dyn Write, v: &Value, pretty: bool) -> std::io::Result<()> {
    let mut bytes = if pretty {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        serde::Serialize::serialize(v, &mut ser).map_err(std::io::Error::other)?;
        buf
    } else {
        serde_json::to_vec(v).map_err(std::io::Error::other)?
    };
    bytes.push(b'\n');
    w.write_all(&bytes)?;
    w.flush()
}

/// Which variables each command requires, in Go's reading order.
const ENV_VARS: [(&str, &[Command]); 6] = [
    ("CNI_COMMAND", &[]),
    (
        "CNI_CONTAINERID",
        &[Command::Add, Command::Check, Command::Del],
    ),
    ("CNI_NETNS", &[Command::Add, Command::Check]),
    ("CNI_IFNAME", &[Command::Add, Command::Check, Command::Del]),
    ("CNI_ARGS", &[]),
    (
        "CNI_PATH",
        &[
            Command::Add,
            Command::Check,
            Command::Del,
            Command::Gc,
            Command::Status,
        ],
    ),
];

/// The phases of one invocation, each checking in Go's order: the
/// environment, then (except for VERSION) stdin and the version gates, then
/// the netns; then the plugin's command. `request_version` is set as soon
/// as the config's version is known, to label a later error.
fn run_command(
    plugin: &Plugin,
    env: Vec<(OsString, OsString)>,
    stdin: &mut dyn Read,
    opened: Option<Netns>,
    request_version: &mut String,
) -> Result<Option<Value>> {
    let vars = EnvVars::read(&env)?;
    if vars.command == Command::Version {
        // Never read stdin: some callers never close it.
        let json = serde_json::json!({
            "cniVersion": Version::CURRENT.as_str(),
            "supportedVersions": plugin.version_strings(),
        });
        return Ok(Some(json));
    }
    let request = Request::read(stdin)?;
    request_version.clone_from(&request.version);
    let _ = PANIC_VERSION.set(request.version.clone());
    let version = negotiate(plugin, vars.command, &request.version)?;
    let args = vars.open(request, version, env, opened)?;
    match args.command {
        Command::Add => {
            let result = (plugin.add)(&args)?;
            Ok(Some(result.to_value(version)?))
        }
        Command::Del => (plugin.del)(&args).map(|_| None),
        Command::Check => (plugin.check)(&args).map(|_| None),
        Command::Gc => (plugin.gc)(&args).map(|_| None),
        Command::Status => (plugin.status)(&args).map(|_| None),
        Command::Version => Ok(None),
    }
}

/// The `CNI_*` variables, validated.
struct EnvVars {
    command: Command,
    container_id: String,
    netns: String,
    ifname: String,
    args: String,
    path: String,
    netns_override: bool,
}

impl EnvVars {
    /// The command first (an unknown one is refused before anything else),
    /// then every variable is valid UTF-8, then the required ones are
    /// present and valid (Documentation/spec-notes.md §1.9 step 1).
    fn read(env: &[(OsString, OsString)]) -> Result<EnvVars> {
        let command_str = getenv(env, "CNI_COMMAND");
        let command = if command_str.is_empty() {
            None
        } else {
            Some(Command::parse(&command_str).ok_or_else(|| {
                Error::invalid_env(format!("unknown CNI_COMMAND: {command_str}"), "")
            })?)
        };

        // A value that is not UTF-8 would be read with replacement
        // characters: an interface or path other than the one the runtime
        // named.
        for (name, _) in ENV_VARS {
            if let Some((_, v)) = env.iter().rev().find(|(k, _)| k == name)
                && v.to_str().is_none()
            {
                return Err(Error::invalid_env(
                    format!("{name} is not valid UTF-8"),
                    format!("{v:?}"),
                ));
            }
        }

        // Present required values are validated as we go; the missing ones
        // are reported together.
        let mut missing = Vec::new();
        for (name, required_for) in ENV_VARS {
            let value = getenv(env, name);
            let required =
                name == "CNI_COMMAND" || command.is_some_and(|c| required_for.contains(&c));
            if value.is_empty() {
                if required {
                    missing.push(name);
                }
            } else if required {
                match name {
                    "CNI_CONTAINERID" => validate::container_id(&value)?,
                    "CNI_IFNAME" => validate::interface_name(&value)?,
                    _ => {}
                }
            }
        }
        if !missing.is_empty() {
            return Err(Error::invalid_env(
                format!("required env variables [{}] missing", missing.join(",")),
                "",
            ));
        }
        let Some(command) = command else {
            // unreachable: an empty CNI_COMMAND is reported as missing above
            return Err(Error::invalid_env(
                "required env variables [CNI_COMMAND] missing",
                "",
            ));
        };
        Ok(EnvVars {
            command,
            container_id: getenv(env, "CNI_CONTAINERID"),
            netns: getenv(env, "CNI_NETNS"),
            ifname: getenv(env, "CNI_IFNAME"),
            args: getenv(env, "CNI_ARGS"),
            path: getenv(env, "CNI_PATH"),
            netns_override: netns_override(&getenv(env, "CNI_NETNS_OVERRIDE")),
        })
    }

    /// The last phase before the command: the shared config keys decoded,
    /// `CNI_NETNS` opened once, and our own namespace refused. `opened` is
    /// `CNI_NETNS` as a delegating plugin opened and checked it.
    fn open(
        self,
        request: Request,
        version: Version,
        env: Vec<(OsString, OsString)>,
        opened: Option<Netns>,
    ) -> Result<CmdArgs> {
        let conf = NetConf::from_value(&request.config)?;
        let (netns, checked) = match opened {
            Some(ns) if ns.path() == std::path::Path::new(&self.netns) => {
                (NetnsArg::Open(ns), true)
            }
            _ if self.netns.is_empty() => (NetnsArg::Unset, false),
            _ => match Netns::open(&self.netns) {
                Ok(ns) => (NetnsArg::Open(ns), false),
                Err(e) => (NetnsArg::Failed(e), false),
            },
        };
        // Refuse to act on our own namespace before doing anything (Go
        // checks only after the handler ran: plugins#714).
        if !checked
            && matches!(self.command, Command::Add | Command::Del)
            && !self.netns_override
            && let NetnsArg::Open(ns) = &netns
            && ns.is_current()?
        {
            return Err(Error::invalid_netns(
                "plugin's netns and netns from CNI_NETNS should not be the same",
                "",
            ));
        }
        Ok(CmdArgs {
            command: self.command,
            container_id: self.container_id,
            netns_path: self.netns,
            netns,
            ifname: self.ifname,
            args: self.args,
            path: self.path,
            stdin: request.stdin,
            config: request.config,
            conf,
            version,
            env,
        })
    }
}

/// stdin read and parsed, with a valid network name and the config's
/// version as written (`0.1.0` when absent).
struct Request {
    stdin: Vec<u8>,
    config: Value,
    version: String,
}

impl Request {
    fn read(stdin: &mut dyn Read) -> Result<Request> {
        let data = read_stdin(stdin)?;
        let config: Value = crate::types::parse::parse(&data)
            .map_err(|e| Error::decode(format!("error unmarshall network config: {e}"), ""))?;
        let obj = config.as_object().ok_or_else(|| {
            Error::decode("error unmarshall network config: not a JSON object", "")
        })?;
        let name = match crate::types::decode::get_ci(obj, "name") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(Error::decode(
                    format!("error unmarshall network config: name must be a string, got {other}"),
                    "",
                ));
            }
        };
        if name.is_empty() {
            return Err(Error::invalid_config("missing network name", ""));
        }
        validate::network_name(&name)?;
        let version = match crate::types::decode::get_ci(obj, "cniVersion") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(Error::decode(
                    format!(
                        "decoding version from network config: cniVersion must be a string, got {other}"
                    ),
                    "",
                ));
            }
        };
        let version = if version.is_empty() {
            "0.1.0".to_string()
        } else {
            version
        };
        Ok(Request {
            stdin: data,
            config,
            version,
        })
    }
}

/// The version gates: CHECK needs 0.4.0, GC and STATUS 1.1.0, in the config
/// and in the plugin; then the config's version must be one the plugin
/// speaks.
fn negotiate(plugin: &Plugin, command: Command, config_version: &str) -> Result<Version> {
    let minimum = match command {
        Command::Check => Some(Version::V0_4_0),
        Command::Gc | Command::Status => Some(Version::V1_1_0),
        _ => None,
    };
    if let Some(min) = minimum {
        if !version::greater_or_equal(config_version, min.as_str())? {
            return Err(Error::incompatible_version(
                format!("config version does not allow {}", command.as_str()),
                "",
            ));
        }
        let plugin_allows = plugin
            .versions
            .iter()
            .any(|v| version::greater_or_equal(v.as_str(), config_version).unwrap_or(false));
        if !plugin_allows {
            return Err(Error::incompatible_version(
                format!("plugin version does not allow {}", command.as_str()),
                "",
            ));
        }
    }
    plugin
        .versions
        .iter()
        .copied()
        .find(|v| v.as_str() == config_version)
        .ok_or_else(|| {
            let list: Vec<String> = plugin
                .version_strings()
                .iter()
                .map(|v| format!("{v:?}"))
                .collect();
            Error::incompatible_version(
                "incompatible CNI versions",
                format!(
                    "config is {config_version:?}, plugin supports [{}]",
                    list.join(" ")
                ),
            )
        })
}

/// The most stdin we read. Real configurations are a few KiB; one with a
/// prevResult and a runtime's port mappings stays far below this. Anything
/// larger is refused before it is parsed, so a plugin's memory stays
/// bounded whatever it is fed.
pub const MAX_STDIN: usize = 16 << 20;

fn read_stdin(stdin: &mut dyn Read) -> Result<Vec<u8>> {
    let mut data = Vec::new();
    stdin
        .take(MAX_STDIN as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::new(code::IO, format!("error reading from stdin: {e}"), ""))?;
    if data.len() > MAX_STDIN {
        return Err(Error::decode(
            format!(
                "error unmarshall network config: stdin is larger than {} MiB",
                MAX_STDIN >> 20
            ),
            "the network configuration is refused unread past this size",
        ));
    }
    Ok(data)
}

fn netns_override(v: &str) -> bool {
    v == "1" || v.eq_ignore_ascii_case("true")
}

#[cfg(test)]
#[path = "skel_tests.rs"]
mod tests;
