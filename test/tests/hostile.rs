//! Hostile input to every plugin, executed as a runtime would but with
//! bounded time (20 s) and memory (256 MiB of address space): identifiers
//! built to traverse paths, IPAM `type`s naming other programs, network
//! namespace paths that are not network namespaces or are the plugin's own,
//! oversized, deep and dense JSON, and repeated keys. Each case must end in
//! a spec error of the right code that names the bad value, and leave the
//! fake host, the container and the temporary files exactly as they were.
//! Path-shaped inputs (sysctl keys, dataDir, planted symlinks) are in
//! `hostile_paths.rs`.

use std::path::Path;

use integration::hostile::*;
use integration::*;
use serde_json::{Value, json};

/// Run ADD and DEL of every plugin with one identifier replaced.
fn refused_everywhere(
    lab: &Lab,
    what: &str,
    set: impl Fn(Call, &mut Value) -> Call,
    code: u64,
    needles: &[&str],
) -> usize {
    let mut n = 0;
    for plugin in PLUGINS {
        for command in ["ADD", "DEL"] {
            let mut conf = lab.conf(plugin);
            let call = set(lab.call(plugin, command), &mut conf);
            let out = run_bounded(&call, conf.to_string().as_bytes(), &[]);
            assert_spec_error(&out, code, needles, &format!("{plugin} {command} {what}"));
            n += 1;
        }
    }
    n
}

#[test]
fn identifiers_that_traverse_paths_are_refused_by_every_plugin() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut n = 0;
    for name in [
        "../../evil",
        "/bin/sh",
        "..",
        ".",
        "a/b",
        "a b",
        "net\nwork",
        "-x",
        "é",
    ] {
        n += refused_everywhere(
            &lab,
            &format!("network name {name:?}"),
            |c, conf| {
                conf["name"] = json!(name);
                c
            },
            7,
            &["invalid characters found in network name", name],
        );
    }
    n += refused_everywhere(
        &lab,
        "empty network name",
        |c, conf| {
            conf["name"] = json!("");
            c
        },
        7,
        &["missing network name"],
    );
    for id in [
        "../../evil",
        "/bin/sh",
        "..",
        ".hidden",
        "a b",
        "a\tb",
        "-x",
        "c;rm",
    ] {
        n += refused_everywhere(
            &lab,
            &format!("container ID {id:?}"),
            |c, _| c.cid(id),
            4,
            &["invalid characters in containerID", id],
        );
    }
    let bad_ifnames: [(&str, &str); 9] = [
        ("0123456789abcdef", "interface name is too long"),
        ("ééééééééé", "interface name is too long"), // 9 chars, 18 bytes
        (".", "interface name is . or .."),
        ("..", "interface name is . or .."),
        (
            "e/0",
            "interface name contains / or : or whitespace characters",
        ),
        (
            "../e0",
            "interface name contains / or : or whitespace characters",
        ),
        (
            "e:0",
            "interface name contains / or : or whitespace characters",
        ),
        (
            "e 0",
            "interface name contains / or : or whitespace characters",
        ),
        (
            "e\u{a0}0",
            "interface name contains / or : or whitespace characters",
        ),
    ];
    for (ifname, msg) in bad_ifnames {
        n += refused_everywhere(
            &lab,
            &format!("ifname {ifname:?}"),
            |c, _| c.ifname(ifname),
            4,
            &[msg],
        );
    }
    before.assert_same(&lab.snapshot(), "after refused identifiers");
    eprintln!("{n} adversarial identifier cases");
}

