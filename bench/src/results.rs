//! What the scenarios hand to the report: one `Section` per scenario or
//! variant, holding latency lines (one per operation and implementation)
//! and scalar figures (ops/s, sizes, growth ratios).

use crate::measure::Sample;
use crate::stats::Summary;

/// The latency of one operation of one implementation.
#[derive(Clone, Debug)]
pub struct Latency {
    pub op: String,
    pub imp: String,
    pub wall: Summary,
    pub cpu: Summary,
    pub rss_kb: Summary,
}

impl Latency {
    pub fn of(op: &str, imp: &str, samples: &[Sample]) -> Latency {
        let pick = |f: fn(&Sample) -> f64| samples.iter().map(f).collect::<Vec<_>>();
        Latency {
            op: op.into(),
            imp: imp.into(),
            wall: Summary::of(&pick(|s| s.wall_ms)),
            cpu: Summary::of(&pick(|s| s.cpu_ms)),
            rss_kb: Summary::of(&pick(|s| s.maxrss_kb)),
        }
    }
}

/// A single figure of one implementation.
#[derive(Clone, Debug)]
pub struct Scalar {
    pub name: String,
    pub imp: String,
    pub value: f64,
    pub unit: &'static str,
}

#[derive(Clone, Debug, Default)]
pub struct Section {
    /// Stable key, e.g. `bridge/off`, `churn`, `scale`.
    pub id: String,
    pub title: String,
    pub notes: Vec<String>,
    pub latencies: Vec<Latency>,
    pub scalars: Vec<Scalar>,
    /// Set when the scenario did not run or stopped; why.
    pub skipped: Option<String>,
    /// Set when it failed part-way (the report still shows what it got).
    pub error: Option<String>,
}

impl Section {
    pub fn new(id: &str, title: impl Into<String>) -> Section {
        Section {
            id: id.into(),
            title: title.into(),
            ..Section::default()
        }
    }

    pub fn skipped(id: &str, title: impl Into<String>, reason: String) -> Section {
        Section {
            skipped: Some(reason),
            ..Section::new(id, title)
        }
    }

    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    pub fn scalar(&mut self, name: &str, imp: &str, value: f64, unit: &'static str) {
        self.scalars.push(Scalar {
            name: name.into(),
            imp: imp.into(),
            value,
            unit,
        });
    }

    pub fn latency(&self, op: &str, imp: &str) -> Option<&Latency> {
        self.latencies.iter().find(|l| l.op == op && l.imp == imp)
    }

    pub fn get_scalar(&self, name: &str, imp: &str) -> Option<f64> {
        self.scalars
            .iter()
            .find(|s| s.name == name && s.imp == imp)
            .map(|s| s.value)
    }
}

/// Every section of the run, in order.
#[derive(Default)]
pub struct Results {
    pub sections: Vec<Section>,
}

impl Results {
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.id == id && s.skipped.is_none())
    }

    pub fn latency(&self, id: &str, op: &str, imp: &str) -> Option<&Latency> {
        self.section(id).and_then(|s| s.latency(op, imp))
    }

    pub fn scalar(&self, id: &str, name: &str, imp: &str) -> Option<f64> {
        self.section(id).and_then(|s| s.get_scalar(name, imp))
    }

    pub fn failed(&self) -> bool {
        self.sections.iter().any(|s| s.error.is_some())
    }
}
