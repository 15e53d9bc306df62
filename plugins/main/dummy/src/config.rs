//! dummy's configuration: no keys of its own, and an IPAM plugin is
//! required (the dummy has no address otherwise, and nothing else could
//! give it one).

use pkg::skel::CmdArgs;
use pkg::{Error, Result};

/// Refuses a config without `ipam.type` (code 7, Go's words), before
/// anything is created.
pub fn load(args: &CmdArgs) -> Result<()> {
    if args.conf.ipam_type().is_none() {
        return Err(Error::invalid_config(
            "dummy interface requires an IPAM configuration",
            "set \"ipam\" with a \"type\", such as host-local or static",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pkg::skel::{Command, NetnsArg};
    use pkg::types::{NetConf, Version};
    use serde_json::{Value, json};

    fn args(config: Value) -> CmdArgs {
        CmdArgs {
            command: Command::Add,
            container_id: "c1".into(),
            netns_path: String::new(),
            netns: NetnsArg::Unset,
            ifname: "eth0".into(),
            args: String::new(),
            path: String::new(),
            conf: NetConf::from_value(&config).unwrap(),
            stdin: config.to_string().into_bytes(),
            config,
            version: Version::V1_0_0,
            env: Vec::new(),
        }
    }

    #[test]
    fn ipam_is_required() {
        let base = json!({"cniVersion": "1.0.0", "name": "n", "type": "dummy"});
        let cases = [
            (json!({"ipam": {"type": "host-local"}}), None),
            (json!({"ipam": {"type": "static"}, "unknown": 1}), None),
            (json!({}), Some(7)),
            (json!({"ipam": {}}), Some(7)),
            (json!({"ipam": {"type": ""}}), Some(7)),
        ];
        for (extra, want) in cases {
            let mut c = base.clone();
            for (k, v) in extra.as_object().cloned().unwrap_or_default() {
                c[k] = v;
            }
            match (load(&args(c.clone())), want) {
                (Ok(()), None) => {}
                (Err(e), Some(code)) => {
                    assert_eq!(e.code(), code, "{c}");
                    assert_eq!(e.msg(), "dummy interface requires an IPAM configuration");
                }
                (got, _) => panic!("{c}: {got:?}"),
            }
        }
    }
}
