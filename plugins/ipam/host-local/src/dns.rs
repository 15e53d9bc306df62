//! `resolvConf`: a resolv.conf file turned into the result's `dns`.

use std::path::Path;

use pkg::files::{self, Symlinks};
use pkg::types::Dns;
use pkg::{Error, Result, error::code};

/// A resolv.conf is a few lines; the bound keeps `/dev/zero` or a huge file
/// named by a config from costing unbounded memory.
const MAX_RESOLV_CONF: u64 = 1 << 20;

pub fn parse_resolv_conf(path: &Path) -> Result<Dns> {
    let fail = |details: String| {
        Error::new(
            code::IO,
            format!("failed to read resolvConf {}", path.display()),
            details,
        )
    };
    let bytes = files::read_bounded(path, MAX_RESOLV_CONF, Symlinks::Follow)
        .map_err(|e| fail(e.to_string()))?
        .ok_or_else(|| fail("No such file or directory (os error 2)".into()))?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// Parse resolv.conf text (Go host-local's rules).
pub fn parse(text: &str) -> Dns {
    let mut dns = Dns::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 2 {
            continue;
        }
        let rest = fields[1..].iter().map(|s| s.to_string());
        match fields[0] {
            "nameserver" => dns.nameservers.push(fields[1].to_string()),
            "domain" => dns.domain = fields[1].to_string(),
            "search" => dns.search.extend(rest),
            "options" => dns.options.extend(rest),
            _ => {}
        }
    }
    dns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_go() {
        let dns = parse(
            "# comment\n; other\nnameserver 10.0.0.1\nnameserver fd00::1\n\ndomain example.com\nsearch a.com b.com\noptions ndots:2 edns0\nnameserver\nsortlist x\n",
        );
        assert_eq!(dns.nameservers, vec!["10.0.0.1", "fd00::1"]);
        assert_eq!(dns.domain, "example.com");
        assert_eq!(dns.search, vec!["a.com", "b.com"]);
        assert_eq!(dns.options, vec!["ndots:2", "edns0"]);
    }

    #[test]
    fn unreadable_file_is_an_io_error() {
        let e = parse_resolv_conf(Path::new("/nonexistent/resolv.conf")).unwrap_err();
        assert_eq!(e.code(), 5);
        assert!(e.msg().contains("/nonexistent/resolv.conf"));
        // endless or not a file: refused without reading it all
        for bad in ["/dev/zero", "/dev/urandom", "/proc"] {
            let e = parse_resolv_conf(Path::new(bad)).unwrap_err();
            assert_eq!(e.code(), 5, "{bad}");
            assert!(e.msg().contains(bad), "{bad}: {e}");
        }
    }
}
