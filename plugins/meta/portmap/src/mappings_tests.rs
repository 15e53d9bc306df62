//! Both backends against the real tools, each test in its own fresh netns.

use pkg::firewall::testing::{fresh_netns, nat_rules, ruleset, run};

use pkg::firewall::Backend;
use pkg::types::GcAttachment;

use super::*;
use crate::iptables;

const ATT: Attachment<'static> = Attachment {
    network: "pmnet",
    container_id: "ctr1",
    ifname: "eth0",
};

fn m(host: u16, ctr: u16, proto: Protocol, ip: Option<&str>) -> PortMapping {
    PortMapping {
        host_port: host,
        container_port: ctr,
        protocol: proto,
        host_ip: ip.map(|s| s.parse().unwrap()),
    }
}

fn ips() -> Vec<IpNet> {
    vec![
        "10.77.0.5/24".parse().unwrap(),
        "fd00:77::5/64".parse().unwrap(),
    ]
}

fn mappings() -> Vec<PortMapping> {
    vec![
        m(8080, 80, Protocol::Tcp, None),
        m(8053, 53, Protocol::Udp, None),
        m(8132, 132, Protocol::Sctp, Some("0.0.0.0")),
        m(8443, 443, Protocol::Tcp, Some("fd00:1::1")),
    ]
}

#[test]
fn protocols() {
    for (s, p) in [
        ("tcp", Protocol::Tcp),
        ("UDP", Protocol::Udp),
        ("Sctp", Protocol::Sctp),
    ] {
        assert_eq!(Protocol::parse(s), Some(p));
        assert_eq!(Protocol::parse(p.as_str()), Some(p));
    }
    assert_eq!(Protocol::parse("icmp"), None);
    assert_eq!(Protocol::parse(""), None);
    let v6 = m(1, 1, Protocol::Tcp, Some("::"));
    assert_eq!(v6.destination(true), None);
    assert_eq!(v6.destination(false), Some(None));
    let v4 = m(1, 1, Protocol::Tcp, Some("1.2.3.4"));
    assert_eq!(v4.destination(true), Some(Some("1.2.3.4".parse().unwrap())));
}

