//! `resolvConf`: a resolv.conf file turned into the result's `dns`.

use std::path::Path;

use pkg::types::Dns;
use pkg::{Error, Result, error::code};

pub fn parse_resolv_conf(path: &Path) -> Result<Dns> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::new(
            code::IO,
            format!("failed to read resolvConf {}", path.display()),
            e.to_string(),
        )
    })?;
    Ok(parse(&text))
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
    }
}
