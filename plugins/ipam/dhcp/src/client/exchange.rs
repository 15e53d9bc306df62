//! The client's conversations with a server (RFC 2131 §4.4): acquiring
//! (DISCOVER, OFFER, REQUEST, ACK), renewing (REQUEST by unicast to the
//! server that granted the lease), rebinding (REQUEST by broadcast) and
//! releasing. Each send waits `timeout` for its answer and is repeated
//! with Go's back-off until `resend_timeout` has passed.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dhcproto::Encodable;
use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, OptionCode, UnknownOption};

use pkg::{Error, Result};

use super::reply::{self, Refused};
use super::socket::Sockets;
use crate::lease::Lease;
use crate::options::{CLIENT_ID, Options};

/// The daemon's `-timeout`, `-resendmax`, `-resendtimeout` and
/// `-broadcast`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub timeout: Duration,
    pub resend_max: Duration,
    pub resend_timeout: Duration,
    pub broadcast: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            timeout: Duration::from_secs(10),
            resend_max: Duration::from_secs(62),
            resend_timeout: Duration::from_secs(208),
            broadcast: false,
        }
    }
}

/// Go's back-off: four quick repeats 2 s apart, then 4 s doubling up to
/// `resend_max`.
fn delays(resend_max: Duration) -> impl Iterator<Item = Duration> {
    let fast = std::iter::repeat_n(Duration::from_secs(2), 4);
    let slow = std::iter::successors(Some(Duration::from_secs(4)), move |d| {
        Some((*d * 2).min(resend_max.max(Duration::from_secs(4))))
    });
    fast.chain(slow)
}

pub struct Client<'a> {
    pub socks: Sockets,
    pub settings: Settings,
    pub options: &'a Options,
    /// The client identifier's text (`<containerID>/<network>/<ifname>`).
    pub client_id: &'a [u8],
    /// For log lines.
    pub name: &'a str,
    /// Waits between attempts: sleeps at most the given time and says
    /// whether the lease was stopped meanwhile (then the attempts end).
    pub pause: &'a dyn Fn(Duration) -> bool,
}

