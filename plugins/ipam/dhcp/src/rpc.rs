//! The plugin↔daemon protocol: one JSON request line, one JSON response
//! line, per connection on the daemon's unix socket. Go's daemon speaks
//! net/rpc with gob instead: this plugin needs this daemon, and the other
//! way round.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use pkg::{Error, Result};

use crate::lease::Lease;
use crate::options::Options;

/// A request or response larger than this is refused unread.
pub const MAX_LINE: u64 = 1 << 20;

/// Which attachment a lease belongs to: the client identifier is made of
/// it (`<containerID>/<network>/<ifname>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    pub container_id: String,
    pub network: String,
    pub ifname: String,
}

impl Key {
    /// The client identifier's text, cut to 254 bytes as Go does (the
    /// option carries a type byte before it).
    pub fn client_id(&self) -> Vec<u8> {
        let mut id = format!("{}/{}/{}", self.container_id, self.network, self.ifname).into_bytes();
        id.truncate(254);
        id
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// ADD: the attachment's lease, acquired now unless the daemon holds it.
    Allocate {
        key: Key,
        /// Absolute path of the container's netns.
        netns: String,
        options: Options,
    },
    /// CHECK: the lease the daemon holds, current, or an error.
    Check { key: Key },
    /// DEL: release and forget (success when there is no such lease).
    Release { key: Key },
    /// GC: release the network's leases whose attachment is not listed.
    Gc {
        network: String,
        valid: Vec<(String, String)>,
    },
    /// STATUS: whether the daemon answers.
    Status,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Response {
    Lease(Lease),
    Done,
    Error {
        code: u32,
        msg: String,
        details: String,
    },
}

impl Response {
    pub fn from_error(e: &Error) -> Response {
        Response::Error {
            code: e.code(),
            msg: e.msg(),
            details: e.details(),
        }
    }
}

/// Send `req` to the daemon at `socket` and wait for its answer (at most
/// `wait`). A daemon that is not there is a code-11 error naming the socket.
pub fn call(socket: &Path, req: &Request, wait: Duration) -> Result<Response> {
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        Error::new(
            pkg::error::code::TRY_AGAIN_LATER,
            format!("error dialing DHCP daemon at {}: {e}", socket.display()),
            "is the daemon running? start `dhcp daemon` (or the cni-dhcp socket unit)",
        )
    })?;
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| Error::io("set a timeout on the daemon socket", e))?;
    write_line(&mut stream, req).map_err(|e| {
        Error::io(
            format!("write to the DHCP daemon at {}", socket.display()),
            e,
        )
    })?;
    let resp: Response = read_line(&mut stream)
        .and_then(|r| {
            r.ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer"))
        })
        .map_err(|e| {
            Error::io(
                format!("read the DHCP daemon's answer on {}", socket.display()),
                e,
            )
        })?;
    match resp {
        Response::Error { code, msg, details } => Err(Error::new(code, msg, details)),
        ok => Ok(ok),
    }
}

pub fn write_line<T: Serialize>(w: &mut impl Write, v: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(v).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line)?;
    w.flush()
}

/// One message; `Ok(None)` when the peer closed without sending any (a
/// probe of whether the daemon listens).
pub fn read_line<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut line = Vec::new();
    BufReader::new(r.take(MAX_LINE)).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before a whole message",
        ));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids() {
        let k = Key {
            container_id: "c1".into(),
            network: "net".into(),
            ifname: "eth0".into(),
        };
        assert_eq!(k.client_id(), b"c1/net/eth0");
        let long = Key {
            container_id: "x".repeat(300),
            ..k
        };
        assert_eq!(long.client_id().len(), 254);
    }

    #[test]
    fn round_trips_and_framing() {
        let reqs = [
            Request::Status,
            Request::Release {
                key: Key {
                    container_id: "a".into(),
                    network: "n".into(),
                    ifname: "eth0".into(),
                },
            },
            Request::Gc {
                network: "n".into(),
                valid: vec![("a".into(), "eth0".into())],
            },
        ];
        for req in reqs {
            let mut buf = Vec::new();
            write_line(&mut buf, &req).unwrap();
            assert_eq!(buf.iter().filter(|b| **b == b'\n').count(), 1);
            let back: Option<Request> = read_line(&mut buf.as_slice()).unwrap();
            assert_eq!(back, Some(req));
        }
        assert_eq!(read_line::<Request>(&mut &b""[..]).unwrap(), None);
        for bad in [
            &b"{\"op\":\"status\"}"[..],
            b"nonsense\n",
            b"{\"op\":\"fly\"}\n",
        ] {
            assert!(read_line::<Request>(&mut &bad[..]).is_err());
        }
    }
}
