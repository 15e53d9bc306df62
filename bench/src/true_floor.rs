//! The true floor of a bridge attachment: `cni-floor` (crate
//! `bench/floor`), one small static program exec'd like a plugin in its own
//! fake host, which sends only the netlink requests of bridge's ADD (the
//! veth with its peer created in the container, the host end enslaved and
//! up; the container's address, link up, default route) or DEL (the host
//! end). No IPAM, sysctls, firewall or result: the kernel's cost plus one
//! exec. Every plugin line is reported against it (`x/floor`).
//!
//! Its fake host has the bridge up with the gateway address from the start,
//! as a plugin's has after its first ADD.
//!
//! The same program also runs as the **floor with Go's settings**
//! (`floor+go`, `cni-floor add-go`): the true floor plus the three settings
//! the reference bridge plugin writes on every new veth and a compatible
//! plugin must write too (`accept_ra` 0 on the host end, `accept_dad` 0 and
//! `arp_notify` 1 on the container end), the cheapest way they can be
//! written with few namespaces around. What it costs over the true floor is the kernel work that
//! compatibility asks for: two `/proc/sys/net/ipv6` path lookups, and the
//! gratuitous ARP that `arp_notify` makes the kernel send on link up, which
//! the bridge floods to every port. Still no IPAM or firewall.

use std::path::{Path, PathBuf};
use std::process::Command;

use integration::{Netns, TestNs, enter_on_exec};

use crate::attach::Attach;
use crate::floor::bridge_host;
use crate::measure::{self, Sample};
use crate::netconf;
use crate::testbed::Container;
use crate::{Res, interrupt};

pub const LABEL: &str = "floor";
pub const GO_LABEL: &str = "floor+go";

pub struct TrueFloorAttach {
    program: PathBuf,
    /// The floor with Go's settings (`add-go`).
    go: bool,
    /// Kept for its lifetime: the namespace goes when the floor does.
    _host: TestNs,
    host_netns: Netns,
}

impl TrueFloorAttach {
    pub fn new(program: &Path) -> Res<TrueFloorAttach> {
        Self::make(program, false)
    }

    /// The floor with Go's settings, in a fake host of its own.
    pub fn with_go_settings(program: &Path) -> Res<TrueFloorAttach> {
        Self::make(program, true)
    }

    fn make(program: &Path, go: bool) -> Res<TrueFloorAttach> {
        let (host, host_netns) = bridge_host(if go { "bg" } else { "bt" })?;
        Ok(TrueFloorAttach {
            program: program.to_path_buf(),
            go,
            _host: host,
            host_netns,
        })
    }

    fn exec(&self, args: &[&str]) -> Res<Sample> {
        interrupt::check()?;
        let mut cmd = Command::new(&self.program);
        cmd.env_clear().args(args);
        enter_on_exec(&mut cmd, &self.host_netns);
        let out = measure::run(&mut cmd, b"")?;
        if !out.success() {
            return Err(format!(
                "{} {}: {}",
                self.program.display(),
                args.join(" "),
                out.describe()
            ));
        }
        Ok(out.sample)
    }
}

fn veth(c: &Container) -> String {
    format!("vt{:08x}", c.index)
}

impl Attach for TrueFloorAttach {
    fn label(&self) -> &str {
        if self.go { GO_LABEL } else { LABEL }
    }

    fn add(&self, c: &Container) -> Res<Sample> {
        self.exec(&[
            if self.go { "add-go" } else { "add" },
            netconf::BRIDGE,
            &veth(c),
            &c.netns_path,
            "eth0",
            &netconf::floor_address(c.index),
            netconf::GATEWAY,
        ])
    }

    fn del(&self, c: &Container) -> Res<Sample> {
        self.exec(&["del", &veth(c)])
    }
}

/// Why the true floor cannot run, if it cannot: the section notes it and
/// goes on without it.
pub fn unavailable(program: Option<&Path>) -> Option<String> {
    match program {
        Some(p) if p.is_file() => None,
        Some(p) => Some(format!(
            "true floor and floor+go left out: no program at {}",
            p.display()
        )),
        None => Some(
            "true floor and floor+go left out: no cni-floor program (bench/run.sh builds it; see --floor-bin)"
                .into(),
        ),
    }
}
