//! The tool backend: iptables tables through the iptables binaries, one
//! `-S` listing to read a table and one `iptables-restore --noflush` batch
//! to change it. It serves iptables-legacy, whose rules netlink cannot
//! reach, and rules carrying the operator's own conditions in iptables'
//! syntax (portmap's `conditionsV4`/`V6`), which only iptables can parse.
//! Arguments never pass through a shell; only the restore script needs
//! quoting.

pub(super) mod args;

use super::exec::{self, ExecError};
use super::model::{Dialect, Handle, Rule, Table};
use super::plan::{Op, State};
use crate::error::{Error, Result};

/// Listings of iptables tables, made on first use.
pub struct Tools {
    listings: Vec<(Table, Listing)>,
    /// A missing tool or table reads as an empty table (teardown, GC).
    absent_is_empty: bool,
    what: String,
}

/// One table as `iptables -S` printed it.
#[derive(Debug, Default, Clone)]
pub struct Listing {
    pub chains: Vec<String>,
    pub rules: Vec<Rule>,
}

impl Listing {
    pub fn parse(text: &str) -> Listing {
        let mut listing = Listing::default();
        for line in text.lines() {
            let words = split_words(line);
            match words.as_slice() {
                [flag, chain] if flag == "-N" => listing.chains.push(chain.clone()),
                [flag, chain, rest @ ..] if flag == "-A" => {
                    listing.rules.push(args::parse(chain, rest))
                }
                _ => {}
            }
        }
        listing
    }
}

impl Tools {
    pub fn new(absent_is_empty: bool, what: &str) -> Tools {
        Tools {
            listings: Vec::new(),
            absent_is_empty,
            what: what.to_string(),
        }
    }

    pub fn refresh(&mut self) {
        self.listings.clear();
    }

    fn listing(&mut self, table: Table) -> Result<&Listing> {
        if !self.listings.iter().any(|(t, _)| *t == table) {
            let listing = match list(table) {
                Ok(l) => l,
                Err(e) if self.absent_is_empty && (e.is_missing() || e.is_absent()) => {
                    Listing::default()
                }
                Err(e) => {
                    return Err(e.into_error(&format!(
                        "{}: listing {}",
                        self.what,
                        table.describe()
                    )));
                }
            };
            self.listings.push((table, listing));
        }
        self.listings
            .iter()
            .find(|(t, _)| *t == table)
            .map(|(_, l)| l)
            .ok_or_else(|| Error::internal("listing vanished"))
    }

    /// Applies the ops of each table in one restore; the error names the
    /// line the tool blamed.
    pub fn apply(&mut self, ops: &[&Op]) -> std::result::Result<(), ExecError> {
        let mut tables: Vec<Table> = Vec::new();
        for op in ops {
            if !tables.contains(&op.table()) {
                tables.push(op.table());
            }
        }
        let result = tables.iter().try_for_each(|t| {
            let lines: Vec<String> = ops
                .iter()
                .filter(|o| o.table() == *t)
                .filter_map(|o| restore_line(o))
                .collect();
            restore(*t, &lines)
        });
        self.refresh();
        result
    }
}

impl State for Tools {
    fn table_exists(&mut self, table: Table) -> Result<bool> {
        // Every iptables table exists as far as iptables is concerned.
        self.listing(table).map(|_| true)
    }

    fn chain_exists(&mut self, table: Table, chain: &str) -> Result<bool> {
        let l = self.listing(table)?;
        Ok(is_builtin(chain) || l.chains.iter().any(|c| c == chain))
    }

    fn rules(&mut self, table: Table, chain: &str) -> Result<Vec<Rule>> {
        Ok(self
            .listing(table)?
            .rules
            .iter()
            .filter(|r| r.chain == chain)
            .cloned()
            .collect())
    }

    fn chains(&mut self, table: Table) -> Result<Vec<String>> {
        Ok(self.listing(table)?.chains.clone())
    }

    fn all_rules(&mut self, table: Table) -> Result<Vec<Rule>> {
        Ok(self.listing(table)?.rules.clone())
    }
}

/// iptables' own chains, which exist as soon as their table does.
pub fn is_builtin(chain: &str) -> bool {
    matches!(
        chain,
        "PREROUTING" | "INPUT" | "FORWARD" | "OUTPUT" | "POSTROUTING"
    )
}

/// `iptables -t <table> -S`.
pub fn list(table: Table) -> std::result::Result<Listing, ExecError> {
    let text = exec::run(table.tool(), &["-w", "-t", table.name, "-S"], None)?;
    Ok(Listing::parse(&text))
}

