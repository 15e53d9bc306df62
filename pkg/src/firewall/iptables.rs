//! A table (`nat`, or `filter` for the firewall plugin) through the
//! iptables binaries: one `-S` listing to read it, one `iptables-restore
//! --noflush` batch to change it. Arguments never pass through a shell; only
//! the restore script needs quoting.

use ipnet::IpNet;

use super::exec::{self, ExecError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Family {
    V4,
    V6,
}

impl Family {
    pub(super) const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub(super) fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }

    pub(super) fn tool(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    fn restore_tool(self) -> &'static str {
        match self {
            Family::V4 => "iptables-restore",
            Family::V6 => "ip6tables-restore",
        }
    }

    pub(super) fn multicast(self) -> IpNet {
        match self {
            Family::V4 => IpNet::V4(ipnet::Ipv4Net::new_assert([224, 0, 0, 0].into(), 4)),
            Family::V6 => IpNet::V6(ipnet::Ipv6Net::new_assert(
                [0xff00, 0, 0, 0, 0, 0, 0, 0].into(),
                8,
            )),
        }
    }
}

/// One `-A` line of `iptables -S`, parsed as far as our rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub chain: String,
    /// `(negated, network)` of `-s`.
    pub src: Option<(bool, IpNet)>,
    /// `(negated, network)` of `-d`.
    pub dst: Option<(bool, IpNet)>,
    pub comment: Option<String>,
    pub target: Option<String>,
    /// Anything else the rule matches on; such a rule is never one of ours.
    pub extra: Vec<String>,
    /// The arguments after `-A <chain>`, ready to be replayed with `-D`.
    pub args: Vec<String>,
}

impl Rule {
    /// The restore line that appends this rule.
    pub(super) fn append_line(&self) -> String {
        format!("-A {} {}", self.chain, join_args(&self.args))
    }

    /// The restore line that puts this rule first in its chain.
    pub(super) fn insert_line(&self) -> String {
        format!("-I {} 1 {}", self.chain, join_args(&self.args))
    }

    /// The restore line that deletes this exact rule.
    pub(super) fn delete_line(&self) -> String {
        format!("-D {} {}", self.chain, join_args(&self.args))
    }

    /// A rule from its arguments after `-A <chain>`, parsed exactly as a
    /// line of `iptables -S`, so that it compares with listed rules.
    pub(super) fn parse(chain: &str, args: &[String]) -> Rule {
        parse_rule(chain, args)
    }

    /// A rule with only the fields our layout uses.
    pub(super) fn new(
        chain: &str,
        src: Option<(bool, IpNet)>,
        dst: Option<(bool, IpNet)>,
        comment: &str,
        target: &str,
    ) -> Rule {
        let mut args = Vec::new();
        for (flag, m) in [("-s", src), ("-d", dst)] {
            if let Some((neg, net)) = m {
                if neg {
                    args.push("!".to_string());
                }
                args.push(flag.to_string());
                args.push(net.trunc().to_string());
            }
        }
        args.extend(["-m", "comment", "--comment", comment, "-j", target].map(String::from));
        Rule {
            chain: chain.into(),
            src: src.map(|(n, net)| (n, net.trunc())),
            dst: dst.map(|(n, net)| (n, net.trunc())),
            comment: Some(comment.into()),
            target: Some(target.into()),
            extra: Vec::new(),
            args,
        }
    }

    /// Same match and target, however iptables chose to print it.
    pub(super) fn same_as(&self, other: &Rule) -> bool {
        self.chain == other.chain
            && self.src == other.src
            && self.dst == other.dst
            && self.comment == other.comment
            && self.target == other.target
            && self.extra == other.extra
    }
}

/// The parsed output of `iptables -t <table> -S` (any table, despite the
/// name).
#[derive(Debug, Default)]
pub(super) struct NatTable {
    pub chains: Vec<String>,
    pub rules: Vec<Rule>,
}

impl NatTable {
    pub(super) fn parse(text: &str) -> NatTable {
        let mut table = NatTable::default();
        for line in text.lines() {
            let words = split_words(line);
            match words.as_slice() {
                [flag, chain] if flag == "-N" => table.chains.push(chain.clone()),
                [flag, chain, args @ ..] if flag == "-A" => {
                    table.rules.push(parse_rule(chain, args))
                }
                _ => {}
            }
        }
        table
    }

    pub(super) fn has_chain(&self, chain: &str) -> bool {
        self.chains.iter().any(|c| c == chain)
    }

    pub(super) fn rules_in<'a>(&'a self, chain: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.chain == chain)
    }

    pub(super) fn contains(&self, rule: &Rule) -> bool {
        self.rules.iter().any(|r| r.same_as(rule))
    }
}

