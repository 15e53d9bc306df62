//! The one netlink transport of the suite: a blocking socket of one
//! protocol that owns the sequence numbers, the acknowledgements (with the
//! kernel's extended-ack message), multipart dumps and their
//! interruption, EINTR, and lost replies (ENOBUFS). The message families
//! are codecs on top: rtnetlink (`RouteNetlinkMessage` from
//! netlink-packet-route, see `super::Netlink`), nf_tables and ctnetlink
//! (`super::nfgen::NfMessage`). Framing and attributes come from
//! netlink-packet-core.
//!
//! A socket stays bound to the network namespace it was created in, so one
//! created on a thread inside another namespace (`Netns::run`) can then be
//! used from anywhere.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkBuffer, NetlinkDeserializable,
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NetlinkSerializable, NlasIterator,
};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::error::{Error, Result, code};

/// How many times a dump the kernel marked interrupted is retried.
const DUMP_RETRIES: usize = 10;
/// Large enough for any datagram the kernel sends a dumping socket (it
/// caps dump messages at 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// The most notification datagrams one `next_notifications` reads.
const NOTIFICATIONS_PER_READ: usize = 256;
/// nlmsgerr extended-ack attribute carrying the kernel's message.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// A netlink socket speaking messages of type `M`: the typed face of
/// `Core`, which does the work once for every message family.
pub struct Socket<M> {
    core: Core,
    _messages: PhantomData<fn(M) -> M>,
}

