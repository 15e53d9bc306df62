//! The daemon's command line: Go's flags (`-socketpath PATH`,
//! `-socketpath=PATH`, `--socketpath PATH`, `-broadcast`,
//! `-broadcast=false`, durations as Go writes them: `10s`, `1m30s`,
//! `500ms`) so that units written for Go's daemon run this one unchanged,
//! plus `-statedir` and `-socketgroup` of our own.

use std::path::PathBuf;
use std::time::Duration;

use crate::client::exchange::Settings;
use crate::config::DEFAULT_SOCKET;

pub const DEFAULT_STATE_DIR: &str = "/var/lib/cni/dhcp";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flags {
    pub pidfile: Option<PathBuf>,
    pub host_prefix: String,
    pub socket_path: PathBuf,
    pub state_dir: PathBuf,
    /// Socket mode 0660 with this group (name or number) instead of 0600.
    pub socket_group: Option<String>,
    pub settings: Settings,
}

impl Default for Flags {
    fn default() -> Flags {
        Flags {
            pidfile: None,
            host_prefix: String::new(),
            socket_path: PathBuf::from(DEFAULT_SOCKET),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            socket_group: None,
            settings: Settings::default(),
        }
    }
}

pub const USAGE: &str = "usage: dhcp daemon [-socketpath PATH] [-statedir DIR] [-socketgroup GROUP] \
[-pidfile PATH] [-hostprefix PATH] [-broadcast] [-timeout 10s] [-resendmax 62s] [-resendtimeout 208s]";

impl Flags {
    pub fn parse(args: &[String]) -> Result<Flags, String> {
        let mut f = Flags::default();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!("unexpected argument {arg:?}"));
            };
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            if name == "broadcast" {
                f.settings.broadcast = match inline.as_deref() {
                    None | Some("true" | "1" | "t" | "T" | "TRUE" | "True") => true,
                    Some("false" | "0" | "f" | "F" | "FALSE" | "False") => false,
                    Some(v) => return Err(format!("invalid boolean value {v:?} for -broadcast")),
                };
                continue;
            }
            let mut value = || {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("flag needs an argument: -{name}"))
            };
            match name {
                "pidfile" => {
                    f.pidfile = Some(PathBuf::from(value()?)).filter(|p| !p.as_os_str().is_empty())
                }
                "hostprefix" => f.host_prefix = value()?,
                "socketpath" => {
                    let v = value()?;
                    if !v.is_empty() {
                        f.socket_path = PathBuf::from(v);
                    }
                }
                "statedir" => f.state_dir = PathBuf::from(value()?),
                "socketgroup" => f.socket_group = Some(value()?).filter(|g| !g.is_empty()),
                "timeout" => f.settings.timeout = duration(name, &value()?)?,
                "resendmax" => f.settings.resend_max = duration(name, &value()?)?,
                "resendtimeout" => f.settings.resend_timeout = duration(name, &value()?)?,
                "h" | "help" => return Err(String::new()),
                _ => return Err(format!("flag provided but not defined: -{name}")),
            }
        }
        Ok(f)
    }
}

fn duration(flag: &str, s: &str) -> Result<Duration, String> {
    parse_duration(s)
        .ok_or_else(|| format!("invalid value {s:?} for flag -{flag}: invalid duration"))
}

/// Go's time.ParseDuration for non-negative values: `300ms`, `1.5h`,
/// `2h45m`; a bare `0` is zero.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." {
            return None;
        }
        let n: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += n * scale;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn durations() {
        for (s, ms) in [
            ("10s", Some(10_000)),
            ("1m30s", Some(90_000)),
            ("500ms", Some(500)),
            ("1.5h", Some(5_400_000)),
            ("0", Some(0)),
            ("2h45m", Some(9_900_000)),
            ("10", None),
            ("", None),
            ("s", None),
            ("-1s", None),
            ("1x", None),
        ] {
            assert_eq!(parse_duration(s).map(|d| d.as_millis() as u64), ms, "{s}");
        }
    }

    #[test]
    fn go_and_gnu_spellings() {
        let f = Flags::parse(&strs(&[
            "-socketpath",
            "/tmp/s.sock",
            "--timeout=2s",
            "-broadcast",
            "-resendmax",
            "5s",
            "-resendtimeout=1m",
            "-hostprefix=/host",
            "-pidfile",
            "/run/d.pid",
            "--statedir",
            "/tmp/st",
            "-socketgroup=cni",
        ]))
        .unwrap();
        assert_eq!(f.socket_path, PathBuf::from("/tmp/s.sock"));
        assert_eq!(f.settings.timeout, Duration::from_secs(2));
        assert!(f.settings.broadcast);
        assert_eq!(f.settings.resend_max, Duration::from_secs(5));
        assert_eq!(f.settings.resend_timeout, Duration::from_secs(60));
        assert_eq!(f.host_prefix, "/host");
        assert_eq!(f.pidfile, Some(PathBuf::from("/run/d.pid")));
        assert_eq!(f.state_dir, PathBuf::from("/tmp/st"));
        assert_eq!(f.socket_group.as_deref(), Some("cni"));

        assert_eq!(Flags::parse(&[]).unwrap(), Flags::default());
        assert!(
            !Flags::parse(&strs(&["-broadcast=false"]))
                .unwrap()
                .settings
                .broadcast
        );
        // Go's default when the flag is given empty
        assert_eq!(
            Flags::parse(&strs(&["-socketpath="])).unwrap().socket_path,
            PathBuf::from(DEFAULT_SOCKET)
        );
        for bad in [
            &["-nope"][..],
            &["-timeout"],
            &["-timeout", "ten"],
            &["stray"],
            &["-broadcast=maybe"],
        ] {
            assert!(Flags::parse(&strs(bad)).is_err(), "{bad:?}");
        }
    }
}
