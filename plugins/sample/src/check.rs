//! CHECK: the label this plugin set is still there.

use pkg::netlink::{LinkId, Netlink};
use pkg::skel::CmdArgs;
use pkg::{Error, Result};

use crate::config::SampleConf;

pub fn check(args: &CmdArgs) -> Result<()> {
    let conf = SampleConf::load(args)?;
    if args.conf.prev_result.is_none() {
        return Err(Error::invalid_config("required prevResult missing", ""));
    }
    let mut nl = Netlink::in_netns(args.netns()?)?;
    let link = nl.link_get(LinkId::Name(&args.ifname))?;
    if link.alias != conf.alias {
        return Err(Error::internal(format!(
            "interface {} has alias {:?}, expected {:?}",
            args.ifname, link.alias, conf.alias
        )));
    }
    Ok(())
}
