//! loopback's keys (Documentation/loopback.md): none of its own.

use super::*;

/// Every row of the table.
pub fn rows() -> Vec<Row> {
    // loopback has no key of its own: the common ones, with prevResult.
    common_rows(true)
}