fn parse_rule(chain: &str, args: &[String]) -> Rule {
    let mut rule = Rule {
        chain: chain.into(),
        src: None,
        dst: None,
        comment: None,
        target: None,
        extra: Vec::new(),
        args: args.to_vec(),
    };
    let mut negate = false;
    let mut it = args.iter().peekable();
    while let Some(word) = it.next() {
        match word.as_str() {
            "!" => {
                negate = true;
                continue;
            }
            "-s" | "-d" => {
                let net = it.next().and_then(|v| parse_net(v));
                match (word.as_str(), net) {
                    ("-s", Some(n)) => rule.src = Some((negate, n)),
                    ("-d", Some(n)) => rule.dst = Some((negate, n)),
                    _ => rule.extra.push(word.clone()),
                }
            }
            "-m" if it.peek().is_some_and(|m| *m == "comment") => {
                it.next();
            }
            "--comment" => rule.comment = it.next().cloned(),
            "-j" => rule.target = it.next().cloned(),
            other => {
                // Keep a negation of anything but -s/-d, so that `! -o br`
                // and `-o br` stay different rules.
                if negate {
                    rule.extra.push("!".to_string());
                }
                rule.extra.push(other.to_string())
            }
        }
        negate = false;
    }
    rule
}

fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

/// Splits a line of `iptables -S` output: words are separated by spaces,
/// double quotes group, and a backslash escapes the next character.
pub(super) fn split_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_ascii_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Quotes one argument for an iptables-restore script, the way
/// iptables-save does.
pub(super) fn quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '-' | '.' | '/' | ':' | '!' | ',' | '[' | ']')
        });
    if plain {
        return arg.to_string();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        if matches!(c, '"' | '\\' | '\'') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

fn join_args(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// `iptables -t nat -S` for `family`.
pub(super) fn list_nat(family: Family) -> Result<NatTable, ExecError> {
    list_table(family, "nat")
}

/// `iptables -t <table> -S` for `family`.
pub(super) fn list_table(family: Family, table: &str) -> Result<NatTable, ExecError> {
    let text = exec::run(family.tool(), &["-w", "-t", table, "-S"], None)?;
    Ok(NatTable::parse(&text))
}

/// Applies `lines` to the nat table in one `iptables-restore --noflush`.
pub(super) fn restore_nat(family: Family, lines: &[String]) -> Result<(), ExecError> {
    restore_table(family, "nat", lines)
}

/// Applies `lines` to `table` in one `iptables-restore --noflush`.
pub(super) fn restore_table(
    family: Family,
    table: &str,
    lines: &[String],
) -> Result<(), ExecError> {
    let script = table_script(table, lines);
    exec::run(family.restore_tool(), &["-w", "--noflush"], Some(&script)).map(|_| ())
}

fn table_script(table: &str, lines: &[String]) -> String {
    let mut script = format!("*{table}\n");
    for line in lines {
        script.push_str(line);
        script.push('\n');
    }
    script.push_str("COMMIT\n");
    script
}

/// Holds an exclusive flock on the calling thread's network namespace
/// (its nsfs file) until dropped: the plugins of this suite that plan
/// from a listing and then restore take turns per namespace. A `-N` that
/// fails is not enough to catch a parallel plugin's change: iptables-nft,
/// when another restore commits first, replays the batch on a fresh cache
/// and skips a `-N` of a chain that now exists, so a shared rule planned
/// from the stale listing (the jump to `CNI-HOSTPORT-DNAT`, to
/// `CNI-FORWARD`) went in twice. The lock creates no file, is per
/// namespace (scratch namespaces of parallel tests do not wait for each
/// other) and goes with the process if it is killed. None where the file
/// cannot be opened or locked: the retry below is then the only guard.
fn lock_netns() -> Option<std::fs::File> {
    let file = std::fs::File::open("/proc/thread-self/ns/net").ok()?;
    file.lock().ok()?;
    Some(file)
}

/// Lists `table`, plans, and applies the plan in one restore, holding the
/// namespace's lock (see `lock_netns`) from the listing to the restore. A
/// failed restore is planned again from a fresh listing (a plugin that does
/// not take the lock, Go's, may have changed the table in between; a chain
/// created meanwhile makes our `-N` fail rather than flush it, at least
/// with iptables-legacy), up to three tries. With `cleanup`, a missing tool
/// or table means there is nothing to remove.
pub(super) fn converge_table(
    family: Family,
    table: &str,
    what: &str,
    cleanup: bool,
    plan: impl Fn(&NatTable) -> Vec<String>,
) -> crate::error::Result<()> {
    let _turn = lock_netns();
    converge_unlocked(family, table, what, cleanup, plan)
}

/// [`converge_table`] without the lock, for a plan that touches only
/// rules and chains of one attachment (the masquerade chain and its
/// jump), which no parallel plugin plans for: waiting for the lock would
/// only slow parallel ADDs and DELs down.
pub(super) fn converge_unlocked(
    family: Family,
    table: &str,
    what: &str,
    cleanup: bool,
    plan: impl Fn(&NatTable) -> Vec<String>,
) -> crate::error::Result<()> {
    const TRIES: usize = 3;
    let mut tries = 0;
    loop {
        tries += 1;
        let listing = match list_table(family, table) {
            Ok(t) => t,
            Err(e) if cleanup && (e.is_missing() || e.is_absent()) => return Ok(()),
            Err(e) => return Err(e.into_error(what)),
        };
        let lines = plan(&listing);
        if lines.is_empty() {
            return Ok(());
        }
        match restore_table(family, table, &lines) {
            Ok(()) => return Ok(()),
            Err(ExecError::Failed { .. }) if tries < TRIES => {}
            Err(e) => {
                let what = match blamed_line(e.stderr(), &lines) {
                    Some(line) => format!("{what} (at `{line}`)"),
                    None => what.to_string(),
                };
                return Err(e.into_error(&what));
            }
        }
    }
}

/// The line of `script` that iptables-restore blamed, for the error message.
pub(super) fn blamed_line<'a>(stderr: &str, lines: &'a [String]) -> Option<&'a str> {
    let after = stderr.split("line ").nth(1)?;
    let n: usize = after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    // Line 1 is "*<table>".
    lines.get(n.checked_sub(2)?).map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netns_lock_excludes_a_second_holder_until_dropped() {
        // A scratch namespace: the lock of the machine's own is not ours to
        // take, and a plugin running there would race with the test.
        if !crate::firewall::testutil::fresh_netns(&[]) {
            return;
        }
        let Some(held) = lock_netns() else {
            return crate::skip::because("cannot flock /proc/thread-self/ns/net here");
        };
        // Another thread, another open file: Some(got the lock), None if
        // the nsfs file could not be opened there.
        let other = || {
            std::thread::spawn(|| {
                std::fs::File::open("/proc/thread-self/ns/net")
                    .ok()
                    .map(|f| f.try_lock().is_ok())
            })
            .join()
            .ok()
            .flatten()
        };
        assert_eq!(
            other(),
            Some(false),
            "a second open file must wait while the lock is held"
        );
        drop(held);
        // The lock goes with the last descriptor of the open file, and a
        // child that another test forks while `held` is open keeps a copy
        // until its exec closes it (O_CLOEXEC): allow that moment to pass.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut free = other();
        while free == Some(false) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            free = other();
        }
        assert_eq!(free, Some(true), "free again once dropped");
    }

    const LISTING: &str = r#"-P PREROUTING ACCEPT
