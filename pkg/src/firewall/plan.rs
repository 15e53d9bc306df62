//! A layout's change as a list of [`Op`]s over [`super::model`] values,
//! planned from the current state ([`State`], read on demand) and applied
//! by a backend in one transaction, with the loop around it: list, plan,
//! apply; on a lost race, again from a fresh listing.

use super::model::{Chain, Rule, Table};
use crate::error::Result;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Declare a table (nothing if it exists), with its comment.
    AddTable {
        table: Table,
        comment: Option<&'static str>,
    },
    /// Declare a chain: nothing if it exists in nf_tables; iptables'
    /// `:chain` flushes an existing one.
    AddChain {
        table: Table,
        chain: Chain,
    },
    /// Create a chain that must not exist (`-N`): a parallel creator makes
    /// the transaction fail instead of being flushed.
    NewChain {
        table: Table,
        chain: String,
    },
    FlushChain {
        table: Table,
        chain: String,
    },
    /// Delete an empty chain nothing jumps to.
    DelChain {
        table: Table,
        chain: String,
    },
    Append {
        table: Table,
        rule: Rule,
    },
    /// First in its chain.
    Insert {
        table: Table,
        rule: Rule,
    },
    /// Delete a listed rule (it carries its handle).
    Delete {
        table: Table,
        rule: Rule,
    },
}

impl Op {
    pub fn table(&self) -> Table {
        match self {
            Op::AddTable { table, .. }
            | Op::AddChain { table, .. }
            | Op::NewChain { table, .. }
            | Op::FlushChain { table, .. }
            | Op::DelChain { table, .. }
            | Op::Append { table, .. }
            | Op::Insert { table, .. }
            | Op::Delete { table, .. } => *table,
        }
    }

    /// The rule it adds, if any.
    pub fn new_rule(&self) -> Option<&Rule> {
        match self {
            Op::Append { rule, .. } | Op::Insert { rule, .. } => Some(rule),
            _ => None,
        }
    }

    /// How an error names it: `add rule ip nat POSTROUTING`.
    pub fn describe(&self) -> String {
        let t = self.table();
        let at = format!("{} {}", t.family.name(), t.name);
        match self {
            Op::AddTable { .. } => format!("add table {at}"),
            Op::AddChain { chain, .. } => format!("add chain {at} {}", chain.name),
            Op::NewChain { chain, .. } => format!("add chain {at} {chain}"),
            Op::FlushChain { chain, .. } => format!("flush chain {at} {chain}"),
            Op::DelChain { chain, .. } => format!("delete chain {at} {chain}"),
            Op::Append { rule, .. } => format!("add rule {at} {}", rule.chain),
            Op::Insert { rule, .. } => format!("insert rule {at} {}", rule.chain),
            Op::Delete { rule, .. } => format!("delete rule {at} {}", rule.chain),
        }
    }
}

/// The current state, as a planner reads it: listed on demand, so that a
/// plan costs what it asks for (the netlink backend dumps one chain at a
/// time; the iptables tools list a whole table at once).
pub trait State {
    fn table_exists(&mut self, table: Table) -> Result<bool>;
    fn chain_exists(&mut self, table: Table, chain: &str) -> Result<bool>;
    /// The rules of a chain in order; none when it or its table is absent.
    fn rules(&mut self, table: Table, chain: &str) -> Result<Vec<Rule>>;
    /// Every chain of the table; none when it is absent.
    fn chains(&mut self, table: Table) -> Result<Vec<String>>;
    /// Every rule of the table, chain by chain.
    fn all_rules(&mut self, table: Table) -> Result<Vec<Rule>>;
    /// The rules of `chain` whose comment passes `pick`, in order. The
    /// netlink backend reads an nft table's comments before the rest of a
    /// rule and decodes only the rules picked: a chain with a rule per
    /// container costs the kernel's dump, not a decoding of every rule.
    fn rules_commented(
        &mut self,
        table: Table,
        chain: &str,
        pick: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Rule>> {
        Ok(commented(self.rules(table, chain)?, pick))
    }
    /// The rule of `chain` with the nf_tables handle `handle`, looked up
    /// alone rather than by listing the chain: `None` when this state
    /// cannot do that (the tools, iptables-legacy), `Some(None)` when there
    /// is no such rule.
    fn rule_at(
        &mut self,
        _table: Table,
        _chain: &str,
        _handle: u64,
    ) -> Result<Option<Option<Rule>>> {
        Ok(None)
    }
}

/// The rules `ops` delete from `chain`.
pub fn deleted<'a>(ops: &'a [Op], chain: &'a str) -> impl Iterator<Item = &'a Rule> + 'a {
    ops.iter().filter_map(move |o| match o {
        Op::Delete { rule, .. } if rule.chain == chain => Some(rule),
        _ => None,
    })
}

/// The rules of `rules` whose comment passes `pick`.
pub fn commented(rules: Vec<Rule>, pick: &dyn Fn(&str) -> bool) -> Vec<Rule> {
    rules
        .into_iter()
        .filter(|r| r.comment.as_deref().is_some_and(pick))
        .collect()
}
