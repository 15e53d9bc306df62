//! A [`Rule`] in iptables' words, and back from a line of `iptables -S`.
//! Words we do not know stay in order as [`Match::Raw`], so that a listed
//! rule reads back as the rule it is, and deleting it replays its own
//! words.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

use crate::firewall::model::{Action, Handle, Match, Protocol, Rule, ct};

/// The arguments after `-A <chain>` that add `rule`: iptables' fields
/// first, then the comment, the other extensions in order, the target.
pub fn render(rule: &Rule) -> Vec<String> {
    let mut args: Vec<String> = Vec::new();
    let push =
        |args: &mut Vec<String>, words: &[&str]| args.extend(words.iter().map(|w| w.to_string()));
    for m in &rule.matches {
        match m {
            Match::Src { negate, net } | Match::Dst { negate, net } if net.prefix_len() > 0 => {
                if *negate {
                    push(&mut args, &["!"]);
                }
                let flag = if matches!(m, Match::Src { .. }) {
                    "-s"
                } else {
                    "-d"
                };
                push(&mut args, &[flag, &net.trunc().to_string()]);
            }
            _ => {}
        }
    }
    for m in &rule.matches {
        match m {
            Match::InIface { negate, name } | Match::OutIface { negate, name } => {
                if *negate {
                    push(&mut args, &["!"]);
                }
                let flag = if matches!(m, Match::InIface { .. }) {
                    "-i"
                } else {
                    "-o"
                };
                push(&mut args, &[flag, name]);
            }
            _ => {}
        }
    }
    for m in &rule.matches {
        if let Match::Proto(p) = m {
            push(&mut args, &["-p", p.as_str()]);
        }
    }
    if let Some(c) = &rule.comment {
        push(&mut args, &["-m", "comment", "--comment", c]);
    }
    for m in &rule.matches {
        match m {
            Match::Dport(p, port) => {
                push(&mut args, &["-m", p.as_str(), "--dport", &port.to_string()])
            }
            Match::Dports(ports) => {
                let list: Vec<String> = ports.iter().map(u16::to_string).collect();
                push(&mut args, &["-m", "multiport", "--dports", &list.join(",")]);
            }
            Match::DstLocal => push(&mut args, &["-m", "addrtype", "--dst-type", "LOCAL"]),
            Match::CtState(states) => push(
                &mut args,
                &["-m", "conntrack", "--ctstate", &ctstate_words(*states)],
            ),
            Match::Mark { value, mask } => {
                push(&mut args, &["-m", "mark", "--mark", &mark(*value, *mask)])
            }
            Match::Raw(words) => args.extend(words.iter().cloned()),
            _ => {}
        }
    }
    match &rule.action {
        Action::None => {}
        Action::Accept => args.extend(["-j".into(), "ACCEPT".into()]),
        Action::Drop => args.extend(["-j".into(), "DROP".into()]),
        Action::Return => args.extend(["-j".into(), "RETURN".into()]),
        Action::Jump(c) => args.extend(["-j".into(), c.clone()]),
        Action::Goto(c) => args.extend(["-g".into(), c.clone()]),
        Action::Masquerade => args.extend(["-j".into(), "MASQUERADE".into()]),
        Action::Dnat(to) => {
            args.extend(["-j", "DNAT", "--to-destination", &ip_port(*to)].map(String::from))
        }
        Action::SetMark { value, mask } => {
            args.extend(["-j", "MARK", "--set-xmark", &mark(*value, *mask)].map(String::from))
        }
        Action::Unknown(words) => args.extend(["-j".into(), words.clone()]),
    }
    args
}

fn ctstate_words(states: u16) -> String {
    let mut words = Vec::new();
    if states & ct::RELATED != 0 {
        words.push("RELATED");
    }
    if states & ct::ESTABLISHED != 0 {
        words.push("ESTABLISHED");
    }
    words.join(",")
}

fn mark(value: u32, mask: u32) -> String {
    if mask == u32::MAX {
        format!("{value:#x}")
    } else {
        format!("{value:#x}/{mask:#x}")
    }
}

fn parse_mark(s: &str) -> Option<(u32, u32)> {
    let num = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    match s.split_once('/') {
        Some((v, m)) => Some((num(v)?, num(m)?)),
        None => Some((num(s)?, u32::MAX)),
    }
}

