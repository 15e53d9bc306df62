//! Hostile input that becomes file-system paths or addresses, with the same
//! bounds and checks as `hostile.rs`: tuning sysctl keys that leave
//! /proc/sys/net, dataDirs that are relative or climb, symlinks and FIFOs
//! planted in the host-local store and the tuning backup directory,
//! resolvConf files that never end, IPv4-mapped IPv6 addresses, ranges too
//! small (or too large) to allocate from, and interface names full of
//! quoting characters on their way into firewall rules.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use integration::hostile::*;
use integration::*;
use serde_json::{Value, json};

fn run(lab: &Lab, plugin: &str, command: &str, conf: &Value) -> Outcome {
    run_bounded(&lab.call(plugin, command), conf.to_string().as_bytes(), &[])
}

#[test]
fn sysctl_keys_cannot_leave_proc_sys_net() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let keys = [
        "../../../etc/passwd",
        "/etc/passwd",
        "/proc/sys/kernel/panic",
        "kernel.panic",
        "kernel/panic",
        "net/../kernel/panic",
        "net.ipv4.conf.IFNAME/../../../../kernel/panic",
        "net/ipv4/conf/../../../kernel/hostname",
        "net/./ipv4/ip_forward",
        "net",
        "net/",
        "netx/a",
        "net.ipv4.ip_forward\u{0}x",
    ];
    let mut n = 0;
    for key in keys {
        for place in ["sysctl", "args"] {
            let mut conf = lab.conf("tuning");
            if place == "sysctl" {
                conf["sysctl"] = json!({ key: "1" });
            } else {
                conf["sysctl"] = json!({});
                conf["args"] = json!({"cni": {"sysctl": { key: "1" }}});
            }
            let out = run(&lab, "tuning", "ADD", &conf);
            assert_spec_error(
                &out,
                7,
                &[&format!("invalid sysctl key {key:?}"), "/proc/sys/net/"],
                &format!("tuning {place} key {key:?}"),
            );
            n += 1;
        }
    }
    before.assert_same(&lab.snapshot(), "after refused sysctl keys");
    eprintln!("{n} sysctl key cases");
}

#[test]
fn data_dirs_must_be_absolute_and_plain() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let data = lab.data().display().to_string();
    let mut n = 0;
    for dir in [
        "data/rel".to_string(),
        "./data".to_string(),
        "rel".to_string(),
        format!("{data}/../outside"),
        format!("{data}/./x"),
        format!("{data}/x/.."),
    ] {
        let mut hl = lab.conf("host-local");
        hl["ipam"]["dataDir"] = json!(dir);
        let mut tuning = lab.conf("tuning");
        tuning["dataDir"] = json!(dir);
        for (plugin, key, conf) in [
            ("host-local", "ipam.dataDir", hl),
            ("tuning", "dataDir", tuning),
        ] {
            for command in ["ADD", "DEL"] {
                // Run where a relative path would land inside the lab.
                let out = run_bounded_in(
                    &lab.call(plugin, command),
                    conf.to_string().as_bytes(),
                    &[],
                    Some(lab.root.path()),
                );
                assert_spec_error(
                    &out,
                    7,
                    &[&format!("invalid {key} {dir:?}")],
                    &format!("{plugin} {command} dataDir {dir}"),
                );
                n += 1;
            }
        }
    }
    before.assert_same(&lab.snapshot(), "after refused dataDirs");
    // A symlink on the way is the host's own layout and is followed.
    let real = lab.root.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = lab.root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut conf = lab.conf("host-local");
    conf["ipam"]["dataDir"] = json!(link);
    assert_eq!(run(&lab, "host-local", "ADD", &conf).code, 0);
    assert!(real.join("hnet/10.99.0.2").is_file());
    assert_eq!(run(&lab, "host-local", "DEL", &conf).code, 0);
    assert!(!real.join("hnet/10.99.0.2").exists());
    // A file where the directory should be is an error naming it.
    let file = lab.root.path().join("file");
    std::fs::write(&file, "").unwrap();
    conf["ipam"]["dataDir"] = json!(file);
    let out = run(&lab, "host-local", "ADD", &conf);
    assert_spec_error(
        &out,
        999,
        &[&file.display().to_string()],
        "dataDir is a file",
    );
    eprintln!("{n} dataDir cases");
}

