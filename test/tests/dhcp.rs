//! dhcp IPAM and its lease daemon against a real DHCP server: dnsmasq in a
//! "server" namespace on the segment of a fake host, containers attached
//! by macvlan or bridge with `"ipam": {"type": "dhcp"}`, and the built
//! `dhcp daemon` started by each test on a socket and state directory of
//! its own. Every test has its own namespaces and files and runs in
//! parallel with the others; the slow ones (renewal, rebinding, restart)
//! wait seconds, not minutes, because the servers set T1 and T2 short.

use std::fs;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use integration::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

const NET: &str = "dhcpnet";
/// The master of macvlan, and the bridge of bridge, in the fake host.
const MASTER: &str = "dhm0";
const BRIDGE: &str = "dhbr0";

/// One dnsmasq serving 10.66.0.100-150 from `10.66.0.<host>`.
struct Server {
    child: Child,
    pub leases: PathBuf,
    _ns: TestNs,
}

impl Server {
    /// A server namespace joined to the fake host's segment by a veth
    /// (`host_end` in the host), running dnsmasq with `extra` options.
    fn start(lab: &Lab, host_end: &str, host: u8, extra: &[&str]) -> Server {
        let ns = TestNs::new("dsrv");
        let me = format!("10.66.0.{host}/24");
        lab.host.veth_to(host_end, &[], &ns, "srv0", &[&me]);
        if lab.bridged {
            lab.host.ip(&["link", "set", host_end, "master", BRIDGE]);
        }
        let leases = lab.net.dir.path().join(format!("leases-{host}"));
        let mut args: Vec<String> = [
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            "--user=root",
            "--interface=srv0",
            "--bind-interfaces",
            "--no-ping",
            "--log-dhcp",
            "--dhcp-authoritative",
            "--dhcp-range=10.66.0.100,10.66.0.150,2m",
            "--dhcp-option=option:router,10.66.0.1",
            "--dhcp-option=option:dns-server,10.66.0.53",
            "--dhcp-option=option:domain-name,dhcp.test",
            "--dhcp-option=121,192.168.77.0/24,10.66.0.1,0.0.0.0/0,10.66.0.1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(format!("--dhcp-leasefile={}", leases.display()));
        args.extend(extra.iter().map(|s| s.to_string()));
        let log = fs::File::create(lab.net.dir.path().join(format!("dnsmasq-{host}.log"))).unwrap();
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let child = ns
            .cmd("dnsmasq", &argv)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run dnsmasq");
        // dnsmasq binds at once; a DISCOVER sent before is repeated anyway.
        std::thread::sleep(Duration::from_millis(200));
        Server {
            child,
            leases,
            _ns: ns,
        }
    }

    /// The client identifiers dnsmasq holds leases for, as text.
    fn clients(&self) -> Vec<String> {
        fs::read_to_string(&self.leases)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(4).map(client_id_text))
            .collect()
    }

    /// The lease's expiry (Unix time) in dnsmasq's file, for `client`.
    fn expiry(&self, client: &str) -> Option<u64> {
        fs::read_to_string(&self.leases)
            .unwrap_or_default()
            .lines()
            .find(|l| l.split_whitespace().nth(4).map(client_id_text).as_deref() == Some(client))
            .and_then(|l| l.split_whitespace().next()?.parse().ok())
    }

