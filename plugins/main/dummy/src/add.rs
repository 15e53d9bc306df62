//! dummy ADD. The config and the container side are checked before
//! anything is created; the dummy is created inside the container under
//! its final name, then IPAM runs and the result is configured on it. The
//! attachment's rollback removes the dummy and the IPAM reservation if a
//! later step fails.

use std::time::Duration;

use rtnetlink::LinkDummy;

use pkg::attach::Attachment;
use pkg::skel::CmdArgs;
use pkg::types::CniResult;
use pkg::{Context, Result, ipam};

use crate::config;

/// The longest ADD waits for IPv6 DAD (Go's `ConfigureIface` waits too).
/// A dummy is NOARP, so the kernel skips DAD and there is no wait.
const DAD_LIMIT: Duration = Duration::from_secs(5);

pub fn add(args: &CmdArgs) -> Result<CniResult> {
    config::load(args)?;
    ipam::plugin_path(args)?;
    let mut at = Attachment::open(args)?;
    at.refuse_existing()?;
    let msg = LinkDummy::new(&args.ifname).build();
    let link = at
        .add_link(msg, true, &format!("{} (dummy)", args.ifname))
        .with_context(|| format!("failed to create dummy {}", args.ifname))?;
    at.undo.start_ipam(args)?;
    let ipam_result = at.finish_ipam()?;
    // Go keeps IPAM's dns: the config's own `dns` is not used.
    let result = at.configure_sole(&link, ipam_result, Some(DAD_LIMIT))?;
    at.commit();
    Ok(result)
}
