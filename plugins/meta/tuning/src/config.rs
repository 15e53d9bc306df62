//! tuning's configuration, validated completely before anything changes:
//! every sysctl key resolved to its file (and checked against the
//! allowlist), the MAC parsed, the numbers in range.
//!
//! Precedence, as in Go: `sysctl`/`mac`/`promisc`/`mtu`/`txQLen`/
//! `allmulti` at the top level, overridden by `args.cni`; the MAC by
//! `CNI_ARGS MAC=`, then `runtimeConfig.mac`, then `args.cni.mac`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use pkg::skel::CmdArgs;
use pkg::types::{CniArgs, decode};
use pkg::{Error, Result};

pub const DEFAULT_DATA_DIR: &str = "/run/cni/tuning";
pub const ALLOWLIST: &str = "/etc/cni/tuning/allowlist.conf";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Raw {
    data_dir: String,
    sysctl: Option<Map<String, Value>>,
    mac: String,
    promisc: bool,
    mtu: i64,
    tx_q_len: Option<i64>,
    allmulti: Option<bool>,
    runtime_config: RuntimeRaw,
    args: ArgsRaw,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RuntimeRaw {
    mac: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgsRaw {
    cni: CniRaw,
}

/// `args.cni`: every key overrides its top-level counterpart when present.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CniRaw {
    sysctl: Option<Map<String, Value>>,
    mac: Option<String>,
    promisc: Option<bool>,
    mtu: Option<i64>,
    allmulti: Option<bool>,
    tx_q_len: Option<i64>,
}

/// Only what DEL needs; nothing else may stop a restore.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RawDataDir {
    data_dir: String,
}

/// One sysctl to write in the container namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// As configured (for messages).
    pub key: String,
    pub path: PathBuf,
    pub value: String,
}

#[derive(Debug, Default)]
pub struct TuningConf {
    pub data_dir: PathBuf,
    pub sysctls: Vec<Sysctl>,
    pub mac: Option<Vec<u8>>,
    /// Only "on" is applied; false leaves the interface alone (Go).
    pub promisc: bool,
    pub mtu: Option<u32>,
    pub txqlen: Option<u32>,
    pub allmulti: Option<bool>,
}

impl TuningConf {
    /// Whether a link attribute (as opposed to a sysctl) is configured.
    pub fn changes_link(&self) -> bool {
        self.mac.is_some()
            || self.promisc
            || self.mtu.is_some()
            || self.txqlen.is_some()
            || self.allmulti.is_some()
    }

    /// For ADD and CHECK. The allowlist is host policy for what ADD may
    /// write; CHECK, like Go's, does not apply it to what is already there.
    pub fn load(args: &CmdArgs, apply_allowlist: bool) -> Result<TuningConf> {
        let allowlist = if apply_allowlist {
            Allowlist::read(Path::new(ALLOWLIST))?
        } else {
            None
        };
        TuningConf::parse(
            &args.stdin,
            &args.config,
            &args.args,
            &args.ifname,
            allowlist.as_ref(),
        )
    }

    fn parse(
        stdin: &[u8],
        config: &Value,
        cni_args: &str,
        ifname: &str,
        allowlist: Option<&Allowlist>,
    ) -> Result<TuningConf> {
        check_duplicate_keys(stdin)?;
        let raw: Raw = decode::decode(config, "network config")?;
        let cni = &raw.args.cni;

        let mut mac = raw.mac.clone();
        let env_mac = CniArgs::parse(cni_args, &["MAC"])?
            .get("MAC")
            .unwrap_or_default()
            .to_string();
        if !env_mac.is_empty() {
            mac = env_mac;
        }
        if !raw.runtime_config.mac.is_empty() {
            mac = raw.runtime_config.mac.clone();
        }
        if let Some(m) = &cni.mac {
            mac = m.clone();
        }
        let mac =
            match mac.as_str() {
                "" => None,
                m => Some(parse_hw_addr(m).ok_or_else(|| {
                    Error::invalid_config(format!("invalid MAC address {m:?}"), "")
                })?),
            };

        // Both are u32 in the kernel (IFLA_MTU, IFLA_TXQLEN); the link's
        // own MTU bounds are checked once the link is read (add.rs).
        let mtu = match cni.mtu.unwrap_or(raw.mtu) {
            0 => None,
            m => Some(u32::try_from(m).map_err(|_| {
                Error::invalid_config(
                    format!("invalid mtu {m}"),
                    format!("mtu must be between 1 and {} (0 leaves it)", u32::MAX),
                )
            })?),
        };
        let txqlen = match cni.tx_q_len.or(raw.tx_q_len) {
            None => None,
            Some(q) => Some(u32::try_from(q).map_err(|_| {
                Error::invalid_config(
                    format!("invalid txQLen {q}"),
                    format!("txQLen must be between 0 and {}", u32::MAX),
                )
            })?),
        };

        let mut sysctls = resolve_all(raw.sysctl.as_ref(), ifname, "sysctl")?;
        // args.cni.sysctl overrides the same file, however it is spelt.
        let mut at: HashMap<PathBuf, usize> = sysctls
            .iter()
            .enumerate()
            .map(|(i, s)| (s.path.clone(), i))
            .collect();
        for s in resolve_all(cni.sysctl.as_ref(), ifname, "args.cni.sysctl")? {
            match at.get(&s.path) {
                Some(&i) => sysctls[i] = s,
                None => {
                    at.insert(s.path.clone(), sysctls.len());
                    sysctls.push(s);
                }
            }
        }
        if let Some(list) = allowlist {
            for s in &sysctls {
                list.check(&s.key)?;
            }
        }

        let data_dir = checked_data_dir(&raw.data_dir)?;
        Ok(TuningConf {
            data_dir,
            sysctls,
            mac,
            promisc: cni.promisc.unwrap_or(raw.promisc),
            mtu,
            txqlen,
            allmulti: cni.allmulti.or(raw.allmulti),
        })
    }
}

