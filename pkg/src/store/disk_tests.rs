//! Tests of the disk store against real temporary directories.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn reserve_writes_go_format() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Store::open(d.path(), "net1").unwrap();
    assert!(s.reserve(" c1 ", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(
        !s.reserve("c2", "eth0", ip("10.0.0.2"), 0).unwrap(),
        "taken"
    );
    assert!(s.reserve("c1", "eth0", ip("fd00::2"), 1).unwrap());
    let net = d.path().join("net1");
    assert_eq!(fs::read(net.join("10.0.0.2")).unwrap(), b"c1\r\neth0");
    assert_eq!(
        fs::metadata(net.join("10.0.0.2"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert_eq!(
        fs::read(net.join("last_reserved_ip.0")).unwrap(),
        b"10.0.0.2"
    );
    assert_eq!(
        fs::read(net.join("last_reserved_ip.1")).unwrap(),
        b"fd00::2"
    );
    assert_eq!(
        names(&net),
        vec![
            "10.0.0.2",
            "fd00::2",
            "last_reserved_ip.0",
            "last_reserved_ip.1",
            "lock"
        ]
    );
    assert_eq!(s.last_reserved(0), Some(ip("10.0.0.2")));
    assert_eq!(s.last_reserved(7), None);
    let mut got = s.get_by_id("c1", "eth0").unwrap();
    got.sort();
    assert_eq!(got, vec![ip("10.0.0.2"), ip("fd00::2")]);
    assert!(s.get_by_id("c1", "eth1").unwrap().is_empty());
}

#[test]
fn release_by_id_and_legacy_files() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    {
        let mut s = Store::open(d.path(), "n").unwrap();
        s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
        s.reserve("c1", "eth1", ip("10.0.0.3"), 0).unwrap();
    }
    // a legacy (id-only) file written by an old Go host-local
    fs::write(net.join("10.0.0.9"), "c1").unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.find_by_id("c1", "eth0").unwrap());
    assert_eq!(s.release_by_id("c1", "eth0").unwrap(), vec![ip("10.0.0.2")]);
    assert!(
        net.join("10.0.0.9").exists(),
        "legacy kept while an exact match existed"
    );
    assert_eq!(
        s.release_by_id("c1", "eth0").unwrap(),
        vec![ip("10.0.0.9")],
        "legacy released when nothing else matched"
    );
    assert!(
        s.release_by_id("c1", "eth0").unwrap().is_empty(),
        "idempotent"
    );
    assert!(!s.find_by_id("c1", "eth0").unwrap());
    assert!(s.find_by_id("c1", "eth1").unwrap());
    assert_eq!(names(&net), vec!["10.0.0.3", "last_reserved_ip.0", "lock"]);
}

#[test]
fn reservations_made_behind_our_back_are_found() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    {
        let mut s = Store::open(d.path(), "n").unwrap();
        s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
    }
    // What Go's host-local does: a file per IP, and last_reserved rewritten in place.
    fs::write(net.join("10.0.0.3"), "c2\r\neth0").unwrap();
    fs::write(net.join("last_reserved_ip.0"), "10.0.0.3").unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert_eq!(s.get_by_id("c2", "eth0").unwrap(), vec![ip("10.0.0.3")]);
    assert_eq!(s.release_by_id("c2", "eth0").unwrap(), vec![ip("10.0.0.3")]);
    assert!(!net.join("10.0.0.3").exists());
    drop(s);
    // Go releasing ours removes every file with that content, index included.
    for entry in walk(&net) {
        if fs::read(&entry)
            .map(|c| c == b"c1\r\neth0")
            .unwrap_or(false)
        {
            fs::remove_file(entry).unwrap();
        }
    }
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.get_by_id("c1", "eth0").unwrap().is_empty());
    assert!(s.reserve("c3", "eth0", ip("10.0.0.2"), 0).unwrap());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn gc_keeps_valid_and_legacy_and_drops_garbage() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    s.reserve("keep", "eth0", ip("10.0.0.2"), 0).unwrap();
    s.reserve("gone", "eth0", ip("10.0.0.3"), 0).unwrap();
    s.reserve("keep", "eth1", ip("10.0.0.4"), 0).unwrap();
    drop(s);
    fs::write(net.join("10.0.0.5"), "keep").unwrap(); // legacy, valid id
    fs::write(net.join("10.0.0.6"), "gone").unwrap(); // legacy, stale
    fs::write(net.join("10.0.0.7"), "").unwrap(); // empty: a failed Go write
    fs::write(net.join("notes.txt"), "x").unwrap(); // not ours
    let mut s = Store::open(d.path(), "n").unwrap();
    let mut released = s.gc(&[("keep".into(), "eth0".into())]).unwrap();
    released.sort();
    assert_eq!(
        released,
        vec![
            ip("10.0.0.3"),
            ip("10.0.0.4"),
            ip("10.0.0.6"),
            ip("10.0.0.7")
        ]
    );
    assert_eq!(
        names(&net),
        vec![
            "10.0.0.2",
            "10.0.0.5",
            "last_reserved_ip.0",
            "lock",
            "notes.txt"
        ]
    );
    // an empty valid set releases everything
    let released = s.gc(&[]).unwrap();
    assert_eq!(released.len(), 2);
    assert_eq!(names(&net), vec!["last_reserved_ip.0", "lock", "notes.txt"]);
}