/// The socket and its state, independent of the message type.
struct Core {
    raw: netlink_sys::Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl<M> Socket<M>
where
    M: NetlinkSerializable + NetlinkDeserializable,
{
    /// A socket of `protocol` (`NETLINK_ROUTE`, `NETLINK_NETFILTER`) in
    /// the calling thread's network namespace.
    pub fn open(protocol: isize) -> Result<Socket<M>> {
        Ok(Socket {
            core: Core::open(protocol)?,
            _messages: PhantomData,
        })
    }

    /// A request the kernel acknowledges; the messages it answers with
    /// before the acknowledgement (a GET's object, for instance).
    pub fn request(&mut self, msg: M, flags: u16, op: impl Fn() -> String) -> Result<Vec<M>> {
        let seq = self.core.next_seq();
        let bytes = encode(msg, NLM_F_REQUEST | NLM_F_ACK | flags, seq);
        let mut out = Vec::new();
        self.core
            .exchange(&bytes, seq, false, &mut |raw| decode(raw, &mut out, false))
            .map(drop)
            .map_err(|e| with_op(e, &op))?;
        Ok(out)
    }

    /// A dump, read to its end and retried while the kernel reports it
    /// was interrupted by a concurrent change (NLM_F_DUMP_INTR), or its
    /// replies were lost (ENOBUFS).
    pub fn dump(&mut self, msg: impl Fn() -> M, op: impl Fn() -> String) -> Result<Vec<M>> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.core.next_seq();
            let bytes = encode(msg(), NLM_F_REQUEST | NLM_F_DUMP, seq);
            let mut out = Vec::new();
            let interrupted = self
                .core
                .exchange(&bytes, seq, true, &mut |raw| decode(raw, &mut out, true))
                .map_err(|e| with_op(e, &op))?;
            if !interrupted {
                return Ok(out);
            }
        }
        Err(Error::new(
            code::TRY_AGAIN_LATER,
            format!(
                "{}: dump kept being interrupted by concurrent changes",
                op()
            ),
            "",
        ))
    }

    /// [`dump`](Socket::dump) with the kernel's strict checking of the
    /// request on (NETLINK_GET_STRICT_CHK), for the dumps whose request
    /// names a filter the kernel applies only then (an address dump of one
    /// link: without it the kernel walks every link of the namespace, a
    /// thousand on a busy node). Off again afterwards: the other requests
    /// on the socket keep the lenient checking they were written for. A
    /// kernel without it (before 4.20) dumps everything; callers filter
    /// the replies themselves too.
    pub fn dump_filtered(
        &mut self,
        msg: impl Fn() -> M,
        op: impl Fn() -> String,
    ) -> Result<Vec<M>> {
        let strict = self.core.raw.set_netlink_get_strict_chk(true).is_ok();
        let out = self.dump(msg, op);
        if strict {
            let _ = self.core.raw.set_netlink_get_strict_chk(false);
        }
        out
    }

    /// The cookie of the network namespace the socket lives in
    /// (`SO_NETNS_COOKIE`, Linux 5.14): unlike a namespace's inode, never
    /// given to another namespace until reboot. None on older kernels.
    pub fn netns_cookie(&self) -> Option<u64> {
        use std::os::fd::AsRawFd;
        let mut cookie: u64 = 0;
        let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
        // SAFETY: the kernel writes at most `len` bytes into `cookie` and
        // the length it wrote into `len`; both outlive the call.
        let rc = unsafe {
            libc::getsockopt(
                self.core.raw.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_NETNS_COOKIE,
                (&raw mut cookie).cast(),
                &raw mut len,
            )
        };
        (rc == 0 && len as usize == std::mem::size_of::<u64>()).then_some(cookie)
    }

    /// Subscribes the socket to the kernel's notifications of multicast
    /// group `group` (an `RTNLGRP_*` number). A socket that listens should
    /// send no requests: its replies would queue behind the notifications.
    pub fn subscribe(&mut self, group: u32) -> Result<()> {
        self.core
            .raw
            .add_membership(group)
            .map_err(|e| Error::io("subscribe a netlink socket to notifications", e))
    }

    /// The notifications queued on the socket, waiting for the first until
    /// `deadline`; `None` when none came by then. Only the messages whose
    /// payload (the bytes after the netlink header) `wanted` accepts are
    /// decoded: a namespace's notifications are mostly about other
    /// objects. Lost notifications (the socket's buffer overflowed,
    /// ENOBUFS) are an error: the caller can no longer know what it missed.
    pub fn next_notifications(
        &mut self,
        deadline: Instant,
        wanted: &dyn Fn(&[u8]) -> bool,
    ) -> Result<Option<Vec<M>>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.core.wait_readable(left)? {
                return Ok(None);
            }
            let mut out = Vec::new();
            let mut read = 0;
            // Bounded, so that a namespace busy enough to notify faster
            // than this reads cannot keep the caller here.
            while read < NOTIFICATIONS_PER_READ
                && let Some(n) = self.core.recv_nowait()?
            {
                read += 1;
                let mut offset = 0;
                while offset < n {
                    let start = offset;
                    let (len, _, payload) = frame(&self.core.buf[start..n])?;
                    offset += (len + 3) & !3;
                    let message = &self.core.buf[start..start + len];
                    if let Payload::Data = payload
                        && NetlinkBuffer::new_checked(message).is_ok_and(|b| wanted(b.payload()))
                    {
                        // Kinds the codec does not carry are not the
                        // caller's business.
                        let _ = decode(message, &mut out, false);
                    }
                }
            }
            if read > 0 {
                return Ok(Some(out));
            }
        }
    }

    /// Sends `msgs` (each with its own extra header flags) in one
    /// datagram, for nfnetlink's transactions (the caller brackets them
    /// with the batch markers); `describe(i)` names message `i` for the
    /// error that refuses it. The kernel reports every refused message,
    /// and answers the acknowledgements asked for only once the whole
    /// batch is committed or aborted: so the caller asks for one (with
    /// `NLM_F_ACK`, on its last step), which stands for all of them
    /// without a receive buffer sized for thousands.
    pub fn transaction(
        &mut self,
        msgs: Vec<(M, u16)>,
        describe: impl Fn(usize) -> String,
    ) -> Result<()> {
        let count = msgs.len();
        let Some(acked) = msgs.iter().rposition(|(_, f)| f & NLM_F_ACK != 0) else {
            return Err(Error::internal(
                "netlink transaction without an acknowledged step",
            ));
        };
        let first = self.core.seq.wrapping_add(1);
        let mut bytes = Vec::new();
        for (m, flags) in msgs {
            let seq = self.core.next_seq();
            bytes.extend(encode(m, NLM_F_REQUEST | flags, seq));
        }
        let end = self.core.seq;
        self.core
            .transaction(&bytes, first, end, first.wrapping_add(acked as u32))
            .map_err(|(seq, e)| {
                let index = seq.wrapping_sub(first) as usize;
                with_op(e, &|| describe(index.min(count - 1)))
            })
    }
}