    fn hostnames(&self) -> Vec<String> {
        fs::read_to_string(&self.leases)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// dnsmasq writes the client identifier as hex bytes: `00:63:31:...`,
/// the type byte 0 first, as Go sends it.
fn client_id_text(hex: &str) -> String {
    let bytes: Vec<u8> = hex
        .split(':')
        .filter_map(|b| u8::from_str_radix(b, 16).ok())
        .collect();
    match bytes.split_first() {
        Some((0, rest)) => String::from_utf8_lossy(rest).into_owned(),
        _ => format!("untyped:{hex}"),
    }
}

/// The built `dhcp daemon` on a socket and state directory of the lab.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(lab: &Lab, flags: &[&str]) -> Daemon {
        let _ = fs::remove_file(&lab.sock);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(lab.net.dir.path().join("daemon.log"))
            .unwrap();
        let sock = lab.sock.display().to_string();
        let state = lab.state.display().to_string();
        let mut args = vec!["daemon", "-socketpath", &sock, "--statedir", &state];
        args.extend_from_slice(flags);
        let child = lab
            .host
            .cmd(plugin_path("dhcp"), &args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("run dhcp daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&lab.sock).is_err() {
            assert!(
                Instant::now() < deadline,
                "the daemon did not listen: {}",
                lab.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Daemon { child }
    }

    fn kill(&mut self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.child.id() as i32), sig);
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill(Signal::SIGKILL);
    }
}

/// A fake host with a segment (a macvlan master, or a bridge), a temp
/// directory for the daemon's socket, state and log, and dnsmasq's files.
struct Lab {
    net: Fixture,
    sock: PathBuf,
    state: PathBuf,
    bridged: bool,
}

impl std::ops::Deref for Lab {
    type Target = Fixture;
    fn deref(&self) -> &Fixture {
        &self.net
    }
}

impl Lab {
    fn new(bridged: bool) -> Lab {
        let net = Fixture::new("dhcp", NET);
        if bridged {
            // A MAC of its own: the bridge plugin's CHECK compares it, and
            // a bridge takes its ports' lowest otherwise.
            net.host.ip(&[
                "link",
                "add",
                BRIDGE,
                "address",
                "02:66:00:00:00:01",
                "type",
                "bridge",
            ]);
            net.host.ip(&["link", "set", BRIDGE, "up"]);
        }
        let sock = net.dir.path().join("run/dhcp.sock");
        let state = net.dir.path().join("state");
        Lab {
            net,
            sock,
            state,
            bridged,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.net.dir.path().join("daemon.log")).unwrap_or_default()
    }

    fn ipam(&self, extra: Value) -> Value {
        let mut ipam = json!({"type": "dhcp", "daemonSocketPath": self.sock});
        merge(&mut ipam, extra);
        ipam
    }

    /// The main plugin's configuration with dhcp IPAM.
    fn conf(&self, v: Version, ipam_extra: Value) -> Value {
        let main = if self.bridged {
            json!({"type": "bridge", "bridge": BRIDGE})
        } else {
            json!({"type": "macvlan", "master": MASTER})
        };
        let mut c = json!({"cniVersion": v.as_str(), "name": NET, "ipam": self.ipam(ipam_extra)});
        merge(&mut c, main);
        c
    }

    fn main_plugin(&self) -> &'static str {
        if self.bridged { "bridge" } else { "macvlan" }
    }

    /// The main plugin (dhcp is the fixture's own: `net.call`).
    fn main_call(&self, cmd: &str, ctr: &TestNs, cid: &str) -> Call {
        self.net.call_of(self.main_plugin(), cmd, ctr, cid)
    }

    fn add_main(&self, ctr: &TestNs, cid: &str, conf: &Value) -> Attachment {
        self.net.add_of(self.main_plugin(), ctr, cid, conf)
    }
}

/// The lab with one server on the segment: for macvlan the server's veth
/// is the master itself.
fn lab_with_server(bridged: bool, extra: &[&str]) -> (Lab, Server) {
    let lab = Lab::new(bridged);
    let end = if bridged { "dhs1" } else { MASTER };
    let server = Server::start(&lab, end, 1, extra);
    (lab, server)
}

fn client(cid: &str) -> String {
    format!("{cid}/{NET}/eth0")
}

fn wait_for(what: &str, lab: &Lab, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?}\ndaemon log:\n{}",
            lab.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn in_range(ip: &str) -> bool {
    let last: u8 = ip
        .strip_prefix("10.66.0.")
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (100..=150).contains(&last)
}