#[test]
fn planted_symlinks_are_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let data = d.path().join("data");
    fs::create_dir_all(data.join("n")).unwrap();
    symlink(&victim, data.join("n/10.0.0.2")).unwrap();
    symlink(&victim, data.join("n/last_reserved_ip.0")).unwrap();
    let mut s = Store::open(&data, "n").unwrap();
    assert!(
        !s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap(),
        "a symlink occupies the name"
    );
    assert!(s.reserve("c1", "eth0", ip("10.0.0.3"), 0).unwrap());
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(
        !fs::symlink_metadata(data.join("n/last_reserved_ip.0"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // a symlinked network directory is refused
    symlink(d.path(), data.join("evil")).unwrap();
    assert!(Store::open(&data, "evil").is_err());
    // a network name with a path in it is refused
    assert_eq!(Store::open(&data, "../x").err().map(|e| e.code()), Some(7));
}

/// Files of a directory tree, for before/after comparison.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let meta = fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            out.extend(tree(&p));
        } else if meta.is_file() {
            out.push((p.display().to_string(), fs::read(&p).unwrap()));
        }
    }
    out.sort();
    out
}

#[test]
fn planted_index_symlinks_are_replaced_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join(".synced"), "precious").unwrap();
    let data = d.path().join("data");
    fs::create_dir_all(data.join("n")).unwrap();
    let before = tree(&outside);
    // the whole index directory
    symlink(&outside, data.join("n/.attachments")).unwrap();
    let mut s = Store::open(&data, "n").unwrap();
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert_eq!(s.get_by_id("c1", "eth0").unwrap(), [ip("10.0.0.2")]);
    drop(s);
    assert!(
        fs::symlink_metadata(data.join("n/.attachments"))
            .unwrap()
            .is_dir()
    );
    assert_eq!(
        tree(&outside),
        before,
        "nothing written through the symlink"
    );
    // one attachment's index directory
    let key = index_key("c2", Some("eth0"));
    symlink(&outside, data.join("n/.attachments").join(&key)).unwrap();
    let mut s = Store::open(&data, "n").unwrap();
    assert!(s.reserve("c2", "eth0", ip("10.0.0.3"), 0).unwrap());
    assert_eq!(s.get_by_id("c2", "eth0").unwrap(), [ip("10.0.0.3")]);
    assert_eq!(s.release_by_id("c2", "eth0").unwrap(), [ip("10.0.0.3")]);
    drop(s);
    assert_eq!(
        tree(&outside),
        before,
        "nothing written through the symlink"
    );
    // a symlink planted where a release would look is not deleted through
    let key = index_key("c1", Some("eth0"));
    let entry_dir = data.join("n/.attachments").join(&key);
    fs::remove_dir_all(&entry_dir).unwrap();
    fs::create_dir(outside.join("sub")).unwrap();
    fs::write(outside.join("sub/10.0.0.2"), "precious").unwrap();
    symlink(outside.join("sub"), &entry_dir).unwrap();
    let before = tree(&outside);
    let mut s = Store::open(&data, "n").unwrap();
    assert_eq!(s.release_by_id("c1", "eth0").unwrap(), [ip("10.0.0.2")]);
    drop(s);
    assert_eq!(
        tree(&outside),
        before,
        "nothing removed through the symlink"
    );
    assert!(!data.join("n/10.0.0.2").exists());
}

