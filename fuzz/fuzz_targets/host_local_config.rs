//! host-local's configuration loading: ranges, requested IPs, CNI_ARGS.
//! Only parsing and validation; nothing touches the disk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pkg::skel::{CmdArgs, Command, NetnsArg};
use pkg::types::{NetConf, Version};

fuzz_target!(|data: &[u8]| {
    // First line: CNI_ARGS; the rest: the network config.
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(0);
    let (args_bytes, config_bytes) = data.split_at(split);
    let Ok(cni_args) = std::str::from_utf8(args_bytes) else { return };
    let Ok(config) = serde_json::from_slice::<serde_json::Value>(config_bytes.get(1..).unwrap_or_default()) else {
        return;
    };
    let Ok(conf) = NetConf::from_value(&config) else { return };
    let version = Version::from_exact(&conf.cni_version).unwrap_or(Version::V1_0_0);
    let args = CmdArgs {
        command: Command::Add,
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
    if let Ok(cfg) = host_local::config::load(&args) {
        for set in &cfg.ranges {
            // The iterator terminates and stays inside the set.
            for (net, _) in set.iter_from(None).take(1000) {
                assert!(set.contains(net.addr()));
            }
        }
    }
    let _ = host_local::config::load_store_location(&args);
});
