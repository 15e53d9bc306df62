//! The command line: upstream's `cnitool <command> <network> <netns>` with
//! `-i/--ifname`, plus our options and commands.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cnitool",
    version,
    about = "Add or remove network interfaces from a network namespace with CNI plugins",
    after_help = "Environment: NETCONFPATH (config dir, default /etc/cni/net.d), CNI_PATH (plugin dirs, \
                  ':'-separated), CNI_IFNAME (default eth0), CNI_ARGS (K=V;K=V), CAP_ARGS (JSON object of \
                  capability args), CNI_CACHE_DIR (default /var/lib/cni).\n\
                  The container ID is cnitool- followed by 20 hex digits of the SHA-512 of the absolute netns \
                  path, so the commands for one netns address the same attachment."
)]
pub struct Cli {
    /// Interface name in the container (else $CNI_IFNAME, else eth0).
    #[arg(short = 'i', long, global = true, value_name = "NAME")]
    pub ifname: Option<String>,

    /// Result cache root (else $CNI_CACHE_DIR, else /var/lib/cni).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,

    /// Kill a plugin that runs longer than this; 0 waits forever.
    #[arg(long, global = true, value_name = "SECONDS", default_value = "120", value_parser = parse_timeout)]
    pub timeout: Timeout,

    /// Use this container ID instead of the one derived from the netns.
    #[arg(long, global = true, value_name = "ID")]
    pub container_id: Option<String>,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Add the network to the namespace; prints the result.
    Add(Attach),
    /// Check the attachment against the cached ADD result.
    Check(Attach),
    /// Remove the network from the namespace (the netns may be gone).
    Del(Attach),
    /// Delete every cached attachment of the network, then GC its plugins.
    Gc(NetOnly),
    /// Ask the network's plugins whether they are ready.
    Status(NetOnly),
    /// List the networks in NETCONFPATH.
    List(List),
    /// Show the spec versions plugins support.
    Version(Version),
    /// Check that a network's plugins exist and support its version.
    Validate(Validate),
}

#[derive(Args, Debug)]
pub struct Attach {
    pub network: String,
    // Not a doc comment: rustdoc would read <name> as an HTML tag.
    #[arg(help = "Path of the network namespace, e.g. /run/netns/<name>")]
    pub netns: String,
}

#[derive(Args, Debug)]
pub struct NetOnly {
    pub network: String,
    /// Accepted for compatibility with upstream; not used.
    pub netns: Option<String>,
}

#[derive(Args, Debug)]
pub struct List {
    /// Only the names of the networks a lookup by name finds, in lookup
    /// order (invalid files are reported on stderr).
    #[arg(short, long)]
    pub quiet: bool,
    /// Machine-readable output.
    #[arg(long, conflicts_with = "quiet")]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct Version {
    /// Plugin types to ask (default: those used by the networks in
    /// NETCONFPATH).
    pub plugins: Vec<String>,
}

#[derive(Args, Debug)]
pub struct Validate {
    pub network: String,
}

/// Parse the command line; usage errors exit 1 (as upstream), `--help`
/// and `--version` exit 0. `--version` gives the suite's version and
/// commit (`cnitool v0.1.0 (Rust, commit 0123456789ab)`).
pub fn parse() -> Result<Cli, ExitCode> {
    // clap takes a &'static str; this string lives as long as the process
    // anyway.
    let version: &'static str = Box::leak(pkg::release::describe().into_boxed_str());
    Cli::command()
        .version(version)
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches))
        .map_err(|e| {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        })
}

/// A plugin call's time limit; `None` waits forever.
#[derive(Debug, Clone, Copy)]
pub struct Timeout(pub Option<Duration>);

/// Seconds (fractions allowed); 0 means no timeout.
fn parse_timeout(s: &str) -> Result<Timeout, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs == 0.0 {
        return Ok(Timeout(None));
    }
    Duration::try_from_secs_f64(secs)
        .map(|d| Timeout(Some(d)))
        .map_err(|_| format!("{s:?} is not a usable number of seconds"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line() {
        Cli::command().debug_assert();
        struct Case {
            args: &'static [&'static str],
            ok: bool,
        }
        let cases = [
            Case {
                args: &["add", "net", "/run/netns/x"],
                ok: true,
            },
            Case {
                args: &["-i", "net1", "--timeout", "0", "check", "net", "/n"],
                ok: true,
            },
            Case {
                args: &["del", "net", "/n", "--ifname", "e1", "--cache-dir", "/c"],
                ok: true,
            },
            Case {
                args: &["--container-id", "c", "--timeout", "1.5", "gc", "net"],
                ok: true,
            },
            Case {
                args: &["status", "net", "/n"],
                ok: true,
            },
            Case {
                args: &["list", "-q"],
                ok: true,
            },
            Case {
                args: &["list", "--json"],
                ok: true,
            },
            Case {
                args: &["list", "-q", "--json"],
                ok: false,
            },
            Case {
                args: &["version", "bridge", "host-local"],
                ok: true,
            },
            Case {
                args: &["validate", "net"],
                ok: true,
            },
            Case {
                args: &["add", "net"],
                ok: false,
            },
            Case {
                args: &["frobnicate"],
                ok: false,
            },
            Case {
                args: &["--timeout", "-3", "list"],
                ok: false,
            },
            Case {
                args: &["--timeout", "inf", "list"],
                ok: false,
            },
        ];
        for c in cases {
            let argv = std::iter::once("cnitool").chain(c.args.iter().copied());
            match Cli::try_parse_from(argv) {
                Ok(cli) => {
                    assert!(c.ok, "{:?} parsed", c.args);
                    // every field reads back without a type mismatch
                    let _ = (
                        &cli.ifname,
                        &cli.cache_dir,
                        cli.timeout.0,
                        &cli.container_id,
                    );
                }
                Err(e) => assert!(!c.ok, "{:?}: {e}", c.args),
            }
        }
        let cli = Cli::try_parse_from(["cnitool", "list"]).unwrap();
        assert_eq!(cli.timeout.0, Some(Duration::from_secs(120)));
    }
}
