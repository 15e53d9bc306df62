//! The configuration parsers of every plugin that is not host-local (which
//! has its own target): static, bridge, ptp, macvlan, tuning, portmap,
//! bandwidth, firewall, dummy, vlan, ipvlan, vrf, tap, sbr, host-device and dhcp,
//! through
//! each plugin crate's `config` module.
//! Only parsing and validation run; nothing
//! touches the kernel. Any panic is a bug; loading must end in a value or
//! a spec error with a CNI code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pkg::skel::{CmdArgs, Command, NetnsArg};
use pkg::types::{NetConf, Version};
use serde_json::Value;

use bandwidth::config as bandwidth_config;
use bridge::config as bridge_config;
use dhcp::config as dhcp_config;
use dummy::config as dummy_config;
use firewall::config as firewall_config;
use host_device::config as host_device_config;
use ipvlan::config as ipvlan_config;
use macvlan::config as macvlan_config;
use portmap::config as portmap_config;
use ptp::config as ptp_config;
use sbr::config as sbr_config;
use static_ipam::config as static_config;
use tap::config as tap_config;
use tuning::config as tuning_config;
use vlan::config as vlan_config;
use vrf::config as vrf_config;

const COMMANDS: [Command; 3] = [Command::Add, Command::Del, Command::Check];

fn check<T>(r: pkg::Result<T>) {
    if let Err(e) = r {
        // every failure carries a code the spec defines (or ours, 999)
        let c = e.code();
        assert!(c <= 11 || c == 50 || c == 51 || c == 999, "code {c}: {e}");
        let _ = e.msg();
    }
}

fuzz_target!(|data: &[u8]| {
    // Byte 0: plugin (low four bits) and command (high four bits); line 1:
    // CNI_ARGS; the rest: the config.
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|b| *b == b'\n').unwrap_or(0);
    let (args_bytes, config_bytes) = rest.split_at(split);
    let Ok(cni_args) = std::str::from_utf8(args_bytes) else {
        return;
    };
    let config_bytes = config_bytes.get(1..).unwrap_or_default();
    let Ok(mut config) = pkg::types::parse::parse(config_bytes) else {
        return;
    };
    // Backend detection would run iptables on this machine: pin it unless
    // the input names one itself.
    if let Value::Object(m) = &mut config {
        m.entry("ipMasqBackend").or_insert("nftables".into());
    }
    let Ok(conf) = NetConf::from_value(&config) else {
        return;
    };
    let version = Version::from_exact(&conf.cni_version).unwrap_or(Version::V1_0_0);
    let args = CmdArgs {
        command: COMMANDS[(sel >> 4) as usize % COMMANDS.len()],
        container_id: "fuzz".into(),
        netns_path: String::new(),
        netns: NetnsArg::Unset,
        ifname: "eth0".into(),
        args: cni_args.into(),
        path: String::new(),
        stdin: config_bytes.to_vec(),
        config,
        conf,
        version,
        env: Vec::new(),
    };
    match sel & 0x0f {
        0 => check(static_config::load(&args)),
        1 => {
            check(bridge_config::BridgeConf::load(&args));
            check(bridge_config::BridgeConf::load_lenient(&args));
        }
        2 => {
            check(ptp_config::PtpConf::load(&args));
            check(ptp_config::PtpConf::load_lenient(&args));
        }
        3 => check(macvlan_config::MacvlanConf::load(&args)),
        4 => {
            check(tuning_config::TuningConf::load(&args, false));
            check(tuning_config::data_dir(&args));
        }
        5 => {
            check(portmap_config::PortmapConf::load(&args));
            check(portmap_config::PortmapConf::load_lenient(&args));
        }
        6 => check(bandwidth_config::Limits::load(&args)),
        7 => {
            check(firewall_config::FirewallConf::load(&args));
            check(firewall_config::FirewallConf::load_lenient(&args));
        }
        8 => check(dummy_config::load(&args)),
        9 => check(vlan_config::VlanConf::load(&args)),
        10 => {
            check(ipvlan_config::IpvlanConf::load(&args));
            check(ipvlan_config::IpvlanConf::load_keys(&args));
        }
        11 => {
            check(vrf_config::VrfConf::load(&args));
            check(vrf_config::VrfConf::name_for_del(&args));
        }
        12 => check(tap_config::TapConf::load(&args)),
        13 => {
            check(sbr_config::SbrConf::from_value(&args.config));
            let _ = sbr_config::SbrConf::table_for_del(&args.config);
        }
        14 => {
            check(host_device_config::HostDeviceConf::load(&args));
            check(host_device_config::data_dir(&args));
        }
        15 => {
            check(dhcp_config::DhcpConf::load(&args));
            check(dhcp_config::DhcpConf::socket_for_cleanup(&args));
        }
        // The byte's low half is all assigned (it picks the plugin so
        // that the seeds keep theirs as the list grows): a plugin to come
        // widens the selector without renumbering these.
        _ => {}
    }
});