/// Decodes one reply into `out`; in a dump, one object we cannot decode
/// must not hide the others.
fn decode<M: NetlinkDeserializable>(raw: &[u8], out: &mut Vec<M>, dump: bool) -> Result<()> {
    match NetlinkMessage::<M>::deserialize(raw) {
        Ok(m) => {
            if let NetlinkPayload::InnerMessage(m) = m.payload {
                out.push(m);
            }
            Ok(())
        }
        Err(e) if dump => {
            eprintln!("warning: skipping undecodable netlink message: {e}");
            Ok(())
        }
        Err(e) => Err(Error::internal(format!("undecodable netlink reply: {e}"))),
    }
}

impl Core {
    fn open(protocol: isize) -> Result<Core> {
        let io = |op: &'static str| move |e| Error::io(op, e);
        let mut raw = netlink_sys::Socket::new(protocol).map_err(io("open netlink socket"))?;
        raw.bind_auto().map_err(io("bind netlink socket"))?;
        raw.connect(&netlink_sys::SocketAddr::new(0, 0))
            .map_err(io("connect netlink socket"))?;
        // Best effort: older kernels lack these, and they only make error
        // replies smaller and their messages better.
        let _ = raw.set_ext_ack(true);
        let _ = raw.set_cap_ack(true);
        Ok(Core {
            raw,
            seq: 0,
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.raw
            .send(bytes, 0)
            .map(drop)
            .map_err(|e| Error::io("sending netlink request", e))
    }

    /// Sends `bytes` and reads the answers to `seq` until DONE or the
    /// acknowledgement, handing each data message to `data`; whether the
    /// dump was interrupted. A dump whose replies overflowed the socket
    /// (ENOBUFS) is read to its end and reported interrupted, so that it
    /// can be asked again (the kernel refuses a second dump while one is
    /// running); for anything else a lost reply is an error.
    fn exchange(
        &mut self,
        bytes: &[u8],
        seq: u32,
        dump: bool,
        data: &mut dyn FnMut(&[u8]) -> Result<()>,
    ) -> Result<bool> {
        self.send(bytes)?;
        let mut interrupted = false;
        loop {
            let n = match self.recv() {
                Ok(n) => n,
                Err(e) if dump && e.is_errno(Errno::ENOBUFS) => {
                    interrupted = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut offset = 0;
            while offset < n {
                let start = offset;
                let (len, header, payload) = frame(&self.buf[start..n])?;
                offset += (len + 3) & !3;
                if header.sequence_number != seq {
                    continue;
                }
                if header.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match payload {
                    Payload::Done | Payload::Ack => return Ok(interrupted),
                    Payload::Error(e) => return Err(e),
                    Payload::Data => data(&self.buf[start..start + len])?,
                }
            }
        }
    }

    /// Sends a batch and reads replies to its sequence numbers
    /// `first..=end` until `acked` is acknowledged or one of them is
    /// refused (the refusal, with its sequence number).
    fn transaction(
        &mut self,
        bytes: &[u8],
        first: u32,
        end: u32,
        acked: u32,
    ) -> std::result::Result<(), (u32, Error)> {
        self.send(bytes).map_err(|e| (acked, e))?;
        let ours = |seq: u32| seq.wrapping_sub(first) <= end.wrapping_sub(first);
        loop {
            let n = self.recv().map_err(|e| (acked, e))?;
            let mut offset = 0;
            while offset < n {
                let (len, header, payload) = frame(&self.buf[offset..n]).map_err(|e| (acked, e))?;
                offset += (len + 3) & !3;
                let seq = header.sequence_number;
                if !ours(seq) {
                    continue;
                }
                match payload {
                    Payload::Error(e) => return Err((seq, e)),
                    Payload::Ack | Payload::Done if seq == acked => return Ok(()),
                    _ => {}
                }
            }
        }
    }

    /// Whether a datagram is waiting, after waiting up to `limit`.
    fn wait_readable(&self, limit: Duration) -> Result<bool> {
        use std::os::fd::AsFd;
        // Rounded up: a deadline a fraction of a millisecond away is not past.
        let ms = limit.as_micros().div_ceil(1000);
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(self.raw.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(n) => Ok(n > 0),
            // Interrupted: the caller looks, finds nothing and waits again.
            Err(Errno::EINTR) => Ok(true),
            Err(e) => Err(Error::kernel("waiting for netlink notifications", e)),
        }
    }

    /// One datagram into the buffer without waiting: its length, or
    /// `None` when there was none after all.
    fn recv_nowait(&mut self) -> Result<Option<usize>> {
        self.recv_with(libc::MSG_DONTWAIT, "netlink notification")
    }

    /// One datagram into the buffer; its length.
    fn recv(&mut self) -> Result<usize> {
        loop {
            if let Some(n) = self.recv_with(0, "netlink reply")? {
                return Ok(n);
            }
        }
    }

    /// One datagram into the buffer, received with `flags`: its length, or
    /// `None` when the call was interrupted or (`MSG_DONTWAIT`) nothing
    /// was queued. `what` names the datagram in errors.
    fn recv_with(&mut self, flags: libc::c_int, what: &str) -> Result<Option<usize>> {
        self.buf.clear();
        match self.raw.recv(&mut self.buf, libc::MSG_TRUNC | flags) {
            Ok(n) if n > self.buf.len() => Err(Error::internal(format!(
                "{what} larger than the receive buffer"
            ))),
            Ok(n) => Ok(Some(n)),
            Err(e) => match e.raw_os_error().map(Errno::from_raw) {
                Some(Errno::EINTR) => Ok(None),
                Some(Errno::EAGAIN) if flags & libc::MSG_DONTWAIT != 0 => Ok(None),
                Some(errno) => Err(Error::kernel(format!("reading {what}"), errno)),
                None => Err(Error::io(format!("reading {what}"), e)),
            },
        }
    }
}

/// The fields of a reply's header the receive loops look at.
struct Header {
    message_type: u16,
    flags: u16,
    sequence_number: u32,
}

/// What one message of a reply is.
enum Payload {
    Done,
    Ack,
    Error(Error),
    Data,
}

/// The message at the start of `bytes`: its length, header and payload.
fn frame(bytes: &[u8]) -> Result<(usize, Header, Payload)> {
    let buffer = NetlinkBuffer::new_checked(bytes)
        .map_err(|e| Error::internal(format!("malformed netlink reply: {e}")))?;
    let len = buffer.length() as usize;
    if len < 16 || len > bytes.len() {
        return Err(Error::internal("malformed netlink reply length"));
    }
    let header = Header {
        message_type: buffer.message_type(),
        flags: buffer.flags(),
        sequence_number: buffer.sequence_number(),
    };
    let body = &bytes[16..len];
    let payload = match header.message_type {
        netlink_packet_core::NLMSG_DONE => Payload::Done,
        netlink_packet_core::NLMSG_ERROR => {
            let code = body
                .get(..4)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            if code == 0 {
                Payload::Ack
            } else {
                let detail = extack_message(body.get(4..).unwrap_or_default());
                Payload::Error(Error::Kernel {
                    op: detail
                        .map(|d| format!("kernel says {d:?}"))
                        .unwrap_or_default(),
                    errno: Errno::from_raw(code.saturating_abs()),
                })
            }
        }
        _ => Payload::Data,
    };
    Ok((len, header, payload))
}

/// A message with its header filled in, serialized.
fn encode<M: NetlinkSerializable>(msg: M, flags: u16, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = flags;
    header.sequence_number = seq;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    bytes
}

/// Puts the description of the operation in front of a kernel error (the
/// kernel's own words, when it gave some, follow in parentheses).
pub(crate) fn with_op(e: Error, op: &dyn Fn() -> String) -> Error {
    match e {
        Error::Kernel { op: inner, errno } => Error::Kernel {
            op: if inner.is_empty() {
                op()
            } else {
                format!("{} ({inner})", op())
            },
            errno,
        },
        other => other.context(op()),
    }
}

/// Whether the kernel refused a request with an extended-ack message
/// that starts with `text` (the words [`with_op`] puts after the
/// operation).
#[cfg(feature = "netlink")]
pub(crate) fn kernel_said(e: &Error, text: &str) -> bool {
    match e {
        Error::Kernel { op, .. } => op.contains(&format!("(kernel says \"{text}")),
        Error::Context { source, .. } => kernel_said(source, text),
        _ => false,
    }
}

/// The kernel's message in the payload of an NLMSG_ERROR sent with
/// NETLINK_CAP_ACK: the original 16-byte header, then attributes.
fn extack_message(payload: &[u8]) -> Option<String> {
    for nla in NlasIterator::new(payload.get(16..)?) {
        let nla = nla.ok()?;
        if nla.kind() == NLMSGERR_ATTR_MSG {
            return Some(cstr(nla.value()).to_string());
        }
    }
    None
}

/// A NUL-terminated (or not) string attribute; invalid UTF-8 reads as
/// empty, which matches none of our names.
pub(crate) fn cstr(b: &[u8]) -> &str {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    std::str::from_utf8(&b[..end]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut v = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&kind.to_ne_bytes());
        v.extend_from_slice(value);
        v.resize((v.len() + 3) & !3, 0);
        v
    }

    #[test]
    fn extack_parsing() {
        let mut p = vec![0u8; 16];
        p.extend(nla(NLMSGERR_ATTR_MSG, b"Invalid MTU\0"));
        assert_eq!(extack_message(&p).as_deref(), Some("Invalid MTU"));
        assert_eq!(extack_message(&p[..10]), None);
        assert_eq!(extack_message(&[0u8; 16]), None);
    }

    #[test]
    fn op_is_prefixed() {
        let e = with_op(
            Error::Kernel {
                op: String::new(),
                errno: Errno::EEXIST,
            },
            &|| "add link veth0".into(),
        );
        assert_eq!(e.to_string(), "add link veth0: file exists (EEXIST)");
        assert!(e.is_errno(Errno::EEXIST));
        let e = with_op(
            Error::Kernel {
                op: "kernel says \"no\"".into(),
                errno: Errno::EINVAL,
            },
            &|| "add rule".into(),
        );
        assert!(e.to_string().starts_with("add rule (kernel says \"no\")"));
        assert!(!kernel_said(&e, "yes"));
        assert!(kernel_said(&e.context("adding"), "no"));
    }

    #[test]
    fn frames_errors_acks_and_data() {
        let msg = |kind: u16, body: &[u8]| {
            let mut m = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&0u16.to_ne_bytes());
            m.extend_from_slice(&7u32.to_ne_bytes());
            m.extend_from_slice(&0u32.to_ne_bytes());
            m.extend_from_slice(body);
            m
        };
        let mut err = (-17i32).to_ne_bytes().to_vec();
        err.extend([0u8; 16]);
        err.extend(nla(NLMSGERR_ATTR_MSG, b"exists\0"));
        let bytes = msg(2, &err);
        let (len, header, payload) = frame(&bytes).unwrap();
        assert_eq!((len, header.sequence_number), (bytes.len(), 7));
        let Payload::Error(e) = payload else {
            panic!("not an error")
        };
        assert!(e.is_errno(Errno::EEXIST));
        assert!(e.to_string().contains("exists"), "{e}");
        let bytes = msg(2, &0i32.to_ne_bytes());
        assert!(matches!(frame(&bytes).unwrap().2, Payload::Ack));
        let bytes = msg(3, &[0; 4]);
        assert!(matches!(frame(&bytes).unwrap().2, Payload::Done));
        let bytes = msg(16, &[1, 2, 3, 4]);
        assert!(matches!(frame(&bytes).unwrap().2, Payload::Data));
        // truncated or lying lengths never panic
        for cut in 0..bytes.len() {
            let _ = frame(&bytes[..cut]);
        }
        let mut lying = bytes.clone();
        lying[0] = 200;
        assert!(frame(&lying).is_err());
    }
}
