//! Tap devices: creating one through `/dev/net/tun` (the kernel refuses
//! tun and tap creation over rtnetlink) and reading its settings back from
//! the link's IFLA_INFO_DATA.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use netlink_packet_core::Nla;
use netlink_packet_route::link::{InfoData, InfoTun};
use nix::errno::Errno;

use pkg::netlink::Link;
use pkg::{Error, Result};

const TUN_DEVICE: &str = "/dev/net/tun";

/// Refuse to attach to an existing tun or tap of the same name: creation
/// or EBUSY, never someone else's device.
const IFF_TUN_EXCL: u16 = 0x8000;

/// What to create.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TapSpec {
    pub multi_queue: bool,
    pub owner: Option<u32>,
    pub group: Option<u32>,
}

/// `struct ifreq` as TUNSETIFF reads it: the name and the flags (a
/// `short`, kept unsigned here for IFF_TUN_EXCL's high bit).
#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    flags: u16,
    _rest: [u8; 22],
}

/// Creates the tap `name`, persistent and down, in the calling thread's
/// network namespace (call it inside `Netns::run`). The device only
/// outlives the descriptor once it is persistent, so a plugin killed
/// before that leaves nothing. Packet-info headers are off (as `ip tuntap
/// add`); the opener chooses its own header flags, only multi-queue is
/// fixed at creation.
pub fn create(name: &str, spec: TapSpec) -> Result<()> {
    let tun = open_tun()?;
    let mut req = IfReq {
        name: [0; libc::IFNAMSIZ],
        flags: (libc::IFF_TAP | libc::IFF_NO_PI) as u16 | IFF_TUN_EXCL,
        _rest: [0; 22],
    };
    if spec.multi_queue {
        req.flags |= libc::IFF_MULTI_QUEUE as u16;
    }
    // Callers pass validated interface names: at most 15 bytes, no NUL.
    let bytes = name.as_bytes();
    let len = bytes.len().min(libc::IFNAMSIZ - 1);
    req.name[..len].copy_from_slice(&bytes[..len]);
    let fd = tun.as_raw_fd();
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq`; `req` has its
    // size and layout and lives across the call.
    let rc = unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        let errno = Errno::last();
        let op = format!("create tap {name}");
        return Err(match errno {
            Errno::EBUSY => Error::kernel(format!("{op}: a tun or tap of that name exists"), errno),
            _ => Error::kernel(op, errno),
        });
    }
    let steps = [
        (libc::TUNSETOWNER, spec.owner, "set owner of"),
        (libc::TUNSETGROUP, spec.group, "set group of"),
        (libc::TUNSETPERSIST, Some(1), "make persistent"),
    ];
    for (request, value, what) in steps {
        let Some(value) = value else { continue };
        // SAFETY: these three take their argument by value and touch no
        // memory of ours.
        let rc = unsafe { libc::ioctl(fd, request, libc::c_ulong::from(value)) };
        if rc < 0 {
            // Not persistent yet: closing `tun` removes the device.
            return Err(Error::kernel(format!("{what} tap {name}"), Errno::last()));
        }
    }
    Ok(())
}

fn open_tun() -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(TUN_DEVICE)
        .map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
            if errno == Errno::ENOENT || errno == Errno::ENODEV || errno == Errno::ENXIO {
                Error::kernel(
                    format!(
                        "open {TUN_DEVICE}: the kernel has no tun/tap support (module tun), or the device node is missing"
                    ),
                    errno,
                )
            } else {
                Error::io(format!("open {TUN_DEVICE}"), e)
            }
        })
}

/// A tun device's settings as the kernel reports them (IFLA_TUN_*).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunInfo {
    /// A tap (not a tun).
    pub tap: bool,
    pub owner: Option<u32>,
    pub group: Option<u32>,
    pub multi_queue: bool,
    pub persist: bool,
}

const IFLA_TUN_OWNER: u16 = 1;
const IFLA_TUN_GROUP: u16 = 2;
const IFLA_TUN_TYPE: u16 = 3;
const IFLA_TUN_PERSIST: u16 = 6;
const IFLA_TUN_MULTI_QUEUE: u16 = 7;

/// The settings of `link` if it is a tun or tap.
pub fn info(link: &Link) -> Option<TunInfo> {
    if link.kind.as_deref() != Some("tun") {
        return None;
    }
    let mut out = TunInfo::default();
    let Some(InfoData::Tun(attrs)) = link.info_data() else {
        return Some(out);
    };
    for a in attrs {
        let InfoTun::Other(nla) = a else { continue };
        let mut v = vec![0u8; nla.value_len()];
        nla.emit_value(&mut v);
        let u32_of = |v: &[u8]| {
            v.get(..4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        let flag = |v: &[u8]| v.first().is_some_and(|b| *b != 0);
        match nla.kind() {
            IFLA_TUN_OWNER => out.owner = u32_of(&v),
            IFLA_TUN_GROUP => out.group = u32_of(&v),
            IFLA_TUN_TYPE => out.tap = v.first() == Some(&(libc::IFF_TAP as u8)),
            IFLA_TUN_PERSIST => out.persist = flag(&v),
            IFLA_TUN_MULTI_QUEUE => out.multi_queue = flag(&v),
            _ => {}
        }
    }
    Some(out)
}
