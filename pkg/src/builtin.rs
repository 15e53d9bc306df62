//! IPAM plugins of this suite run in-process (one exec less per ADD and
//! DEL) when that is certain to be the code the exec would have run.
//!
//! `CNI_PATH` decides which program is the IPAM plugin, so the program it
//! resolves to must be ours, of the very same build: either the running
//! executable itself (the multi-call install: same device and inode as
//! `/proc/self/exe`, and that binary runs plugins by name), or a binary
//! carrying the IPAM plugin's build record, which this binary carries too.
//! A record is 64 bytes, `cni-plugins-build <name> <hash>` padded with
//! NULs, in the ELF section [`SECTION`] (read from the file's section
//! headers, without exec'ing it); the hash is of the sources the IPAM
//! plugin is built from (its crate, `pkg`, the lock file), made by the IPAM
//! crate's build script. Anything else (a wrapper script, Go's plugin,
//! another build of ours) is exec'd.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::sync::OnceLock;

use crate::skel::Plugin;

/// The ELF section holding the build records.
pub const SECTION: &str = ".cni_build";

/// One build record (see the module documentation).
pub type Record = [u8; 64];

const TAG: &[u8] = b"cni-plugins-build ";

/// The record of plugin `name` built from sources hashing to `hash`
/// (truncated to fit).
pub const fn record(name: &str, hash: &str) -> Record {
    let mut r = [0u8; 64];
    let mut at = 0;
    let parts: [&[u8]; 4] = [TAG, name.as_bytes(), b" ", hash.as_bytes()];
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() && at < r.len() - 1 {
            r[at] = parts[p][i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    r
}

struct Builtins {
    plugins: &'static [&'static Plugin],
    /// The running binary runs the plugin named by its `argv[0]`.
    by_name: bool,
}

static BUILTINS: OnceLock<Builtins> = OnceLock::new();

/// Offer `plugins` for in-process IPAM; `by_name` when this executable
/// runs the plugin it is named after (the multi-call binary). Called
/// once by `main`, before [`crate::skel::run`].
pub fn offer(plugins: &'static [&'static Plugin], by_name: bool) {
    let _ = BUILTINS.set(Builtins { plugins, by_name });
}

/// The plugin to run in-process for `name`, found on `CNI_PATH` at
/// `path`, when that is the same code; `None`: exec it.
pub fn in_process(name: &str, path: &Path) -> Option<&'static Plugin> {
    let b = BUILTINS.get()?;
    let plugin = *b.plugins.iter().find(|p| p.name == name)?;
    let file = File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if b.by_name
        && let Ok(me) = std::fs::metadata("/proc/self/exe")
        && (me.dev(), me.ino()) == (meta.dev(), meta.ino())
    {
        return Some(plugin);
    }
    let record = plugin.build?;
    carries(&file, record).then_some(plugin)
}

/// Whether the ELF file holds `record` in its [`SECTION`].
pub fn carries(file: &File, record: &Record) -> bool {
    section(file, SECTION).is_some_and(|s| s.chunks_exact(64).any(|c| c == record))
}