-P POSTROUTING ACCEPT
-N CNI-abc
-A POSTROUTING -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\"" -j CNI-abc
-A POSTROUTING -m comment --comment "CNI portfwd requiring masquerade" -m mark --mark 0x2000/0x2000 -j MASQUERADE
-A CNI-abc -d 10.88.0.0/16 -m comment --comment "name: \"mynet\" id: \"c1\"" -j ACCEPT
-A CNI-abc ! -d 224.0.0.0/4 -m comment --comment "name: \"mynet\" id: \"c1\"" -j MASQUERADE
"#;

    #[test]
    fn parses_listing() {
        let t = NatTable::parse(LISTING);
        assert_eq!(t.chains, ["CNI-abc"]);
        assert_eq!(t.rules.len(), 4);
        let comment = r#"name: "mynet" id: "c1""#;
        let want = [
            Rule::new(
                "POSTROUTING",
                Some((false, "10.88.0.5/32".parse().unwrap())),
                None,
                comment,
                "CNI-abc",
            ),
            Rule::new(
                "CNI-abc",
                None,
                Some((false, "10.88.0.77/16".parse().unwrap())),
                comment,
                "ACCEPT",
            ),
            Rule::new(
                "CNI-abc",
                None,
                Some((true, "224.0.0.0/4".parse().unwrap())),
                comment,
                "MASQUERADE",
            ),
        ];
        for w in &want {
            assert!(t.contains(w), "{w:?}");
        }
        assert_eq!(t.rules[1].extra, ["-m", "mark", "--mark", "0x2000/0x2000"]);
        assert_eq!(
            t.rules[0].delete_line(),
            r#"-D POSTROUTING -s 10.88.0.5/32 -m comment --comment "name: \"mynet\" id: \"c1\"" -j CNI-abc"#
        );
        assert_eq!(t.rules_in("CNI-abc").count(), 2);
    }

    #[test]
    fn quoting_round_trips() {
        let cases = [
            ("CNI-abc", "CNI-abc"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("fd00::1/128", "fd00::1/128"),
            ("", r#""""#),
            (r#"name: "n" id: "c""#, r#""name: \"n\" id: \"c\"""#),
            (r"a\b'c", r#""a\\b\'c""#),
        ];
        for (arg, want) in cases {
            assert_eq!(quote(arg), want);
            assert_eq!(
                split_words(&format!("-A X {}", quote(arg)))[2..],
                [arg.to_string()]
            );
        }
    }

    #[test]
    fn restore_script_and_blame() {
        let lines = vec![":CNI-x - [0:0]".to_string(), "-X CNI-y".to_string()];
        assert_eq!(
            table_script("nat", &lines),
            "*nat\n:CNI-x - [0:0]\n-X CNI-y\nCOMMIT\n"
        );
        let stderr = "iptables-restore: line 3 failed: No chain/target/match by that name.";
        assert_eq!(blamed_line(stderr, &lines), Some("-X CNI-y"));
        assert_eq!(blamed_line("line 1 failed", &lines), None);
        assert_eq!(blamed_line("odd", &lines), None);
    }
}