#[test]
fn longest_interface_name_is_accepted() {
    require_root!();
    let lab = Lab::new();
    // 15 bytes is the kernel's limit, and allowed; host-local records it.
    let name = "abcdefghij12345";
    let conf = lab.conf("host-local");
    let out = run_bounded(
        &lab.call("host-local", "ADD").ifname(name),
        conf.to_string().as_bytes(),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    let file = lab.data().join(NETWORK).join("10.99.0.2");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        format!("{CID}\r\n{name}")
    );
    let out = run_bounded(
        &lab.call("host-local", "DEL").ifname(name),
        conf.to_string().as_bytes(),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(!file.exists());
}

#[test]
fn ipam_type_cannot_name_a_program_outside_cni_path() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let mut n = 0;
    let cases: [(&str, &str); 6] = [
        ("../../bin/sh", "invalid plugin name: ../../bin/sh"),
        ("/bin/sh", "invalid plugin name: /bin/sh"),
        ("../host-local", "invalid plugin name: ../host-local"),
        ("..", "invalid plugin name: .."),
        (".", "invalid plugin name: ."),
        ("no-such-ipam", "failed to find plugin \"no-such-ipam\""),
    ];
    for plugin in ["bridge", "ptp", "macvlan", "ipvlan", "vlan", "dummy"] {
        for (ty, msg) in cases {
            let mut conf = lab.conf(plugin);
            conf["ipam"]["type"] = json!(ty);
            let out = run_bounded(&lab.call(plugin, "ADD"), conf.to_string().as_bytes(), &[]);
            assert_spec_error(&out, 7, &[msg], &format!("{plugin} ipam.type {ty:?}"));
            n += 1;
        }
        // a repeated key: the last one counts, as in Go
        let text = lab.conf(plugin).to_string().replace(
            "\"type\":\"host-local\"",
            "\"type\":\"host-local\",\"type\":\"/bin/sh\"",
        );
        assert!(text.contains("/bin/sh"), "{text}");
        let out = run_bounded(&lab.call(plugin, "ADD"), text.as_bytes(), &[]);
        assert_spec_error(
            &out,
            7,
            &["invalid plugin name: /bin/sh"],
            &format!("{plugin} repeated ipam.type"),
        );
        n += 1;
    }
    before.assert_same(&lab.snapshot(), "after refused IPAM types");
    eprintln!("{n} adversarial IPAM type cases");
}

/// Plugins that enter the container namespace on ADD.
const NETNS_USERS: [&str; 10] = [
    "bridge",
    "ptp",
    "macvlan",
    "ipvlan",
    "vlan",
    "dummy",
    "loopback",
    "tuning",
    "bandwidth",
    "vrf",
];

#[test]
fn netns_paths_that_are_not_network_namespaces() {
    require_root!();
    let lab = Lab::new();
    let odd = lab.root.path().join("odd");
    std::fs::create_dir(&odd).unwrap();
    let file = odd.join("file");
    std::fs::write(&file, "").unwrap();
    let fifo = odd.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let sock = odd.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let link = odd.join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    let before = lab.snapshot();
    let p = |p: &Path| p.display().to_string();
    let cases: Vec<(String, &str)> = vec![
        (p(&file), "is not a network namespace"),
        (p(&odd), "is not a network namespace"),
        (p(&fifo), "is not a network namespace"),
        (p(&sock), "is not a network namespace"),
        (p(&link), "is not a network namespace"),
        ("/dev/null".into(), "is not a network namespace"),
        ("/dev/zero".into(), "is not a network namespace"),
        ("/proc/self/status".into(), "is not a network namespace"),
        ("/proc/self/ns/mnt".into(), "is not a network namespace"),
        ("/proc/self/ns/uts".into(), "is not a network namespace"),
        (p(&odd.join("missing")), "does not exist"),
    ];
    let mut n = 0;
    for plugin in NETNS_USERS {
        for (path, msg) in &cases {
            let call = lab.call(plugin, "ADD").netns_path(path);
            let out = run_bounded(&call, lab.conf(plugin).to_string().as_bytes(), &[]);
            assert_spec_error(
                &out,
                8,
                &[path.as_str(), msg],
                &format!("{plugin} ADD CNI_NETNS={path}"),
            );
            n += 1;
        }
    }
    let after = lab.snapshot();
    // the fifo and socket are still there, untouched
    after.files.get("odd/fifo").expect("fifo kept");
    before.assert_same(&after, "after refused netns paths");
    eprintln!("{n} adversarial netns path cases");
}

