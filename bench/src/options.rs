//! Command-line options. Every size is a flag so that CI can run the whole
//! benchmark end to end with small numbers (`--quick`).

use std::path::PathBuf;
use std::time::Duration;

use crate::Res;

pub const USAGE: &str = "\
usage: cni-bench [options]

Benchmarks two directories of CNI plugins side by side (\"ours\" and
\"theirs\"), interleaved in one run, inside scratch network namespaces that
it creates and removes. Needs root.

  --ours DIR             our plugins (default: bin)
  --theirs DIR           the reference plugins (default: /usr/lib/cni)
  --floor-bin FILE       the true floor's program, cni-floor (default: next
                         to cni-bench; bench/run.sh builds it static with
                         musl and passes it), which also runs the floor
                         with Go's settings; without it both are left out
                         and the sections say so
  -n, --containers N     containers per sequential scenario (default 200)
  --reps R               repetitions of the sequential and churn scenarios,
                         fresh namespaces each time (default 3)
  --only LIST            comma-separated scenarios to run (default: all):
                         bridge, ptp, macvlan, loopback, churn, scale,
                         host-local, size, tuning-sysctls
  --churn-workers W      parallel workers (default 8)
  --churn-containers C   containers in the churn (default 400)
  --scale-small S        containers attached for the small point (default 10)
  --scale-large L        containers attached for the large point (default 1000)
  --scale-iters I        ADD+DEL probes at each point (default 50)
  --hl-allocs A          host-local allocations in a /16 (default 5000)
  --hl-window W          first/last window compared (default 100)
  --tuning-small S       keys in tuning's small sysctl map (default 1000)
  --tuning-large L       keys in the large one (default 10000)
  --tuning-reps R        ADDs of each map per implementation (default 10)
  --settle-ms MS         pause after namespaces are removed (default 1000)
  --quick                CI mode: every scenario with tiny numbers (n=5,
                         1 rep, churn 8x16, scale 2 vs 6, host-local 40/10,
                         tuning 100 vs 1000 keys x 2);
                         explicit flags still win. Figures are meaningless.
  --json                 JSON lines on stdout (the tables go to stderr)
  -h, --help             this text
";

/// The scenarios, in the order they run.
pub const SCENARIOS: [&str; 9] = [
    "bridge",
    "ptp",
    "macvlan",
    "loopback",
    "churn",
    "scale",
    "host-local",
    "size",
    "tuning-sysctls",
];

#[derive(Clone, Debug)]
pub struct Options {
    pub ours: PathBuf,
    pub theirs: PathBuf,
    pub floor_bin: Option<PathBuf>,
    pub containers: usize,
    pub reps: usize,
    pub only: Vec<String>,
    pub churn_workers: usize,
    pub churn_containers: usize,
    pub scale_small: usize,
    pub scale_large: usize,
    pub scale_iters: usize,
    pub hl_allocs: usize,
    pub hl_window: usize,
    pub tuning_small: usize,
    pub tuning_large: usize,
    pub tuning_reps: usize,
    pub settle: Duration,
    pub quick: bool,
    pub json: bool,
}

impl Options {
    pub fn wants(&self, scenario: &str) -> bool {
        self.only.iter().any(|s| s == scenario)
    }

    /// The options as one JSON object, for the run header.
    pub fn json_value(&self) -> serde_json::Value {
        serde_json::json!({
            "ours": self.ours.display().to_string(),
            "theirs": self.theirs.display().to_string(),
            "floor_bin": self.floor_bin.as_ref().map(|p| p.display().to_string()),
            "containers": self.containers,
            "reps": self.reps,
            "only": self.only,
            "churn_workers": self.churn_workers,
            "churn_containers": self.churn_containers,
            "scale_small": self.scale_small,
            "scale_large": self.scale_large,
            "scale_iters": self.scale_iters,
            "hl_allocs": self.hl_allocs,
            "hl_window": self.hl_window,
            "tuning_small": self.tuning_small,
            "tuning_large": self.tuning_large,
            "tuning_reps": self.tuning_reps,
            "quick": self.quick,
        })
    }
}