/// `sha256(id\r\nifname)`: the name of an attachment's index directory.
fn index_key(id: &str, ifname: &str) -> String {
    let mut child = std::process::Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{id}\r\n{ifname}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..64].to_string()
}

#[test]
fn symlinks_planted_in_the_host_local_store_are_not_followed() {
    require_root!();
    let lab = Lab::new();
    let victim = lab.outside().join("victim");
    let vdir = lab.outside().join("vdir");
    // (what, where under the network directory, target, ADD outcome)
    let key = index_key(CID, "eth0");
    let cases: Vec<(&str, String, &Path, Result<&str, &str>)> = vec![
        ("lock", "lock".into(), &victim, Err("lock")),
        (
            "first address",
            "10.99.0.2".into(),
            &victim,
            Ok("10.99.0.3/24"),
        ),
        (
            "last reserved",
            "last_reserved_ip.0".into(),
            &victim,
            Ok("10.99.0.2/24"),
        ),
        (
            "network directory",
            String::new(),
            &vdir,
            Err("data/plant3/hnet"),
        ),
        (
            "index directory",
            ".attachments".into(),
            &vdir,
            Ok("10.99.0.2/24"),
        ),
        (
            "attachment's index",
            format!(".attachments/{key}"),
            &vdir,
            Ok("10.99.0.2/24"),
        ),
        (
            "index mark",
            ".attachments/.synced".into(),
            &victim,
            Ok("10.99.0.2/24"),
        ),
        (
            "pool of spares",
            ".attachments/.spare".into(),
            &vdir,
            Ok("10.99.0.2/24"),
        ),
        (
            "spare file",
            ".attachments/.spare/f0".into(),
            &victim,
            Ok("10.99.0.2/24"),
        ),
        (
            "spare directory",
            ".attachments/.spare/d0".into(),
            &vdir,
            Ok("10.99.0.2/24"),
        ),
    ];
    let outside_before = tree_snapshot(&lab.outside());
    for (i, (what, rel, target, want)) in cases.into_iter().enumerate() {
        let data = lab.data().join(format!("plant{i}"));
        let net = data.join(NETWORK);
        let at = if rel.is_empty() {
            net.clone()
        } else {
            net.join(&rel)
        };
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &at).unwrap();
        let mut conf = lab.conf("host-local");
        conf["ipam"]["dataDir"] = json!(data);
        let out = run(&lab, "host-local", "ADD", &conf);
        match want {
            Ok(addr) => {
                assert_eq!(out.code, 0, "{what}: {}", out.stdout);
                assert_eq!(out.json()["ips"][0]["address"], addr, "{what}");
            }
            Err(needle) => assert_spec_error(&out, 999, &[needle], &format!("planted {what}")),
        }
        let out = run(&lab, "host-local", "DEL", &conf);
        if want.is_ok() {
            assert_eq!(out.code, 0, "{what} DEL: {}", out.stdout);
            let left: Vec<String> = reservation_files(&net)
                .into_iter()
                .filter(|f| {
                    Path::new(f).file_name() != Some("10.99.0.2".as_ref())
                        || what != "first address"
                })
                .collect();
            assert!(left.is_empty(), "{what}: reservations left {left:?}");
        }
        assert_eq!(
            tree_snapshot(&lab.outside()),
            outside_before,
            "planted {what}: written through"
        );
    }
}

