//! Reading files whose path comes from configuration or sits in a
//! directory others may write to: only regular files are read, never more
//! than a bound, and opening cannot block (a FIFO) or wake a device.

use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// How to treat a symlink in the last component of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symlinks {
    /// Follow it (`/etc/resolv.conf` often is one).
    Follow,
    /// Refuse it: the file is ours and a symlink there was planted.
    Refuse,
}

/// The whole content of the regular file at `path`, at most `max` bytes;
/// `Ok(None)` if it does not exist. A directory, FIFO, socket or device, a
/// larger file or (with [`Symlinks::Refuse`]) a symlink is an error.
pub fn read_bounded(path: &Path, max: u64, symlinks: Symlinks) -> io::Result<Option<Vec<u8>>> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if symlinks == Symlinks::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    // A device or FIFO is refused before it is opened; the check after
    // opening covers a swap in between.
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => return Err(not_regular()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is a symlink, which is not followed here",
            ));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    if meta.size() > max {
        return Err(too_large(max));
    }
    let mut buf = Vec::new();
    (&file).take(max + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Err(too_large(max));
    }
    Ok(Some(buf))
}

fn not_regular() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

fn too_large(max: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("larger than {max} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_bounded_regular_files() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, "abc").unwrap();
        assert_eq!(
            read_bounded(&f, 3, Symlinks::Refuse).unwrap().unwrap(),
            b"abc"
        );
        assert!(read_bounded(&f, 2, Symlinks::Follow).is_err());
        assert_eq!(
            read_bounded(&d.path().join("none"), 9, Symlinks::Follow).unwrap(),
            None
        );
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(
            read_bounded(&link, 9, Symlinks::Follow).unwrap().unwrap(),
            b"abc"
        );
        assert!(read_bounded(&link, 9, Symlinks::Refuse).is_err());
        let fifo = d.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        for bad in [
            fifo.as_path(),
            d.path(),
            Path::new("/dev/zero"),
            Path::new("/dev/null"),
        ] {
            let e = read_bounded(bad, 1 << 20, Symlinks::Follow).unwrap_err();
            assert!(
                e.to_string().contains("not a regular file"),
                "{}: {e}",
                bad.display()
            );
        }
    }
}
