//! Golden plans for the iptables layout, against Go's rules.

use std::collections::HashSet;

use pkg::firewall::iptables_words;
use pkg::firewall::testing::{FakeState, plan_lines};

use pkg::firewall::plan::State;

use super::*;
use crate::mappings::Protocol;

fn appends(rules: &[Rule]) -> Vec<String> {
    rules
        .iter()
        .map(|r| format!("-A {} {}", r.chain, iptables_words(r)))
        .collect()
}

fn inserts(rules: &[Rule]) -> Vec<String> {
    rules
        .iter()
        .map(|r| format!("-I {} 1 {}", r.chain, iptables_words(r)))
        .collect()
}

fn mapping(host: u16, ctr: u16, proto: Protocol, ip: Option<&str>) -> PortMapping {
    PortMapping {
        host_port: host,
        container_port: ctr,
        protocol: proto,
        host_ip: ip.map(|s| s.parse().unwrap()),
    }
}

const ATT: Attachment<'static> = Attachment {
    network: "test",
    container_id: "icee6giejonei6so",
    ifname: "eth0",
};

#[test]
fn names_and_comments_match_go() {
    assert_eq!(dn_chain("test", "1234"), "CNI-DN-2bbe0c48b91a7d1b8a675");
    assert_eq!(entry_comment("n", "c"), r#"dnat name: "n" id: "c""#);
    let long = entry_comment(&"x".repeat(300), "c");
    assert_eq!(long.len(), 256);
    assert!(long.ends_with("..."));
    assert_eq!(
        parse_entry_comment(r#"dnat name: "n" id: "c""#),
        Some(("n", "c"))
    );
    assert_eq!(parse_entry_comment(r#"name: "n" id: "c""#), None);
    assert_eq!(mark_bit(13), 0x2000);
    assert_eq!(mark_bit(0), 0x1);
    assert_eq!(mark_bit(31), 0x8000_0000);
}

/// The rules Go's fillDnatRules makes for its unit-test input, as
/// `iptables -S` prints them.
#[test]
fn container_rules_like_go() {
    let mappings = [
        mapping(8080, 80, Protocol::Tcp, None),
        mapping(8081, 80, Protocol::Tcp, None),
        mapping(8080, 81, Protocol::Udp, None),
        mapping(8082, 82, Protocol::Udp, None),
        mapping(8083, 83, Protocol::Tcp, Some("192.168.0.2")),
        mapping(8084, 84, Protocol::Tcp, Some("0.0.0.0")),
        mapping(8085, 85, Protocol::Tcp, Some("2001:db8:a::1")),
        mapping(8086, 86, Protocol::Tcp, Some("::")),
    ];
    let opts = Options {
        conditions_v4: vec!["-a".into(), "b".into()],
        ..Options::default()
    };
    let w = wanted(&ATT, "10.0.0.2/24".parse().unwrap(), &mappings, &opts);
    let c = &w.chain;
    let lines = appends(&w.rules);
    let want = [
        "-s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
        "-p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80",
        "-s 10.0.0.0/24 -p tcp -m tcp --dport 8081 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -p tcp -m tcp --dport 8081 -j CNI-HOSTPORT-SETMARK",
        "-p tcp -m tcp --dport 8081 -j DNAT --to-destination 10.0.0.2:80",
        "-s 10.0.0.0/24 -p udp -m udp --dport 8080 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -p udp -m udp --dport 8080 -j CNI-HOSTPORT-SETMARK",
        "-p udp -m udp --dport 8080 -j DNAT --to-destination 10.0.0.2:81",
        "-s 10.0.0.0/24 -p udp -m udp --dport 8082 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -p udp -m udp --dport 8082 -j CNI-HOSTPORT-SETMARK",
        "-p udp -m udp --dport 8082 -j DNAT --to-destination 10.0.0.2:82",
        "-s 10.0.0.0/24 -d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j CNI-HOSTPORT-SETMARK",
        "-d 192.168.0.2/32 -p tcp -m tcp --dport 8083 -j DNAT --to-destination 10.0.0.2:83",
        "-s 10.0.0.0/24 -p tcp -m tcp --dport 8084 -j CNI-HOSTPORT-SETMARK",
        "-s 127.0.0.1/32 -p tcp -m tcp --dport 8084 -j CNI-HOSTPORT-SETMARK",
        "-p tcp -m tcp --dport 8084 -j DNAT --to-destination 10.0.0.2:84",
    ]
    .map(|r| format!("-A {c} {r}"));
    assert_eq!(lines, want);
    let entries = inserts(&w.entries);
    assert_eq!(
        entries,
        [
            format!(
                r#"-I CNI-HOSTPORT-DNAT 1 -p tcp -m comment --comment "dnat name: \"test\" id: \"icee6giejonei6so\"" -m multiport --dports 8080,8081,8083,8084 -a b -j {c}"#
            ),
            format!(
                r#"-I CNI-HOSTPORT-DNAT 1 -p udp -m comment --comment "dnat name: \"test\" id: \"icee6giejonei6so\"" -m multiport --dports 8080,8082 -a b -j {c}"#
            ),
        ]
    );

    // IPv6, masqAll, no snat for localhost; an external mark chain.
    let opts = Options {
        masq_all: true,
        external_set_mark_chain: Some("KUBE-MARK-MASQ".into()),
        ..Options::default()
    };
    let w = wanted(
        &ATT,
        "2001:db8::2/64".parse().unwrap(),
        &mappings[..1],
        &opts,
    );
    let lines = appends(&w.rules);
    assert_eq!(
        lines,
        [
            format!("-A {c} -p tcp -m tcp --dport 8080 -j KUBE-MARK-MASQ"),
            format!("-A {c} -p tcp -m tcp --dport 8080 -j DNAT --to-destination [2001:db8::2]:80"),
        ]
    );
    // snat off: DNAT only
    let opts = Options {
        snat: false,
        ..Options::default()
    };
    let w = wanted(&ATT, "10.0.0.2/24".parse().unwrap(), &mappings[..1], &opts);
    assert_eq!(w.rules.len(), 1);
}

#[test]
fn entries_split_at_fifteen_ports() {
    let mappings: Vec<PortMapping> = (1..=31)
        .map(|p| mapping(p, p, Protocol::Tcp, None))
        .collect();
    let w = wanted(
        &ATT,
        "10.0.0.2/24".parse().unwrap(),
        &mappings,
        &Options::default(),
    );
    assert_eq!(w.entries.len(), 3);
    assert!(w.entries[2].matches.contains(&Match::Dports(vec![31])));
}

#[test]
fn plans_setup_teardown_and_gc() {
    let ip: IpNet = "10.0.0.2/24".parse().unwrap();
    let mappings = [mapping(8080, 80, Protocol::Tcp, None)];
    let opts = Options::default();
    let w = wanted(&ATT, ip, &mappings, &opts);
    let t = table(Family::Ip);
    let state = |listing: &str| FakeState::iptables(t, listing);
    let lines = plan_lines(&plan_setup(&mut state(""), t, &w, &opts).unwrap());
    assert_eq!(
        lines[..3],
        [
            "-N CNI-HOSTPORT-SETMARK",
            "-N CNI-HOSTPORT-MASQ",
            "-N CNI-HOSTPORT-DNAT"
        ]
    );
    assert!(lines.contains(&format!("-N {}", w.chain)));
    // Once set up (as iptables would print it), a second setup only
    // refreshes the container's own chain and entry.
    let listing = format!(
        "-N CNI-HOSTPORT-SETMARK\n-N CNI-HOSTPORT-MASQ\n-N CNI-HOSTPORT-DNAT\n-N {c}\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
         -A OUTPUT -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
         -A POSTROUTING -m comment --comment \"CNI portfwd requiring masquerade\" -j CNI-HOSTPORT-MASQ\n\
         -A CNI-HOSTPORT-SETMARK -m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000\n\
         -A CNI-HOSTPORT-MASQ -m mark --mark 0x2000/0x2000 -j MASQUERADE\n\
         -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"test\\\" id: \\\"icee6giejonei6so\\\"\" -m multiport --dports 8080 -j {c}\n\
         -A {c} -s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
         -A {c} -s 127.0.0.1/32 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK\n\
         -A {c} -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80\n",
        c = w.chain
    );
    check_state(&mut state(&listing), t, &w, &opts).unwrap();
    let lines = plan_lines(&plan_setup(&mut state(&listing), t, &w, &opts).unwrap());
    assert_eq!(lines[0], format!("-F {}", w.chain));
    assert!(lines[1].starts_with("-D CNI-HOSTPORT-DNAT "), "{lines:?}");
    assert_eq!(lines.len(), 2 + 3 + 1);
    // CHECK notices a missing port and a missing shared rule
    let other = wanted(&ATT, ip, &[mapping(9090, 80, Protocol::Tcp, None)], &opts);
    assert!(check_state(&mut state(&listing), t, &other, &opts).is_err());
    let no_masq = listing.replace("-A CNI-HOSTPORT-MASQ -m mark", "-A X -m mark");
    let err = check_state(&mut state(&no_masq), t, &w, &opts).unwrap_err();
    assert!(err.to_string().contains("MASQUERADE"), "{err}");

    let all = state(&listing).all_rules(t).unwrap();
    let td =
        plan_lines(&teardown_ops(&mut state(&listing), t, &all, &[&w.chain, "CNI-SN-x"]).unwrap());
    assert_eq!(td.len(), 3, "{td:?}");
    assert!(td[0].starts_with("-D CNI-HOSTPORT-DNAT"));
    let gc = |network: &str, keep: &[&str]| {
        let keep: HashSet<&str> = keep.iter().copied().collect();
        plan_lines(&plan_gc(&mut state(&listing), t, network, &keep).unwrap())
    };
    assert!(gc("test", &["icee6giejonei6so"]).is_empty());
    assert!(gc("other", &[]).is_empty());
    assert_eq!(gc("test", &[]), td);
}
