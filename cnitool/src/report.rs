//! What cnitool prints: results as indented JSON, errors with their CNI
//! code and details, and the network listing.

use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use libcni::conf::{self, ConfFileEntry};
use pkg::error::code;
use pkg::{Error, Result};

/// A result, indented by four spaces as upstream prints it, and a newline.
pub fn print_json(v: &Value) -> Result<()> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    v.serialize(&mut ser)
        .map_err(|e| Error::internal(format!("encoding result: {e}")))?;
    out.push(b'\n');
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Error::io("write result to stdout", e))
}

fn code_name(c: u32) -> &'static str {
    match c {
        code::UNKNOWN => "unknown",
        code::INCOMPATIBLE_VERSION => "incompatible CNI version",
        code::UNSUPPORTED_FIELD => "unsupported field in network configuration",
        code::UNKNOWN_CONTAINER => "container unknown or does not exist",
        code::INVALID_ENV => "invalid environment variables",
        code::IO => "I/O failure",
        code::DECODE => "failed to decode content",
        code::INVALID_CONFIG => "invalid network configuration",
        code::INVALID_NETNS => "invalid network namespace",
        code::TRY_AGAIN_LATER => "try again later",
        code::NOT_AVAILABLE => "plugin not available",
        code::NOT_AVAILABLE_DEGRADED => "plugin not available, existing containers may be degraded",
        code::INTERNAL => "internal error",
        _ => "plugin-specific error",
    }
}

/// `first` starts the message line; `indent` the details and code lines.
fn describe(e: &Error, first: &str, indent: &str) -> String {
    let mut s = format!("{first}{}\n", e.msg());
    let details = e.details();
    if !details.is_empty() {
        s.push_str(&format!("{indent}details: {details}\n"));
    }
    s.push_str(&format!(
        "{indent}code: {} ({})\n",
        e.code(),
        code_name(e.code())
    ));
    s
}

/// An error on stderr: the message, the details and the CNI code; every
/// failure of a best-effort step (DEL, GC) on its own.
pub fn error(e: &Error) {
    let text = match e {
        Error::List(errs) => {
            let mut s = format!("cnitool: {} failures:\n", errs.len());
            for err in errs {
                s.push_str(&describe(err, "  - ", "    "));
            }
            s
        }
        other => format!("cnitool: {}", describe(other, "", "  ")),
    };
    let _ = std::io::stderr().write_all(text.as_bytes());
}

fn plugins_of(net: &libcni::NetworkConfigList) -> Vec<String> {
    net.plugins
        .iter()
        .map(|p| {
            let ipam = p
                .conf
                .get("ipam")
                .and_then(|i| i.get("type"))
                .and_then(Value::as_str);
            match ipam {
                Some(t) => format!("{}+{t}", p.plugin_type),
                None => p.plugin_type.clone(),
            }
        })
        .collect()
}

/// The plugin types (and IPAM types) of the networks a lookup finds, each
/// once.
pub fn plugin_types(dir: &Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for e in conf::list_conf_files(dir)? {
        let (true, Ok(net)) = (e.active, &e.network) else {
            continue;
        };
        for p in plugins_of(net) {
            for t in p.split('+') {
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// Why an entry is not what `cnitool <cmd> <name>` uses.
fn note(entries: &[ConfFileEntry], i: usize) -> String {
    let e = &entries[i];
    let name = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match &e.network {
        Err(err) => format!("invalid: {err}"),
        Ok(_) if e.active => String::new(),
        Ok(net) => {
            let before = entries[..i].iter().find(|o| match &o.network {
                Err(_) => true,
                Ok(n) => n.name == net.name,
            });
            match before {
                Some(o) if o.network.is_err() => {
                    format!("unreachable: the lookup stops at invalid {}", name(&o.path))
                }
                Some(o) => format!("shadowed by {}", name(&o.path)),
                None => String::new(),
            }
        }
    }
}

/// `cnitool list`.
pub fn list(dir: &Path, quiet: bool, as_json: bool) -> Result<()> {
    let entries = conf::list_conf_files(dir)?;
    let mut out = String::new();
    if quiet {
        for (i, e) in entries.iter().enumerate() {
            match (e.active, &e.network) {
                (true, Ok(net)) => {
                    out.push_str(&net.name);
                    out.push('\n');
                }
                // A file nothing can load is worth a word even here.
                (_, Err(_)) => eprintln!(
                    "cnitool: warning: {}: {}",
                    e.path.display(),
                    note(&entries, i)
                ),
                _ => {}
            }
        }
    } else if as_json {
        let items: Vec<Value> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| match &e.network {
                Ok(net) => json!({
                    "file": e.path, "name": net.name, "cniVersion": net.cni_version,
                    "plugins": net.plugins.iter().map(|p| p.plugin_type.clone()).collect::<Vec<_>>(),
                    "active": e.active, "note": note(&entries, i),
                }),
                Err(err) => json!({
                    "file": e.path, "active": false, "error": err.to_string(),
                }),
            })
            .collect();
        out = serde_json::to_string_pretty(&items)
            .map_err(|e| Error::internal(format!("encoding list: {e}")))?;
        out.push('\n');
    } else if entries.is_empty() {
        out = format!("no network configurations in {}\n", dir.display());
    } else {
        let rows: Vec<[String; 5]> = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let file = e.path.display().to_string();
                match &e.network {
                    Ok(net) => [
                        net.name.clone(),
                        if net.cni_version.is_empty() {
                            "-".into()
                        } else {
                            net.cni_version.clone()
                        },
                        plugins_of(net).join(","),
                        file,
                        note(&entries, i),
                    ],
                    Err(_) => ["-".into(), "-".into(), "-".into(), file, note(&entries, i)],
                }
            })
            .collect();
        let header = ["NETWORK", "VERSION", "PLUGINS", "FILE", "NOTE"].map(String::from);
        let mut widths = [0usize; 4];
        for r in std::iter::once(&header).chain(&rows) {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.len());
            }
        }
        for r in std::iter::once(&header).chain(&rows) {
            let line = format!(
                "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    std::io::stdout()
        .write_all(out.as_bytes())
        .map_err(|e| Error::io("write to stdout", e))
}
