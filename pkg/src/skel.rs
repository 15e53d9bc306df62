//! The plugin skeleton: reads `CNI_*` and stdin, validates them exactly as
//! Go's `pkg/skel` does (spec-notes §1.9), gates commands by version, calls
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

/// What a plugin implements. GC and STATUS default to success, which is what
/// the spec asks of a plugin with nothing to collect or report.
pub trait Plugin {
    fn add(&self, args: &CmdArgs) -> Result<CniResult>;
    fn del(&self, args: &CmdArgs) -> Result<()>;
    fn check(&self, args: &CmdArgs) -> Result<()>;
    fn gc(&self, _args: &CmdArgs) -> Result<()> {
        Ok(())
    }
    fn status(&self, _args: &CmdArgs) -> Result<()> {
        Ok(())
    }
}

/// A [`Plugin`] made of free functions, for a plugin that keeps each
/// command in its own module (as this suite's do). Name the commands the
/// plugin has and take the rest from [`Commands::new`], where GC and STATUS
/// succeed with nothing to do:
///
/// ```
/// use pkg::skel::{CmdArgs, Commands};
/// use pkg::types::CniResult;
/// # fn add(_: &CmdArgs) -> pkg::Result<CniResult> { unimplemented!() }
/// # fn del(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// # fn check(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// # fn gc(_: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// let plugin = Commands {
///     gc,
///     ..Commands::new(add, del, check)
/// };
/// // skel::run(&plugin, &PluginInfo::all_versions("my-plugin"));
/// # let _ = plugin;
/// ```
#[derive(Clone, Copy)]
pub struct Commands {
    pub add: fn(&CmdArgs) -> Result<CniResult>,
    pub del: fn(&CmdArgs) -> Result<()>,
    pub check: fn(&CmdArgs) -> Result<()>,
    pub gc: fn(&CmdArgs) -> Result<()>,
    pub status: fn(&CmdArgs) -> Result<()>,
}

impl Commands {
    /// ADD, DEL and CHECK as given; GC and STATUS succeed doing nothing.
    pub const fn new(
        add: fn(&CmdArgs) -> Result<CniResult>,
        del: fn(&CmdArgs) -> Result<()>,
        check: fn(&CmdArgs) -> Result<()>,
    ) -> Commands {
        Commands {
            add,
            del,
            check,
            gc: nothing,
            status: nothing,
        }
    }
}

fn nothing(_args: &CmdArgs) -> Result<()> {
    Ok(())
}

impl Plugin for Commands {
    fn add(&self, args: &CmdArgs) -> Result<CniResult> {
        (self.add)(args)
    }
    fn del(&self, args: &CmdArgs) -> Result<()> {
        (self.del)(args)
    }
    fn check(&self, args: &CmdArgs) -> Result<()> {
        (self.check)(args)
    }
    fn gc(&self, args: &CmdArgs) -> Result<()> {
        (self.gc)(args)
    }
    fn status(&self, args: &CmdArgs) -> Result<()> {
        (self.status)(args)
    }
}

/// The plugin's name/description and the versions it answers.
pub struct PluginInfo {
    pub about: String,
    pub versions: Vec<Version>,
}

impl PluginInfo {
    /// A plugin of this suite that speaks every version.
    pub fn all_versions(name: &str) -> PluginInfo {
        PluginInfo::since(name, Version::V0_1_0)
    }

    /// A plugin of this suite that speaks `oldest` and every later version.
    pub fn since(name: &str, oldest: Version) -> PluginInfo {
        PluginInfo {
            about: about(name),
            versions: Version::ALL.into_iter().filter(|v| *v >= oldest).collect(),
        }
    }

    fn version_strings(&self) -> Vec<&'static str> {
        self.versions.iter().map(|v| v.as_str()).collect()
    }
}

