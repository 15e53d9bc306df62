//! The sysctls of ADD, inside the container's namespace. Every file is
//! opened and looked at before anything is changed (`probe`): it exists,
//! it can be written, and a numeric one is given as many numbers as it
//! holds, written as the kernel prints them. The files stay open for
//! `write` (after the link attributes), which reads each one's value for
//! the rollback and writes the new one in one write(2) whose count must be
//! the whole value.
//!
//! One path lookup per key, and nothing that grows with the number of
//! keys: a map of 10,000 sysctls costs ten times one of 1,000, the
//! kernel's own work (resolving the path, formatting and parsing values)
//! being most of it.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, PermissionsExt};

use nix::sys::resource::{Resource, getrlimit, setrlimit};

use pkg::attach::Attachment;
use pkg::ns::Netns;
use pkg::{Error, Result, sysctl};

use crate::config::{Sysctl, shown};

/// The sysctls' files, opened by [`probe`] and held for [`write`] as far as
/// the process may hold them; one not held is opened again.
pub struct Opened(Vec<Option<File>>);

/// Refuse (code 7) a key that names no sysctl or a read-only one, and a
/// value the sysctl would not store as given; nothing is written.
pub fn probe(ns: &Netns, sysctls: &[Sysctl]) -> Result<Opened> {
    if sysctls.is_empty() {
        return Ok(Opened(Vec::new()));
    }
    let keep = file_budget(sysctls.len());
    grow_file_table(keep);
    let list = sysctls.to_vec();
    // /proc/sys/net is the calling thread's namespace: look from inside.
    ns.run(move || {
        let mut files = Vec::with_capacity(list.len());
        for (i, s) in list.iter().enumerate() {
            let file = probe_one(s)?;
            files.push((i < keep).then_some(file));
        }
        Ok(Opened(files))
    })
}

/// How many files the probe may keep: the soft limit on open files,
/// raised towards the hard one when needed, less room for the rest of the
/// process (netlink sockets, the backup file, stdio).
fn file_budget(n: usize) -> usize {
    const ROOM: u64 = 128;
    let Ok((mut soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let want = u64::try_from(n).unwrap_or(u64::MAX).saturating_add(ROOM);
    if soft < want && setrlimit(Resource::RLIMIT_NOFILE, want.min(hard), hard).is_ok() {
        soft = want.min(hard);
    }
    usize::try_from(soft.saturating_sub(ROOM)).map_or(n, |k| k.min(n))
}

/// Size the descriptor table for `keep` more files now, on this thread:
/// grown later, while the probe's thread shares the table, each doubling
/// waits for an RCU grace period (milliseconds), which made 1,000 keys
/// take twice Go's wall time for the same CPU (Documentation/tuning.md).
/// Taking one descriptor at the top and closing it grows the table once.
fn grow_file_table(keep: usize) {
    use nix::fcntl::{FcntlArg, fcntl};
    let Ok(top) = i32::try_from(keep.saturating_add(16)) else {
        return;
    };
    if keep < 64 {
        return;
    }
    if let Ok(fd) = fcntl(std::io::stderr(), FcntlArg::F_DUPFD_CLOEXEC(top)) {
        let _ = nix::unistd::close(fd);
    }
}

/// Write the sysctls in order; on a failure, the ones written are put
/// back (through `at`'s rollback).
pub fn write(at: &mut Attachment<'_>, sysctls: &[Sysctl], opened: Opened) -> Result<()> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let ns = at.ns;
    let list = sysctls.to_vec();
    let (written, failed) = ns.run(move || {
        let mut files = opened.0.into_iter();
        let mut written = Vec::with_capacity(list.len());
        for s in &list {
            match replace(s, files.next().flatten()) {
                Ok(Some(before)) => written.push((s.path.clone(), before)),
                Ok(None) => {}
                Err(e) => return Ok((written, Some((s.key.clone(), s.value.clone(), e)))),
            }
        }
        Ok((written, None))
    })?;
    if !written.is_empty() {
        at.undo.push("the sysctls", move || {
            let failed = ns.run(move || {
                Ok(written
                    .iter()
                    .rev()
                    .filter_map(|(p, v)| sysctl::write(p, v).err())
                    .collect::<Vec<_>>())
            })?;
            Error::from_list(failed)
        });
    }
    match failed {
        Some((key, value, e)) => {
            Err(e.context(format!("failed to set sysctl {key} to {}", shown(&value))))
        }
        None => Ok(()),
    }
}

/// Write `s` through `file` (opened again if the probe could not keep
/// it), returning what the file held just before. None for a sysctl that
/// cannot be read (write-only, such as `net.ipv4.route.flush`, or one with
/// nothing to show yet, such as an unset `stable_secret`): it is written
/// anyway and cannot be put back.
fn replace(s: &Sysctl, file: Option<File>) -> Result<Option<String>> {
    let file = match file {
        Some(f) => f,
        None => open(s).map_err(|e| Error::io(format!("open sysctl {}", s.path.display()), e))?,
    };
    let before = read_all(&file).ok();
    sysctl::write_file(&file, &s.path, &s.value)?;
    Ok(before)
}

/// The file for reading and writing, or for writing only when that is
/// all it allows.
fn open(s: &Sysctl) -> std::io::Result<File> {
    match OpenOptions::new().read(true).write(true).open(&s.path) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            OpenOptions::new().write(true).open(&s.path).map_err(|_| e)
        }
        other => other,
    }
}

