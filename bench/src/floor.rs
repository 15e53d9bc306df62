//! The iproute2 floor for a bridge attachment (`ip-floor`): the link,
//! address and route changes of a bridge ADD done by iproute2 in the fewest
//! requests, with none of a plugin's other work. It costs more than a
//! plugin (two `ip` processes, and `ip -n`'s mount namespace); the true
//! floor (`true_floor.rs`) is the kernel's cost plus one exec. This one
//! stays for continuity with earlier runs.
//!
//! ADD is two processes, timed together:
//! 1. in the fake host, `ip -batch -`:
//!    `link add vfNNNNNNNN up master cnibench0 type veth peer name eth0 netns <ctr>`
//!    (one RTM_NEWLINK: the pair, the peer already in the container, the
//!    host end enslaved and up);
//! 2. `ip -n <ctr> -batch -`:
//!    `addr add 10.200.x.y/16 dev eth0`, `link set eth0 up`,
//!    `route add default via 10.200.0.1 dev eth0`.
//!
//! `ip -n` switches namespace the iproute2 way: `setns`, then a private
//! mount namespace with `/sys` remounted, which is part of this floor.
//!
//! DEL is `ip link del vfNNNNNNNN` in the fake host (the container end goes
//! with it), entered like the plugins are.
//!
//! Not in the floor: IPAM (host-local's reservation files and lock), the
//! sysctls a plugin writes, reading links back for the result, MAC
//! handling, the bridge's own creation and gateway address (done once at
//! setup, as a plugin does only on its first ADD), firewall rules.

use std::process::Command;

use integration::{Netns, TestNs, enter_on_exec};

use crate::attach::Attach;
use crate::measure::{self, Sample};
use crate::netconf;
use crate::testbed::{self, Container};
use crate::{Res, interrupt};

pub const LABEL: &str = "ip-floor";

pub struct FloorAttach {
    /// Kept for its lifetime: the namespace goes when the floor does.
    _host: TestNs,
    host_netns: Netns,
}

/// A fake host (namespace `role`) with the bridge up and holding the
/// gateway, as both floors start from; with its namespace open.
pub fn bridge_host(role: &str) -> Res<(TestNs, Netns)> {
    let host = testbed::new_ns(role)?;
    let br = netconf::BRIDGE;
    testbed::ip(&host, &["link", "add", br, "type", "bridge"])?;
    let gw = format!("{}/{}", netconf::GATEWAY, netconf::PREFIX_LEN);
    testbed::ip(&host, &["addr", "add", &gw, "dev", br])?;
    testbed::ip(&host, &["link", "set", br, "up"])?;
    let host_netns = Netns::open(&host.path)
        .map_err(|e| format!("open {}: {}", host.path.display(), e.to_error()))?;
    Ok((host, host_netns))
}

impl FloorAttach {
    /// A fake host with the bridge already up and holding the gateway.
    pub fn new() -> Res<FloorAttach> {
        let (host, host_netns) = bridge_host("bf")?;
        Ok(FloorAttach {
            _host: host,
            host_netns,
        })
    }

    fn ip(&self, in_host: bool, args: &[&str], batch: &str) -> Res<Sample> {
        interrupt::check()?;
        let mut cmd = Command::new("ip");
        cmd.args(args);
        if in_host {
            enter_on_exec(&mut cmd, &self.host_netns);
        }
        let out = measure::run(&mut cmd, batch.as_bytes())?;
        if !out.success() {
            return Err(format!(
                "floor: ip {} <<< {:?}: {}",
                args.join(" "),
                batch,
                out.describe()
            ));
        }
        Ok(out.sample)
    }
}

impl Attach for FloorAttach {
    fn label(&self) -> &str {
        LABEL
    }

    fn add(&self, c: &Container) -> Res<Sample> {
        let host_side = format!(
            "link add vf{:08x} up master {} type veth peer name eth0 netns {}\n",
            c.index,
            netconf::BRIDGE,
            c.netns_name
        );
        let ctr_side = format!(
            "addr add {} dev eth0\nlink set eth0 up\nroute add default via {} dev eth0\n",
            netconf::floor_address(c.index),
            netconf::GATEWAY
        );
        let a = self.ip(true, &["-batch", "-"], &host_side)?;
        let b = self.ip(false, &["-n", &c.netns_name, "-batch", "-"], &ctr_side)?;
        Ok(a.then(b))
    }

    fn del(&self, c: &Container) -> Res<Sample> {
        let veth = format!("vf{:08x}", c.index);
        self.ip(true, &["link", "del", &veth], "")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn addresses_skip_network_and_gateway() {
        let cases = [
            (0, "10.200.0.2/16"),
            (253, "10.200.0.255/16"),
            (254, "10.200.1.0/16"),
        ];
        for (i, want) in cases {
            assert_eq!(crate::netconf::floor_address(i), want, "{i}");
        }
    }
}