/// The result's first address, in every version's shape.
fn address(r: &Value) -> String {
    r["ips"][0]["address"]
        .as_str()
        .or_else(|| r["ip4"]["ip"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn macvlan_leases_in_every_version() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, server) = lab_with_server(false, &[]);
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    for v in Version::ALL {
        let ctr = TestNs::new("dctr");
        let cid = format!("mv-{}", v.as_str().replace('.', "-"));
        let a = lab.add_main(&ctr, &cid, &lab.conf(v, json!({})));
        let r = &a.result;
        assert_eq!(r["cniVersion"], v.as_str());
        let addr = address(r);
        assert!(in_range(&addr) && addr.ends_with("/24"), "{v}: {r}");
        if v >= Version::V0_3_0 {
            assert_eq!(r["ips"][0]["gateway"], "10.66.0.1", "{v}: {r}");
            // option 121 alone sets the routes (RFC 3442)
            let routes: Vec<String> = r["routes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["dst"].as_str().unwrap(),
                        r["gw"].as_str().unwrap_or("")
                    )
                })
                .collect();
            assert_eq!(
                routes,
                ["192.168.77.0/24 10.66.0.1", "0.0.0.0/0 10.66.0.1"],
                "{v}"
            );
        }
        // the macvlan plugin put the lease on the interface
        let shown = ctr.ip(&["-4", "-o", "addr", "show", "dev", "eth0"]);
        assert!(shown.contains(&addr), "{v}: {shown}");
        assert!(
            server.clients().contains(&client(&cid)),
            "{v}: {:?}",
            server.clients()
        );
        if v.has_check() {
            a.check_ok();
        }
        a.del();
        wait_for(
            "DEL releases the lease",
            &lab,
            Duration::from_secs(5),
            || !server.clients().contains(&client(&cid)),
        );
        a.del();
    }
}

#[test]
fn bridge_two_containers_two_leases_and_gc() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, server) = lab_with_server(true, &[]);
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    let conf = lab.conf(Version::V1_1_0, json!({"priority": 300}));
    let (c1, c2) = (TestNs::new("dctr"), TestNs::new("dctr"));
    let a1 = lab.add_main(&c1, "br-one", &conf);
    let a2 = lab.add_main(&c2, "br-two", &conf);
    assert_ne!(address(&a1.result), address(&a2.result));
    for a in [&a1, &a2] {
        assert!(in_range(&address(&a.result)), "{}", a.result);
        assert!(
            a.result["routes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["priority"] == 300),
            "{}",
            a.result
        );
        a.check_ok();
    }
    let mut held = server.clients();
    held.sort();
    assert_eq!(held, [client("br-one"), client("br-two")]);

    // GC keeps br-one's lease, releases br-two's
    let mut gc = lab.conf(Version::V1_1_0, json!({}));
    gc["cni.dev/valid-attachments"] = json!([{"containerID": "br-one", "ifname": "eth0"}]);
    lab.network_call("GC").run(&gc).expect_success();
    wait_for("GC releases br-two", &lab, Duration::from_secs(5), || {
        server.clients() == [client("br-one")]
    });
    a1.check_ok();
    let (code, msg) = lab
        .call("CHECK", &c2, "br-two")
        .run(&with_prev(
            &lab.conf(Version::V1_1_0, json!({})),
            &a2.result,
        ))
        .expect_spec_error();
    assert!(msg.contains("no lease held"), "{code} {msg}");
    a2.del();
    a1.del();
    assert!(server.clients().is_empty(), "{:?}", server.clients());
}

#[test]
fn renews_at_t1_and_rebinds_with_another_server_at_t2() {
    require_root!();
    require_tools!("dnsmasq");
    let lab = Lab::new(true);
    let t = ["--dhcp-option=option:T1,2", "--dhcp-option=option:T2,5"];
    let first = Server::start(&lab, "dhs1", 1, &t);
    let _d = Daemon::start(&lab, &["-timeout", "1s"]);
    let ctr = TestNs::new("dctr");
    let a = lab.add_main(&ctr, "renew", &lab.conf(Version::V1_0_0, json!({})));
    let who = client("renew");
    let granted = first.expiry(&who).expect("a lease in dnsmasq's file");
    wait_for("renewal at T1", &lab, Duration::from_secs(10), || {
        first.expiry(&who).is_some_and(|e| e > granted) && lab.log().contains("renewed")
    });

    // The first server goes; a second on the same segment answers the
    // broadcast of the rebinding.
    drop(first);
    let second = Server::start(&lab, "dhs2", 2, &t);
    wait_for("rebinding at T2", &lab, Duration::from_secs(20), || {
        second.clients().contains(&who) && lab.log().contains("rebound")
    });
    a.check_ok();
    a.del();
    wait_for(
        "release to the second server",
        &lab,
        Duration::from_secs(5),
        || second.clients().is_empty(),
    );
}