fn probe_one(s: &Sysctl) -> Result<File> {
    let path = s.path.display();
    let bad_key = |why: String| {
        Err(Error::invalid_config(
            format!("invalid sysctl key {:?}", s.key),
            why,
        ))
    };
    let file = match open(s) {
        Ok(f) => f,
        Err(e) => {
            return match e.kind() {
                ErrorKind::NotFound | ErrorKind::NotADirectory => {
                    bad_key(format!("there is no sysctl {path}"))
                }
                ErrorKind::IsADirectory => bad_key(format!("{path} is a directory of sysctls")),
                ErrorKind::PermissionDenied
                    if std::fs::metadata(&s.path)
                        .is_ok_and(|m| m.permissions().mode() & 0o222 == 0) =>
                {
                    bad_key(format!("{path} is read-only"))
                }
                _ => Err(Error::io(format!("open sysctl {path}"), e)),
            };
        }
    };
    // Write-only, or a read error (EIO): a sysctl with nothing to show.
    let Ok(current) = read_all(&file) else {
        return Ok(file);
    };
    let leaf = s.path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !OWN_SYNTAX.contains(&leaf)
        && let Err(why) = numbers_fit(&current, &s.value)
    {
        return Err(Error::invalid_config(
            format!("invalid value {} for sysctl {}", shown(&s.value), s.key),
            format!("{path} {why}"),
        ));
    }
    Ok(file)
}

/// The whole value, from offset 0 whatever was read before, without the
/// trailing newline.
fn read_all(f: &File) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = f.read_at(&mut buf, bytes.len() as u64)?;
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&buf[..n]);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(ErrorKind::InvalidData, e))
}

/// Numeric sysctls that may print as plain decimals but take another
/// syntax: port lists and ranges (`8080,9000-9010`) and CPU bitmaps in hex.
const OWN_SYNTAX: [&str; 3] = [
    "ip_local_reserved_ports",
    "rps_default_mask",
    "flow_limit_cpu_bitmap",
];

/// A sysctl that holds decimal numbers (`somaxconn`, the three of
/// `tcp_rmem`) is parsed by the kernel as numbers: the configured value
/// must be as many numbers, each in the decimal form the kernel prints
/// back. The kernel ignores numbers beyond those it holds, keeps the old
/// ones when given fewer, and reads `010` as octal 8 and `0x10` as 16.
fn numbers_fit(current: &str, value: &str) -> std::result::Result<(), String> {
    let held: Vec<&str> = current.split_whitespace().collect();
    if held.is_empty() || !held.iter().all(|f| is_decimal(f)) {
        return Ok(());
    }
    let given: Vec<&str> = value.split_whitespace().collect();
    if let Some(f) = given.iter().find(|f| !is_decimal(f)) {
        return Err(format!(
            "holds decimal numbers, and the kernel would not read {f:?} as written (write integers without leading zeros or signs other than -)"
        ));
    }
    let plural = |n: usize| if n == 1 { "number" } else { "numbers" };
    match given.len().cmp(&held.len()) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Greater => Err(format!(
            "holds {} {}: the kernel would ignore the rest",
            held.len(),
            plural(held.len())
        )),
        std::cmp::Ordering::Less => Err(format!(
            "holds {} {}: the kernel would keep the last {} as {} (now {:?})",
            held.len(),
            plural(held.len()),
            held.len() - given.len(),
            if held.len() - given.len() == 1 {
                "it is"
            } else {
                "they are"
            },
            current
        )),
    }
}

/// `0`, or an optional `-` and digits without a leading zero: what the
/// kernel prints, and reads back as the same number.
fn is_decimal(f: &str) -> bool {
    let digits = f.strip_prefix('-').unwrap_or(f);
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (f == "0" || !digits.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_numbers() {
        for ok in ["0", "1", "-1", "4096", "18446744073709551615"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in [
            "", "-", "-0", "01", "010", "0x10", "+1", "1e3", "1.0", " 1", "١",
        ] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn numbers_must_fit_what_the_sysctl_holds() {
        let cases: [(&str, &str, Option<&str>); 12] = [
            ("4096", "1024", None),
            ("4096", " 1024 ", None),
            ("4096\t131072\t6291456", "1 2 3", None),
            ("4096\t131072\t6291456", "1\t2  3", None),
            ("0", "-1", None),
            // not numeric: the kernel's own parser decides
            ("cubic", "reno bbr", None),
            ("", "8080,9090", None),
            ("0x0007", "7", None),
            (
                "4096",
                "17 18",
                Some("holds 1 number: the kernel would ignore"),
            ),
            (
                "4096\t131072\t6291456",
                "4096",
                Some("holds 3 numbers: the kernel would keep the last 2 as they are"),
            ),
            ("4096", "010", Some("would not read \"010\" as written")),
            ("1", "0x1", Some("would not read \"0x1\" as written")),
        ];
        for (current, value, want) in cases {
            let got = numbers_fit(current, value);
            match want {
                None => assert_eq!(got, Ok(()), "{current:?} <- {value:?}"),
                Some(w) => {
                    let e = got.unwrap_err();
                    assert!(e.contains(w), "{current:?} <- {value:?}: {e}");
                }
            }
        }
    }
}