/// The contents of the section `name` of a 64-bit native-endian ELF file,
/// if it has one (of reasonable size).
fn section(file: &File, name: &str) -> Option<Vec<u8>> {
    let read = |off: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, off).ok()?;
        Some(buf)
    };
    let u16_at = |b: &[u8], i: usize| Some(u16::from_ne_bytes(b.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |b: &[u8], i: usize| Some(u32::from_ne_bytes(b.get(i..i + 4)?.try_into().ok()?));
    let u64_at = |b: &[u8], i: usize| Some(u64::from_ne_bytes(b.get(i..i + 8)?.try_into().ok()?));
    let native = if cfg!(target_endian = "little") { 1 } else { 2 };
    let eh = read(0, 64)?;
    if eh[..4] != *b"\x7fELF" || eh[4] != 2 || eh[5] != native {
        return None;
    }
    let shoff = u64_at(&eh, 0x28)?;
    let shentsize = usize::from(u16_at(&eh, 0x3a)?);
    let shnum = usize::from(u16_at(&eh, 0x3c)?);
    let shstrndx = usize::from(u16_at(&eh, 0x3e)?);
    if shentsize < 64 || shnum == 0 || shnum > 4096 || shstrndx >= shnum {
        return None;
    }
    let sh = read(shoff, shentsize * shnum)?;
    let entry = |i: usize| sh.get(i * shentsize..(i + 1) * shentsize);
    let strtab = entry(shstrndx)?;
    let (str_off, str_len) = (u64_at(strtab, 0x18)?, u64_at(strtab, 0x20)?);
    if str_len > 1 << 16 {
        return None;
    }
    let names = read(str_off, str_len as usize)?;
    for i in 0..shnum {
        let e = entry(i)?;
        let at = u32_at(e, 0)? as usize;
        let n = names.get(at..)?;
        let end = n.iter().position(|&c| c == 0)?;
        if &n[..end] != name.as_bytes() {
            continue;
        }
        let (off, len) = (u64_at(e, 0x18)?, u64_at(e, 0x20)?);
        return (len <= 1 << 16).then(|| read(off, len as usize)).flatten();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(_: &crate::skel::CmdArgs) -> crate::Result<crate::types::CniResult> {
        Ok(Default::default())
    }

    fn nothing(_: &crate::skel::CmdArgs) -> crate::Result<()> {
        Ok(())
    }

    static FAKE: [&Plugin; 1] = [&Plugin::new("fake-ipam", add, nothing, nothing)];

    // The multi-call rule: the running executable found on CNI_PATH (here
    // through a symlink) runs in-process; a copy of it, which carries no
    // record, does not; nor does a name this binary does not offer.
    #[test]
    fn the_running_executable_runs_by_name() {
        offer(&FAKE, true);
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("fake-ipam");
        std::os::unix::fs::symlink(std::fs::read_link("/proc/self/exe").unwrap(), &link).unwrap();
        assert!(in_process("fake-ipam", &link).is_some_and(|p| p.name == "fake-ipam"));
        assert!(in_process("other", &link).is_none());
        let copy = d.path().join("copy");
        std::fs::copy(&link, &copy).unwrap();
        assert!(in_process("fake-ipam", &copy).is_none());
    }

    #[test]
    fn records_are_tagged_and_padded() {
        let r = record("host-local", "0123abcd");
        assert!(r.starts_with(b"cni-plugins-build host-local 0123abcd\0"));
        assert_eq!(r[63], 0);
        let long = record("x", &"f".repeat(100));
        assert_eq!(long[63], 0);
        assert_eq!(long[62], b'f');
    }

    /// A minimal ELF file: header, a section holding `body` named `name`,
    /// the section name table, and the section headers (null, body, names).
    fn elf(name: &str, body: &[u8]) -> Vec<u8> {
        let names = format!("\0{name}\0.shstrtab\0");
        let body_at = 64u64;
        let names_at = body_at + body.len() as u64;
        let sh_at = names_at + names.len() as u64;
        let mut f = vec![0u8; 64];
        f[..6].copy_from_slice(&[
            0x7f,
            b'E',
            b'L',
            b'F',
            2,
            if cfg!(target_endian = "little") { 1 } else { 2 },
        ]);
        f[0x28..0x30].copy_from_slice(&sh_at.to_ne_bytes());
        f[0x3a..0x3c].copy_from_slice(&64u16.to_ne_bytes());
        f[0x3c..0x3e].copy_from_slice(&3u16.to_ne_bytes());
        f[0x3e..0x40].copy_from_slice(&2u16.to_ne_bytes());
        f.extend_from_slice(body);
        f.extend_from_slice(names.as_bytes());
        let sh = |name_off: u32, off: u64, len: u64| {
            let mut e = vec![0u8; 64];
            e[..4].copy_from_slice(&name_off.to_ne_bytes());
            e[4..8].copy_from_slice(&1u32.to_ne_bytes());
            e[0x18..0x20].copy_from_slice(&off.to_ne_bytes());
            e[0x20..0x28].copy_from_slice(&len.to_ne_bytes());
            e
        };
        f.extend(vec![0u8; 64]);
        f.extend(sh(1, body_at, body.len() as u64));
        let strtab_name = 1 + name.len() as u32 + 1;
        f.extend(sh(strtab_name, names_at, names.len() as u64));
        f
    }

    #[test]
    fn finds_the_record_only_in_its_section() {
        let d = tempfile::tempdir().unwrap();
        let ours = record("host-local", "abc");
        let other = record("host-local", "abd");
        let two = [record("static", "abc"), ours].concat();
        let cases: [(&str, Vec<u8>, bool); 6] = [
            ("section with the record", elf(SECTION, &ours), true),
            ("after another record", elf(SECTION, &two), true),
            ("another build", elf(SECTION, &other), false),
            ("another section", elf(".data", &ours), false),
            ("a script", b"#!/bin/sh\nexit 0\n".to_vec(), false),
            ("truncated", elf(SECTION, &ours)[..100].to_vec(), false),
        ];
        for (what, bytes, want) in cases {
            let p = d.path().join("f");
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(carries(&File::open(&p).unwrap(), &ours), want, "{what}");
        }
        // this test binary is ELF without the section
        assert!(!carries(&File::open("/proc/self/exe").unwrap(), &ours));
    }
}
