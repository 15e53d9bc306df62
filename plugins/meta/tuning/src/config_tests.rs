use super::*;
use serde_json::json;

fn parse(conf: &str, cni_args: &str, ifname: &str, allow: Option<&str>) -> Result<TuningConf> {
    let value: Value = serde_json::from_str(conf).unwrap();
    let list = allow.map(|t| Allowlist::parse(t, Path::new(ALLOWLIST)).unwrap());
    TuningConf::parse(conf.as_bytes(), &value, cni_args, ifname, list.as_ref())
}

fn keys(c: &TuningConf) -> Vec<(String, String, String)> {
    c.sysctls
        .iter()
        .map(|s| (s.key.clone(), s.path.display().to_string(), s.value.clone()))
        .collect()
}

#[test]
fn key_to_path() {
    let cases = [
        ("net.core.somaxconn", "eth0", "/proc/sys/net/core/somaxconn"),
        ("net/core/somaxconn", "eth0", "/proc/sys/net/core/somaxconn"),
        (
            "net.ipv4.conf.IFNAME.arp_filter",
            "eth0",
            "/proc/sys/net/ipv4/conf/eth0/arp_filter",
        ),
        // dotted names survive: IFNAME is replaced after the dots
        (
            "net.ipv4.conf.IFNAME.arp_filter",
            "eth0.100",
            "/proc/sys/net/ipv4/conf/eth0.100/arp_filter",
        ),
        (
            "net/ipv4/conf/IFNAME/arp_filter",
            "eth0.100",
            "/proc/sys/net/ipv4/conf/eth0.100/arp_filter",
        ),
        // sysctl(8): after a dot, slashes stand for literal dots
        (
            "net.ipv4.conf.eth0/100.arp_filter",
            "eth0",
            "/proc/sys/net/ipv4/conf/eth0.100/arp_filter",
        ),
        // only the first IFNAME, as Go
        (
            "net.ipv4.conf.IFNAME.IFNAME",
            "e1",
            "/proc/sys/net/ipv4/conf/e1/IFNAME",
        ),
    ];
    for (key, ifname, want) in cases {
        assert_eq!(
            resolve(key, ifname).unwrap(),
            PathBuf::from(want),
            "{key} {ifname}"
        );
    }
    for bad in [
        "kernel.panic",
        "net/../kernel/panic",
        "net/ipv4/../../kernel/panic",
        // with dots first, slashes are literal dots: this is net/../kernel
        "net.//.kernel.panic",
        "/etc/passwd",
        "net",
        "net.",
        "../../etc/shadow",
        "netfilter.x",
    ] {
        let e = resolve(bad, "eth0").unwrap_err();
        assert_eq!(e.code(), 7, "{bad}");
        assert!(e.msg().contains(bad), "{bad}: {}", e.msg());
    }
}

#[test]
fn precedence_and_overrides() {
    let c = parse(
        r#"{"mac": "0e:00:00:00:00:01", "mtu": 1400, "promisc": true, "allmulti": false, "txQLen": 500,
            "sysctl": {"net.core.somaxconn": "500", "net.ipv4.conf.IFNAME.rp_filter": "1"},
            "args": {"cni": {"mtu": 1300, "promisc": false, "txQLen": 0, "allmulti": true,
                "sysctl": {"net/ipv4/conf/IFNAME/rp_filter": "2", "net.ipv4.ip_forward": "1"}}}}"#,
        "",
        "eth0",
        None,
    )
    .unwrap();
    assert_eq!(c.mac, Some(vec![0x0e, 0, 0, 0, 0, 1]));
    assert_eq!(c.mtu, Some(1300));
    assert!(!c.promisc);
    assert_eq!(c.txqlen, Some(0));
    assert_eq!(c.allmulti, Some(true));
    assert_eq!(
        keys(&c),
        vec![
            (
                "net.core.somaxconn".into(),
                "/proc/sys/net/core/somaxconn".into(),
                "500".into()
            ),
            (
                "net/ipv4/conf/IFNAME/rp_filter".into(),
                "/proc/sys/net/ipv4/conf/eth0/rp_filter".into(),
                "2".into()
            ),
            (
                "net.ipv4.ip_forward".into(),
                "/proc/sys/net/ipv4/ip_forward".into(),
                "1".into()
            ),
        ]
    );
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    // args.cni.sysctl without a top-level sysctl (Go panics there)
    let c = parse(
        r#"{"args": {"cni": {"sysctl": {"net.core.somaxconn": "5"}}}, "dataDir": "/tmp/x"}"#,
        "",
        "eth0",
        None,
    )
    .unwrap();
    assert_eq!(c.sysctls.len(), 1);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert!(!c.changes_link());
}