#[test]
fn tuning_backup_is_never_written_or_read_through_a_planted_file() {
    require_root!();
    let lab = Lab::new();
    let dir = lab.data().join("tuning");
    std::fs::create_dir_all(&dir).unwrap();
    let backup = dir.join(format!("{CID}_eth0.json"));
    let victim = lab.outside().join("victim");
    let conf = lab.conf("tuning");
    let before = lab.snapshot();
    std::os::unix::fs::symlink(&victim, &backup).unwrap();
    let with_link = lab.snapshot();
    let out = run(&lab, "tuning", "ADD", &conf);
    assert_spec_error(
        &out,
        999,
        &[&backup.display().to_string(), "symlink"],
        "tuning ADD",
    );
    with_link.assert_same(&lab.snapshot(), "tuning ADD with a planted backup symlink");
    let out = run(&lab, "tuning", "DEL", &conf);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    std::fs::remove_file(&backup).unwrap();
    // a FIFO would block a reader forever
    nix::unistd::mkfifo(&backup, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let out = run(&lab, "tuning", "ADD", &conf);
    assert_spec_error(
        &out,
        999,
        &[&backup.display().to_string(), "not a regular file"],
        "tuning ADD fifo",
    );
    let out = run(&lab, "tuning", "DEL", &conf);
    assert_eq!(out.code, 0, "{}", out.stdout);
    std::fs::remove_file(&backup).unwrap();
    before.assert_same(&lab.snapshot(), "after planted tuning backups");
}

#[test]
fn resolv_conf_that_never_ends_is_refused() {
    require_root!();
    let lab = Lab::new();
    let fifo = lab.root.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let big = lab.root.path().join("big");
    std::fs::write(&big, vec![b'#'; 2 << 20]).unwrap();
    let before = lab.snapshot();
    let mut n = 0;
    for path in [
        PathBuf::from("/dev/zero"),
        PathBuf::from("/dev/urandom"),
        fifo,
        lab.root.path().to_path_buf(),
        big,
    ] {
        let mut conf = lab.conf("host-local");
        conf["ipam"]["resolvConf"] = json!(path);
        let out = run(&lab, "host-local", "ADD", &conf);
        let p = path.display().to_string();
        assert_spec_error(
            &out,
            5,
            &["failed to read resolvConf", &p],
            &format!("resolvConf {p}"),
        );
        n += 1;
    }
    before.assert_same(&lab.snapshot(), "after refused resolvConf");
    eprintln!("{n} resolvConf cases");
}

#[test]
fn ipv4_mapped_addresses_are_ipv4_everywhere() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let hl = |ranges: Value, extra: Value| {
        let mut c = lab.conf("host-local");
        c["ipam"]["ranges"] = ranges;
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            c["ipam"][k] = v;
        }
        c
    };
    // refused: a mapped prefix shorter than /96, overlapping range sets
    let refused = [
        (
            hl(json!([[{"subnet": "::ffff:10.99.0.0/24"}]]), json!({})),
            "::ffff:10.99.0.0/24",
        ),
        (
            hl(
                json!([[{"subnet": "10.99.0.0/24"}], [{"subnet": "::ffff:10.99.0.0/120"}]]),
                json!({}),
            ),
            "overlap",
        ),
        (
            hl(
                json!([[{"subnet": "10.99.0.0/24"}]]),
                json!({"routes": [{"dst": "::ffff:10.0.0.0/8"}]}),
            ),
            "::ffff:10.0.0.0/8",
        ),
    ];
    for (conf, needle) in refused {
        let out = run(&lab, "host-local", "ADD", &conf);
        assert_spec_error(&out, 7, &[needle], &format!("host-local {conf}"));
    }
    let mut st = lab.conf("static");
    st["ipam"]["addresses"] = json!([{"address": "::ffff:10.99.1.5/24"}]);
    let out = run(&lab, "static", "ADD", &st);
    assert_spec_error(&out, 7, &["::ffff:10.99.1.5/24"], "static mapped /24");
    before.assert_same(&lab.snapshot(), "after refused mapped prefixes");

    // accepted: the IPv4 reading of subnet, bounds, gateway, route
    let conf = hl(
        json!([[{"subnet": "::ffff:10.99.0.0/120", "rangeStart": "::ffff:10.99.0.7",
                 "gateway": "::ffff:10.99.0.1"}]]),
        json!({"routes": [{"dst": "::ffff:0.0.0.0/96", "gw": "::ffff:10.99.0.1"}]}),
    );
    let r = run(&lab, "host-local", "ADD", &conf).expect_success();
    assert_eq!(r["ips"][0]["address"], "10.99.0.7/24", "{r}");
    assert_eq!(r["ips"][0]["gateway"], "10.99.0.1", "{r}");
    assert_eq!(
        r["routes"][0],
        json!({"dst": "0.0.0.0/0", "gw": "10.99.0.1"}),
        "{r}"
    );
    // the same address asked for in either form is the same reservation
    let mut other = hl(json!([[{"subnet": "10.99.0.0/24"}]]), json!({}));
    other["args"] = json!({"cni": {"ips": ["::ffff:10.99.0.7"]}});
    let call = lab.call("host-local", "ADD").cid("other");
    let out = run_bounded(&call, other.to_string().as_bytes(), &[]);
    assert_spec_error(&out, 999, &["10.99.0.7"], "mapped form of a taken address");
    other["args"] = json!({"cni": {"ips": ["::ffff:10.99.0.9"]}});
    let out = run_bounded(&call, other.to_string().as_bytes(), &[]);
    assert_eq!(
        out.json()["ips"][0]["address"],
        "10.99.0.9/24",
        "{}",
        out.stdout
    );
    let files = reservation_files(&lab.data().join(NETWORK));
    assert!(files.iter().all(|f| !f.contains("::ffff")), "{files:?}");
    assert_eq!(run(&lab, "host-local", "DEL", &conf).code, 0);
    let call = lab.call("host-local", "DEL").cid("other");
    assert_eq!(
        run_bounded(&call, other.to_string().as_bytes(), &[]).code,
        0
    );
    // static: address, gateway and route in IPv4 form
    st["ipam"]["addresses"] =
        json!([{"address": "::ffff:10.99.1.5/120", "gateway": "::ffff:10.99.1.1"}]);
    st["ipam"]["routes"] = json!([{"dst": "::ffff:0.0.0.0/96", "gw": "::ffff:10.99.1.1"}]);
    let r = run(&lab, "static", "ADD", &st).expect_success();
    assert_eq!(
        r["ips"][0],
        json!({"address": "10.99.1.5/24", "gateway": "10.99.1.1"}),
        "{r}"
    );
    assert_eq!(
        r["routes"][0],
        json!({"dst": "0.0.0.0/0", "gw": "10.99.1.1"}),
        "{r}"
    );
}

