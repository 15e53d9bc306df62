//! One lease's life after its ACK (RFC 2131 §4.4.5): bound until T1, then
//! renewing with the granting server by unicast until T2, then rebinding
//! by broadcast until the lease expires, when the interface is set down
//! as Go does. The thread ends when the lease is stopped (DEL, GC), when
//! it expires, or when the attachment's netns or interface is gone.
//!
//! One thread per lease: a node holds tens of leases, each thread sleeps
//! until its next deadline, and the blocking exchanges stay plain code;
//! an event loop would save little memory for much machinery.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pkg::netlink::{LinkId, Netlink};
use pkg::ns::Netns;

use super::leases::{Daemon, name};
use crate::client::exchange::Client;
use crate::client::socket::Sockets;
use crate::lease::{Lease, now};
use crate::store::Record;

/// How often a bound lease looks whether its interface is still there.
const LINK_CHECK: Duration = Duration::from_secs(10);

enum Step {
    Wait(u64),
    Renew,
    Rebind,
    Expired,
}

fn step(lease: &Lease, now: u64) -> Step {
    if now >= lease.expires_at() {
        Step::Expired
    } else if now >= lease.rebind_at() {
        Step::Rebind
    } else if now >= lease.renew_at() {
        Step::Renew
    } else {
        Step::Wait(lease.renew_at() - now)
    }
}

pub fn run(daemon: &Arc<Daemon>, record: &Mutex<Record>, pause: &dyn Fn(Duration) -> bool) {
    let Record {
        key,
        netns,
        options,
        ..
    } = record
        .lock()
        .map(|r| r.clone())
        .unwrap_or_else(|p| p.into_inner().clone());
    let who = name(&key);
    let client_id = key.client_id();
    loop {
        let lease = record
            .lock()
            .map(|r| r.lease.clone())
            .unwrap_or_else(|p| p.into_inner().lease.clone());
        let ns = match Netns::open(daemon.netns_path(&netns)) {
            Ok(ns) => ns,
            Err(e) => {
                eprintln!("{who}: {}, terminating lease maintenance", e.to_error());
                return;
            }
        };
        match Netlink::in_netns(&ns).and_then(|mut nl| nl.link_find(LinkId::Name(&key.ifname))) {
            Ok(Some(_)) => {}
            Ok(None) => {
                eprintln!(
                    "{who}: interface {} no longer exists, terminating lease maintenance",
                    key.ifname
                );
                return;
            }
            Err(e) => eprintln!("{who}: checking interface {}: {e}", key.ifname),
        }
        let renewing = match step(&lease, now()) {
            Step::Wait(secs) => {
                if pause(Duration::from_secs(secs).min(LINK_CHECK)) {
                    return;
                }
                continue;
            }
            Step::Expired => {
                eprintln!(
                    "{who}: lease expired, bringing interface {} down",
                    key.ifname
                );
                if let Err(e) = Netlink::in_netns(&ns)
                    .and_then(|mut nl| nl.link_set_down(LinkId::Name(&key.ifname)))
                {
                    eprintln!("{who}: failed to bring {} down: {e}", key.ifname);
                }
                return;
            }
            Step::Renew => true,
            Step::Rebind => false,
        };
        let client = match Sockets::open(&ns, &key.ifname, false) {
            Ok(socks) => Client {
                socks,
                settings: daemon.settings,
                options: &options,
                client_id: &client_id,
                name: &who,
                pause,
            },
            Err(e) => {
                eprintln!("{who}: {e}");
                if pause(LINK_CHECK) {
                    return;
                }
                continue;
            }
        };
        let ack = if renewing {
            eprintln!("{who}: renewing lease");
            client.renew(&lease)
        } else {
            eprintln!("{who}: renewal time expired, rebinding");
            client.rebind(&lease)
        };
        let fresh = ack.and_then(|ack| Lease::from_ack(&ack, now()).map_err(pkg::Error::internal));
        match fresh {
            Ok(fresh) if fresh.address == lease.address => {
                eprintln!(
                    "{who}: lease {} {}, expires in {} s",
                    fresh.address,
                    if renewing { "renewed" } else { "rebound" },
                    fresh.lease_secs
                );
                if let Ok(mut r) = record.lock() {
                    r.lease = fresh;
                }
                daemon.save();
            }
            Ok(fresh) => {
                eprintln!(
                    "{who}: the server offered {} instead of {}; keeping the old until it expires",
                    fresh.address, lease.address
                );
                if pause(LINK_CHECK) {
                    return;
                }
            }
            Err(e) => {
                eprintln!("{who}: {e}");
                // Stopped during the attempts, or past this phase: look again.
                if pause(Duration::ZERO) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn phases_by_time() {
        let lease = Lease {
            address: Ipv4Addr::new(10, 0, 0, 2),
            prefix_len: 24,
            server: Ipv4Addr::new(10, 0, 0, 1),
            routers: vec![],
            static_routes: vec![],
            classless_routes: vec![],
            dns_servers: vec![],
            domain: String::new(),
            lease_secs: 100,
            renew_secs: 50,
            rebind_secs: 87,
            acquired: 1000,
        };
        let got: Vec<String> = [1000, 1049, 1050, 1086, 1087, 1099, 1100, 5000]
            .iter()
            .map(|t| match step(&lease, *t) {
                Step::Wait(s) => format!("wait {s}"),
                Step::Renew => "renew".into(),
                Step::Rebind => "rebind".into(),
                Step::Expired => "expired".into(),
            })
            .collect();
        assert_eq!(
            got,
            [
                "wait 50", "wait 1", "renew", "renew", "rebind", "rebind", "expired", "expired"
            ]
        );
    }
}
