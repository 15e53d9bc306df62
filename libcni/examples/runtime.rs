//! The life of one attachment as a runtime drives it with libcni
//! (Documentation/libcni.md). Run as root:
//! `cargo run -p libcni --example runtime -- <netns path> <container id>`
//! with `mynet` defined in /etc/cni/net.d and plugins in /opt/cni/bin.

use std::time::Duration;

use libcni::{CniConfig, GcAttachment, RuntimeConf, conf};

fn attach(netns: &str, container_id: &str) -> libcni::Result<()> {
    // Find the network the way every runtime does: the first .conflist
    // named "mynet" in the directory, else a legacy .conf/.json.
    let net = conf::load_conf_list("/etc/cni/net.d".as_ref(), "mynet")?;

    let cni = CniConfig::new(vec!["/opt/cni/bin".into()])
        .with_cache_dir("/var/lib/cni") // the default; shared with Go runtimes
        .with_timeout(Duration::from_secs(60)); // per plugin call

    // Optional, what podman does first: are the plugins there, and do they
    // speak the config's version? Returns the capabilities they declare.
    let caps = cni.validate_network_list(&net)?;

    let mut rt = RuntimeConf::new(container_id, netns, "eth0");
    rt.args = vec![
        ("IgnoreUnknown".into(), "1".into()),
        ("K8S_POD_NAME".into(), "web-0".into()),
    ]; // CNI_ARGS
    if caps.iter().any(|c| c == "portMappings") {
        rt.capability_args.insert(
            "portMappings".into(),
            serde_json::json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]),
        );
    }

    match cni.add_network_list(&net, &rt) {
        Ok(result) => {
            // In the version the last plugin printed; result_json encodes it.
            println!("{}", libcni::result_json(&result)?);
            for ip in &result.ips {
                println!("address {}", ip.address);
            }
        }
        Err(e) => {
            // The spec requires a DEL after a failed ADD too.
            eprintln!("add failed (code {}): {e}", e.code());
            let _ = cni.del_network_list(&net, &rt);
            return Err(e);
        }
    }

    // Later: verify, then tear down with the same parameters.
    cni.check_network_list(&net, &rt)?;
    cni.del_network_list(&net, &rt)?;

    // Housekeeping: DEL whatever the cache still holds for this network
    // that is not in the runtime's list of live attachments, then let the
    // plugins (spec >= 1.1.0) collect their own leftovers.
    let live = vec![GcAttachment {
        container_id: "c0ffee".into(),
        ifname: "eth0".into(),
    }];
    cni.gc_network_list(&net, Some(&live))?;
    cni.status_network_list(&net)?;
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, netns, id] = args.as_slice() else {
        eprintln!("usage: runtime <netns path> <container id>");
        return std::process::ExitCode::FAILURE;
    };
    match attach(netns, id) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
