//! Scenario 6 (size half; the peak RSS of a bridge ADD comes from the
//! bridge scenario's samples): the stripped size of every plugin both
//! implementations really have, and of that whole set. Sizes are of a
//! `strip`ped copy, so that a binary shipped with symbols is not
//! penalised. The set counts each file once: in a multi-call install
//! (`build_linux.sh --multicall`) every plugin is a link to one binary,
//! which is what the set then costs on disk.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::impls::Impl;
use crate::results::Section;

pub const ID: &str = "size";
pub const SET: &str = "whole set";

pub fn run(ours: &Impl, theirs: &Impl, names: &[String]) -> Section {
    let mut sec = Section::new(ID, "stripped binary size (bytes), plugins both sides have");
    let mut set = Vec::new();
    let mut left_out = Vec::new();
    for name in names {
        match (ours.unusable(name), theirs.unusable(name)) {
            (None, None) => set.push(name.as_str()),
            (a, b) => left_out.push(format!("{name} ({})", a.or(b).unwrap_or_default())),
        }
    }
    if set.is_empty() {
        sec.skipped = Some("no plugin is usable on both sides".into());
        return sec;
    }
    for imp in [ours, theirs] {
        let mut total = 0.0;
        let mut files = HashSet::new();
        for name in &set {
            let path = imp.plugin(name);
            match stripped_size(&path) {
                Ok((bytes, note)) => {
                    if let Some(n) = note {
                        sec.note(format!("{} {name}: {n}", imp.label));
                    }
                    sec.scalar(name, imp.label, bytes as f64, "B");
                    // A file that cannot be identified counts on its own.
                    let id = std::fs::metadata(&path)
                        .map(|m| (m.dev(), m.ino()))
                        .unwrap_or((u64::MAX, files.len() as u64));
                    if files.insert(id) {
                        total += bytes as f64;
                    }
                }
                Err(e) => {
                    sec.error = Some(e);
                    return sec;
                }
            }
        }
        if files.len() < set.len() {
            sec.note(format!(
                "{}: the {} plugins are {} file(s) (links to a multi-call binary), each counted once in the set",
                imp.label,
                set.len(),
                files.len()
            ));
        }
        sec.scalar(SET, imp.label, total, "B");
    }
    sec.note(format!("the set ({}): {}", set.len(), set.join(", ")));
    if !left_out.is_empty() {
        sec.note(format!("left out: {}", left_out.join("; ")));
    }
    sec
}

/// Size of a stripped copy of `path` (and a note when `strip` could not
/// be used and the file's own size was taken).
fn stripped_size(path: &Path) -> Result<(u64, Option<String>), String> {
    let raw = std::fs::metadata(path)
        .map_err(|e| format!("stat {}: {e}", path.display()))?
        .len();
    let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
    let copy = dir.path().join("stripped");
    let stripped = Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(path)
        .output();
    match stripped {
        Ok(out) if out.status.success() => std::fs::metadata(&copy)
            .map(|m| (m.len(), None))
            .map_err(|e| format!("stat {}: {e}", copy.display())),
        Ok(out) => Ok((
            raw,
            Some(format!(
                "strip failed ({}), file size taken",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
        )),
        Err(e) => Ok((raw, Some(format!("no strip ({e}), file size taken")))),
    }
}
