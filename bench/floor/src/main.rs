//! cni-floor: what a bridge attachment costs the kernel, plus one exec.
//! cni-bench runs it like a plugin (in the fake host, clean environment)
//! and reports every plugin line against it.
//!
//! ```text
//! cni-floor add <bridge> <host veth> <container netns path> <ifname> <addr/len> <gateway>
//! cni-floor add-go <same arguments>
//! cni-floor del <host veth>
//! ```
//!
//! ADD sends the requests of bridge's ADD and no others: one RTM_NEWLINK
//! creating the veth with its peer directly in the container's namespace,
//! the host end enslaved to the bridge and up, one queue each way on both
//! ends; then, on a socket opened in the container's namespace (by a
//! thread, as the plugins do), the address, the link up and the default
//! route, sent as one batch. DEL is one RTM_DELLINK of the host end (the
//! peer goes with it). No IPAM, no sysctls, no firewall, no result, no
//! reading back: only libc.
//!
//! `add-go` is the same ADD plus what the reference (Go) bridge plugin
//! asks of the kernel for every new veth, which a compatible plugin must
//! ask too, done the cheapest way there is with few namespaces around
//! (with many hundreds, a private procfs instance makes the two IPv6 path
//! lookups cheaper; Documentation/performance.md): `accept_ra` 0 on the
//! host end and `accept_dad` 0 on the container end (IPv6 settings,
//! written through `/proc/sys`, as no netlink request sets them), and
//! `arp_notify` 1 on the container end (over netlink) before it comes up,
//! so that the kernel sends a gratuitous ARP that the bridge floods to
//! every port. Still no IPAM, firewall, result or reading back.

mod nl;

use std::ffi::CString;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nl::{Msg, Socket};

type Res<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let done = match argv.as_slice() {
        ["add", bridge, veth, netns, ifname, addr, gw] => {
            add(bridge, veth, netns, ifname, addr, gw, false)
        }
        ["add-go", bridge, veth, netns, ifname, addr, gw] => {
            add(bridge, veth, netns, ifname, addr, gw, true)
        }
        ["del", veth] => del(veth),
        _ => Err(
            "usage: cni-floor add|add-go BRIDGE VETH NETNS IFNAME ADDR/LEN GATEWAY | del VETH"
                .into(),
        ),
    };
    if let Err(e) = done {
        eprintln!("cni-floor: {e}");
        std::process::exit(1);
    }
}

fn ifindex(name: &str) -> Res<u32> {
    let c = CString::new(name).map_err(|_| format!("bad interface name {name:?}"))?;
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(format!(
            "no interface {name}: {}",
            std::io::Error::last_os_error()
        )),
        i => Ok(i),
    }
}

/// One queue each way, as the plugins ask for (pkg/src/netlink/veth.rs):
/// the cheapest veth the kernel makes, with no RCU grace period under rtnl
/// to cut a queue per CPU down to one.
fn one_queue(m: &mut Msg) {
    m.attr_u32(libc::IFLA_NUM_TX_QUEUES, 1);
    m.attr_u32(libc::IFLA_NUM_RX_QUEUES, 1);
}

/// Write `value` to an IPv6 setting of `link` in the calling thread's
/// namespace. A kernel without IPv6 has no such file, and the plugins
/// (like Go's) go on without the setting; so does the floor.
fn ipv6_conf(link: &str, leaf: &str, value: &str) -> Res<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{link}/{leaf}");
    match std::fs::write(&path, value) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("write {path}: {e}")),
        _ => Ok(()),
    }
}

fn add(
    bridge: &str,
    veth: &str,
    netns: &str,
    ifname: &str,
    addr: &str,
    gw: &str,
    go: bool,
) -> Res<()> {
    let (ip, len) = addr
        .split_once('/')
        .ok_or_else(|| format!("address {addr} has no prefix length"))?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| format!("bad address {addr}"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| format!("bad prefix length in {addr}"))?;
    let gw: Ipv4Addr = gw.parse().map_err(|_| format!("bad gateway {gw}"))?;
    let ns: OwnedFd = std::fs::File::open(netns)
        .map_err(|e| format!("open {netns}: {e}"))?
        .into();
    let master = ifindex(bridge)?;

    let host = Socket::open()?;
    let mut m = Msg::new(libc::RTM_NEWLINK, libc::NLM_F_CREATE | libc::NLM_F_EXCL);
    m.ifinfo(0, libc::IFF_UP as u32);
    m.attr_str(libc::IFLA_IFNAME, veth);
    m.attr_u32(libc::IFLA_MASTER, master);
    one_queue(&mut m);
    let info = m.nest(libc::IFLA_LINKINFO);
    m.attr_str(libc::IFLA_INFO_KIND, "veth");
    let data = m.nest(libc::IFLA_INFO_DATA);
    let peer = m.nest(nl::VETH_INFO_PEER);
    m.ifinfo(0, 0);
    m.attr_str(libc::IFLA_IFNAME, ifname);
    m.attr_u32(libc::IFLA_NET_NS_FD, ns.as_raw_fd() as u32);
    one_queue(&mut m);
    m.end(peer);
    m.end(data);
    m.end(info);
    host.request(&[m])
        .map_err(|e| format!("create veth {veth}: {e}"))?;
    if go {
        ipv6_conf(veth, "accept_ra", "0")?;
    }

    let ifname = ifname.to_string();
    let inside = std::thread::spawn(move || -> Res<()> {
        nl::enter(&ns)?;
        let ctr = Socket::open()?;
        let index = ifindex(&ifname)?;
        let mut batch = Vec::with_capacity(4);
        if go {
            ipv6_conf(&ifname, "accept_dad", "0")?;
            let mut n = Msg::new(libc::RTM_NEWLINK, 0);
            n.ifinfo(index as i32, 0);
            let spec = n.nest(libc::IFLA_AF_SPEC);
            let inet = n.nest(libc::AF_INET as u16);
            let conf = n.nest(nl::IFLA_INET_CONF);
            n.attr_u32(nl::IPV4_DEVCONF_ARP_NOTIFY, 1);
            n.end(conf);
            n.end(inet);
            n.end(spec);
            batch.push(n);
        }
        let mut a = Msg::new(libc::RTM_NEWADDR, libc::NLM_F_CREATE | libc::NLM_F_EXCL);
        a.ifaddr(len, index);
        a.attr(libc::IFA_LOCAL, &ip.octets());
        a.attr(libc::IFA_ADDRESS, &ip.octets());
        let mut up = Msg::new(libc::RTM_NEWLINK, 0);
        up.ifinfo(index as i32, libc::IFF_UP as u32);
        let mut r = Msg::new(libc::RTM_NEWROUTE, libc::NLM_F_CREATE | libc::NLM_F_EXCL);
        r.rtmsg();
        r.attr(libc::RTA_GATEWAY, &gw.octets());
        r.attr_u32(libc::RTA_OIF, index);
        batch.extend([a, up, r]);
        ctr.request(&batch)
            .map_err(|e| format!("configure {ifname}: {e}"))
    });
    inside
        .join()
        .map_err(|_| "the namespace thread panicked".to_string())?
}

fn del(veth: &str) -> Res<()> {
    let host = Socket::open()?;
    let mut m = Msg::new(libc::RTM_DELLINK, 0);
    m.ifinfo(0, 0);
    m.attr_str(libc::IFLA_IFNAME, veth);
    host.request(&[m])
        .map_err(|e| format!("delete {veth}: {e}"))
}