#[test]
fn a_plugin_never_acts_on_its_own_netns() {
    require_root!();
    let lab = Lab::new();
    // /proc/1/ns/net needs a PID namespace of the plugin's own
    let unshare = has_tool("unshare");
    if !unshare {
        skip::because("CNI_NETNS=/proc/1/ns/net: unshare not installed");
    }
    let before = lab.snapshot();
    let mut n = 0;
    let msg = "plugin's netns and netns from CNI_NETNS should not be the same";
    for plugin in PLUGINS {
        for command in ["ADD", "DEL"] {
            let conf = lab.conf(plugin).to_string();
            for path in [
                "/proc/self/ns/net",
                "/proc/thread-self/ns/net",
                &lab.host.path_str(),
            ] {
                let call = lab.call(plugin, command).netns_path(path);
                let out = run_bounded(&call, conf.as_bytes(), &[]);
                assert_spec_error(
                    &out,
                    8,
                    &[msg],
                    &format!("{plugin} {command} CNI_NETNS={path}"),
                );
                n += 1;
            }
            // /proc/1/ns/net: the init process of the plugin's PID
            // namespace, in the same network namespace (a runtime passing
            // a dead container's PID that was reused by a host process)
            if unshare {
                let call = lab.call(plugin, command).netns_path("/proc/1/ns/net");
                let out = run_bounded(
                    &call,
                    conf.as_bytes(),
                    &["unshare", "--pid", "--fork", "--mount-proc"],
                );
                assert_spec_error(
                    &out,
                    8,
                    &[msg],
                    &format!("{plugin} {command} CNI_NETNS=/proc/1/ns/net"),
                );
                n += 1;
            }
        }
    }
    before.assert_same(&lab.snapshot(), "after refusing the plugins' own netns");
    // loopback DEL on its own netns once took the host's lo down (#714)
    let lo = lab.host.ip(&["link", "show", "lo"]);
    assert!(lo.contains("UP"), "{lo}");
    // CNI_NETNS_OVERRIDE lets a caller who means it through
    let call = lab
        .call("loopback", "ADD")
        .netns_path("/proc/self/ns/net")
        .env("CNI_NETNS_OVERRIDE", "1");
    let out = run_bounded(&call, lab.conf("loopback").to_string().as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    eprintln!("{n} own-netns cases");
}

/// A config with a key holding `size` bytes of text (built as bytes: a
/// debug build of serde_json takes seconds to escape 64 MiB).
fn padded_conf(lab: &Lab, plugin: &str, size: usize) -> Vec<u8> {
    let mut conf = lab.conf(plugin).to_string().into_bytes();
    conf.pop(); // the closing brace
    conf.extend_from_slice(b",\"padding\":\"");
    conf.resize(conf.len() + size, b'x');
    conf.extend_from_slice(b"\"}");
    conf
}

#[test]
fn oversized_deep_and_dense_stdin_costs_bounded_memory() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let huge = padded_conf(&lab, "loopback", 64 << 20);
    let deep = "[".repeat(100_000).into_bytes();
    let deep_obj = "{\"a\":".repeat(50_000).into_bytes();
    let dense = format!("{{\"x\":[{}]}}", vec!["0"; 1_200_000].join(",")).into_bytes();
    let dense_objects = format!("{{\"x\":[{}]}}", vec!["{}"; 1_100_000].join(",")).into_bytes();
    let keys: String = (0..600_000).map(|i| format!("\"k{i}\":0,")).collect();
    let many_keys = format!("{{{}\"z\":0}}", keys).into_bytes();
    let mut nul = br#"{"cniVersion":"1.0.0","name":"hnet","type":"x"}"#.to_vec();
    nul.insert(10, 0);
    // Heavy inputs go through the same skel code in every plugin: each is
    // fed to one plugin of each kind (main, IPAM, meta) in turn.
    let heavy: Vec<(&str, &str, &[u8], &str)> = vec![
        ("bridge", "64 MiB", &huge, "stdin is larger than 16 MiB"),
        ("host-local", "64 MiB", &huge, "stdin is larger than 16 MiB"),
        ("portmap", "64 MiB", &huge, "stdin is larger than 16 MiB"),
        ("bridge", "1.2M numbers", &dense, "more than 1048576 values"),
        (
            "host-local",
            "1.1M empty objects",
            &dense_objects,
            "more than 1048576 values",
        ),
        (
            "portmap",
            "600k keys",
            &many_keys,
            "more than 1048576 values",
        ),
    ];
    let light: Vec<(&str, &[u8], &str)> = vec![
        ("100000 [", &deep, "recursion limit exceeded"),
        (
            "50000 nested objects",
            &deep_obj,
            "recursion limit exceeded",
        ),
        ("empty", b"", "error unmarshall network config"),
        (
            "not UTF-8",
            b"{\"name\":\"\xff\xfe\"}",
            "error unmarshall network config",
        ),
        ("NUL", &nul, "error unmarshall network config"),
        ("array", b"[1,2,3]", "not a JSON object"),
        (
            "trailing",
            b"{\"name\":\"hnet\"} {}",
            "error unmarshall network config",
        ),
    ];
    let mut n = 0;
    for (plugin, what, stdin, msg) in heavy {
        let out = run_bounded(&lab.call(plugin, "ADD"), stdin, &[]);
        assert_spec_error(&out, 6, &[msg], &format!("{plugin} ADD with {what} stdin"));
        n += 1;
    }
    for plugin in PLUGINS {
        for (what, stdin, msg) in &light {
            let out = run_bounded(&lab.call(plugin, "ADD"), stdin, &[]);
            assert_spec_error(&out, 6, &[msg], &format!("{plugin} ADD with {what} stdin"));
            n += 1;
        }
    }
    before.assert_same(&lab.snapshot(), "after hostile stdin");
    // Just under the cap, a real config is still served within the bounds.
    for plugin in ["loopback", "host-local"] {
        let conf = padded_conf(&lab, plugin, 15 << 20);
        let out = run_bounded(&lab.call(plugin, "ADD"), &conf, &[]);
        assert_eq!(out.code, 0, "{plugin}: {}", out.stdout);
        let out = run_bounded(&lab.call(plugin, "DEL"), &conf, &[]);
        assert_eq!(out.code, 0, "{plugin}: {}", out.stdout);
    }
    eprintln!("{n} hostile stdin cases");
}