#[test]
fn leftover_temp_files_are_cleaned() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    drop(Store::open(d.path(), "n").unwrap());
    fs::write(net.join(".tmp-1-1"), "c1\r\neth0").unwrap();
    let s = Store::open(d.path(), "n").unwrap();
    assert!(!net.join(".tmp-1-1").exists());
    drop(s);
}

#[test]
fn hard_links_index_reservations() {
    let d = tempfile::tempdir().unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
    assert_eq!(
        fs::metadata(d.path().join("n/10.0.0.2")).unwrap().nlink(),
        2
    );
    // removed by hand: the stale index entry does not block a new owner
    fs::remove_file(d.path().join("n/10.0.0.2")).unwrap();
    assert!(s.get_by_id("c1", "eth0").unwrap().is_empty());
    assert!(s.reserve("c2", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(s.release_by_id("c1", "eth0").unwrap().is_empty());
    assert_eq!(s.get_by_id("c2", "eth0").unwrap(), vec![ip("10.0.0.2")]);
}

#[test]
fn concurrent_reservations_are_distinct() {
    let d = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let path = d.path().to_path_buf();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..8 {
                    let mut s = Store::open(&path, "n").unwrap();
                    let id = format!("c{t}-{i}");
                    for host in 2..=254u8 {
                        if s.reserve(&id, "eth0", IpAddr::from([10, 0, 0, host]), 0)
                            .unwrap()
                        {
                            mine.push(host);
                            break;
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<u8> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(all.len(), 128);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 128, "no address handed out twice");
}

// A writer killed while writing the sync mark leaves a temporary file in
// the index directory (and, since every change drops the mark first, no
// mark): the next opener removes it and finds the reservation.
#[test]
fn writer_killed_while_marking() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    drop({
        let mut s = Store::open(d.path(), "n").unwrap();
        s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
        s
    });
    fs::remove_file(net.join(".attachments/.synced")).unwrap();
    fs::write(net.join(".attachments/.tmp-1-1"), "v1 half").unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(!net.join(".attachments/.tmp-1-1").exists());
    assert_eq!(s.get_by_id("c1", "eth0").unwrap(), vec![ip("10.0.0.2")]);
    // The mark is written when the store is let go.
    drop(s);
    assert!(net.join(".attachments/.synced").exists());
}

// The mark only saves a scan: when it cannot be written, operations still
// succeed (a DEL on a full disk must release).
#[test]
fn unwritable_mark_is_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    drop(Store::open(d.path(), "n").unwrap());
    fs::remove_file(net.join(".attachments/.synced")).unwrap();
    // a non-empty directory where the mark goes: rename onto it fails
    fs::create_dir_all(net.join(".attachments/.synced/x")).unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    drop(s);
    let mut s = Store::open(d.path(), "n").unwrap();
    assert_eq!(s.release_by_id("c1", "eth0").unwrap(), vec![ip("10.0.0.2")]);
    let left: Vec<_> = walk(&net.join(".attachments"))
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

// An operation that changes nothing leaves the mark alone.
#[test]
fn unchanged_store_keeps_its_mark() {
    let d = tempfile::tempdir().unwrap();
    let mark = d.path().join("n/.attachments/.synced");
    drop(Store::open(d.path(), "n").unwrap());
    let before = fs::metadata(&mark).unwrap().ino();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.release_by_id("nobody", "eth0").unwrap().is_empty());
    assert!(s.gc(&[]).unwrap().is_empty());
    drop(s);
    assert_eq!(fs::metadata(&mark).unwrap().ino(), before);
}

#[test]
fn last_reserved_is_exchanged_not_recreated() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    let ino = || fs::metadata(net.join("last_reserved_ip.0")).unwrap().ino();
    s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
    let first = ino();
    s.reserve("c2", "eth0", ip("10.0.0.3"), 0).unwrap();
    let second = ino();
    s.reserve("c3", "eth0", ip("10.0.0.10"), 0).unwrap();
    assert_ne!(first, second);
    assert_eq!(ino(), first, "two inodes take turns");
    assert_eq!(
        fs::read(net.join("last_reserved_ip.0")).unwrap(),
        b"10.0.0.10"
    );
    s.reserve("c4", "eth0", ip("10.0.0.4"), 0).unwrap();
    assert_eq!(
        fs::read(net.join("last_reserved_ip.0")).unwrap(),
        b"10.0.0.4",
        "a shorter address leaves no tail behind"
    );
    // Something planted as the spare is replaced, never written through.
    let victim = d.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let spare = net.join(".attachments/.last-0");
    fs::remove_file(&spare).unwrap();
    symlink(&victim, &spare).unwrap();
    s.reserve("c5", "eth0", ip("10.0.0.5"), 0).unwrap();
    fs::remove_file(&spare).unwrap();
    fs::hard_link(&victim, &spare).unwrap();
    s.reserve("c6", "eth0", ip("10.0.0.6"), 0).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert_eq!(
        fs::read(net.join("last_reserved_ip.0")).unwrap(),
        b"10.0.0.6"
    );
    assert_eq!(s.last_reserved(0), Some(ip("10.0.0.6")));
    s.release_by_id("c6", "eth0").unwrap();
    drop(s);
    let mut s = Store::open(d.path(), "n").unwrap();
    assert_eq!(s.get_by_id("c5", "eth0").unwrap(), vec![ip("10.0.0.5")]);
}

// The mark is voided in place before a change and rewritten in place
// after it: no inode made or deleted for it.
#[test]
fn mark_is_rewritten_in_place() {
    let d = tempfile::tempdir().unwrap();
    let mark = d.path().join("n/.attachments/.synced");
    drop(Store::open(d.path(), "n").unwrap());
    let ino = fs::metadata(&mark).unwrap().ino();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(
        fs::read_to_string(&mark).unwrap().starts_with("x1 "),
        "void while the store is held"
    );
    drop(s);
    assert_eq!(fs::metadata(&mark).unwrap().ino(), ino);
    let content = fs::read_to_string(&mark).unwrap();
    assert!(
        content.starts_with("v1 ") && content.ends_with('\n'),
        "{content:?}"
    );
    // The next opener finds it current: an operation that changes
    // nothing leaves it as it is.
    let s = Store::open(d.path(), "n").unwrap();
    assert!(s.mark_current);
    drop(s);
    assert_eq!(fs::read_to_string(&mark).unwrap(), content);
}

// A writer that dies part way (here: a change begun and never finished)
// leaves the mark void, so the next opener scans.
#[test]
fn unfinished_change_leaves_the_mark_void() {
    let d = tempfile::tempdir().unwrap();
    let mark = d.path().join("n/.attachments/.synced");
    drop(Store::open(d.path(), "n").unwrap());
    let mut s = Store::open(d.path(), "n").unwrap();
    s.drop_mark();
    drop(s);
    assert!(fs::read_to_string(&mark).unwrap().starts_with("x1 "));
    let s = Store::open(d.path(), "n").unwrap();
    assert!(!s.mark_current, "scanned");
    drop(s);
    assert!(fs::read_to_string(&mark).unwrap().starts_with("v1 "));
    // An operation that finishes after one that failed part way does not
    // make the mark valid again.
    let mut s = Store::open(d.path(), "n").unwrap();
    s.drop_mark();
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    drop(s);
    assert!(fs::read_to_string(&mark).unwrap().starts_with("x1 "));
}

// Where there is no O_TMPFILE, the reservation goes through a named
// temporary file, which is gone afterwards.
#[test]
fn named_temporary_file_fallback() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    let content = file_content("c1", "eth0");
    let tmp = s.write_tmp(&content).unwrap();
    s.pending = Some((content, Pending::Named(tmp.clone())));
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(!net.join(&tmp).exists());
    assert_eq!(fs::read(net.join("10.0.0.2")).unwrap(), b"c1\r\neth0");
    assert_eq!(s.get_by_id("c1", "eth0").unwrap(), vec![ip("10.0.0.2")]);
    // kept across taken candidates, removed when the store is let go
    let content = file_content("c2", "eth0");
    let tmp = s.write_tmp(&content).unwrap();
    s.pending = Some((content, Pending::Named(tmp.clone())));
    assert!(!s.reserve("c2", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(net.join(&tmp).exists());
    drop(s);
    assert!(!net.join(&tmp).exists());
}

#[test]
fn read_fd_stops_at_the_known_size() {
    let d = tempfile::tempdir().unwrap();
    for len in [0usize, 1, 9, 64, 65, 5000] {
        let p = d.path().join(format!("f{len}"));
        fs::write(&p, "a".repeat(len)).unwrap();
        let dir = nix::fcntl::open(d.path(), DIR_FLAGS, Mode::empty()).unwrap();
        let want = len.min(MAX_FILE as usize);
        let name = format!("f{len}");
        for size in [len as i64, -1] {
            let got = read_small_at(&dir, &name, size).unwrap().unwrap();
            assert_eq!(got.len(), want, "{len} {size}");
        }
    }
    let dir = nix::fcntl::open(d.path(), DIR_FLAGS, Mode::empty()).unwrap();
    assert_eq!(read_small_at(&dir, "missing", -1).unwrap(), None);
    let mut listed: Vec<String> = dir_entries(&dir)
        .unwrap()
        .0
        .into_iter()
        .map(|e| e.0)
        .collect();
    listed.sort();
    assert_eq!(listed, ["f0", "f1", "f5000", "f64", "f65", "f9"]);
}

// Without CAP_DAC_READ_SEARCH (a user namespace) an unnamed file is linked
// through /proc/self/fd. (Process-wide: other tests running meanwhile take
// that path too, which is as correct.)
#[test]
fn unnamed_file_linked_through_proc() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    LINK_VIA_PROC.store(true, Ordering::Relaxed);
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(!s.reserve("c2", "eth0", ip("10.0.0.2"), 0).unwrap());
    assert!(s.reserve("c2", "eth0", ip("10.0.0.3"), 0).unwrap());
    LINK_VIA_PROC.store(false, Ordering::Relaxed);
    assert_eq!(fs::read(net.join("10.0.0.2")).unwrap(), b"c1\r\neth0");
    assert_eq!(fs::read(net.join("10.0.0.3")).unwrap(), b"c2\r\neth0");
    assert_eq!(s.get_by_id("c2", "eth0").unwrap(), vec![ip("10.0.0.3")]);
    assert_eq!(
        fs::metadata(net.join("10.0.0.3")).unwrap().nlink(),
        2,
        "indexed"
    );
}

/// The pool's spares: (name, content) sorted.
fn spares(net: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = fs::read_dir(net.join(".attachments/.spare"))
        .map(|r| {
            r.map(|e| {
                let e = e.unwrap();
                let content = fs::read(e.path()).unwrap_or_default();
                (e.file_name().to_string_lossy().to_string(), content)
            })
            .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Files anywhere under `net` whose trimmed content is `content`, as Go's
/// release and CHECK match them.
fn go_matches(net: &Path, content: &str) -> Vec<PathBuf> {
    walk(net)
        .into_iter()
        .filter(|p| fs::read(p).is_ok_and(|c| String::from_utf8_lossy(&c).trim() == content))
        .collect()
}

#[test]
fn released_inodes_are_reused() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(
        s.reserve("a-longer-container-id", "eth0", ip("10.0.0.2"), 0)
            .unwrap()
    );
    let ino = fs::metadata(net.join("10.0.0.2")).unwrap().ino();
    let key = index_key("a-longer-container-id", Some("eth0"));
    let key_ino = fs::metadata(net.join(".attachments").join(&key))
        .unwrap()
        .ino();
    drop(s);
    let mut s = Store::open(d.path(), "n").unwrap();
    assert_eq!(
        s.release_by_id("a-longer-container-id", "eth0").unwrap(),
        [ip("10.0.0.2")]
    );
    drop(s);
    // the file and the index directory are spares now; the file holds
    // nothing Go would match to the attachment
    let zeros = vec![0u8; "a-longer-container-id\r\neth0".len()];
    assert_eq!(
        spares(&net),
        [("d0".to_string(), Vec::new()), ("f0".to_string(), zeros)]
    );
    assert!(go_matches(&net, "a-longer-container-id\r\neth0").is_empty());
    assert!(!net.join("10.0.0.2").exists());
    assert!(!net.join(".attachments").join(&key).exists());
    let spare = net.join(".attachments/.spare");
    assert_eq!(fs::metadata(spare.join("f0")).unwrap().ino(), ino);
    assert_eq!(fs::metadata(spare.join("d0")).unwrap().ino(), key_ino);
    // the next owner gets them, complete, and a shorter content is not
    // padded; the store is indexed as usual
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.reserve("c2", "eth1", ip("10.0.0.2"), 0).unwrap());
    drop(s);
    assert_eq!(fs::metadata(net.join("10.0.0.2")).unwrap().ino(), ino);
    assert_eq!(fs::read(net.join("10.0.0.2")).unwrap(), b"c2\r\neth1");
    let key = index_key("c2", Some("eth1"));
    assert_eq!(
        fs::metadata(net.join(".attachments").join(&key))
            .unwrap()
            .ino(),
        key_ino
    );
    assert!(spares(&net).is_empty());
    let mut s = Store::open(d.path(), "n").unwrap();
    assert_eq!(s.get_by_id("c2", "eth1").unwrap(), [ip("10.0.0.2")]);
    // a taken address keeps the spare for the next candidate
    assert!(s.reserve("c3", "eth0", ip("10.0.0.3"), 0).unwrap());
    assert_eq!(s.release_by_id("c2", "eth1").unwrap(), [ip("10.0.0.2")]);
    assert!(!s.reserve("c4", "eth0", ip("10.0.0.3"), 0).unwrap());
    assert!(s.reserve("c4", "eth0", ip("10.0.0.4"), 0).unwrap());
    assert_eq!(fs::metadata(net.join("10.0.0.4")).unwrap().ino(), ino);
    // a spare written for an address that was never free is zeroed again
    s.release_by_id("c4", "eth0").unwrap();
    assert!(!s.reserve("c5", "eth0", ip("10.0.0.3"), 0).unwrap());
    drop(s);
    assert!(go_matches(&net, "c5\r\neth0").is_empty());
    assert_eq!(spares(&net).len(), 2);
}

#[test]
fn pool_is_bounded_and_shared_by_ranges() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    for i in 0..70 {
        let id = format!("c{i}");
        assert!(
            s.reserve(&id, "eth0", ip(&format!("10.0.1.{i}")), 0)
                .unwrap()
        );
        assert!(
            s.reserve(&id, "eth0", ip(&format!("fd00::{i}")), 1)
                .unwrap()
        );
    }
    drop(s);
    let mut s = Store::open(d.path(), "n").unwrap();
    for i in 0..70 {
        assert_eq!(s.release_by_id(&format!("c{i}"), "eth0").unwrap().len(), 2);
    }
    drop(s);
    let spares = spares(&net);
    let files = spares.iter().filter(|(n, _)| n.starts_with('f')).count();
    let dirs = spares.iter().filter(|(n, _)| n.starts_with('d')).count();
    assert_eq!((files, dirs), (POOL_MAX, POOL_MAX));
    assert!(spares.iter().all(|(_, c)| c.iter().all(|b| *b == 0)));
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(s.reservations().unwrap().is_empty());
    assert!(s.reserve("x", "eth0", ip("10.0.1.1"), 0).unwrap());
    assert_eq!(s.get_by_id("x", "eth0").unwrap(), [ip("10.0.1.1")]);
}

#[test]
fn writer_killed_with_a_spare_in_flight() {
    let d = tempfile::tempdir().unwrap();
    let net = d.path().join("n");
    let mut s = Store::open(d.path(), "n").unwrap();
    s.reserve("c1", "eth0", ip("10.0.0.2"), 0).unwrap();
    s.release_by_id("c1", "eth0").unwrap();
    drop(s);
    // as a writer killed between renaming a released file into the pool
    // and zeroing it leaves it, with the mark void
    fs::write(net.join(".attachments/.spare/f0"), "c1\r\neth0").unwrap();
    fs::write(net.join(".attachments/.synced"), "x").unwrap();
    let mut s = Store::open(d.path(), "n").unwrap();
    assert!(go_matches(&net, "c1\r\neth0").is_empty(), "pool emptied");
    assert!(s.get_by_id("c1", "eth0").unwrap().is_empty());
    assert!(s.reserve("c2", "eth0", ip("10.0.0.2"), 0).unwrap());
    drop(s);
    let s = Store::open(d.path(), "n").unwrap();
    assert_eq!(s.reservations().unwrap().len(), 1);
}

#[test]
fn planted_pool_symlinks_are_not_followed() {
    let d = tempfile::tempdir().unwrap();
    let outside = d.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("f0"), "precious").unwrap();
    let victim = d.path().join("victim");
    fs::write(&victim, "precious").unwrap();
    let data = d.path().join("data");
    let net = data.join("n");
    let before = tree(&outside);
    let cycle = |id: &str| {
        let mut s = Store::open(&data, "n").unwrap();
        assert!(s.reserve(id, "eth0", ip("10.0.0.2"), 0).unwrap());
        assert_eq!(s.release_by_id(id, "eth0").unwrap(), [ip("10.0.0.2")]);
        drop(s);
        let mut s = Store::open(&data, "n").unwrap();
        assert!(s.reserve(id, "eth0", ip("10.0.0.2"), 0).unwrap());
        assert_eq!(s.get_by_id(id, "eth0").unwrap(), [ip("10.0.0.2")]);
        assert_eq!(s.release_by_id(id, "eth0").unwrap(), [ip("10.0.0.2")]);
    };
    cycle("c0");
    // the pool directory itself, planted while the mark says all is well
    fs::remove_dir_all(net.join(".attachments/.spare")).unwrap();
    symlink(&outside, net.join(".attachments/.spare")).unwrap();
    cycle("c1");
    assert!(
        fs::symlink_metadata(net.join(".attachments/.spare"))
            .unwrap()
            .is_dir()
    );
    // spares that are symlinks, hard links or not files are not taken
    let spare = net.join(".attachments/.spare");
    for e in fs::read_dir(&spare).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            fs::remove_dir(p).unwrap();
        } else {
            fs::remove_file(p).unwrap();
        }
    }
    symlink(&victim, spare.join("f0")).unwrap();
    fs::hard_link(&victim, spare.join("f1")).unwrap();
    symlink(&outside, spare.join("d0")).unwrap();
    cycle("c2");
    cycle("c3");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert_eq!(tree(&outside), before, "nothing written through a symlink");
}