/// For DEL: where backups are.
pub fn data_dir(args: &CmdArgs) -> Result<PathBuf> {
    let raw: RawDataDir = decode::decode(&args.config, "network config")?;
    checked_data_dir(&raw.data_dir)
}

fn checked_data_dir(dir: &str) -> Result<PathBuf> {
    if dir.is_empty() {
        return Ok(PathBuf::from(DEFAULT_DATA_DIR));
    }
    pkg::validate::data_dir("dataDir", dir)?;
    Ok(PathBuf::from(dir))
}

/// `<dataDir>/<containerID>_<ifname>.json`, Go's name. Both parts passed
/// skel's validation, so neither holds a `/`.
pub fn backup_path(data_dir: &Path, container_id: &str, ifname: &str) -> PathBuf {
    data_dir.join(format!("{container_id}_{ifname}.json"))
}

/// The sysctls of one object, in its order. Duplicates are found through
/// a map of the paths seen: a config may hold thousands of keys.
fn resolve_all(map: Option<&Map<String, Value>>, ifname: &str, what: &str) -> Result<Vec<Sysctl>> {
    let map = match map {
        Some(m) => m,
        None => return Ok(Vec::new()),
    };
    let mut out: Vec<Sysctl> = Vec::with_capacity(map.len());
    let mut seen: HashMap<PathBuf, usize> = HashMap::with_capacity(map.len());
    let max_len = max_value_len();
    for (key, value) in map {
        let Value::String(value) = value else {
            return Err(Error::invalid_config(
                format!("{what} {key}: the value must be a string, got {value}"),
                "",
            ));
        };
        check_value(what, key, value, max_len)?;
        let path = resolve(key, ifname)?;
        if let Some(&i) = seen.get(&path) {
            return Err(Error::invalid_config(
                "duplicated sysctl keys are not allowed",
                format!(
                    "{what} keys {:?} and {key:?} both name {}",
                    out[i].key,
                    path.display()
                ),
            ));
        }
        seen.insert(path.clone(), out.len());
        out.push(Sysctl {
            key: key.clone(),
            path,
            value: value.clone(),
        });
    }
    Ok(out)
}

/// The most a sysctl write is read of: the kernel copies one page minus
/// the terminating NUL and parses numbers from that; a string sysctl keeps
/// less (its own buffer), and every net string sysctl then looks the text
/// up (a qdisc, a congestion control), which fails loudly.
pub fn max_value_len() -> usize {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(page)) if page > 1 => usize::try_from(page - 1).unwrap_or(4095),
        _ => 4095,
    }
}

/// What the kernel would not take as given, whatever the sysctl: a value
/// it would cut short. The rest (the number of fields a numeric sysctl
/// holds, numbers in another notation) depends on the sysctl and is
/// checked against the file before anything is written (`sysctls.rs`).
fn check_value(what: &str, key: &str, value: &str, max_len: usize) -> Result<()> {
    let why = if value.is_empty() {
        Some("an empty write leaves the sysctl as it is".to_string())
    } else if value.len() > max_len {
        Some(format!(
            "it is {} bytes long and the kernel reads at most {max_len}",
            value.len()
        ))
    } else {
        value
            .chars()
            .find(|&c| c.is_control() && c != '\t')
            .map(|c| {
                let what = match c {
                    '\n' => "a newline ends what the kernel reads: the rest would be dropped",
                    '\0' => "a NUL ends what the kernel reads: the rest would be dropped",
                    _ => "control characters other than tab are not sysctl values",
                };
                format!("{what} ({c:?})")
            })
    };
    match why {
        Some(why) => Err(Error::invalid_config(
            format!("invalid value {} for {what} {key}", shown(value)),
            why,
        )),
        None => Ok(()),
    }
}

/// A value for an error message: quoted, and cut after 64 characters.
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((at, _)) => format!("{:?}... ({} bytes)", &value[..at], value.len()),
        None => format!("{value:?}"),
    }
}