#[test]
fn a_restarted_daemon_keeps_and_renews_every_lease() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, server) = lab_with_server(false, &["--dhcp-option=option:T1,3"]);
    let mut d = Daemon::start(&lab, &["-timeout", "2s"]);
    let (c1, c2) = (TestNs::new("dctr"), TestNs::new("dctr"));
    let conf = lab.conf(Version::V1_1_0, json!({}));
    let a1 = lab.add_main(&c1, "rs-one", &conf);
    let a2 = lab.add_main(&c2, "rs-two", &conf);
    d.kill(Signal::SIGKILL);
    let (code, msg) = a1.check().expect_spec_error();
    assert!(msg.contains("dialing DHCP daemon"), "{code} {msg}");
    let granted = server.expiry(&client("rs-one")).unwrap();
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    a1.check_ok();
    a2.check_ok();
    // ADD again answers from the stored lease
    let again = lab.call("ADD", &c1, "rs-one").run(&conf).expect_success();
    assert_eq!(address(&again), address(&a1.result));
    // dhcp's own result carries the lease's DNS (the main plugins replace
    // it with their config's `dns`, as Go's do)
    assert_eq!(
        again["dns"],
        json!({"nameservers": ["10.66.0.53"], "domain": "dhcp.test"})
    );
    wait_for(
        "renewal by the new daemon",
        &lab,
        Duration::from_secs(10),
        || {
            server
                .expiry(&client("rs-one"))
                .is_some_and(|e| e > granted)
        },
    );
    a1.del();
    a2.del();
    assert!(server.clients().is_empty(), "{:?}", server.clients());
}

#[test]
fn del_after_the_netns_is_gone_and_when_nothing_is_held() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, _server) = lab_with_server(false, &[]);
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    let conf = lab.conf(Version::V1_1_0, json!({}));
    let ctr = TestNs::new("dctr");
    let a = lab.add_main(&ctr, "gone", &conf);
    let path = ctr.path_str();
    drop(ctr);
    lab.call_at("DEL", &path, "gone")
        .run(&conf)
        .expect_success();
    a.del();
    // never added at all
    let other = TestNs::new("dctr");
    lab.call("DEL", &other, "never").run(&conf).expect_success();
}

#[test]
fn status_and_a_daemon_that_is_not_running() {
    require_root!();
    let lab = Lab::new(false);
    let conf = lab.conf(Version::V1_1_0, json!({}));
    let (code, msg) = lab.network_call("STATUS").run(&conf).expect_spec_error();
    assert_eq!(code, 50, "{msg}");
    let ctr = TestNs::new("dctr");
    ctr.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    let out = lab.call("ADD", &ctr, "nodaemon").run(&conf);
    let (code, msg) = out.expect_spec_error();
    assert_eq!(code, 11, "{msg}");
    assert!(msg.contains(&lab.sock.display().to_string()), "{msg}");
    let _d = Daemon::start(&lab, &[]);
    lab.network_call("STATUS").run(&conf).expect_success();
    let mut meta = fs::metadata(&lab.sock).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    meta = fs::metadata(&lab.state).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o700);
}

#[test]
fn no_server_answering_fails_within_the_timeout() {
    require_root!();
    let lab = Lab::new(false);
    // a master with nobody behind it
    let quiet = TestNs::new("dsrv");
    lab.host.veth_to(MASTER, &[], &quiet, "srv0", &[]);
    let _d = Daemon::start(&lab, &["-timeout", "1s", "-resendtimeout", "2s"]);
    let ctr = TestNs::new("dctr");
    let started = Instant::now();
    let (code, msg) = lab
        .main_call("ADD", &ctr, "quiet")
        .run(&lab.conf(Version::V1_1_0, json!({})))
        .expect_spec_error();
    let took = started.elapsed();
    assert!(
        msg.contains("no DHCP Offer received within 1s"),
        "{code} {msg}"
    );
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_eq!(link_names(&ctr), ["lo"]);
}