/// `None` when help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Res<Option<Options>> {
    let mut raw = Raw::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Res<String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => raw.quick = true,
            "--json" => raw.json = true,
            "--ours" => raw.ours = Some(PathBuf::from(value(&flag)?)),
            "--theirs" => raw.theirs = Some(PathBuf::from(value(&flag)?)),
            "--floor-bin" => raw.floor_bin = Some(PathBuf::from(value(&flag)?)),
            "--only" => raw.only = Some(scenarios(&value(&flag)?)?),
            "-n" | "--containers" => raw.containers = Some(count(&flag, &value(&flag)?)?),
            "--reps" => raw.reps = Some(count(&flag, &value(&flag)?)?),
            "--churn-workers" => raw.churn_workers = Some(count(&flag, &value(&flag)?)?),
            "--churn-containers" => raw.churn_containers = Some(count(&flag, &value(&flag)?)?),
            "--scale-small" => raw.scale_small = Some(number(&flag, &value(&flag)?)?),
            "--scale-large" => raw.scale_large = Some(count(&flag, &value(&flag)?)?),
            "--scale-iters" => raw.scale_iters = Some(count(&flag, &value(&flag)?)?),
            "--hl-allocs" => raw.hl_allocs = Some(count(&flag, &value(&flag)?)?),
            "--hl-window" => raw.hl_window = Some(count(&flag, &value(&flag)?)?),
            "--tuning-small" => raw.tuning_small = Some(count(&flag, &value(&flag)?)?),
            "--tuning-large" => raw.tuning_large = Some(count(&flag, &value(&flag)?)?),
            "--tuning-reps" => raw.tuning_reps = Some(count(&flag, &value(&flag)?)?),
            "--settle-ms" => raw.settle_ms = Some(number(&flag, &value(&flag)?)?),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    raw.resolve().map(Some)
}

#[derive(Default)]
struct Raw {
    quick: bool,
    json: bool,
    ours: Option<PathBuf>,
    theirs: Option<PathBuf>,
    floor_bin: Option<PathBuf>,
    only: Option<Vec<String>>,
    containers: Option<usize>,
    reps: Option<usize>,
    churn_workers: Option<usize>,
    churn_containers: Option<usize>,
    scale_small: Option<usize>,
    scale_large: Option<usize>,
    scale_iters: Option<usize>,
    hl_allocs: Option<usize>,
    hl_window: Option<usize>,
    tuning_small: Option<usize>,
    tuning_large: Option<usize>,
    tuning_reps: Option<usize>,
    settle_ms: Option<usize>,
}

