//! Golden plans for the nftables layout.

use pkg::firewall::model::Handle;
use pkg::firewall::testing::{FakeState, plan_lines};

use super::*;
use crate::mappings::Protocol;

const ATT: Attachment<'static> = Attachment {
    network: "test",
    container_id: "icee6giejonei6so",
    ifname: "eth0",
};

fn mapping(host: u16, ctr: u16, proto: Protocol, ip: Option<&str>) -> PortMapping {
    PortMapping {
        host_port: host,
        container_port: ctr,
        protocol: proto,
        host_ip: ip.map(|s| s.parse().unwrap()),
    }
}

fn plan(state: &mut FakeState, ip: &str, mappings: &[PortMapping], opts: &Options) -> Vec<String> {
    plan_lines(&plan_setup(state, &ATT, ip.parse().unwrap(), mappings, opts).unwrap())
}

#[test]
fn setup_like_go_with_the_local_guard() {
    let mappings = [
        mapping(8080, 80, Protocol::Tcp, None),
        mapping(8080, 81, Protocol::Udp, None),
        mapping(8083, 83, Protocol::Tcp, Some("192.168.0.2")),
        mapping(8084, 84, Protocol::Sctp, Some("0.0.0.0")),
        mapping(8085, 85, Protocol::Tcp, Some("2001:db8:a::1")),
    ];
    let opts = Options {
        conditions_v4: vec!["ip saddr != 10.9.9.9".into()],
        ..Options::default()
    };
    let s = plan(&mut FakeState::default(), "10.0.0.2", &mappings, &opts);
    let t = "ip cni_hostport";
    let cid = "icee6giejonei6so";
    for want in [
        format!("add table {t} {{ comment \"CNI portmap plugin\" ; }}"),
        format!("add chain {t} prerouting {{ type nat hook prerouting priority -100 ; }}"),
        format!(
            "add rule {t} prerouting ip saddr != 10.9.9.9 fib daddr type local jump hostports_all"
        ),
        format!("add rule {t} output ip saddr != 10.9.9.9 fib daddr type local jump hostports_all"),
        format!("add rule {t} hostports_all jump hostip_hostports"),
        format!("add rule {t} hostports tcp dport 8080 dnat to 10.0.0.2:80 comment \"{cid}\""),
        format!("add rule {t} hostports udp dport 8080 dnat to 10.0.0.2:81 comment \"{cid}\""),
        format!(
            "add rule {t} hostports ip daddr 192.168.0.2 tcp dport 8083 dnat to 10.0.0.2:83 comment \"{cid}\""
        ),
        format!("add rule {t} hostports sctp dport 8084 dnat to 10.0.0.2:84 comment \"{cid}\""),
        format!(
            "add rule {t} masquerading ip saddr 10.0.0.2 ip daddr 10.0.0.2 masquerade comment \"{cid}\""
        ),
        format!(
            "add rule {t} masquerading ip saddr 127.0.0.1 ip daddr 10.0.0.2 masquerade comment \"{cid}\""
        ),
        format!(
            "add rule {t} attachments ip daddr 10.0.0.2 comment \"{} 10.0.0.2 {cid}\"",
            instance_hash(&ATT)
        ),
    ] {
        assert!(s.contains(&want), "missing {want:?} in\n{s:#?}");
    }
    assert!(!s.iter().any(|l| l.contains("8085")), "{s:#?}");

    let opts = Options {
        masq_all: true,
        ..Options::default()
    };
    let s = plan(&mut FakeState::default(), "2001:db8::2", &mappings, &opts).join("\n");
    assert!(s.contains("add rule ip6 cni_hostport hostports ip6 daddr 2001:db8:a::1 tcp dport 8085 dnat to [2001:db8::2]:85"), "{s}");
    assert!(
        s.contains("ip6 saddr ::/0 ip6 daddr 2001:db8::2 masquerade"),
        "{s}"
    );
    assert!(!s.contains("127.0.0.1"));
}

