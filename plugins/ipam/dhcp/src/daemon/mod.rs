//! `dhcp daemon`: serves the plugin's requests ([`crate::rpc`]) on its
//! unix socket, one thread per connection, and keeps the leases
//! ([`leases`], [`maintain`]) and their store ([`crate::store`]).
//!
//! Running it without systemd: `dhcp daemon -socketpath /run/cni/dhcp.sock
//! -statedir /var/lib/cni/dhcp &` as root, before any container uses a
//! network with `"ipam": {"type": "dhcp"}`. SIGTERM and SIGINT remove the
//! socket and the pidfile; the leases stay stored and are taken over by
//! the next daemon.

pub mod flags;
pub mod leases;
pub mod listen;
pub mod maintain;

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

use flags::{Flags, USAGE};
use leases::Daemon;

use crate::rpc::{self, Request};
use crate::store::Store;

/// Run the daemon with the arguments after `daemon`; the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let flags = match Flags::parse(&args) {
        Ok(f) => f,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("dhcp daemon: {e}");
            }
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match serve(&flags) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("dhcp daemon: {e}");
            1
        }
    }
}

fn serve(flags: &Flags) -> pkg::Result<()> {
    // Blocked here, before any thread starts, so that only the waiting
    // thread below takes them.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGTERM);
    signals.add(Signal::SIGINT);
    signals
        .thread_block()
        .map_err(|e| pkg::Error::kernel("block SIGTERM", e))?;

    if let Some(p) = &flags.pidfile {
        if !p.is_absolute() {
            return Err(pkg::Error::internal(format!(
                "error writing pidfile {}: path not absolute",
                p.display()
            )));
        }
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| pkg::Error::io(format!("error writing pidfile {}", p.display()), e))?;
    }
    let socket = PathBuf::from(format!(
        "{}{}",
        flags.host_prefix,
        flags.socket_path.display()
    ));
    let l = listen::listen(&socket, flags.socket_group.as_deref())?;
    let store = Store::open(&flags.state_dir)?;
    let daemon = Daemon::new(flags.settings, flags.host_prefix.clone(), store);
    daemon.resume();

    let bound = l.bound.clone();
    let pidfile = flags.pidfile.clone();
    std::thread::spawn(move || {
        let sig = signals.wait();
        if let Some(p) = &bound {
            let _ = std::fs::remove_file(p);
        }
        if let Some(p) = &pidfile {
            let _ = std::fs::remove_file(p);
        }
        eprintln!("dhcp daemon: {sig:?}, exiting; the leases stay stored");
        std::process::exit(0)
    });

    eprintln!("dhcp daemon: listening on {}", socket.display());
    for conn in l.listener.incoming() {
        match conn {
            Ok(stream) => {
                let daemon = Arc::clone(&daemon);
                std::thread::spawn(move || answer(&daemon, stream));
            }
            Err(e) => eprintln!("dhcp daemon: accept: {e}"),
        }
    }
    Ok(())
}

/// A client has this long to send its request.
const REQUEST_WAIT: Duration = Duration::from_secs(30);

fn answer(daemon: &Arc<Daemon>, mut stream: UnixStream) {
    if let Err(e) = stream.set_read_timeout(Some(REQUEST_WAIT)) {
        eprintln!("dhcp daemon: {e}");
        return;
    }
    let req: Request = match rpc::read_line(&mut stream) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            eprintln!("dhcp daemon: bad request: {e}");
            let resp = rpc::Response::Error {
                code: pkg::error::code::DECODE,
                msg: format!("bad request: {e}"),
                details: String::new(),
            };
            let _ = rpc::write_line(&mut stream, &resp);
            return;
        }
    };
    let resp = daemon.handle(req);
    if let Err(e) = rpc::write_line(&mut stream, &resp) {
        eprintln!("dhcp daemon: answering: {e}");
    }
}
