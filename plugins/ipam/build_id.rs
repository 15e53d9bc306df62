//! Build script of the IPAM plugins: the hash of the sources they are
//! built from (the crate, `pkg`, the lock file), as `CNI_IPAM_BUILD`, for
//! the build record that lets a plugin of the same build run them
//! in-process (pkg/src/builtin.rs).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // Canonical, so that every file's name relative to the workspace (what
    // is hashed, never the checkout's own path) is found by strip_prefix:
    // the same commit must give the same record in any directory.
    let crate_dir = std::fs::canonicalize(&manifest_dir).unwrap_or(manifest_dir);
    let root = crate_dir
        .ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate_dir.join("../../.."));
    let inputs = [
        crate_dir.join("src"),
        crate_dir.join("Cargo.toml"),
        root.join("pkg/src"),
        root.join("pkg/Cargo.toml"),
        root.join("Cargo.lock"),
    ];
    let mut all = Vec::new();
    for i in &inputs {
        println!("cargo:rerun-if-changed={}", i.display());
        if i.is_dir() {
            files(i, &mut all);
        } else {
            all.push(i.clone());
        }
    }
    all.sort();
    let mut h = Sha256::new();
    h.update(std::env::var("CARGO_PKG_VERSION").unwrap_or_default());
    for f in &all {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        h.update(rel.to_string_lossy().as_bytes());
        h.update([0]);
        h.update(std::fs::read(f).unwrap_or_default());
        h.update([0]);
    }
    let hex: String = h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("cargo:rustc-env=CNI_IPAM_BUILD={hex}");
}