/// `ip:port`, with brackets for IPv6.
pub fn ip_port(to: SocketAddr) -> String {
    match to.ip() {
        IpAddr::V4(v4) => format!("{v4}:{}", to.port()),
        IpAddr::V6(v6) => format!("[{v6}]:{}", to.port()),
    }
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// The rule of `chain` that these words (after `-A <chain>` in `iptables
/// -S`) describe, keeping the words for `-D`.
pub fn parse(chain: &str, words: &[String]) -> Rule {
    let mut rule = Rule::new(chain, Vec::new(), Action::None);
    rule.handle = Handle::Args(words.to_vec());
    let mut proto = None;
    let mut negate = false;
    let mut i = 0;
    let word = |i: usize| words.get(i).map(String::as_str);
    while let Some(w) = word(i) {
        let next = word(i + 1);
        let mut used = 2;
        let known = match (w, next) {
            ("!", _) => {
                negate = true;
                i += 1;
                continue;
            }
            ("-s" | "-d", Some(v)) => parse_net(v).map(|net| {
                if w == "-s" {
                    Match::Src { negate, net }
                } else {
                    Match::Dst { negate, net }
                }
            }),
            ("-i" | "-o", Some(v)) if !v.is_empty() => {
                let name = v.to_string();
                Some(if w == "-i" {
                    Match::InIface { negate, name }
                } else {
                    Match::OutIface { negate, name }
                })
            }
            ("-p", Some(v)) if !negate => Protocol::parse(v)
                .inspect(|p| proto = Some(*p))
                .map(Match::Proto),
            ("-m", Some("comment"))
                if word(i + 2) == Some("--comment") && rule.comment.is_none() =>
            {
                rule.comment = word(i + 3).map(String::from);
                i += 4;
                negate = false;
                continue;
            }
            ("-m", Some(m @ ("tcp" | "udp" | "sctp")))
                if word(i + 2) == Some("--dport") && proto.map(Protocol::as_str) == Some(m) =>
            {
                used = 4;
                word(i + 3)
                    .and_then(|p| p.parse().ok())
                    .zip(proto)
                    .map(|(port, p)| Match::Dport(p, port))
            }
            ("-m", Some("multiport"))
                if matches!(word(i + 2), Some("--dports" | "--destination-ports")) =>
            {
                used = 4;
                word(i + 3)
                    .and_then(|list| list.split(',').map(|p| p.parse().ok()).collect())
                    .map(Match::Dports)
            }
            ("-m", Some("addrtype"))
                if word(i + 2) == Some("--dst-type") && word(i + 3) == Some("LOCAL") =>
            {
                used = 4;
                Some(Match::DstLocal)
            }
            ("-m", Some("conntrack")) if word(i + 2) == Some("--ctstate") => {
                used = 4;
                word(i + 3).and_then(parse_ctstate).map(Match::CtState)
            }
            ("-m", Some("mark")) if word(i + 2) == Some("--mark") => {
                used = 4;
                word(i + 3)
                    .and_then(parse_mark)
                    .map(|(value, mask)| Match::Mark { value, mask })
            }
            ("-j" | "-g", Some(target)) => {
                let rest = &words[i + 2..];
                rule.action = parse_target(w == "-g", target, rest);
                break;
            }
            _ => None,
        };
        match known.filter(|_| !negate || matches!(w, "-s" | "-d" | "-i" | "-o")) {
            Some(m) => {
                rule.matches.push(m);
                i += used;
            }
            None => {
                // Unknown words go in as they came, negation included.
                let mut raw = Vec::new();
                if negate {
                    raw.push("!".to_string());
                }
                raw.push(w.to_string());
                rule.matches.push(Match::Raw(raw));
                i += 1;
            }
        }
        negate = false;
    }
    merge_raw(&mut rule.matches);
    rule
}

/// Adjacent raw words as one `Raw`, as a layout writes them.
fn merge_raw(matches: &mut Vec<Match>) {
    let mut out: Vec<Match> = Vec::with_capacity(matches.len());
    for m in matches.drain(..) {
        match (out.last_mut(), m) {
            (Some(Match::Raw(prev)), Match::Raw(more)) => prev.extend(more),
            (_, m) => out.push(m),
        }
    }
    *matches = out;
}

fn parse_ctstate(s: &str) -> Option<u16> {
    s.split(',').try_fold(0u16, |acc, w| {
        Some(
            acc | match w {
                "RELATED" => ct::RELATED,
                "ESTABLISHED" => ct::ESTABLISHED,
                _ => return None,
            },
        )
    })
}

fn parse_target(goto: bool, target: &str, rest: &[String]) -> Action {
    let words = || {
        let mut all = vec![target.to_string()];
        all.extend(rest.iter().cloned());
        all.join(" ")
    };
    match (goto, target, rest) {
        (true, chain, []) => Action::Goto(chain.to_string()),
        (false, "ACCEPT", []) => Action::Accept,
        (false, "DROP", []) => Action::Drop,
        (false, "RETURN", []) => Action::Return,
        (false, "MASQUERADE", []) => Action::Masquerade,
        (false, "DNAT", [flag, to]) if flag == "--to-destination" => parse_socket(to)
            .map(Action::Dnat)
            .unwrap_or_else(|| Action::Unknown(words())),
        (false, "MARK", [flag, m]) if flag == "--set-xmark" => parse_mark(m)
            .map(|(value, mask)| Action::SetMark { value, mask })
            .unwrap_or_else(|| Action::Unknown(words())),
        (false, chain, []) => Action::Jump(chain.to_string()),
        _ => Action::Unknown(words()),
    }
}

fn parse_socket(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::ipt::split_words;

    fn words(line: &str) -> Vec<String> {
        split_words(line)
    }

    /// What `iptables -S` prints for every rule the layouts write reads
    /// back into the rule, and renders to words iptables takes as it.
    #[test]
    fn listed_rules_round_trip() {
        for (line, matches, action, comment) in [
            (
                r#"-s 10.88.0.5/32 -m comment --comment "name: \"n\" id: \"c\"" -j CNI-x"#,
                vec![Match::Src {
                    negate: false,
                    net: "10.88.0.5/32".parse().unwrap(),
                }],
                Action::Jump("CNI-x".into()),
                Some(r#"name: "n" id: "c""#),
            ),
            (
                "! -d 224.0.0.0/4 -m comment --comment x -j MASQUERADE",
                vec![Match::Dst {
                    negate: true,
                    net: "224.0.0.0/4".parse().unwrap(),
                }],
                Action::Masquerade,
                Some("x"),
            ),
            (
                "-s 10.0.0.0/24 -p tcp -m tcp --dport 8080 -j CNI-HOSTPORT-SETMARK",
                vec![
                    Match::Src {
                        negate: false,
                        net: "10.0.0.0/24".parse().unwrap(),
                    },
                    Match::Proto(Protocol::Tcp),
                    Match::Dport(Protocol::Tcp, 8080),
                ],
                Action::Jump("CNI-HOSTPORT-SETMARK".into()),
                None,
            ),
            (
                "-p udp -m udp --dport 53 -j DNAT --to-destination [2001:db8::2]:80",
                vec![Match::Proto(Protocol::Udp), Match::Dport(Protocol::Udp, 53)],
                Action::Dnat("[2001:db8::2]:80".parse().unwrap()),
                None,
            ),
            (
                r#"-p tcp -m comment --comment "dnat name: \"n\" id: \"c\"" -m multiport --dports 8080,8081 -j CNI-DN-x"#,
                vec![Match::Proto(Protocol::Tcp), Match::Dports(vec![8080, 8081])],
                Action::Jump("CNI-DN-x".into()),
                Some(r#"dnat name: "n" id: "c""#),
            ),
            (
                "-m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT",
                vec![Match::DstLocal],
                Action::Jump("CNI-HOSTPORT-DNAT".into()),
                None,
            ),
            (
                "-m mark --mark 0x2000/0x2000 -j MASQUERADE",
                vec![Match::Mark {
                    value: 0x2000,
                    mask: 0x2000,
                }],
                Action::Masquerade,
                None,
            ),
            (
                "-m comment --comment \"CNI portfwd masquerade mark\" -j MARK --set-xmark 0x2000/0x2000",
                vec![],
                Action::SetMark {
                    value: 0x2000,
                    mask: 0x2000,
                },
                Some("CNI portfwd masquerade mark"),
            ),
            (
                "-d 10.88.0.5/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                vec![
                    Match::Dst {
                        negate: false,
                        net: "10.88.0.5/32".parse().unwrap(),
                    },
                    Match::CtState(ct::RELATED | ct::ESTABLISHED),
                ],
                Action::Accept,
                None,
            ),
            (
                "-i br0 ! -o br0 -m comment --comment p -j DROP",
                vec![
                    Match::InIface {
                        negate: false,
                        name: "br0".into(),
                    },
                    Match::OutIface {
                        negate: true,
                        name: "br0".into(),
                    },
                ],
                Action::Drop,
                Some("p"),
            ),
        ] {
            let rule = parse("C", &words(line));
            assert_eq!(rule.matches, matches, "{line}");
            assert_eq!(rule.action, action, "{line}");
            assert_eq!(rule.comment.as_deref(), comment, "{line}");
            let again = parse("C", &render(&rule));
            assert!(again.same_as(&rule), "{line}: {:?}", render(&rule));
        }
    }

    #[test]
    fn unknown_words_stay_raw() {
        let rule = parse(
            "C",
            &words("-p tcp -m set --match-set x src ! -f -j LOG --log-prefix y"),
        );
        assert_eq!(
            rule.matches,
            [
                Match::Proto(Protocol::Tcp),
                Match::Raw(words("-m set --match-set x src ! -f"))
            ]
        );
        assert_eq!(rule.action, Action::Unknown("LOG --log-prefix y".into()));
        assert_eq!(
            rule.handle,
            Handle::Args(words(
                "-p tcp -m set --match-set x src ! -f -j LOG --log-prefix y"
            ))
        );
    }
}
