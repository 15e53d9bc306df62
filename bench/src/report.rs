//! Printing: a table per section for people and, with `--json`, one JSON
//! object per line for machines (then the tables go to stderr).

use std::io::Write;

use serde_json::{Value, json};

use crate::results::{Latency, Section};
use crate::stats::{ratio, round};
use crate::targets::Target;
use crate::true_floor;

pub struct Report {
    json: bool,
}

impl Report {
    pub fn new(json: bool) -> Report {
        Report { json }
    }

    /// Human text: stdout, or stderr when stdout carries JSON.
    fn text(&self, s: &str) {
        if self.json {
            eprint!("{s}");
        } else {
            print!("{s}");
            let _ = std::io::stdout().flush();
        }
    }

    fn line(&self, v: Value) {
        if self.json {
            println!("{v}");
        }
    }

    pub fn header(&self, run: Value) {
        let mut t = String::from("cni-bench\n");
        if let Some(obj) = run.as_object() {
            for (k, v) in obj {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                t.push_str(&format!("  {k}: {v}\n"));
            }
        }
        self.text(&t);
        self.line(json!({ "run": run }));
    }

    pub fn section(&self, s: &Section) {
        self.text(&section_text(s));
        if let Some(why) = &s.skipped {
            self.line(json!({"section": s.id, "title": s.title, "skipped": why}));
            return;
        }
        for l in &s.latencies {
            let ours = s.latency(&l.op, "ours");
            let mut v = json!({
                "section": s.id,
                "op": l.op,
                "impl": l.imp,
                "n": l.wall.n,
                "wall_ms": l.wall.json(),
                "cpu_ms": l.cpu.json(),
                "maxrss_kb": {"p50": l.rss_kb.p50, "max": l.rss_kb.max},
            });
            if let Some(o) = ours.filter(|_| l.imp != "ours") {
                v["wall_p50_vs_ours"] = json!(ratio(l.wall.p50, o.wall.p50).map(round));
                v["cpu_p50_vs_ours"] = json!(ratio(l.cpu.p50, o.cpu.p50).map(round));
            }
            let floor = s.latency(&l.op, true_floor::LABEL);
            if let Some(f) = floor.filter(|_| l.imp != true_floor::LABEL) {
                v["wall_p50_vs_floor"] = json!(ratio(l.wall.p50, f.wall.p50).map(round));
                v["cpu_p50_vs_floor"] = json!(ratio(l.cpu.p50, f.cpu.p50).map(round));
            }
            self.line(v);
        }
        for sc in &s.scalars {
            self.line(json!({
                "section": s.id,
                "metric": sc.name,
                "impl": sc.imp,
                "value": round(sc.value),
                "unit": sc.unit,
            }));
        }
        for n in &s.notes {
            self.line(json!({"section": s.id, "note": n}));
        }
        if let Some(e) = &s.error {
            self.line(json!({"section": s.id, "error": e}));
        }
    }

    pub fn targets(&self, targets: &[Target], quick: bool) {
        let mut t = String::from("\n== targets (issues 7, 20 and 21), this run\n");
        if quick {
            t.push_str("   (--quick: tiny numbers, the verdicts only show the pipeline works)\n");
        }
        let rows: Vec<[String; 6]> = targets
            .iter()
            .map(|x| {
                [
                    x.what.clone(),
                    x.ours.clone(),
                    x.theirs.clone(),
                    x.ratio.map(|r| format!("{r:.2}x")).unwrap_or("-".into()),
                    x.goal.to_string(),
                    x.met_text().to_string(),
                ]
            })
            .collect();
        t.push_str(&table(
            &["what", "ours", "theirs", "ratio", "target", "met"],
            &rows,
        ));
        self.text(&t);
        for x in targets {
            self.line(x.json());
        }
    }

    pub fn text_line(&self, s: &str) {
        self.text(&format!("{s}\n"));
    }
}