#[test]
fn ranges_too_small_or_huge_answer_promptly() {
    require_root!();
    let lab = Lab::new();
    let mut n = 0;
    for subnet in [
        "10.99.0.0/31",
        "10.99.0.0/32",
        "fd00:99::/127",
        "fd00:99::/128",
    ] {
        let mut conf = lab.conf("host-local");
        conf["ipam"]["ranges"] = json!([[{"subnet": subnet}]]);
        let out = run(&lab, "host-local", "ADD", &conf);
        assert_spec_error(&out, 7, &[subnet, "too small to allocate from"], subnet);
        n += 1;
    }
    // a range of one address: one ADD, then a clean refusal, not a loop
    let mut conf = lab.conf("host-local");
    conf["ipam"]["ranges"] =
        json!([[{"subnet": "10.99.0.0/30", "rangeStart": "10.99.0.2", "rangeEnd": "10.99.0.2"}]]);
    assert_eq!(run(&lab, "host-local", "ADD", &conf).code, 0);
    let out = run_bounded(
        &lab.call("host-local", "ADD").cid("second"),
        conf.to_string().as_bytes(),
        &[],
    );
    assert_spec_error(&out, 999, &["no IP addresses available"], "exhausted /30");
    assert_eq!(run(&lab, "host-local", "DEL", &conf).code, 0);
    // the largest ranges allocate the first address without walking them
    for (i, (subnet, first)) in [("::/0", "::2/0"), ("0.0.0.0/0", "0.0.0.2/0")]
        .into_iter()
        .enumerate()
    {
        let mut conf = lab.conf("host-local");
        conf["name"] = json!(format!("huge{i}"));
        conf["ipam"]["ranges"] = json!([[{"subnet": subnet}]]);
        let r = run(&lab, "host-local", "ADD", &conf).expect_success();
        assert_eq!(r["ips"][0]["address"], first);
        assert_eq!(run(&lab, "host-local", "DEL", &conf).code, 0);
        n += 1;
    }
    eprintln!("{n} range cases");
}