impl Client<'_> {
    /// A new lease: DISCOVER, then REQUEST what was offered.
    pub fn acquire(&self) -> Result<Message> {
        // One transaction for every attempt: an OFFER that comes late (a
        // server that first pings the address, as dnsmasq does) still counts.
        let xid = self
            .message(MessageType::Discover, Ipv4Addr::UNSPECIFIED)?
            .xid();
        self.retrying("acquire a lease", || {
            let mut discover = self.message(MessageType::Discover, Ipv4Addr::UNSPECIFIED)?;
            discover.set_xid(xid);
            let offer = self.transact(&discover, Ipv4Addr::BROADCAST, MessageType::Offer)?;
            let mut request = self.message(MessageType::Request, Ipv4Addr::UNSPECIFIED)?;
            request.set_xid(offer.xid());
            let opts = request.opts_mut();
            opts.insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
            if let Some(DhcpOption::ServerIdentifier(s)) =
                offer.opts().get(OptionCode::ServerIdentifier)
            {
                opts.insert(DhcpOption::ServerIdentifier(*s));
            }
            self.transact(&request, Ipv4Addr::BROADCAST, MessageType::Ack)
        })
    }

    /// RENEWING: ask the granting server to extend the lease.
    pub fn renew(&self, lease: &Lease) -> Result<Message> {
        self.once_until(lease.rebind_at(), "renew the lease", || {
            let request = self.message(MessageType::Request, lease.address)?;
            self.transact(&request, lease.server, MessageType::Ack)
        })
    }

    /// REBINDING: ask any server to extend the lease.
    pub fn rebind(&self, lease: &Lease) -> Result<Message> {
        self.once_until(lease.expires_at(), "rebind the lease", || {
            let request = self.message(MessageType::Request, lease.address)?;
            self.transact(&request, Ipv4Addr::BROADCAST, MessageType::Ack)
        })
    }

    /// RELEASE needs no answer: it is sent once.
    pub fn release(&self, lease: &Lease) -> Result<()> {
        let mut release = self.message(MessageType::Release, lease.address)?;
        release
            .opts_mut()
            .insert(DhcpOption::ServerIdentifier(lease.server));
        release.opts_mut().remove(OptionCode::ParameterRequestList);
        release.set_flags(Flags::default());
        self.socks.send(&encode(&release)?, lease.server)
    }

    fn message(&self, kind: MessageType, ciaddr: Ipv4Addr) -> Result<Message> {
        if self.socks.mac.len() > 16 {
            return Err(Error::internal(format!(
                "hardware address of {} is {} bytes, longer than DHCP carries",
                self.name,
                self.socks.mac.len()
            )));
        }
        let mut m = Message::new(
            ciaddr,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &self.socks.mac,
        );
        if self.settings.broadcast && ciaddr.is_unspecified() {
            m.set_flags(Flags::default().set_broadcast());
        }
        let opts = m.opts_mut();
        opts.insert(DhcpOption::MessageType(kind));
        // A type byte of 0: the identifier is not a hardware address.
        let mut id = vec![0];
        id.extend_from_slice(self.client_id);
        opts.insert(DhcpOption::ClientIdentifier(id));
        if !self.options.request.is_empty() {
            opts.insert(DhcpOption::ParameterRequestList(
                self.options
                    .request
                    .iter()
                    .map(|c| OptionCode::from(*c))
                    .collect(),
            ));
        }
        for (code, value) in &self.options.provide {
            if *code == CLIENT_ID {
                opts.remove(OptionCode::ClientIdentifier);
            }
            opts.insert(DhcpOption::Unknown(UnknownOption::new(
                OptionCode::from(*code),
                value.clone(),
            )));
        }
        Ok(m)
    }

    /// Send `msg` to `to` and wait `timeout` for the answer of type `want`.
    fn transact(&self, msg: &Message, to: Ipv4Addr, want: MessageType) -> Result<Message> {
        self.socks.send(&encode(msg)?, to)?;
        let deadline = Instant::now() + self.settings.timeout;
        let mut buf = vec![0u8; 65536];
        while let Some(n) = self.socks.recv(&mut buf, deadline)? {
            match reply::parse(&buf[..n], msg.xid(), &self.socks.mac) {
                Ok((reply, kind)) if kind == want => return Ok(reply),
                Ok((_, MessageType::Nak)) => {
                    return Err(Error::internal("the server refused the request (DHCPNAK)"));
                }
                Ok((_, kind)) => eprintln!(
                    "{}: ignoring a {kind:?} while waiting for {want:?}",
                    self.name
                ),
                Err(Refused::Malformed(why)) => {
                    eprintln!("{}: ignoring a malformed reply: {why}", self.name)
                }
                Err(Refused::NotDhcp | Refused::NotOurs) => {}
            }
        }
        Err(Error::new(
            pkg::error::code::TRY_AGAIN_LATER,
            format!(
                "no DHCP {want:?} received within {:?}",
                self.settings.timeout
            ),
            "",
        ))
    }

    /// `f` repeated with back-off until it succeeds or `resend_timeout`
    /// has passed.
    fn retrying(&self, what: &str, f: impl Fn() -> Result<Message>) -> Result<Message> {
        let deadline = Instant::now() + self.settings.resend_timeout;
        let mut delays = delays(self.settings.resend_max);
        loop {
            let err = match f() {
                Ok(m) => return Ok(m),
                Err(e) => e,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(err.context(format!(
                    "failed to {what} within {:?}",
                    self.settings.resend_timeout
                )));
            }
            eprintln!("{}: {err}", self.name);
            if (self.pause)(delays.next().unwrap_or(self.settings.resend_max).min(left)) {
                return Err(err.context(format!("stopped trying to {what}")));
            }
        }
    }

    /// `f` repeated with back-off until Unix time `until` (T2 for a renewal,
    /// the expiry for a rebinding).
    fn once_until(
        &self,
        until: u64,
        what: &str,
        f: impl Fn() -> Result<Message>,
    ) -> Result<Message> {
        let mut delays = delays(self.settings.resend_max);
        loop {
            let err = match f() {
                Ok(m) => return Ok(m),
                Err(e) => e,
            };
            let now = crate::lease::now();
            if now >= until {
                return Err(err.context(format!("failed to {what}")));
            }
            eprintln!("{}: {err}", self.name);
            let left = Duration::from_secs(until - now);
            if (self.pause)(delays.next().unwrap_or(self.settings.resend_max).min(left)) {
                return Err(err.context(format!("stopped trying to {what}")));
            }
        }
    }
}

fn encode(m: &Message) -> Result<Vec<u8>> {
    m.to_vec()
        .map_err(|e| Error::internal(format!("encode a DHCP message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_as_go() {
        let got: Vec<u64> = delays(Duration::from_secs(62))
            .take(10)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(got, [2, 2, 2, 2, 4, 8, 16, 32, 62, 62]);
        let short: Vec<u64> = delays(Duration::from_secs(1))
            .skip(4)
            .take(2)
            .map(|d| d.as_secs())
            .collect();
        assert_eq!(short, [4, 4]);
    }
}