/// A key as a file under /proc/sys/net: dots and slashes as sysctl(8) reads
/// them (`pkg::sysctl::key_path`), then the first `IFNAME` replaced by the
/// interface name verbatim, so that dotted names (VLANs) survive.
pub fn resolve(key: &str, ifname: &str) -> Result<PathBuf> {
    let path = pkg::sysctl::key_path(key)?;
    let text = path.to_string_lossy();
    Ok(match text.find("IFNAME") {
        // The name cannot add a component: skel rejects `/`, `.` and `..`.
        Some(at) => PathBuf::from(format!("{}{ifname}{}", &text[..at], &text[at + 6..])),
        None => path,
    })
}

/// `/etc/cni/tuning/allowlist.conf`: one regular expression per line;
/// when the file exists, every sysctl key must match one of them
/// (unanchored, as Go's `regexp.MatchString`).
pub struct Allowlist {
    patterns: Vec<(String, regex::Regex)>,
}

impl Allowlist {
    /// None when the file does not exist: everything is allowed.
    fn read(path: &Path) -> Result<Option<Allowlist>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::io(
                    format!("read sysctl allowlist {}", path.display()),
                    e,
                ));
            }
        };
        Allowlist::parse(&text, path).map(Some)
    }

    fn parse(text: &str, path: &Path) -> Result<Allowlist> {
        let mut patterns = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let re = regex::Regex::new(line).map_err(|e| {
                Error::invalid_config(
                    format!("invalid pattern {line:?} in {}", path.display()),
                    e.to_string(),
                )
            })?;
            patterns.push((line.to_string(), re));
        }
        Ok(Allowlist { patterns })
    }

    fn check(&self, key: &str) -> Result<()> {
        if self.patterns.iter().any(|(_, re)| re.is_match(key)) {
            return Ok(());
        }
        let list: Vec<&str> = self.patterns.iter().map(|(p, _)| p.as_str()).collect();
        Err(Error::invalid_config(
            format!("sysctl {key} is not allowed by {ALLOWLIST}"),
            format!("allowed patterns: [{}]", list.join(" ")),
        ))
    }
}

/// Go's parse of a hardware address (`net.ParseMAC`): 6, 8 or 20 octets as
/// `xx:xx:..`, `xx-xx-..` or `xxxx.xxxx.xxxx`.
pub fn parse_hw_addr(s: &str) -> Option<Vec<u8>> {
    let octets: Vec<u8> = if s.contains(':') || s.contains('-') {
        let sep = if s.contains(':') { ':' } else { '-' };
        s.split(sep)
            .map(|p| {
                (p.len() == 2)
                    .then(|| u8::from_str_radix(p, 16).ok())
                    .flatten()
            })
            .collect::<Option<_>>()?
    } else if s.contains('.') {
        let mut out = Vec::new();
        for group in s.split('.') {
            if group.len() != 4 {
                return None;
            }
            out.push(u8::from_str_radix(&group[..2], 16).ok()?);
            out.push(u8::from_str_radix(&group[2..], 16).ok()?);
        }
        out
    } else {
        return None;
    };
    matches!(octets.len(), 6 | 8 | 20).then_some(octets)
}

/// Go rejects a `sysctl` object that repeats a key, which a JSON map would
/// silently collapse: so the raw bytes are read once more, looking only at
/// the keys of `sysctl` (any case, as Go matches it) and of
/// `args.cni.sysctl`.
fn check_duplicate_keys(stdin: &[u8]) -> Result<()> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(stdin);
    // A body that does not parse is reported by the real decode.
    let _ = Level {
        path: &["sysctl"],
        found: &found,
        seen: &RefCell::new(HashSet::new()),
    }
    .deserialize(&mut de);
    let _ = Level {
        path: &["args", "cni", "sysctl"],
        found: &found,
        seen: &RefCell::new(HashSet::new()),
    }
    .deserialize(&mut serde_json::Deserializer::from_slice(stdin));
    match found.into_inner() {
        Some(key) => Err(Error::invalid_config(
            "duplicated sysctl keys are not allowed",
            format!("{key:?} appears more than once"),
        )),
        None => Ok(()),
    }
}

/// Walks down `path` (keys matched case-insensitively); at the end, records
/// the object's keys in `seen` and the first repeated one in `found`.
struct Level<'a> {
    path: &'a [&'a str],
    found: &'a RefCell<Option<String>>,
    seen: &'a RefCell<HashSet<String>>,
}

impl<'de> DeserializeSeed<'de> for Level<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Level<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match self.path.split_first() {
                None => {
                    if !self.seen.borrow_mut().insert(key.clone()) {
                        self.found.borrow_mut().get_or_insert(key);
                    }
                    map.next_value::<IgnoredAny>()?;
                }
                Some((first, rest)) if key.eq_ignore_ascii_case(first) => {
                    map.next_value_seed(Level {
                        path: rest,
                        found: self.found,
                        seen: self.seen,
                    })?;
                }
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_unit<E>(self) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