#[test]
fn repeated_keys_mean_what_they_mean_to_go() {
    require_root!();
    let lab = Lab::new();
    let before = lab.snapshot();
    let base = r#"{"cniVersion":"1.0.0","type":"loopback","#;
    // the last occurrence wins, exact or in another case
    for members in [
        r#""name":"hnet","name":"../x"}"#,
        r#""name":"hnet","NAME":"../x"}"#,
    ] {
        let text = format!("{base}{members}");
        for command in ["ADD", "DEL"] {
            let out = run_bounded(&lab.call("loopback", command), text.as_bytes(), &[]);
            assert_spec_error(&out, 7, &["../x"], &text);
        }
    }
    before.assert_same(&lab.snapshot(), "after repeated names");
    for members in [
        r#""name":"../x","name":"hnet"}"#,
        r#""Name":"../x","name":"hnet"}"#,
    ] {
        let text = format!("{base}{members}");
        for command in ["ADD", "DEL"] {
            let out = run_bounded(&lab.call("loopback", command), text.as_bytes(), &[]);
            assert_eq!(out.code, 0, "{text}: {}", out.stdout);
        }
    }
    // host-local: the last subnet and the last dataDir count
    let outside = lab.outside();
    let text = format!(
        r#"{{"cniVersion":"1.0.0","name":"hnet","type":"host-local","ipam":{{"type":"host-local","dataDir":{},"dataDir":{},"ranges":[[{{"subnet":"10.1.0.0/24","subnet":"10.99.0.0/24"}}]]}}}}"#,
        json!(outside),
        json!(lab.data())
    );
    let out = run_bounded(&lab.call("host-local", "ADD"), text.as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert_eq!(out.json()["ips"][0]["address"], "10.99.0.2/24");
    assert!(lab.data().join("hnet/10.99.0.2").is_file());
    assert!(!outside.join("hnet").exists());
    let out = run_bounded(&lab.call("host-local", "DEL"), text.as_bytes(), &[]);
    assert_eq!(out.code, 0, "{}", out.stdout);
}