#[test]
fn bad_names_are_refused_before_any_exec() {
    let att = Attachment {
        container_id: "a\"b",
        ..ATT
    };
    let err = setup(
        Backend::Nftables,
        &att,
        &ips(),
        &mappings(),
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(err.code(), 7);
    // nothing to do
    setup(Backend::Iptables, &ATT, &ips(), &[], &Options::default()).unwrap();
    setup(
        Backend::Iptables,
        &ATT,
        &[],
        &mappings(),
        &Options::default(),
    )
    .unwrap();
    check(Backend::Iptables, &ATT, &ips(), &[], &Options::default()).unwrap();
}

#[test]
fn iptables_round_trip() {
    if !fresh_netns(&[
        "iptables",
        "ip6tables",
        "iptables-restore",
        "ip6tables-restore",
    ]) {
        return;
    }
    let opts = Options::default();
    setup(Backend::Iptables, &ATT, &ips(), &mappings(), &opts).unwrap();
    let dn = iptables::dn_chain("pmnet", "ctr1");
    let v4 = nat_rules("iptables");
    let want = [
        "-N CNI-DN-xxx".to_string(),
        "-N CNI-HOSTPORT-DNAT".into(),
        "-N CNI-HOSTPORT-MASQ".into(),
        "-N CNI-HOSTPORT-SETMARK".into(),
        r#"-A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"#.into(),
        r#"-A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT"#.into(),
        r#"-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -j CNI-HOSTPORT-MASQ"#.into(),
        "-A CNI-DN-xxx -s 10.77.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.77.0.5:80".into(),
        "-A CNI-DN-xxx -s 10.77.0.0/24 -p udp -m udp --dport 8053 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -s 127.0.0.1/32 -p udp -m udp --dport 8053 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -p udp -m udp --dport 8053 -j DNAT --to-destination 10.77.0.5:53".into(),
        "-A CNI-DN-xxx -s 10.77.0.0/24 -p sctp -m sctp --dport 8132 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -s 127.0.0.1/32 -p sctp -m sctp --dport 8132 -j CNI-HOSTPORT-SETMARK".into(),
        "-A CNI-DN-xxx -p sctp -m sctp --dport 8132 -j DNAT --to-destination 10.77.0.5:132".into(),
        r#"-A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \"pmnet\" id: \"ctr1\"" -m multiport --dports 8053 -j CNI-DN-xxx"#.into(),
        r#"-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"pmnet\" id: \"ctr1\"" -m multiport --dports 8080 -j CNI-DN-xxx"#.into(),
        r#"-A CNI-HOSTPORT-DNAT -p sctp -m comment --comment "dnat name: \"pmnet\" id: \"ctr1\"" -m multiport --dports 8132 -j CNI-DN-xxx"#.into(),
        "-A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE".into(),
        r#"-A CNI-HOSTPORT-SETMARK -m comment --comment "CNI portfwd masquerade mark" -j MARK --set-xmark 0x2000/0x2000"#.into(),
    ]
    .map(|l| l.replace("CNI-DN-xxx", &dn));
    let mut sorted = v4.clone();
    sorted.sort();
    let mut want_sorted = want.to_vec();
    want_sorted.sort();
    assert_eq!(sorted, want_sorted, "{v4:#?}");
    let v6 = nat_rules("ip6tables").join("\n");
    assert!(
        v6.contains(
            "-d fd00:1::1/128 -p tcp -m tcp --dport 8443 -j DNAT --to-destination [fd00:77::5]:443"
        ),
        "{v6}"
    );
    assert!(!v6.contains("127.0.0.1"), "{v6}");
    check(Backend::Iptables, &ATT, &ips(), &mappings(), &opts).unwrap();

    // A repeated ADD with fewer mappings replaces, not adds.
    setup(
        Backend::Iptables,
        &ATT,
        &ips()[..1],
        &mappings()[..1],
        &opts,
    )
    .unwrap();
    let again = nat_rules("iptables").join("\n");
    assert!(!again.contains("8053"), "{again}");
    assert_eq!(again.matches(&format!("-j {dn}")).count(), 1, "{again}");
    setup(Backend::Iptables, &ATT, &ips()[..1], &mappings(), &opts).unwrap();

    // CHECK notices tampering
    run(&["iptables", "-t", "nat", "-F", &dn]);
    let err = check(Backend::Iptables, &ATT, &ips()[..1], &mappings(), &opts).unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");

    // another container, then teardown of the first, then GC
    let other = Attachment {
        container_id: "ctr2",
        ..ATT
    };
    setup(
        Backend::Iptables,
        &other,
        &["10.77.0.6/24".parse().unwrap()],
        &mappings()[..1],
        &opts,
    )
    .unwrap();
    teardown(&ATT, &[]).unwrap();
    let left = nat_rules("iptables").join("\n") + &nat_rules("ip6tables").join("\n");
    assert!(!left.contains(&dn), "{left}");
    assert!(left.contains("id: \\\"ctr2\\\""), "{left}");
    teardown(&ATT, &[]).unwrap();
    gc(
        "pmnet",
        &[GcAttachment {
            container_id: "ctr2".into(),
            ifname: "eth0".into(),
        }],
    )
    .unwrap();
    assert!(nat_rules("iptables").join("\n").contains("ctr2"));
    gc("other-net", &[]).unwrap();
    assert!(nat_rules("iptables").join("\n").contains("ctr2"));
    gc("pmnet", &[]).unwrap();
    let left = nat_rules("iptables").join("\n");
    assert!(!left.contains("CNI-DN-"), "{left}");
    // shared chains stay, as with Go
    assert!(left.contains("-N CNI-HOSTPORT-DNAT"), "{left}");
}

fn hostport_rules(rules: &str) -> Vec<&str> {
    rules
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("comment \"ctr"))
        .collect()
}

