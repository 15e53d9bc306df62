//! firewalld for the plugin's `firewalld` backend (Documentation/firewall.md):
//! whether firewalld owns its name on the D-Bus system bus, and its
//! `zone.addSource` / `removeSource` / `querySource` methods.
//!
//! A minimal D-Bus client, enough for these four method calls with string
//! arguments: a unix socket, SASL EXTERNAL, `Hello`, one call, its reply.
//! Pulling in a D-Bus library (and its async runtime) for that would more
//! than double the plugin's size. Only `unix:path=` bus addresses are
//! understood; anything else means "firewalld is not running".

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pkg::{Error, Result};

const DEFAULT_SYSTEM_BUS: &str = "/run/dbus/system_bus_socket";
const DBUS_NAME: &str = "org.freedesktop.DBus";
const DBUS_PATH: &str = "/org/freedesktop/DBus";
const FIREWALLD_NAME: &str = "org.fedoraproject.FirewallD1";
const FIREWALLD_PATH: &str = "/org/fedoraproject/FirewallD1";
const ZONE_INTERFACE: &str = "org.fedoraproject.FirewallD1.zone";
const ZONE_ALREADY_SET: &str = "ZONE_ALREADY_SET";
/// firewalld can take a while to apply a zone change; a bus that does not
/// answer at all must not hang the runtime forever.
const TIMEOUT: Duration = Duration::from_secs(20);
/// Largest message we accept (the D-Bus limit is 128 MiB; replies here are
/// tiny).
const MAX_MESSAGE: usize = 1 << 20;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const FIELD_PATH: u8 = 1;
const FIELD_INTERFACE: u8 = 2;
const FIELD_MEMBER: u8 = 3;
const FIELD_ERROR_NAME: u8 = 4;
const FIELD_REPLY_SERIAL: u8 = 5;
const FIELD_DESTINATION: u8 = 6;
const FIELD_SIGNATURE: u8 = 8;

/// The system bus socket: `DBUS_SYSTEM_BUS_ADDRESS` if it names a
/// `unix:path=`, else the standard path.
fn system_bus() -> Option<PathBuf> {
    match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
        Ok(addr) if !addr.is_empty() => parse_bus_address(&addr),
        _ => Some(PathBuf::from(DEFAULT_SYSTEM_BUS)),
    }
}

/// The first `unix:path=` of a D-Bus address list.
fn parse_bus_address(addr: &str) -> Option<PathBuf> {
    addr.split(';').find_map(|a| {
        let rest = a.strip_prefix("unix:")?;
        rest.split(',')
            .find_map(|kv| kv.strip_prefix("path="))
            .map(PathBuf::from)
    })
}

/// Whether firewalld is running: the bus answers GetNameOwner for its name.
pub fn is_running() -> bool {
    system_bus().is_some_and(|bus| is_running_on(&bus))
}

fn is_running_on(bus: &Path) -> bool {
    let Ok(mut conn) = Conn::open(bus) else {
        return false;
    };
    conn.call(
        DBUS_NAME,
        DBUS_PATH,
        DBUS_NAME,
        "GetNameOwner",
        &[FIREWALLD_NAME],
    )
    .is_ok()
}

/// Puts `source` (an address with prefix) into `zone`; already being
/// there is success.
pub fn add_source(zone: &str, source: &str) -> Result<()> {
    zone_call("addSource", zone, source).or_else(|e| {
        if e.to_string().contains(ZONE_ALREADY_SET) {
            Ok(Reply::default())
        } else {
            Err(e.context(format!("failed to add the address {source} to {zone} zone")))
        }
    })?;
    Ok(())
}

/// Takes `source` out of `zone`.
pub fn remove_source(zone: &str, source: &str) -> Result<()> {
    zone_call("removeSource", zone, source)
        .map(drop)
        .map_err(|e| {
            e.context(format!(
                "failed to remove the address {source} from {zone} zone"
            ))
        })
}

/// Whether `source` is in `zone`.
pub fn query_source(zone: &str, source: &str) -> Result<bool> {
    let reply = zone_call("querySource", zone, source).map_err(|e| {
        e.context(format!(
            "failed to find the address {source} in {zone} zone"
        ))
    })?;
    Ok(reply.boolean.unwrap_or(false))
}

fn zone_call(method: &str, zone: &str, source: &str) -> Result<Reply> {
    let bus = system_bus()
        .ok_or_else(|| Error::internal("DBUS_SYSTEM_BUS_ADDRESS names no unix:path= socket"))?;
    Conn::open(&bus)?.call(
        FIREWALLD_NAME,
        FIREWALLD_PATH,
        ZONE_INTERFACE,
        method,
        &[zone, source],
    )
}