fn section_text(s: &Section) -> String {
    let mut t = format!("\n== {}\n", s.title);
    if let Some(why) = &s.skipped {
        t.push_str(&format!("   skipped: {why}\n"));
        return t;
    }
    for n in &s.notes {
        t.push_str(&format!("   note: {n}\n"));
    }
    if !s.latencies.is_empty() {
        let rows: Vec<[String; 13]> = s
            .latencies
            .iter()
            .map(|l| {
                latency_row(
                    l,
                    s.latency(&l.op, "ours"),
                    s.latency(&l.op, true_floor::LABEL),
                )
            })
            .collect();
        t.push_str(&table(
            &[
                "op",
                "impl",
                "n",
                "wall p50",
                "p95",
                "max",
                "cpu p50",
                "p95",
                "rss p50",
                "x/ours wall",
                "x/ours cpu",
                "x/floor wall",
                "x/floor cpu",
            ],
            &rows,
        ));
    }
    if !s.scalars.is_empty() {
        let mut names: Vec<&str> = Vec::new();
        for sc in &s.scalars {
            if !names.contains(&sc.name.as_str()) {
                names.push(&sc.name);
            }
        }
        let rows: Vec<[String; 4]> = names
            .iter()
            .map(|n| {
                let get = |imp| s.scalars.iter().find(|x| x.name == *n && x.imp == imp);
                let (o, th) = (get("ours"), get("theirs"));
                let r = match (o, th) {
                    (Some(a), Some(b)) => ratio(b.value, a.value)
                        .map(|r| format!("{r:.2}x"))
                        .unwrap_or("-".into()),
                    _ => "-".into(),
                };
                let show = |x: Option<&crate::results::Scalar>| {
                    x.map(|x| scalar_text(x.value, x.unit))
                        .unwrap_or("-".into())
                };
                [n.to_string(), show(o), show(th), r]
            })
            .collect();
        t.push_str(&table(&["figure", "ours", "theirs", "theirs/ours"], &rows));
    }
    if let Some(e) = &s.error {
        t.push_str(&format!("   ERROR: {e}\n"));
    }
    t
}

/// One latency line, with its p50s over ours' and over the true floor's
/// (blank on the line they are relative to, or when it is absent).
fn latency_row(l: &Latency, ours: Option<&Latency>, floor: Option<&Latency>) -> [String; 13] {
    let vs = |base: &str, a: f64, b: Option<f64>| match b.and_then(|b| ratio(a, b)) {
        Some(r) if l.imp != base => format!("{r:.2}x"),
        _ => String::new(),
    };
    [
        l.op.clone(),
        l.imp.clone(),
        l.wall.n.to_string(),
        format!("{:.2}", l.wall.p50),
        format!("{:.2}", l.wall.p95),
        format!("{:.2}", l.wall.max),
        format!("{:.2}", l.cpu.p50),
        format!("{:.2}", l.cpu.p95),
        format!("{:.1}M", l.rss_kb.p50 / 1024.0),
        vs("ours", l.wall.p50, ours.map(|o| o.wall.p50)),
        vs("ours", l.cpu.p50, ours.map(|o| o.cpu.p50)),
        vs(true_floor::LABEL, l.wall.p50, floor.map(|f| f.wall.p50)),
        vs(true_floor::LABEL, l.cpu.p50, floor.map(|f| f.cpu.p50)),
    ]
}

fn scalar_text(v: f64, unit: &str) -> String {
    match unit {
        "B" => format!("{:.0} ({:.2} MB)", v, v / 1e6),
        "x" => format!("{v:.2}x"),
        "ops/s" => format!("{v:.1}"),
        _ => format!("{v:.0}"),
    }
}

/// A left-aligned text table, indented by three spaces.
fn table<const N: usize>(head: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width = head.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let fmt = |cells: Vec<&str>| {
        let mut line = String::from("  ");
        for (c, w) in cells.iter().zip(width) {
            line.push_str(&format!(" {c:<w$}"));
        }
        format!("{}\n", line.trim_end())
    };
    let mut t = fmt(head.to_vec());
    for r in rows {
        t.push_str(&fmt(r.iter().map(String::as_str).collect()));
    }
    t
}