#[test]
fn mac_precedence() {
    let m = |s: &str| Some(parse_hw_addr(s).unwrap());
    let cases = [
        (r#"{}"#, "", None),
        (
            r#"{"mac": "0e:00:00:00:00:01"}"#,
            "",
            m("0e:00:00:00:00:01"),
        ),
        (
            r#"{"mac": "0e:00:00:00:00:01"}"#,
            "IgnoreUnknown=1;MAC=0e:00:00:00:00:02;K8S_POD_NAME=x",
            m("0e:00:00:00:00:02"),
        ),
        (
            r#"{"mac": "0e:00:00:00:00:01", "runtimeConfig": {"mac": "0e:00:00:00:00:03"}}"#,
            "MAC=0e:00:00:00:00:02",
            m("0e:00:00:00:00:03"),
        ),
        (
            r#"{"runtimeConfig": {"MAC": "0e:00:00:00:00:03"}, "args": {"cni": {"mac": "0e:00:00:00:00:04"}}}"#,
            "MAC=0e:00:00:00:00:02",
            m("0e:00:00:00:00:04"),
        ),
        // an empty args.cni.mac unsets it, as in Go
        (
            r#"{"mac": "0e:00:00:00:00:01", "args": {"cni": {"mac": ""}}}"#,
            "",
            None,
        ),
    ];
    for (conf, env, want) in cases {
        assert_eq!(
            parse(conf, env, "eth0", None).unwrap().mac,
            want,
            "{conf} {env}"
        );
    }
}

#[test]
fn hardware_addresses() {
    let ok = [
        ("0e:00:00:00:aa:01", vec![0x0e, 0, 0, 0, 0xaa, 1]),
        ("0E-00-00-00-AA-01", vec![0x0e, 0, 0, 0, 0xaa, 1]),
        ("0e00.0000.aa01", vec![0x0e, 0, 0, 0, 0xaa, 1]),
        (
            "02:00:5e:10:00:00:00:01",
            vec![2, 0, 0x5e, 0x10, 0, 0, 0, 1],
        ),
    ];
    for (s, want) in ok {
        assert_eq!(parse_hw_addr(s), Some(want), "{s}");
    }
    for bad in [
        "",
        "0e:00:00:00:aa",
        "0e:00:00:00:aa:zz",
        "0e:00:00:00:aa:001",
        "0e:00-00:00:aa:01",
        "0e00.0000.aa1",
        "hello",
    ] {
        assert_eq!(parse_hw_addr(bad), None, "{bad}");
    }
}

#[test]
fn bad_input() {
    let cases = [
        (
            r#"{"sysctl": {"net.core.somaxconn": "1", "net.core.somaxconn": "2"}}"#,
            "duplicated sysctl keys are not allowed",
        ),
        (
            r#"{"Sysctl": {"net.core.somaxconn": "1"}, "sysctl": {"net.core.somaxconn": "2"}}"#,
            "duplicated sysctl keys are not allowed",
        ),
        (
            r#"{"args": {"cni": {"sysctl": {"net.a": "1", "net.a": "2"}}}}"#,
            "duplicated sysctl keys are not allowed",
        ),
        (
            r#"{"sysctl": {"net.core.somaxconn": "1", "net/core/somaxconn": "2"}}"#,
            "duplicated sysctl keys are not allowed",
        ),
        (
            r#"{"sysctl": {"kernel.panic": "1"}}"#,
            "invalid sysctl key \"kernel.panic\"",
        ),
        (
            r#"{"sysctl": {"net/../kernel/panic": "1"}}"#,
            "invalid sysctl key \"net/../kernel/panic\"",
        ),
        (
            r#"{"sysctl": {"net.core.somaxconn": 500}}"#,
            "sysctl net.core.somaxconn: the value must be a string, got 500",
        ),
        (r#"{"mac": "nope"}"#, "invalid MAC address \"nope\""),
        (r#"{"mtu": -1}"#, "invalid mtu -1"),
        (r#"{"mtu": 4294967296}"#, "invalid mtu 4294967296"),
        (r#"{"args": {"cni": {"mtu": -7}}}"#, "invalid mtu -7"),
        (r#"{"txQLen": -5}"#, "invalid txQLen -5"),
        (r#"{"txQLen": 4294967296}"#, "invalid txQLen 4294967296"),
        (
            r#"{"sysctl": {"net.core.somaxconn": "1\nwhatever"}}"#,
            "invalid value \"1\\nwhatever\" for sysctl net.core.somaxconn",
        ),
        (
            r#"{"args": {"cni": {"sysctl": {"net.core.somaxconn": "1\u0000"}}}}"#,
            "invalid value \"1\\0\" for args.cni.sysctl net.core.somaxconn",
        ),
        (
            r#"{"sysctl": {"net.core.somaxconn": ""}}"#,
            "invalid value \"\" for sysctl net.core.somaxconn",
        ),
        (
            r#"{"args": {"cni": {"mtu": "big"}}}"#,
            "failed to parse network config",
        ),
    ];
    for (conf, msg) in cases {
        let e = parse(conf, "", "eth0", None).unwrap_err();
        assert_eq!(e.msg(), msg, "{conf}");
        let want = if msg.starts_with("failed to parse") {
            6
        } else {
            7
        };
        assert_eq!(e.code(), want, "{conf}");
    }
    let e = parse("{}", "FOO=bar", "eth0", None).unwrap_err();
    assert_eq!(e.code(), 4);
}

#[test]
fn sysctl_values_the_kernel_would_cut() {
    let max = max_value_len();
    assert!(max >= 4095, "{max}");
    let long = "1".repeat(max + 1);
    let cases: Vec<(String, Option<&str>)> = vec![
        ("1".into(), None),
        ("4096\t131072 6291456".into(), None),
        (" 1 ".into(), None),
        ("é".into(), None),
        ("1".repeat(max), None),
        (
            "1\nwhatever".into(),
            Some("a newline ends what the kernel reads"),
        ),
        ("1\n".into(), Some("a newline ends what the kernel reads")),
        ("1\r".into(), Some("control characters other than tab")),
        (
            "\u{1b}[31m".into(),
            Some("control characters other than tab"),
        ),
        ("1\u{85}".into(), Some("control characters other than tab")),
        ("a\0b".into(), Some("a NUL ends what the kernel reads")),
        (
            String::new(),
            Some("an empty write leaves the sysctl as it is"),
        ),
        (
            long.clone(),
            Some("bytes long and the kernel reads at most"),
        ),
    ];
    for (value, want) in cases {
        let got = check_value("sysctl", "net.core.somaxconn", &value, max);
        match want {
            None => assert!(got.is_ok(), "{value:?}: {got:?}"),
            Some(w) => {
                let e = got.unwrap_err();
                assert_eq!(e.code(), 7, "{value:?}");
                assert!(e.msg().contains("net.core.somaxconn"), "{}", e.msg());
                assert!(e.details().contains(w), "{value:?}: {}", e.details());
            }
        }
    }
    // a long value is named, not printed whole
    let e = check_value("sysctl", "net.x", &long, max).unwrap_err();
    assert!(e.msg().len() < 200, "{}", e.msg());
    assert!(
        e.msg().contains(&format!("({} bytes)", max + 1)),
        "{}",
        e.msg()
    );
}

/// Thousands of keys, every other one replaced through `args.cni.sysctl`
/// under its other spelling: each file comes out once, with the
/// replacement's value. How the cost grows with the number of keys is the
/// benchmark's business (`cni-bench --only tuning-sysctls`), not a test's.
#[test]
fn many_sysctls_resolve() {
    let n = 10_000;
    let m: Map<String, Value> = (0..n)
        .map(|i| (format!("net.ipv4.conf.a{i}.forwarding"), json!("1")))
        .collect();
    let cni: Map<String, Value> = (0..n)
        .step_by(2)
        .map(|i| (format!("net/ipv4/conf/a{i}/forwarding"), json!("0")))
        .collect();
    let text = json!({"sysctl": m, "args": {"cni": {"sysctl": cni}}}).to_string();
    let c = parse(&text, "", "eth0", None).unwrap();
    assert_eq!(c.sysctls.len(), n);
    let mut seen = vec![false; n];
    for s in &c.sysctls {
        let path = s.path.display().to_string();
        let i: usize = path
            .strip_prefix("/proc/sys/net/ipv4/conf/a")
            .and_then(|r| r.strip_suffix("/forwarding"))
            .and_then(|i| i.parse().ok())
            .unwrap_or_else(|| panic!("unexpected path {path}"));
        assert!(!seen[i], "{path} twice");
        seen[i] = true;
        let want = if i.is_multiple_of(2) { "0" } else { "1" };
        assert_eq!(s.value, want, "{path}");
    }
}

#[test]
fn allowlist() {
    let list = "^net\\.ipv4\\.conf\\.IFNAME\\.[a-z_]*$\n\n  ^net\\.core\\.somaxconn$  \n";
    let ok = r#"{"sysctl": {"net.ipv4.conf.IFNAME.rp_filter": "1", "net.core.somaxconn": "5"}}"#;
    assert_eq!(parse(ok, "", "eth0", Some(list)).unwrap().sysctls.len(), 2);
    let bad = r#"{"sysctl": {"net.ipv4.ip_forward": "1"}}"#;
    let e = parse(bad, "", "eth0", Some(list)).unwrap_err();
    assert_eq!(
        e.msg(),
        "sysctl net.ipv4.ip_forward is not allowed by /etc/cni/tuning/allowlist.conf"
    );
    assert_eq!(e.code(), 7);
    assert!(e.details().contains("somaxconn"), "{}", e.details());
    // args.cni.sysctl is checked too
    let bad = r#"{"args": {"cni": {"sysctl": {"net.ipv4.ip_forward": "1"}}}}"#;
    assert!(parse(bad, "", "eth0", Some(list)).is_err());
    // unanchored, like Go's regexp.MatchString
    let loose = "somaxconn";
    assert!(parse(ok, "", "eth0", Some(loose)).is_err());
    let e = Allowlist::parse("(", Path::new(ALLOWLIST)).err().unwrap();
    assert_eq!(e.code(), 7);
    assert!(
        Allowlist::read(Path::new("/nonexistent/allowlist.conf"))
            .unwrap()
            .is_none()
    );
}