impl Raw {
    fn resolve(self) -> Res<Options> {
        let q = self.quick;
        let pick =
            |v: Option<usize>, full: usize, quick: usize| v.unwrap_or(if q { quick } else { full });
        let o = Options {
            ours: self.ours.unwrap_or_else(|| PathBuf::from("bin")),
            theirs: self
                .theirs
                .unwrap_or_else(|| PathBuf::from(integration::GO_PLUGIN_DIR)),
            floor_bin: self.floor_bin.or_else(default_floor_bin),
            containers: pick(self.containers, 200, 5),
            reps: pick(self.reps, 3, 1),
            only: self
                .only
                .unwrap_or_else(|| SCENARIOS.iter().map(|s| s.to_string()).collect()),
            churn_workers: pick(self.churn_workers, 8, 8),
            churn_containers: pick(self.churn_containers, 400, 16),
            scale_small: pick(self.scale_small, 10, 2),
            scale_large: pick(self.scale_large, 1000, 6),
            scale_iters: pick(self.scale_iters, 50, 3),
            hl_allocs: pick(self.hl_allocs, 5000, 40),
            hl_window: pick(self.hl_window, 100, 10),
            tuning_small: pick(self.tuning_small, 1_000, 100),
            tuning_large: pick(self.tuning_large, 10_000, 1_000),
            tuning_reps: pick(self.tuning_reps, 10, 2),
            settle: Duration::from_millis(pick(self.settle_ms, 1000, 100) as u64),
            quick: q,
            json: self.json,
        };
        if o.scale_large <= o.scale_small {
            return Err(format!(
                "--scale-large ({}) must be larger than --scale-small ({})",
                o.scale_large, o.scale_small
            ));
        }
        if o.hl_window > o.hl_allocs {
            return Err(format!(
                "--hl-window ({}) cannot exceed --hl-allocs ({})",
                o.hl_window, o.hl_allocs
            ));
        }
        if o.tuning_large <= o.tuning_small {
            return Err(format!(
                "--tuning-large ({}) must be larger than --tuning-small ({})",
                o.tuning_large, o.tuning_small
            ));
        }
        // The container gets a veth pair per 250 keys or so.
        if o.tuning_large > 100_000 {
            return Err("--tuning-large: at most 100000 keys".into());
        }
        // One /16 holds the addresses of every scenario's containers.
        let most = o
            .containers
            .max(o.churn_containers)
            .max(o.scale_large + o.scale_iters);
        if most > 60_000 || o.hl_allocs > 65_000 {
            return Err("at most 60000 containers (one /16 per network)".into());
        }
        Ok(o)
    }
}

/// `cni-floor` next to the running `cni-bench`, when it is there.
fn default_floor_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.join("cni-floor");
    p.is_file().then_some(p)
}

fn number(flag: &str, v: &str) -> Res<usize> {
    v.parse()
        .map_err(|_| format!("{flag}: {v:?} is not a non-negative integer"))
}

fn count(flag: &str, v: &str) -> Res<usize> {
    match number(flag, v)? {
        0 => Err(format!("{flag} must be at least 1")),
        n => Ok(n),
    }
}

fn scenarios(list: &str) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for s in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !SCENARIOS.contains(&s) {
            return Err(format!(
                "--only: unknown scenario {s:?} (known: {})",
                SCENARIOS.join(", ")
            ));
        }
        out.push(s.to_string());
    }
    if out.is_empty() {
        return Err("--only needs at least one scenario".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Res<Option<Options>> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_quick_and_overrides() {
        let o = p(&[]).unwrap().unwrap();
        assert_eq!((o.containers, o.reps, o.scale_large), (200, 3, 1000));
        assert_eq!(
            (o.tuning_small, o.tuning_large, o.tuning_reps),
            (1000, 10000, 10)
        );
        assert_eq!(o.only.len(), SCENARIOS.len());
        let o = p(&["--quick", "-n", "7", "--only=bridge,size"])
            .unwrap()
            .unwrap();
        assert_eq!((o.containers, o.reps, o.hl_allocs), (7, 1, 40));
        assert_eq!(
            (o.tuning_small, o.tuning_large, o.tuning_reps),
            (100, 1000, 2)
        );
        assert_eq!(o.only, vec!["bridge", "size"]);
        assert!(p(&["--help"]).unwrap().is_none());
    }

    #[test]
    fn errors() {
        let cases: Vec<(&[&str], &str)> = vec![
            (&["--bogus"], "unknown option"),
            (&["-n"], "needs a value"),
            (&["-n", "x"], "not a non-negative integer"),
            (&["--reps", "0"], "at least 1"),
            (&["--only", "nope"], "unknown scenario"),
            (
                &["--scale-small", "10", "--scale-large", "5"],
                "must be larger",
            ),
            (&["--hl-allocs", "5", "--hl-window", "6"], "cannot exceed"),
            (&["--tuning-large", "1000"], "must be larger"),
            (&["--tuning-large", "200000"], "at most 100000"),
        ];
        for (args, want) in cases {
            let e = p(args).unwrap_err();
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }
}