/// What a method return carried, as far as we use it.
#[derive(Debug, Default)]
struct Reply {
    string: Option<String>,
    boolean: Option<bool>,
}

struct Conn {
    reader: BufReader<UnixStream>,
    serial: u32,
}

impl Conn {
    fn open(bus: &Path) -> Result<Conn> {
        let io = |op: &str| {
            let op = format!("{op} {}", bus.display());
            move |e| Error::io(op, e)
        };
        let stream = UnixStream::connect(bus).map_err(io("connect to the D-Bus system bus at"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(io("set timeouts on"))?;
        let mut conn = Conn {
            reader: BufReader::new(stream),
            serial: 0,
        };
        conn.authenticate().map_err(io("authenticate to"))?;
        conn.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "Hello", &[])?;
        Ok(conn)
    }

    fn authenticate(&mut self) -> std::io::Result<()> {
        let uid = nix::unistd::getuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let stream = self.reader.get_mut();
        stream.write_all(b"\0")?;
        stream.write_all(format!("AUTH EXTERNAL {hex}\r\n").as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        if !line.starts_with("OK ") {
            return Err(std::io::Error::other(format!(
                "bus refused authentication: {}",
                line.trim()
            )));
        }
        self.reader.get_mut().write_all(b"BEGIN\r\n")
    }

    fn call(
        &mut self,
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: &[&str],
    ) -> Result<Reply> {
        self.serial += 1;
        let serial = self.serial;
        let msg = encode_call(serial, destination, path, interface, member, args);
        let what = format!("D-Bus call {interface}.{member}");
        self.reader
            .get_mut()
            .write_all(&msg)
            .map_err(|e| Error::io(format!("{what}: send"), e))?;
        loop {
            let m = read_message(&mut self.reader)
                .map_err(|e| Error::io(format!("{what}: read reply"), e))?;
            if m.reply_serial != Some(serial) {
                continue; // signals such as NameAcquired
            }
            return match m.kind {
                METHOD_RETURN => Ok(m.reply),
                ERROR => Err(Error::internal(format!(
                    "{what}: {}: {}",
                    m.error_name.unwrap_or_default(),
                    m.reply.string.unwrap_or_default()
                ))),
                other => Err(Error::internal(format!(
                    "{what}: unexpected message type {other}"
                ))),
            };
        }
    }
}

/// Little-endian D-Bus marshalling, aligned relative to the message start.
#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn signature(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    /// One header field: (code, variant of signature `sig`).
    fn field(&mut self, code: u8, sig: &str, value: &str) {
        self.pad(8);
        self.buf.push(code);
        self.signature(sig);
        match sig {
            "g" => self.signature(value),
            _ => self.string(value),
        }
    }
}

fn encode(kind: u8, serial: u32, fields: &[(u8, &str, String)], body: &[u8]) -> Vec<u8> {
    let mut w = Writer::default();
    w.buf.extend_from_slice(&[b'l', kind, 0, 1]);
    w.u32(body.len() as u32);
    w.u32(serial);
    w.u32(0); // fields length, patched below
    let start = w.buf.len();
    for (code, sig, value) in fields {
        if *sig == "u" {
            w.pad(8);
            w.buf.push(*code);
            w.signature("u");
            w.u32(value.parse().unwrap_or(0));
        } else {
            w.field(*code, sig, value);
        }
    }
    let len = (w.buf.len() - start) as u32;
    w.buf[12..16].copy_from_slice(&len.to_le_bytes());
    w.pad(8);
    w.buf.extend_from_slice(body);
    w.buf
}

fn encode_call(
    serial: u32,
    destination: &str,
    path: &str,
    interface: &str,
    member: &str,
    args: &[&str],
) -> Vec<u8> {
    // The body starts 8-aligned, so aligning within it is the same.
    let mut body = Writer::default();
    for a in args {
        body.string(a);
    }
    let mut fields = vec![
        (FIELD_PATH, "o", path.to_string()),
        (FIELD_DESTINATION, "s", destination.to_string()),
        (FIELD_INTERFACE, "s", interface.to_string()),
        (FIELD_MEMBER, "s", member.to_string()),
    ];
    if !args.is_empty() {
        fields.push((FIELD_SIGNATURE, "g", "s".repeat(args.len())));
    }
    encode(METHOD_CALL, serial, &fields, &body.buf)
}

#[derive(Debug, Default)]
struct Message {
    kind: u8,
    /// Read by the test bus, to answer.
    #[cfg_attr(not(test), allow(dead_code))]
    serial: u32,
    reply_serial: Option<u32>,
    error_name: Option<String>,
    member: Option<String>,
    args: Vec<String>,
    reply: Reply,
}

/// Reads values from a whole message, either byte order.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    big: bool,
}