#[test]
fn request_and_provide_options() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, server) = lab_with_server(false, &[]);
    let _d = Daemon::start(&lab, &["-timeout", "2s", "-broadcast"]);
    let ctr = TestNs::new("dctr");
    for (extra, needle) in [
        (
            json!({"request": [{"option": "no-such-option"}]}),
            "can not parse option \"no-such-option\"",
        ),
        (
            json!({"provide": [{"option": "256", "value": "x"}]}),
            "can not parse option \"256\"",
        ),
        (json!({"priority": -1}), "invalid ipam.priority -1"),
    ] {
        let (code, msg) = lab
            .main_call("ADD", &ctr, "opts")
            .run(&lab.conf(Version::V1_1_0, extra))
            .expect_spec_error();
        assert_eq!(code, 7, "{msg}");
        assert!(msg.contains(needle), "{msg}");
        assert_eq!(link_names(&ctr), ["lo"]);
    }
    // the host name from CNI_ARGS reaches the server; skipDefault asks for
    // the mask and routers only, so no routes from 121 and no DNS
    let conf = lab.conf(
        Version::V1_1_0,
        json!({"provide": [{"option": "host-name", "fromArg": "K8S_POD_NAME"}],
               "request": [{"skipDefault": true}, {"option": "subnet-mask"}, {"option": "routers"}]}),
    );
    let a = Attachment::add(
        lab.main_call("ADD", &ctr, "opts")
            .cni_args("IgnoreUnknown=1;K8S_POD_NAME=web-7"),
        &conf,
    );
    assert_eq!(server.hostnames(), ["web-7"]);
    let log = fs::read_to_string(lab.net.dir.path().join("dnsmasq-1.log")).unwrap();
    assert!(log.contains("broadcast response"), "-broadcast: {log}");
    assert_eq!(
        a.result["routes"],
        json!([{"dst": "0.0.0.0/0", "gw": "10.66.0.1"}]),
        "{}",
        a.result
    );
    assert!(a.result.get("dns").is_none(), "{}", a.result);
    a.del();
}

#[test]
fn the_lease_task_stops_when_the_interface_goes() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, _server) = lab_with_server(false, &[]);
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    let ctr = TestNs::new("dctr");
    let a = lab.add_main(&ctr, "linkgone", &lab.conf(Version::V1_1_0, json!({})));
    a.check_ok();
    ctr.ip(&["link", "del", "eth0"]);
    // the task looks at its interface every 10 s
    wait_for("the task to stop", &lab, Duration::from_secs(25), || {
        lab.log().contains("interface eth0 no longer exists")
    });
    let (_, msg) = lab
        .call("CHECK", &ctr, "linkgone")
        .run(&with_prev(&a.conf, &a.result))
        .expect_spec_error();
    assert!(msg.contains("no longer maintained"), "{msg}");
    a.del();
}