#[test]
fn nftables_round_trip() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let opts = Options::default();
    setup(Backend::Nftables, &ATT, &ips(), &mappings(), &opts).unwrap();
    let rs = ruleset();
    for want in [
        "fib daddr type local jump hostports_all",
        "tcp dport 8080 dnat to 10.77.0.5:80 comment \"ctr1\"",
        "udp dport 8053 dnat to 10.77.0.5:53 comment \"ctr1\"",
        "sctp dport 8132 dnat to 10.77.0.5:132 comment \"ctr1\"",
        "ip6 daddr fd00:1::1 tcp dport 8443 dnat to [fd00:77::5]:443 comment \"ctr1\"",
        "ip saddr 10.77.0.5 ip daddr 10.77.0.5 masquerade comment \"ctr1\"",
        "ip saddr 127.0.0.1 ip daddr 10.77.0.5 masquerade comment \"ctr1\"",
        "ip6 saddr fd00:77::5 ip6 daddr fd00:77::5 masquerade comment \"ctr1\"",
    ] {
        assert!(rs.contains(want), "missing {want:?}:\n{rs}");
    }
    assert!(!rs.contains("8443 dnat to 10.77"), "{rs}");
    let count = hostport_rules(&rs).len();
    check(Backend::Nftables, &ATT, &ips(), &mappings(), &opts).unwrap();
    // idempotent
    setup(Backend::Nftables, &ATT, &ips(), &mappings(), &opts).unwrap();
    assert_eq!(hostport_rules(&ruleset()).len(), count, "{}", ruleset());

    // The same container on a second network: separate rules, same comment.
    let second = Attachment {
        network: "pmnet2",
        ..ATT
    };
    setup(
        Backend::Nftables,
        &second,
        &["10.78.0.5/24".parse().unwrap()],
        &mappings()[..1],
        &opts,
    )
    .unwrap();
    check(
        Backend::Nftables,
        &second,
        &["10.78.0.5/24".parse().unwrap()],
        &mappings()[..1],
        &opts,
    )
    .unwrap();
    // tampering
    let listed = run(&[
        "nft",
        "-a",
        "list",
        "chain",
        "ip",
        "cni_hostport",
        "masquerading",
    ]);
    let handle = listed
        .lines()
        .find(|l| l.contains("10.78.0.5"))
        .and_then(|l| l.rsplit("handle ").next())
        .unwrap()
        .trim()
        .to_string();
    run(&[
        "nft",
        "delete",
        "rule",
        "ip",
        "cni_hostport",
        "masquerading",
        "handle",
        &handle,
    ]);
    let err = check(
        Backend::Nftables,
        &second,
        &["10.78.0.5/24".parse().unwrap()],
        &mappings()[..1],
        &opts,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing hostport rules in \"masquerading\" chain"
    );

    // DEL of the first network without prevResult: only its rules go.
    teardown(&ATT, &[]).unwrap();
    let rs = ruleset();
    assert!(
        !rs.contains("10.77.0.5") && !rs.contains("fd00:77::5"),
        "{rs}"
    );
    assert!(rs.contains("dnat to 10.78.0.5:80"), "{rs}");
    // GC of network 2 with the attachment valid keeps it, without removes.
    let valid = [GcAttachment {
        container_id: "ctr1".into(),
        ifname: "eth0".into(),
    }];
    gc("pmnet2", &valid).unwrap();
    assert!(ruleset().contains("dnat to 10.78.0.5:80"));
    gc("pmnet", &[]).unwrap();
    assert!(ruleset().contains("dnat to 10.78.0.5:80"));
    gc("pmnet2", &[]).unwrap();
    let rs = ruleset();
    assert!(hostport_rules(&rs).is_empty(), "{rs}");
    assert!(!rs.contains("10.78.0.5"), "{rs}");
}

/// Go's DEL semantics survive: without markers or prevResult, every rule
/// commented with the container ID goes.
#[test]
fn nftables_teardown_without_markers() {
    if !fresh_netns(&["nft"]) {
        return;
    }
    let opts = Options::default();
    setup(
        Backend::Nftables,
        &ATT,
        &ips()[..1],
        &mappings()[..1],
        &opts,
    )
    .unwrap();
    run(&["nft", "flush", "chain", "ip", "cni_hostport", "attachments"]);
    teardown(&ATT, &[]).unwrap();
    assert!(hostport_rules(&ruleset()).is_empty(), "{}", ruleset());
}