impl Reader<'_> {
    fn bad() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed D-Bus message")
    }

    fn align(&mut self, n: usize) {
        self.pos = self.pos.div_ceil(n) * n;
    }

    fn take(&mut self, n: usize) -> std::io::Result<&[u8]> {
        let end = self.pos.checked_add(n).ok_or_else(Self::bad)?;
        let s = self.buf.get(self.pos..end).ok_or_else(Self::bad)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> std::io::Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> std::io::Result<u32> {
        self.align(4);
        let big = self.big;
        let b = self.take(4)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn string(&mut self) -> std::io::Result<String> {
        let len = self.u32()? as usize;
        let s = String::from_utf8_lossy(self.take(len)?).into_owned();
        self.take(1)?;
        Ok(s)
    }

    fn signature(&mut self) -> std::io::Result<String> {
        let len = usize::from(self.byte()?);
        let s = String::from_utf8_lossy(self.take(len)?).into_owned();
        self.take(1)?;
        Ok(s)
    }

    /// Skips or reads one value of a basic type.
    fn value(&mut self, sig: &str) -> std::io::Result<Option<String>> {
        Ok(match sig {
            "s" | "o" => Some(self.string()?),
            "g" => Some(self.signature()?),
            "u" | "b" | "i" => Some(self.u32()?.to_string()),
            "y" => Some(self.byte()?.to_string()),
            _ => return Err(Self::bad()),
        })
    }
}

fn read_message(r: &mut impl Read) -> std::io::Result<Message> {
    let mut fixed = [0u8; 16];
    r.read_exact(&mut fixed)?;
    let big = match fixed[0] {
        b'l' => false,
        b'B' => true,
        _ => return Err(Reader::bad()),
    };
    let word = |i: usize| {
        let a = [fixed[i], fixed[i + 1], fixed[i + 2], fixed[i + 3]];
        (if big {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }) as usize
    };
    let (body_len, fields_len) = (word(4), word(12));
    let header_len = (16 + fields_len).div_ceil(8) * 8;
    let total = header_len
        .checked_add(body_len)
        .filter(|t| *t <= MAX_MESSAGE)
        .ok_or_else(Reader::bad)?;
    let mut buf = fixed.to_vec();
    buf.resize(total, 0);
    r.read_exact(&mut buf[16..])?;
    let mut rd = Reader {
        buf: &buf,
        pos: 12,
        big,
    };
    let mut m = Message {
        kind: fixed[1],
        serial: word(8) as u32,
        ..Message::default()
    };
    let end = 16 + fields_len;
    rd.u32()?;
    let mut body_sig = String::new();
    while rd.pos < end {
        rd.align(8);
        let code = rd.byte()?;
        let sig = rd.signature()?;
        let value = rd.value(&sig)?.unwrap_or_default();
        match code {
            FIELD_ERROR_NAME => m.error_name = Some(value),
            FIELD_REPLY_SERIAL => m.reply_serial = value.parse().ok(),
            FIELD_MEMBER => m.member = Some(value),
            FIELD_SIGNATURE => body_sig = value,
            _ => {}
        }
    }
    rd.pos = header_len;
    for t in body_sig.chars() {
        let v = rd.value(&t.to_string())?.unwrap_or_default();
        match t {
            's' if m.reply.string.is_none() => m.reply.string = Some(v.clone()),
            'b' if m.reply.boolean.is_none() => m.reply.boolean = Some(v != "0"),
            _ => {}
        }
        if t == 's' {
            m.args.push(v);
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A fake bus: accepts SASL, answers Hello, GetNameOwner (owner known
    /// only if `firewalld`), and the zone methods from a tiny zone table.
    fn fake_bus(dir: &Path, firewalld: bool) -> (PathBuf, std::thread::JoinHandle<Vec<String>>) {
        let path = dir.join(format!("bus-{firewalld}"));
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let mut calls = Vec::new();
            let mut zone: Vec<String> = Vec::new();
            for stream in listener.incoming() {
                let stream = stream.unwrap();
                let mut reader = BufReader::new(stream);
                let mut nul = [0u8; 1];
                reader.read_exact(&mut nul).unwrap();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                assert!(line.starts_with("AUTH EXTERNAL "), "{line}");
                reader
                    .get_mut()
                    .write_all(b"OK 0123456789abcdef\r\n")
                    .unwrap();
                line.clear();
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, "BEGIN\r\n");
                let mut serial = 100;
                while let Ok(m) = read_message(&mut reader) {
                    let member = m.member.clone().unwrap_or_default();
                    calls.push(format!("{member}({})", m.args.join(",")));
                    serial += 1;
                    let reply_to = (FIELD_REPLY_SERIAL, "u", m.serial.to_string());
                    let ok = |body: Writer, sig: &str| {
                        let mut f = vec![reply_to.clone()];
                        if !sig.is_empty() {
                            f.push((FIELD_SIGNATURE, "g", sig.to_string()));
                        }
                        encode(METHOD_RETURN, serial, &f, &body.buf)
                    };
                    let err = |name: &str, text: &str| {
                        let mut body = Writer::default();
                        body.string(text);
                        encode(
                            ERROR,
                            serial,
                            &[
                                reply_to.clone(),
                                (FIELD_ERROR_NAME, "s", name.to_string()),
                                (FIELD_SIGNATURE, "g", "s".to_string()),
                            ],
                            &body.buf,
                        )
                    };
                    let mut body = Writer::default();
                    let out = match member.as_str() {
                        "Hello" => {
                            // a signal first, which the client must skip
                            let sig =
                                encode(4, 1, &[(FIELD_MEMBER, "s", "NameAcquired".into())], &[]);
                            reader.get_mut().write_all(&sig).unwrap();
                            body.string(":1.7");
                            ok(body, "s")
                        }
                        "GetNameOwner" if firewalld => {
                            body.string(":1.2");
                            ok(body, "s")
                        }
                        "GetNameOwner" => {
                            err("org.freedesktop.DBus.Error.NameHasNoOwner", "no owner")
                        }
                        "addSource" if zone.contains(&m.args[1]) => err(
                            "org.fedoraproject.FirewallD1.Exception",
                            "ZONE_ALREADY_SET: trusted",
                        ),
                        "addSource" => {
                            zone.push(m.args[1].clone());
                            body.string(&m.args[0]);
                            ok(body, "s")
                        }
                        "removeSource" => {
                            zone.retain(|s| *s != m.args[1]);
                            body.string(&m.args[0]);
                            ok(body, "s")
                        }
                        "querySource" => {
                            body.u32(u32::from(zone.contains(&m.args[1])));
                            ok(body, "b")
                        }
                        _ => err("org.freedesktop.DBus.Error.UnknownMethod", "unknown"),
                    };
                    reader.get_mut().write_all(&out).unwrap();
                }
                if calls.iter().any(|c| c.starts_with("stop")) {
                    break;
                }
            }
            calls
        });
        (path, handle)
    }

    #[test]
    fn talks_to_a_bus() {
        let dir = tempfile::tempdir().unwrap();
        let (none, _) = fake_bus(dir.path(), false);
        assert!(!is_running_on(&none));
        assert!(!is_running_on(&dir.path().join("missing")));
        let (bus, handle) = fake_bus(dir.path(), true);
        assert!(is_running_on(&bus));
        let call = |method: &str, src: &str| {
            Conn::open(&bus).unwrap().call(
                FIREWALLD_NAME,
                FIREWALLD_PATH,
                ZONE_INTERFACE,
                method,
                &["trusted", src],
            )
        };
        assert_eq!(
            call("querySource", "10.0.0.2/32").unwrap().boolean,
            Some(false)
        );
        call("addSource", "10.0.0.2/32").unwrap();
        let again = call("addSource", "10.0.0.2/32").unwrap_err();
        assert!(again.to_string().contains(ZONE_ALREADY_SET), "{again}");
        assert_eq!(
            call("querySource", "10.0.0.2/32").unwrap().boolean,
            Some(true)
        );
        call("removeSource", "10.0.0.2/32").unwrap();
        assert_eq!(
            call("querySource", "10.0.0.2/32").unwrap().boolean,
            Some(false)
        );
        let _ = Conn::open(&bus).unwrap().call("x", "/", "x", "stop", &[]);
        let calls = handle.join().unwrap();
        assert!(
            calls.contains(&"GetNameOwner(org.fedoraproject.FirewallD1)".to_string()),
            "{calls:?}"
        );
        assert!(
            calls.contains(&"addSource(trusted,10.0.0.2/32)".to_string()),
            "{calls:?}"
        );
    }

    #[test]
    fn bus_addresses() {
        let parse = |a: &str| parse_bus_address(a).map(|p| p.display().to_string());
        assert_eq!(parse("unix:path=/x/y").as_deref(), Some("/x/y"));
        assert_eq!(
            parse("tcp:host=a;unix:guid=1,path=/z").as_deref(),
            Some("/z")
        );
        assert_eq!(parse("unix:abstract=/tmp/x"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let msg = encode_call(1, "a", "/b", "c.d", "e", &["f", "g"]);
        for cut in 0..msg.len() {
            assert!(read_message(&mut &msg[..cut]).is_err());
        }
        let m = read_message(&mut &msg[..]).unwrap();
        assert_eq!(m.args, ["f", "g"]);
        let mut bad = msg.clone();
        bad[12] = 0xff;
        assert!(read_message(&mut &bad[..]).is_err());
    }
}
