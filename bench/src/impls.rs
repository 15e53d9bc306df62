//! The two plugin directories being compared, and which of their plugins
//! are real: a plugin counts only if its binary exists and answers
//! `CNI_COMMAND=VERSION` with a JSON object listing spec 1.0.0 (the
//! placeholder binaries of unwritten plugins print nothing and exit 0).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::measure;

/// One implementation: "ours" or "theirs".
#[derive(Clone, Debug)]
pub struct Impl {
    pub label: &'static str,
    pub dir: PathBuf,
    /// Plugin name → `Err(reason)` when it cannot be benchmarked.
    status: BTreeMap<String, Result<(), String>>,
}

/// The spec version every scenario uses.
pub const CNI_VERSION: &str = "1.0.0";

impl Impl {
    /// Probe every plugin named in `names`.
    pub fn probe(label: &'static str, dir: &Path, names: &[&str]) -> Impl {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let status = names
            .iter()
            .map(|n| (n.to_string(), check(&dir.join(n))))
            .collect();
        Impl { label, dir, status }
    }

    pub fn plugin(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Why `name` cannot be benchmarked, if it cannot.
    pub fn unusable(&self, name: &str) -> Option<String> {
        match self.status.get(name) {
            Some(Ok(())) => None,
            Some(Err(e)) => Some(format!("{} {name}: {e}", self.label)),
            None => Some(format!("{} {name}: not probed", self.label)),
        }
    }
}

/// The first reason any of `plugins` is unusable in any of `impls`.
pub fn skip_reason(impls: &[&Impl], plugins: &[&str]) -> Option<String> {
    let reasons: Vec<String> = impls
        .iter()
        .flat_map(|i| plugins.iter().filter_map(|p| i.unusable(p)))
        .collect();
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

fn check(path: &Path) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!("no binary at {}", path.display()));
    }
    let mut cmd = Command::new(path);
    cmd.env_clear().env("CNI_COMMAND", "VERSION");
    let out = measure::run(&mut cmd, b"{}")?;
    let v: Value = serde_json::from_str(out.stdout.trim()).map_err(|_| {
        format!(
            "does not answer CNI_COMMAND=VERSION with JSON ({}; a placeholder?)",
            if out.stdout.trim().is_empty() {
                format!("printed nothing, {}", out.describe())
            } else {
                format!("printed {:?}", truncate(out.stdout.trim(), 80))
            }
        )
    })?;
    let versions: Vec<&str> = v["supportedVersions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !versions.contains(&CNI_VERSION) {
        return Err(format!(
            "VERSION answer does not list spec {CNI_VERSION}: {}",
            truncate(out.stdout.trim(), 120)
        ));
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}
