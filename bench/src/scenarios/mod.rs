//! The scenarios of issue 7 and `tuning-sysctls` (issue 21), each in its
//! own module, run in the order of `options::SCENARIOS`. Every scenario
//! returns sections (skipped ones with their reason) and never aborts the
//! run: a failing scenario records its error and the next one starts.

pub mod churn;
pub mod host_local;
pub mod scale;
pub mod sequential;
pub mod size;
pub mod tuning_sysctls;

use crate::impls::Impl;
use crate::options::Options;
use crate::results::Section;

/// Run one scenario by name; `on_section` sees each section as it ends.
pub fn run(
    name: &str,
    ours: &Impl,
    theirs: &Impl,
    names: &[String],
    o: &Options,
    on_section: &mut dyn FnMut(Section),
) {
    match name {
        "churn" => on_section(churn::run(ours, theirs, o)),
        "scale" => on_section(scale::run(ours, theirs, o)),
        "host-local" => on_section(host_local::run(ours, theirs, o)),
        "size" => on_section(size::run(ours, theirs, names)),
        "tuning-sysctls" => on_section(tuning_sysctls::run(ours, theirs, o)),
        other => {
            for v in sequential::variants(other) {
                on_section(sequential::run(&v, ours, theirs, o));
            }
        }
    }
}