/// Characters the kernel accepts in an interface name and skel lets
/// through, but that mean something to iptables-restore and nft scripts.
const QUOTING_IFNAME: &str = "e\"0;$'{}#";

#[test]
fn quoting_characters_in_ifname_stay_inside_firewall_rules() {
    require_root!();
    let lab = Lab::new();
    // a rule of the host's own, which a script injection would flush
    for args in [
        &["add", "table", "inet", "sentinel"][..],
        &["add", "chain", "inet", "sentinel", "c"],
        &[
            "add", "rule", "inet", "sentinel", "c", "counter", "comment", "\"host\"",
        ],
    ] {
        let out = lab.host.cmd("nft", args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    lab.host
        .cmd(
            "iptables",
            &[
                "-w",
                "-A",
                "FORWARD",
                "-m",
                "comment",
                "--comment",
                "host",
                "-j",
                "ACCEPT",
            ],
        )
        .status()
        .unwrap();
    let mut prev = lab.prev_result();
    prev["interfaces"][1]["name"] = json!(QUOTING_IFNAME);
    let mut n = 0;
    for (plugin, backend) in [
        ("portmap", "iptables"),
        ("portmap", "nftables"),
        ("firewall", "iptables"),
    ] {
        let mut conf = lab.conf(plugin);
        conf["backend"] = json!(backend);
        // The shared top-level chains stay after the last DEL (as in Go):
        // compare against the state after an ordinary ADD and DEL.
        for command in ["ADD", "DEL"] {
            let out = run(&lab, plugin, command, &conf);
            assert_eq!(out.code, 0, "{plugin} {backend} {command}: {}", out.stdout);
        }
        let before = lab.snapshot();
        conf["prevResult"] = prev.clone();
        let call = lab.call(plugin, "ADD").ifname(QUOTING_IFNAME);
        let out = run_bounded(&call, conf.to_string().as_bytes(), &[]);
        assert_eq!(out.code, 0, "{plugin} {backend} ADD: {}", out.stdout);
        let nft = output_in(&lab.host, "nft", &["list", "ruleset"]);
        assert!(
            nft.contains("comment \"host\""),
            "{plugin} {backend}: host rule gone:\n{nft}"
        );
        let all = nft.clone()
            + &output_in(&lab.host, "iptables", &["-w", "-S"])
            + &output_in(&lab.host, "iptables", &["-w", "-t", "nat", "-S"]);
        let mark = if plugin == "portmap" {
            "8080"
        } else {
            "10.99.0.5"
        };
        assert!(
            all.contains(mark),
            "{plugin} {backend}: no rule made:\n{all}"
        );
        let ipt = output_in(&lab.host, "iptables", &["-w", "-S", "FORWARD"]);
        assert!(
            ipt.contains("host"),
            "{plugin} {backend}: host rule gone:\n{ipt}"
        );
        let out = run_bounded(
            &lab.call(plugin, "DEL").ifname(QUOTING_IFNAME),
            conf.to_string().as_bytes(),
            &[],
        );
        assert_eq!(out.code, 0, "{plugin} {backend} DEL: {}", out.stdout);
        before.assert_same(&lab.snapshot(), &format!("{plugin} {backend} ADD+DEL"));
        n += 1;
    }
    eprintln!("{n} quoting cases");
}