#[test]
fn daemon_flags_socket_group_pidfile_sigterm_and_socket_activation() {
    require_root!();
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::os::unix::process::CommandExt;
    let lab = Lab::new(false);
    let conf = lab.conf(Version::V1_1_0, json!({}));
    let pidfile = lab.net.dir.path().join("dhcp.pid");
    let pid = pidfile.display().to_string();
    let mut d = Daemon::start(&lab, &["-socketgroup", "0", "-pidfile", &pid, "-broadcast"]);
    let meta = fs::metadata(&lab.sock).unwrap();
    assert_eq!((meta.permissions().mode() & 0o777, meta.gid()), (0o660, 0));
    assert_eq!(
        fs::read_to_string(&pidfile).unwrap(),
        d.child.id().to_string()
    );
    lab.network_call("STATUS").run(&conf).expect_success();
    let _ = kill(Pid::from_raw(d.child.id() as i32), Signal::SIGTERM);
    assert!(d.child.wait().unwrap().success());
    assert!(!lab.sock.exists() && !pidfile.exists());

    // Go's flags it does not know, and durations it cannot read, stop it
    for bad in [&["-nope"][..], &["-timeout", "ten"]] {
        let mut args = vec!["daemon"];
        args.extend_from_slice(bad);
        let out = std::process::Command::new(plugin_path("dhcp"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }

    // systemd's socket: LISTEN_FDS=1 and the socket as fd 3; -socketpath
    // is then not bound
    let activated = lab.net.dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&activated).unwrap();
    let fd = listener.as_raw_fd();
    let mut cmd = std::process::Command::new(plugin_path("dhcp"));
    cmd.args(["daemon", "-socketpath", &lab.sock.display().to_string()])
        .args(["-statedir", &lab.state.display().to_string()])
        .env("LISTEN_FDS", "1")
        .stderr(fs::File::create(lab.net.dir.path().join("activated.log")).unwrap());
    // SAFETY: dup2 and fcntl are async-signal-safe and touch only the
    // child; dup2 onto itself would keep close-on-exec, so it is cleared.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut via_systemd = lab.conf(Version::V1_1_0, json!({}));
    via_systemd["ipam"]["daemonSocketPath"] = json!(activated);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.network_call("STATUS").run(&via_systemd).code != 0 {
        let log = fs::read_to_string(lab.net.dir.path().join("activated.log"));
        assert!(
            Instant::now() < deadline,
            "no answer on the activated socket: {log:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!lab.sock.exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn an_expired_lease_sets_the_interface_down() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, _server) = lab_with_server(false, &[]);
    let mut d = Daemon::start(&lab, &["-timeout", "2s"]);
    let ctr = TestNs::new("dctr");
    let a = lab.add_main(&ctr, "expire", &lab.conf(Version::V1_1_0, json!({})));
    assert!(is_up(&ctr, "eth0"));
    // dnsmasq's shortest lease is two minutes: the stored lease is made
    // older than that while the daemon is down, and the next one resumes it
    d.kill(Signal::SIGKILL);
    let stored = lab.state.join("leases.json");
    let mut leases: Value = serde_json::from_str(&fs::read_to_string(&stored).unwrap()).unwrap();
    let acquired = leases[0]["lease"]["acquired"].as_u64().unwrap();
    leases[0]["lease"]["acquired"] = json!(acquired - 1000);
    fs::write(&stored, leases.to_string()).unwrap();
    let _d = Daemon::start(&lab, &["-timeout", "2s"]);
    wait_for(
        "the interface to go down",
        &lab,
        Duration::from_secs(5),
        || !is_up(&ctr, "eth0"),
    );
    assert!(
        lab.log()
            .contains("lease expired, bringing interface eth0 down"),
        "{}",
        lab.log()
    );
    let (_, msg) = a.check().expect_spec_error();
    assert!(msg.contains("no longer maintained"), "{msg}");
    a.del();
}

#[test]
fn hostprefix_prefixes_the_socket_and_every_netns_path() {
    require_root!();
    require_tools!("dnsmasq");
    let (lab, server) = lab_with_server(false, &[]);
    // the host's root as a daemon in a container sees it: here, links
    // under a directory
    let root = lab.net.dir.path().join("host-root");
    let ctr = TestNs::new("dctr");
    fs::create_dir_all(root.join("run/netns")).unwrap();
    std::os::unix::fs::symlink(&ctr.path, root.join("run/netns").join(&ctr.name)).unwrap();
    let prefix = root.display().to_string();
    let log = fs::File::create(lab.net.dir.path().join("daemon.log")).unwrap();
    let state = lab.state.display().to_string();
    let mut child = std::process::Command::new(plugin_path("dhcp"))
        .args([
            "daemon",
            "-hostprefix",
            &prefix,
            "-socketpath",
            "/dhcp.sock",
        ])
        .args(["-statedir", &state, "-timeout", "2s"])
        .stderr(log)
        .spawn()
        .unwrap();
    let sock = root.join("dhcp.sock");
    let deadline = Instant::now() + Duration::from_secs(10);
    while UnixStream::connect(&sock).is_err() {
        assert!(Instant::now() < deadline, "no socket: {}", lab.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let conf = lab.conf(Version::V1_1_0, json!({"daemonSocketPath": sock}));
    let a = lab.add_main(&ctr, "prefixed", &conf);
    assert!(
        server.clients().contains(&client("prefixed")),
        "{}",
        lab.log()
    );
    a.del();
    // a netns the prefix does not show is not found, under the prefix
    let hidden = TestNs::new("dctr");
    let (_, msg) = lab
        .main_call("ADD", &hidden, "hidden")
        .run(&conf)
        .expect_spec_error();
    let want = format!("{prefix}{}", hidden.path_str());
    assert!(msg.contains(&want), "{msg}");
    let _ = child.kill();
    let _ = child.wait();
}