#[test]
fn bad_conditions_are_refused() {
    let opts = Options {
        snat: false,
        conditions_v6: vec!["meta mark 1 ; flush ruleset".into()],
        ..Options::default()
    };
    let ips = ["2001:db8::2/64".parse().unwrap()];
    let err = setup(&ATT, &ips, &[mapping(1, 1, Protocol::Tcp, None)], &opts).unwrap_err();
    assert_eq!(err.code(), 7);
}

fn rule(chain: &str, handle: u64, comment: &str, matches: Vec<Match>, action: Action) -> Rule {
    let mut r = Rule::new(chain, matches, action).with_comment(comment);
    r.handle = Handle::Nft(handle);
    r
}

fn dst(ip: &str) -> Match {
    Match::Dst {
        negate: false,
        net: host(ip.parse().unwrap()),
    }
}

#[test]
fn finds_one_attachments_rules() {
    let dnat = |ip: &str| Action::Dnat(format!("{ip}:80").parse().unwrap());
    let other = Attachment {
        network: "net2",
        ..ATT
    };
    let cid = ATT.container_id;
    let ip: IpAddr = "10.0.0.2".parse().unwrap();
    let mut state = FakeState::default();
    state.nft.push((
        table(true),
        vec![
            rule(HOSTPORTS, 10, cid, Vec::new(), dnat("10.0.0.2")),
            rule(HOSTPORTS, 11, cid, Vec::new(), dnat("10.1.0.2")),
            rule(HOSTPORTS, 12, "someone-else", Vec::new(), dnat("10.0.0.2")),
            rule(
                MASQUERADING,
                13,
                cid,
                vec![dst("10.0.0.2")],
                Action::Masquerade,
            ),
            rule(
                MASQUERADING,
                14,
                cid,
                vec![
                    Match::Src {
                        negate: false,
                        net: host("127.0.0.1".parse().unwrap()),
                    },
                    dst("10.0.0.2"),
                ],
                Action::Masquerade,
            ),
            rule(
                MARKERS,
                20,
                &marker_comment(&ATT, ip),
                vec![dst("10.0.0.2")],
                Action::None,
            ),
            rule(
                MARKERS,
                21,
                &marker_comment(&other, "10.1.0.2".parse().unwrap()),
                vec![dst("10.1.0.2")],
                Action::None,
            ),
            rule(
                "prerouting",
                30,
                "",
                Vec::new(),
                Action::Jump(HOSTPORTS_ALL.into()),
            ),
            rule(
                "output",
                31,
                "",
                Vec::new(),
                Action::Jump(HOSTPORTS_ALL.into()),
            ),
        ],
    ));
    let listing = list(&mut state, table(true)).unwrap();
    assert_eq!(listing.markers.len(), 2);
    assert_eq!(listing.markers[0].instance, instance_hash(&ATT));
    assert_eq!(listing.markers[1].container_id, ATT.container_id);
    let handles = |v: Vec<Rule>| {
        v.into_iter()
            .map(|r| match r.handle {
                Handle::Nft(h) => h,
                _ => 0,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(handles(container_rules(&listing, cid, &[ip])), [10, 13, 14]);
    assert_eq!(
        handles(container_rules(&listing, cid, &[])),
        [10, 11, 13, 14]
    );
    let m = [mapping(8080, 80, Protocol::Tcp, None)];
    let hooked = [true, true];
    check_listing(&listing, &hooked, &ATT, ip, &m, &Options::default()).unwrap();
    let two = [
        mapping(8080, 80, Protocol::Tcp, None),
        mapping(8081, 80, Protocol::Tcp, None),
    ];
    let err = check_listing(&listing, &hooked, &ATT, ip, &two, &Options::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing hostport rules in \"hostports\" chain"
    );
    // a re-ADD replaces only this attachment's rules and marker
    let s = plan(&mut state, "10.0.0.2", &m, &Options::default()).join("\n");
    for h in [10, 13, 14, 20] {
        assert!(s.contains(&format!(" handle {h}\n")), "{h}: {s}");
    }
    for h in [11, 12, 21] {
        assert!(!s.contains(&format!(" handle {h}\n")), "{h}: {s}");
    }
}