/// The one-line description printed when a human runs the binary.
pub fn about(name: &str) -> String {
    format!("CNI {name} plugin {} (Rust)", env!("CARGO_PKG_VERSION"))
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
pub fn run(plugin: &dyn Plugin, info: &PluginInfo) -> ! {
    #[cfg(panic = "abort")]
    install_panic_hook();
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let code = dispatch(
        plugin,
        info,
        Io {
            env: std::env::vars_os().collect(),
            stdin: &mut stdin.lock(),
            stdout: &mut stdout.lock(),
            stderr: &mut stderr.lock(),
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
/// use pkg::skel::{dispatch, CmdArgs, Io, Plugin, PluginInfo};
/// use pkg::types::CniResult;
///
/// struct Noop;
/// impl Plugin for Noop {
///     fn add(&self, _: &CmdArgs) -> pkg::Result<CniResult> { Ok(CniResult::default()) }
///     fn del(&self, _: &CmdArgs) -> pkg::Result<()> { Ok(()) }
///     fn check(&self, _: &CmdArgs) -> pkg::Result<()> { Ok(()) }
/// }
///
/// let env = vec![("CNI_COMMAND".into(), "VERSION".into())];
/// let (mut out, mut err) = (Vec::new(), Vec::new());
/// let io = Io { env, stdin: &mut std::io::empty(), stdout: &mut out, stderr: &mut err };
/// assert_eq!(dispatch(&Noop, &PluginInfo::all_versions("noop"), io), 0);
/// assert!(String::from_utf8(out).unwrap().contains("\"supportedVersions\""));
/// ```
pub fn dispatch(plugin: &dyn Plugin, info: &PluginInfo, io: Io<'_>) -> i32 {
    let Io {
        env,
        stdin,
        stdout,
        stderr,
    } = io;
    let getenv = |key: &str| -> String {
        env.iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let command = getenv("CNI_COMMAND");
    if command.is_empty() {
        let _ = writeln!(stderr, "{}", info.about);
        let _ = writeln!(
            stderr,
            "CNI protocol versions supported: {}",
            info.version_strings().join(", ")
        );
    }
    // The version of the request, once known, labels the error output.
    let mut request_version = String::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        run_command(
            plugin,
            info,
            &command,
            &getenv,
            env.clone(),
            stdin,
            &mut request_version,
        )
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

#[allow(clippy::too_many_arguments)]
fn run_command(
    plugin: &dyn Plugin,
    info: &PluginInfo,
    command_str: &str,
    getenv: &dyn Fn(&str) -> String,
    env: Vec<(OsString, OsString)>,
    stdin: &mut dyn Read,
    request_version: &mut String,
) -> Result<Option<Value>> {
    let command =
        if command_str.is_empty() {
            None
        } else {
            Some(Command::parse(command_str).ok_or_else(|| {
                Error::invalid_env(format!("unknown CNI_COMMAND: {command_str}"), "")
            })?)
        };

    // A value that is not UTF-8 would be read with replacement characters:
    // an interface or path other than the one the runtime named.
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

    // Environment: validate present required values as we go, report the
    // missing ones together (spec-notes §1.9 step 1).
    let mut missing = Vec::new();
    for (name, required_for) in ENV_VARS {
        let value = getenv(name);
        let required = name == "CNI_COMMAND" || command.is_some_and(|c| required_for.contains(&c));
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

    if command == Command::Version {
        // Never read stdin: some callers never close it.
        let json = serde_json::json!({
            "cniVersion": Version::CURRENT.as_str(),
            "supportedVersions": info.version_strings(),
        });
        return Ok(Some(json));
    }

    let stdin_data = read_stdin(stdin)?;
    let config: Value = crate::types::parse::parse(&stdin_data)
        .map_err(|e| Error::decode(format!("error unmarshall network config: {e}"), ""))?;
    let obj = config
        .as_object()
        .ok_or_else(|| Error::decode("error unmarshall network config: not a JSON object", ""))?;
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
    let config_version = match crate::types::decode::get_ci(obj, "cniVersion") {
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
    let config_version = if config_version.is_empty() {
        "0.1.0".to_string()
    } else {
        config_version
    };
    *request_version = config_version.clone();
    let _ = PANIC_VERSION.set(config_version.clone());

    let minimum = match command {
        Command::Check => Some(Version::V0_4_0),
        Command::Gc | Command::Status => Some(Version::V1_1_0),
        _ => None,
    };
    if let Some(min) = minimum {
        if !version::greater_or_equal(&config_version, min.as_str())? {
            return Err(Error::incompatible_version(
                format!("config version does not allow {}", command.as_str()),
                "",
            ));
        }
        let plugin_allows = info
            .versions
            .iter()
            .any(|v| version::greater_or_equal(v.as_str(), &config_version).unwrap_or(false));
        if !plugin_allows {
            return Err(Error::incompatible_version(
                format!("plugin version does not allow {}", command.as_str()),
                "",
            ));
        }
    }
    let version = info
        .versions
        .iter()
        .copied()
        .find(|v| v.as_str() == config_version)
        .ok_or_else(|| {
            let list: Vec<String> = info
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
        })?;

    let conf = NetConf::from_value(&config)?;
    let netns_path = getenv("CNI_NETNS");
    let netns = if netns_path.is_empty() {
        NetnsArg::Unset
    } else {
        match Netns::open(&netns_path) {
            Ok(ns) => NetnsArg::Open(ns),
            Err(e) => NetnsArg::Failed(e),
        }
    };

    // Refuse to act on our own namespace before doing anything (Go checks
    // only after the handler ran: plugins#714).
    if matches!(command, Command::Add | Command::Del)
        && !netns_override(&getenv("CNI_NETNS_OVERRIDE"))
        && let NetnsArg::Open(ns) = &netns
        && ns.same_as(&Netns::current()?)?
    {
        return Err(Error::invalid_netns(
            "plugin's netns and netns from CNI_NETNS should not be the same",
            "",
        ));
    }

    let args = CmdArgs {
        command,
        container_id: getenv("CNI_CONTAINERID"),
        netns_path,
        netns,
        ifname: getenv("CNI_IFNAME"),
        args: getenv("CNI_ARGS"),
        path: getenv("CNI_PATH"),
        stdin: stdin_data,
        config,
        conf,
        version,
        env,
    };
    match command {
        Command::Add => {
            let result = plugin.add(&args)?;
            Ok(Some(result.to_value(version)?))
        }
        Command::Del => plugin.del(&args).map(|_| None),
        Command::Check => plugin.check(&args).map(|_| None),
        Command::Gc => plugin.gc(&args).map(|_| None),
        Command::Status => plugin.status(&args).map(|_| None),
        Command::Version => Ok(None),
    }
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
