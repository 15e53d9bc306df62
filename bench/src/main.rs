//! cni-bench: our plugins against the reference plugins, side by side, in
//! scratch network namespaces (issue 7). See `Documentation/performance.md`.
//!
//! | module | job |
//! |---|---|
//! | `options` | command line |
//! | `impls` | the two plugin directories; which plugins are real |
//! | `measure` | exec one process, wall time and `wait4` rusage |
//! | `stats` | p50 / p95 / max |
//! | `testbed` | scratch namespaces (the integration tests' `TestNs`) |
//! | `netconf` | the network configs |
//! | `attach`, `true_floor`, `floor` | one ADD / DEL: by a plugin, by the netlink-only `cni-floor` (bare, or with Go's settings), or by iproute2 |
//! | `scenarios` | one module per scenario |
//! | `results`, `report`, `targets` | what was measured, printing, the targets |

mod attach;
mod floor;
mod impls;
mod interrupt;
mod measure;
mod netconf;
mod options;
mod report;
mod results;
mod scenarios;
mod stats;
mod targets;
mod testbed;
mod true_floor;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde_json::{Value, json};

use crate::impls::Impl;
use crate::options::Options;
use crate::report::Report;
use crate::results::Results;

/// Errors are messages for the operator: what failed, with what.
pub type Res<T> = Result<T, String>;

/// A progress line on stderr (a full run takes a quarter of an hour).
pub fn progress(msg: impl std::fmt::Display) {
    eprintln!("   .. {msg}");
}

/// The plugins the latency scenarios use (probed even when absent).
const SCENARIO_PLUGINS: [&str; 6] = [
    "bridge",
    "host-local",
    "ptp",
    "macvlan",
    "loopback",
    "tuning",
];

/// Executables that can sit next to the plugins but are not plugins.
/// The multi-call binary is counted through its plugin links.
const NOT_PLUGINS: [&str; 3] = ["cnitool", "cni-bench", "cni-plugins"];

fn main() -> ExitCode {
    let opts = match options::parse(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", options::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("cni-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("cni-bench: some scenarios failed (see ERROR above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("cni-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `Ok(false)` when the run completed but a scenario failed.
fn run(o: &Options) -> Res<bool> {
    interrupt::install()?;
    if let Some(why) = integration::missing_privilege() {
        return Err(format!("cannot run: {why}"));
    }
    for (flag, dir) in [("--ours", &o.ours), ("--theirs", &o.theirs)] {
        if !dir.is_dir() {
            return Err(format!(
                "{flag} {}: not a directory (build ours with ./build_linux.sh, or pass {flag} DIR)",
                dir.display()
            ));
        }
    }
    let names = plugin_names(&o.ours);
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let ours = Impl::probe("ours", &o.ours, &name_refs);
    let theirs = Impl::probe("theirs", &o.theirs, &name_refs);

    let report = Report::new(o.json);
    report.header(run_info(o, &ours, &theirs));
    let started = Instant::now();
    let mut results = Results::default();
    for name in options::SCENARIOS.iter().filter(|s| o.wants(s)) {
        interrupt::check()?;
        eprintln!("-- {name} (t+{:.0}s)", started.elapsed().as_secs_f64());
        scenarios::run(name, &ours, &theirs, &names, o, &mut |s| {
            report.section(&s);
            results.sections.push(s);
        });
    }
    interrupt::check()?;
    report.targets(&targets::evaluate(&results, o), o.quick);
    report.text_line(&format!(
        "\nfinished in {:.0} s; load average now {}",
        started.elapsed().as_secs_f64(),
        loadavg()
    ));
    Ok(!results.failed())
}

/// Every executable in our directory plus the scenario plugins, sorted:
/// the candidates for the size comparison (non-plugins fail the probe).
/// The benchmark itself is left out (it may sit in the same cargo target
/// directory), as are the tools that are not plugins.
fn plugin_names(ours: &Path) -> Vec<String> {
    let mut names: Vec<String> = SCENARIO_PLUGINS.iter().map(|s| s.to_string()).collect();
    let me = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let Ok(rd) = std::fs::read_dir(ours) else {
        return names;
    };
    for e in rd.flatten() {
        let path = e.path();
        // Followed: in a multi-call install the plugins are symlinks.
        let executable = std::fs::metadata(&path)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        let is_me = me.is_some() && std::fs::canonicalize(&path).ok() == me;
        if let Some(n) = e.file_name().to_str()
            && executable
            && !is_me
            && !NOT_PLUGINS.contains(&n)
            && !names.iter().any(|x| x == n)
        {
            names.push(n.to_string());
        }
    }
    names.sort();
    names
}

fn run_info(o: &Options, ours: &Impl, theirs: &Impl) -> Value {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let cpu_model = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_default();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut info = json!({
        "date": command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S UTC"]),
        "host": read("/proc/sys/kernel/hostname"),
        "kernel": read("/proc/sys/kernel/osrelease"),
        "cpus": cpus,
        "cpu": cpu_model,
        "load at start": loadavg(),
        "spawn baseline": spawn_baseline(),
        "ours": ours.dir.display().to_string(),
        "theirs": theirs.dir.display().to_string(),
        "cniVersion": impls::CNI_VERSION,
        "options": o.json_value(),
    });
    let pkg = command_output(
        "dpkg-query",
        &["-W", "-f", "${Version}", "containernetworking-plugins"],
    );
    if !pkg.is_empty() && theirs.dir.starts_with("/usr/lib/cni") {
        info["theirs package"] = json!(format!("containernetworking-plugins {pkg}"));
    }
    info
}

/// What measuring costs by itself: `true` exec'd the way the plugins are,
/// p50 of 20. Its peak RSS bounds how much of the benchmark's own memory
/// a child's `ru_maxrss` can carry from before its exec.
fn spawn_baseline() -> String {
    let mut samples = Vec::new();
    for _ in 0..20 {
        match measure::run(&mut Command::new("true"), b"") {
            Ok(f) => samples.push(f.sample),
            Err(e) => return format!("not measured: {e}"),
        }
    }
    let l = results::Latency::of("exec", "true", &samples);
    format!(
        "`true` exec'd and reaped: wall {:.2} ms, cpu {:.2} ms, peak RSS {:.0} KiB (p50 of 20)",
        l.wall.p50, l.cpu.p50, l.rss_kb.p50
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}