/// The restore line of one op; None for what iptables has no words for
/// (declaring a table: iptables' tables always exist).
pub(crate) fn restore_line(op: &Op) -> Option<String> {
    Some(match op {
        Op::AddTable { .. } => return None,
        Op::AddChain { chain, .. } => format!(":{} - [0:0]", chain.name),
        Op::NewChain { chain, .. } => format!("-N {chain}"),
        Op::FlushChain { chain, .. } => format!("-F {chain}"),
        Op::DelChain { chain, .. } => format!("-X {chain}"),
        Op::Append { rule, .. } => format!("-A {} {}", rule.chain, join_args(&args::render(rule))),
        Op::Insert { rule, .. } => {
            format!("-I {} 1 {}", rule.chain, join_args(&args::render(rule)))
        }
        Op::Delete { rule, .. } => {
            let words = match &rule.handle {
                Handle::Args(w) => w.clone(),
                _ => args::render(rule),
            };
            format!("-D {} {}", rule.chain, join_args(&words))
        }
    })
}

/// Applies `lines` to `table` in one `iptables-restore --noflush`.
fn restore(table: Table, lines: &[String]) -> std::result::Result<(), ExecError> {
    if lines.is_empty() || table.dialect != Dialect::Iptables {
        return Ok(());
    }
    let mut script = format!("*{}\n", table.name);
    for line in lines {
        script.push_str(line);
        script.push('\n');
    }
    script.push_str("COMMIT\n");
    let tool = format!("{}-restore", table.tool());
    exec::run(&tool, &["-w", "--noflush"], Some(&script)).map(|_| ())
}

/// The line of the restore script that the tool blamed, for the error.
pub fn blamed_line(stderr: &str, ops: &[&Op], table: Table) -> Option<String> {
    let after = stderr.split("line ").nth(1)?;
    let n: usize = after
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    // Line 1 is "*<table>".
    ops.iter()
        .filter(|o| o.table() == table)
        .filter_map(|o| restore_line(o))
        .nth(n.checked_sub(2)?)
}

/// Splits a line of `iptables -S` output: words are separated by spaces,
/// double quotes group, and a backslash escapes the next character.
pub fn split_words(line: &str) -> Vec<String> {
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
pub fn quote(arg: &str) -> String {
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

/// `rule` as the words of an `-A` line after the chain.
pub fn words(rule: &Rule) -> String {
    join_args(&args::render(rule))
}

fn join_args(args: &[String]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

/// Whether the family's iptables is iptables-nft (its rules are nf_tables
/// objects that netlink can read and change), judged by where the binary
/// links to: `xtables-nft-multi` or `iptables-nft`. A missing tool counts
/// too, since then only nf_tables can hold anything.
pub fn uses_nftables(table: Table) -> bool {
    match exec::find_tool(table.tool()) {
        None => true,
        Some(path) => std::fs::canonicalize(&path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().contains("nft")))
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firewall::model::{Action, Family, Match};

    #[test]
    fn words_split_and_quote_like_iptables() {
        assert_eq!(
            split_words(r#"-A X -m comment --comment "name: \"a b\" id: \"c\"" -j Y"#),
            [
                "-A",
                "X",
                "-m",
                "comment",
                "--comment",
                r#"name: "a b" id: "c""#,
                "-j",
                "Y"
            ]
        );
        assert_eq!(quote("CNI-x"), "CNI-x");
        assert_eq!(quote(r#"name: "n""#), r#""name: \"n\"""#);
        assert_eq!(quote(""), r#""""#);
    }

    #[test]
    fn restore_lines() {
        let t = Table::iptables(Family::Ip, "nat");
        let rule = Rule::new(
            "POSTROUTING",
            vec![Match::Src {
                negate: false,
                net: "10.0.0.5/32".parse().unwrap(),
            }],
            Action::Jump("CNI-x".into()),
        )
        .with_comment("a b");
        let ops = [
            Op::NewChain {
                table: t,
                chain: "CNI-x".into(),
            },
            Op::Insert {
                table: t,
                rule: rule.clone(),
            },
            Op::Delete {
                table: t,
                rule: Rule {
                    handle: Handle::Args(split_words("-s 10.0.0.5/32 -j CNI-x")),
                    ..rule
                },
            },
        ];
        let lines: Vec<String> = ops.iter().filter_map(restore_line).collect();
        assert_eq!(
            lines,
            [
                "-N CNI-x",
                r#"-I POSTROUTING 1 -s 10.0.0.5/32 -m comment --comment "a b" -j CNI-x"#,
                "-D POSTROUTING -s 10.0.0.5/32 -j CNI-x",
            ]
        );
        let stderr = "iptables-restore: line 3 failed";
        let refs: Vec<&Op> = ops.iter().collect();
        assert_eq!(
            blamed_line(stderr, &refs, t).as_deref(),
            Some(lines[1].as_str())
        );
    }
}
