//! The daemon's table of leases, one per attachment, and the requests the
//! plugin makes of it. Each held lease has a thread of its own
//! ([`super::maintain`]); the table is saved to the store on every change.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use pkg::ns::Netns;
use pkg::{Error, Result};

use crate::client::exchange::{Client, Settings};
use crate::client::socket::{Sockets, wait_for_link};
use crate::lease::{Lease, now};
use crate::options::Options;
use crate::rpc::{Key, Request, Response};
use crate::store::{Record, Store};

struct Entry {
    record: Arc<Mutex<Record>>,
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

pub struct Daemon {
    pub settings: Settings,
    pub host_prefix: String,
    store: Store,
    table: Mutex<HashMap<Key, Entry>>,
    /// Serialises writes of the store.
    saving: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicked lease thread must not take the daemon with it.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A log name for an attachment: its client identifier.
pub fn name(key: &Key) -> String {
    String::from_utf8_lossy(&key.client_id()).into_owned()
}

impl Daemon {
    pub fn new(settings: Settings, host_prefix: String, store: Store) -> Arc<Daemon> {
        Arc::new(Daemon {
            settings,
            host_prefix,
            store,
            table: Mutex::new(HashMap::new()),
            saving: Mutex::new(()),
        })
    }

    /// Take over the stored leases: each is kept and renewed again.
    pub fn resume(self: &Arc<Self>) {
        for record in self.store.load() {
            eprintln!(
                "{}: resuming the lease of {} (expires in {} s)",
                name(&record.key),
                record.lease.address,
                record.lease.expires_at().saturating_sub(now())
            );
            self.start(record);
        }
    }

    pub fn handle(self: &Arc<Self>, req: Request) -> Response {
        let answer = match req {
            Request::Allocate {
                key,
                netns,
                options,
            } => self.allocate(key, netns, options).map(Response::Lease),
            Request::Check { key } => self.check(&key).map(Response::Lease),
            Request::Release { key } => {
                self.release(&key);
                Ok(Response::Done)
            }
            Request::Gc { network, valid } => {
                self.gc(&network, &valid);
                Ok(Response::Done)
            }
            Request::Status => Ok(Response::Done),
        };
        answer.unwrap_or_else(|e| Response::from_error(&e))
    }

    pub fn netns_path(&self, netns: &str) -> String {
        format!("{}{netns}", self.host_prefix)
    }

    fn allocate(self: &Arc<Self>, key: Key, netns: String, options: Options) -> Result<Lease> {
        if let Ok(lease) = self.check(&key) {
            return Ok(lease);
        }
        // A lease whose thread ended (expired, link gone) is replaced.
        self.forget(&key);
        let who = name(&key);
        let ns = Netns::open(self.netns_path(&netns))?;
        wait_for_link(&ns, &key.ifname, self.settings.timeout)?;
        let client = Client {
            socks: Sockets::open(&ns, &key.ifname, true)?,
            settings: self.settings,
            options: &options,
            client_id: &key.client_id(),
            name: &who,
            pause: &|d| {
                std::thread::sleep(d);
                false
            },
        };
        eprintln!("{who}: acquiring lease");
        let ack = client
            .acquire()
            .map_err(|e| e.context(format!("{who} on {}", key.ifname)))?;
        let lease =
            Lease::from_ack(&ack, now()).map_err(|e| Error::internal(format!("{who}: {e}")))?;
        eprintln!(
            "{who}: lease of {}/{} acquired, expires in {} s",
            lease.address, lease.prefix_len, lease.lease_secs
        );
        self.start(Record {
            key,
            netns,
            options,
            lease: lease.clone(),
        });
        self.save();
        Ok(lease)
    }

    fn check(&self, key: &Key) -> Result<Lease> {
        let table = lock(&self.table);
        let entry = table
            .get(key)
            .ok_or_else(|| Error::internal(format!("dhcp: no lease held for {}", name(key))))?;
        let lease = lock(&entry.record).lease.clone();
        if entry.thread.is_finished() || lease.expires_at() <= now() {
            return Err(Error::internal(format!(
                "dhcp: the lease of {} for {} is no longer maintained (expired, or the interface is gone)",
                lease.address,
                name(key)
            )));
        }
        Ok(lease)
    }

    fn release(&self, key: &Key) {
        let Some(record) = self.forget(key) else {
            return;
        };
        self.save();
        let who = name(key);
        let ns = match Netns::open(self.netns_path(&record.netns)) {
            Ok(ns) => ns,
            Err(e) => {
                eprintln!(
                    "{who}: not releasing {}: {}",
                    record.lease.address,
                    e.to_error()
                );
                return;
            }
        };
        let sent = Sockets::open(&ns, &key.ifname, false).and_then(|socks| {
            Client {
                socks,
                settings: self.settings,
                options: &record.options,
                client_id: &key.client_id(),
                name: &who,
                pause: &|_| true,
            }
            .release(&record.lease)
        });
        match sent {
            Ok(()) => eprintln!("{who}: released {}", record.lease.address),
            Err(e) => eprintln!("{who}: failed to release {}: {e}", record.lease.address),
        }
    }

    fn gc(&self, network: &str, valid: &[(String, String)]) {
        let stale: Vec<Key> = lock(&self.table)
            .keys()
            .filter(|k| k.network == network)
            .filter(|k| {
                !valid
                    .iter()
                    .any(|(c, i)| *c == k.container_id && *i == k.ifname)
            })
            .cloned()
            .collect();
        for key in stale {
            eprintln!("{}: garbage-collected", name(&key));
            self.release(&key);
        }
    }

    /// Stop the lease's thread and drop it from the table.
    fn forget(&self, key: &Key) -> Option<Record> {
        let entry = lock(&self.table).remove(key)?;
        let _ = entry.stop.send(());
        let _ = entry.thread.join();
        let record = lock(&entry.record).clone();
        Some(record)
    }

    fn start(self: &Arc<Self>, record: Record) {
        let (stop, stopped) = mpsc::channel::<()>();
        let key = record.key.clone();
        let record = Arc::new(Mutex::new(record));
        let daemon = Arc::clone(self);
        let shared = Arc::clone(&record);
        let thread = std::thread::spawn(move || {
            // Once asked to stop, every later pause says so too.
            let asked = Cell::new(false);
            let pause = |d: Duration| {
                if !asked.get() {
                    asked.set(!matches!(
                        stopped.recv_timeout(d),
                        Err(RecvTimeoutError::Timeout)
                    ));
                }
                asked.get()
            };
            super::maintain::run(&daemon, &shared, &pause);
        });
        let old = lock(&self.table).insert(
            key,
            Entry {
                record,
                stop,
                thread,
            },
        );
        if let Some(old) = old {
            let _ = old.stop.send(());
        }
    }

    /// Write the table to the store; a failure is logged (the leases are
    /// still held, only a restart would lose them).
    pub fn save(&self) {
        let _one = lock(&self.saving);
        let records: Vec<Record> = lock(&self.table)
            .values()
            .map(|e| lock(&e.record).clone())
            .collect();
        if let Err(e) = self.store.save(&records) {
            eprintln!("{e}");
        }
    }
}
