//! Network configurations: parsing a conflist or a plugin object from
//! bytes, loading them from a directory exactly as Go's libcni does
//! (Documentation/spec-notes.md §7.1: `.conflist` files first in byte order, then the legacy
//! `.conf`/`.json`, plus the sibling `<dir>/<network>/*.conf` plugins),
//! version selection with `cniVersions` (§2.6), and the legacy single
//! plugin → list conversion (§2.3).
//!
//! Plugin objects stay generic JSON objects (`serde_json::Map`, key order
//! and exact integers kept); only the fields the runtime needs are read
//! out of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use pkg::types::decode;
use pkg::types::version::{cmp_versions, parse_semver};
use pkg::types::{Dns, Version};
use pkg::{Context, Error, Result};

use crate::gojson;

/// Where runtimes keep network configurations.
pub const DEFAULT_NET_DIR: &str = "/etc/cni/net.d";

/// One plugin configuration object of a network.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// The object as written (unknown keys kept).
    pub conf: Map<String, Value>,
    /// `type`: the executable looked up in `CNI_PATH`.
    pub plugin_type: String,
    /// The object's own `name` (a legacy `.conf` carries the network's).
    pub name: String,
    /// The object's own `cniVersion`, if any.
    pub cni_version: String,
    /// `capabilities` entries set to `true`, in the order written.
    pub capabilities: Vec<String>,
    /// The bytes this object was parsed from: for a legacy `.conf` file
    /// the file's bytes (cached by the single-plugin API).
    pub bytes: Vec<u8>,
}

/// A network: a list of plugins run as a chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkConfigList {
    pub name: String,
    /// The selected version (§2.6); may be empty or unparseable, which
    /// the operations report when they need it.
    pub cni_version: String,
    pub disable_check: bool,
    pub disable_gc: bool,
    pub load_only_inlined_plugins: bool,
    pub plugins: Vec<PluginConfig>,
    /// The original bytes of the configuration, stored in the result
    /// cache; sibling-directory plugins are not part of them.
    pub bytes: Vec<u8>,
    /// The file it was loaded from, when it was.
    pub source: Option<PathBuf>,
}

/// The typed view Go decodes a plugin object into (`types.PluginConf`);
/// type errors here are load errors, as in Go.
/// `capabilities`, `ipam` and `dns` are decoded only to reject wrong types.
#[allow(dead_code)]
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct PluginView {
    cni_version: String,
    name: String,
    #[serde(rename = "type")]
    plugin_type: String,
    capabilities: BTreeMap<String, bool>,
    ipam: IpamView,
    dns: Dns,
}

#[allow(dead_code)]
#[derive(Deserialize, Default)]
#[serde(default)]
struct IpamView {
    #[serde(rename = "type")]
    ipam_type: String,
}

impl PluginConfig {
    /// Parse one plugin object (Go `NetworkPluginConfFromBytes`); it needs
    /// a non-empty `type`.
    pub fn from_bytes(bytes: &[u8]) -> Result<PluginConfig> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::decode("error parsing configuration", e.to_string()))?;
        let mut p = PluginConfig::from_value(value)?;
        p.bytes = bytes.to_vec();
        Ok(p)
    }

    /// Parse a plugin object from a JSON value; `bytes` is set to its
    /// compact encoding.
    pub fn from_value(value: Value) -> Result<PluginConfig> {
        let Value::Object(conf) = value else {
            return Err(Error::decode(
                "error parsing configuration",
                format!("a plugin configuration must be a JSON object, got {value}"),
            ));
        };
        let view: PluginView = decode::from_value(&Value::Object(conf.clone()))
            .map_err(|e| Error::decode("error parsing configuration", e.to_string()))?;
        if view.plugin_type.is_empty() {
            return Err(Error::invalid_config(
                "error parsing configuration: missing 'type'",
                "",
            ));
        }
        // Go ranges over a map here; keep the written order instead.
        let capabilities = conf
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("capabilities"))
            .filter_map(|(_, v)| v.as_object())
            .next_back()
            .map(|caps| {
                caps.iter()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        let bytes = serde_json::to_vec(&conf)
            .map_err(|e| Error::internal(format!("encoding plugin config: {e}")))?;
        Ok(PluginConfig {
            plugin_type: view.plugin_type,
            name: view.name,
            cni_version: view.cni_version,
            capabilities,
            bytes,
            conf,
        })
    }

    /// Read and parse a plugin object file; errors name the file.
    pub fn from_file(path: &Path) -> Result<PluginConfig> {
        let bytes = read(path)?;
        PluginConfig::from_bytes(&bytes).with_context(|| path.display().to_string())
    }

    /// A copy with `values` set as top-level keys (Go `InjectConf`): empty
    /// keys and `null` values are refused, existing keys are replaced in
    /// place, everything else is kept as it was.
    pub fn inject(&self, values: &[(&str, Value)]) -> Result<PluginConfig> {
        let mut conf = self.conf.clone();
        for (key, value) in values {
            if key.is_empty() {
                return Err(Error::internal("keys cannot be empty"));
            }
            if value.is_null() {
                return Err(Error::internal(format!(
                    "key '{key}' value must not be nil"
                )));
            }
            conf.insert((*key).to_string(), value.clone());
        }
        PluginConfig::from_value(Value::Object(conf))
    }

    /// How Go names a plugin in errors: `type="bridge" name="x"`.
    pub fn description(&self) -> String {
        if self.name.is_empty() {
            format!("type={:?}", self.plugin_type)
        } else {
            format!("type={:?} name={:?}", self.plugin_type, self.name)
        }
    }
}

impl NetworkConfigList {
    /// Parse a network configuration (Go `NetworkConfFromBytes`). The
    /// plugins of the sibling directory are not added here.
    pub fn from_bytes(bytes: &[u8]) -> Result<NetworkConfigList> {
        const CTX: &str = "error parsing configuration list";
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| Error::decode(CTX, e.to_string()))?;
        let raw = match value {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            other => {
                return Err(Error::decode(
                    CTX,
                    format!("a network configuration must be a JSON object, got {other}"),
                ));
            }
        };
        let invalid = |what: String| Error::invalid_config(format!("{CTX}: {what}"), "");
        let name = match raw.get("name") {
            None => return Err(invalid("no name".into())),
            Some(Value::String(s)) => s.clone(),
            Some(other) => return Err(invalid(format!("invalid name type {}", kind(other)))),
        };
        let mut cni_version = match raw.get("cniVersion") {
            None => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(invalid(format!("invalid cniVersion type {}", kind(other))));
            }
        };
        if let Some(versions) = raw.get("cniVersions") {
            cni_version = select_version(&cni_version, versions).map_err(|e| e.context(CTX))?;
        }
        let read_bool = |key: &str| -> Result<bool> {
            match raw.get(key) {
                None => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(Value::String(s)) => match s.to_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    lower => Err(invalid(format!("invalid value {lower:?} for {key}"))),
                },
                Some(other) => Err(invalid(format!("invalid type {} for {key}", kind(other)))),
            }
        };
        let disable_check = read_bool("disableCheck")?;
        let disable_gc = read_bool("disableGC")?;
        let load_only_inlined_plugins = read_bool("loadOnlyInlinedPlugins")?;
        let mut list = NetworkConfigList {
            name,
            cni_version,
            disable_check,
            disable_gc,
            load_only_inlined_plugins,
            plugins: Vec::new(),
            bytes: bytes.to_vec(),
            source: None,
        };
        let plugins = match raw.get("plugins") {
            None if load_only_inlined_plugins => {
                return Err(invalid(
                    "`loadOnlyInlinedPlugins` is true, and no 'plugins' key".into(),
                ));
            }
            None => return Ok(list),
            Some(Value::Array(items)) => items,
            Some(other) => return Err(invalid(format!("invalid 'plugins' type {}", kind(other)))),
        };
        if plugins.is_empty() {
            return Err(invalid("no plugins in list".into()));
        }
        for (i, p) in plugins.iter().enumerate() {
            let plugin = PluginConfig::from_value(p.clone())
                .with_context(|| format!("failed to parse plugin config {i}"))?;
            list.plugins.push(plugin);
        }
        Ok(list)
    }

    /// Load a network file (Go `NetworkConfFromFile`): the inline plugins,
    /// then unless `loadOnlyInlinedPlugins` the `*.conf` plugin objects of
    /// `<dir of file>/<network name>/`. Errors name the file.
    pub fn from_file(path: &Path) -> Result<NetworkConfigList> {
        let bytes = read(path)?;
        let ctx = || path.display().to_string();
        let mut list = NetworkConfigList::from_bytes(&bytes).with_context(ctx)?;
        list.source = Some(path.to_path_buf());
        if !list.load_only_inlined_plugins {
            let dir = path.parent().unwrap_or(Path::new("."));
            let extra = plugin_confs_from_dir(dir, &list.name).with_context(ctx)?;
            list.plugins.extend(extra);
        }
        if list.plugins.is_empty() {
            return Err(Error::invalid_config("no plugin configs found", "").context(ctx()));
        }
        Ok(list)
    }

    /// The one-plugin list of a legacy single-plugin config (Go
    /// `ConfListFromConf`). Its bytes are what Go caches for it: the list
    /// re-encoded compactly with sorted keys.
    pub fn from_conf(plugin: &PluginConfig) -> Result<NetworkConfigList> {
        let raw: Value = serde_json::from_slice(&plugin.bytes)
            .map_err(|e| Error::decode("error parsing configuration", e.to_string()))?;
        let mut list = Map::new();
        list.insert(
            "cniVersion".into(),
            Value::String(plugin.cni_version.clone()),
        );
        list.insert("name".into(), Value::String(plugin.name.clone()));
        list.insert("plugins".into(), Value::Array(vec![raw]));
        let bytes = gojson::to_vec(&gojson::sorted(&Value::Object(list)))?;
        NetworkConfigList::from_bytes(&bytes)
    }

    /// The selected version as a known spec version, if it is one.
    pub fn version(&self) -> Option<Version> {
        Version::from_exact(&self.cni_version)
    }
}

/// Go's `%T` names, for messages that mirror Go's.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// §2.6: the highest of `cniVersions` (and `cniVersion`) that this library
/// implements; entries above it are dropped, unparseable ones are errors;
/// nothing left keeps `cniVersion`.
pub fn select_version(cni_version: &str, versions: &Value) -> Result<String> {
    let current = Version::CURRENT.as_str();
    let Value::Array(items) = versions else {
        return Err(Error::invalid_config(
            format!("invalid type for cniVersions: {}", kind(versions)),
            "",
        ));
    };
    let mut candidates: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Value::String(v) = item else {
            return Err(Error::invalid_config(
                format!("invalid type for cniVersions index {i}: {}", kind(item)),
                "",
            ));
        };
        let gt = cmp_versions(v, current)
            .map_err(|e| e.context(format!("invalid cniVersions entry {v} at index {i}")))?
            .is_gt();
        if !gt {
            candidates.push(v.clone());
        }
    }
    if !cni_version.is_empty() {
        let gt = cmp_versions(cni_version, current)
            .map_err(|e| e.context(format!("invalid cniVersion {cni_version}")))?
            .is_gt();
        if !gt {
            candidates.push(cni_version.to_string());
        }
    }
    // Every candidate parsed above.
    Ok(candidates
        .into_iter()
        .max_by_key(|v| parse_semver(v).unwrap_or_default())
        .unwrap_or_else(|| cni_version.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("error reading {}", path.display()), e))
}

/// The regular entries of `dir` whose extension is exactly one of `exts`
/// (with the dot), sorted by path. A missing `dir` has none.
pub fn conf_files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read config dir {}", dir.display()), e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::io(format!("read config dir {}", dir.display()), e))?;
        // As Go's DirEntry.IsDir: a symlink to a directory is not skipped.
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let ext = name.rfind('.').map(|i| &name[i..]).unwrap_or("");
        if exts.contains(&ext) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The plugin objects of `<conf_dir>/<network>/*.conf`, in name order
/// (Go `NetworkPluginConfsFromFiles`). Unlike Go, a network name that is
/// not a single path component (empty, `.`, `..`, containing `/`) has no
/// sibling directory, so a name cannot pull in files from elsewhere.
pub fn plugin_confs_from_dir(conf_dir: &Path, network: &str) -> Result<Vec<PluginConfig>> {
    if network.is_empty() || network == "." || network == ".." || network.contains('/') {
        return Ok(Vec::new());
    }
    let dir = conf_dir.join(network);
    let files = conf_files(&dir, &[".conf"])
        .with_context(|| format!("failed to read plugin config files in {}", dir.display()))?;
    files.iter().map(|f| PluginConfig::from_file(f)).collect()
}

/// The legacy lookup (Go `LoadConf`): the first `.conf`/`.json` file of
/// `dir` whose `name` matches.
pub fn load_conf(dir: &Path, name: &str) -> Result<PluginConfig> {
    find_conf(dir, name).map(|(_, conf)| conf)
}

fn find_conf(dir: &Path, name: &str) -> Result<(PathBuf, PluginConfig)> {
    let files = conf_files(dir, &[".conf", ".json"])?;
    if files.is_empty() {
        return Err(no_configs_found(dir));
    }
    for f in files {
        let conf = PluginConfig::from_file(&f)?;
        if conf.name == name {
            return Ok((f, conf));
        }
    }
    Err(not_found(dir, name))
}

/// Find the network `name` in `dir` (Go `LoadNetworkConf`/`LoadConfList`):
/// the first `.conflist` with that name, else the first `.conf`/`.json`
/// converted to a list. A file that fails to load on the way aborts the
/// lookup with its error.
pub fn load_conf_list(dir: &Path, name: &str) -> Result<NetworkConfigList> {
    let files = conf_files(dir, &[".conflist"])?;
    for f in &files {
        let list = NetworkConfigList::from_file(f)?;
        if list.name == name {
            return Ok(list);
        }
    }
    match find_conf(dir, name) {
        Ok((path, single)) => {
            let mut list = NetworkConfigList::from_conf(&single)?;
            list.source = Some(path);
            Ok(list)
        }
        Err(e) if !files.is_empty() && is_no_configs_found(&e) => Err(not_found(dir, name)),
        Err(e) => Err(e),
    }
}

const NOT_FOUND_PREFIX: &str = "no net configuration with name";
const NO_CONFIGS_PREFIX: &str = "no net configurations found in";

fn not_found(dir: &Path, name: &str) -> Error {
    Error::invalid_config(
        format!("{NOT_FOUND_PREFIX} \"{name}\" in {}", dir.display()),
        "",
    )
}

fn no_configs_found(dir: &Path) -> Error {
    Error::invalid_config(format!("{NO_CONFIGS_PREFIX} {}", dir.display()), "")
}

/// The lookup found no network of that name (Go `NotFoundError`).
pub fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::Cni { code: 7, msg, .. } if msg.starts_with(NOT_FOUND_PREFIX))
}

/// The directory holds no network configuration at all (Go
/// `NoConfigsFoundError`).
pub fn is_no_configs_found(e: &Error) -> bool {
    matches!(e, Error::Cni { code: 7, msg, .. } if msg.starts_with(NO_CONFIGS_PREFIX))
}

/// One configuration file of a directory, as `cnitool list` shows it.
#[derive(Debug)]
pub struct ConfFileEntry {
    pub path: PathBuf,
    /// The network it defines, or why it cannot be loaded.
    pub network: Result<NetworkConfigList>,
    /// Whether `load_conf_list(dir, <its name>)` returns this file: false
    /// when an earlier file in lookup order has the same name (so a
    /// `.conflist` shadows a `.conf`), or when an earlier file is broken
    /// (the lookup stops there with its error).
    pub active: bool,
}

/// Every `.conflist`, then every `.conf`/`.json` of `dir`, in lookup
/// order, each loaded on its own.
pub fn list_conf_files(dir: &Path) -> Result<Vec<ConfFileEntry>> {
    let mut out: Vec<ConfFileEntry> = Vec::new();
    for path in conf_files(dir, &[".conflist"])? {
        let network = NetworkConfigList::from_file(&path);
        out.push(ConfFileEntry {
            path,
            network,
            active: false,
        });
    }
    for path in conf_files(dir, &[".conf", ".json"])? {
        let network = PluginConfig::from_file(&path).and_then(|p| {
            let mut l = NetworkConfigList::from_conf(&p)?;
            l.source = Some(path.clone());
            Ok(l)
        });
        out.push(ConfFileEntry {
            path,
            network,
            active: false,
        });
    }
    // The lookup walks the files in this order and stops at the first
    // broken one or the first one with the wanted name.
    let names: Vec<Option<String>> = out
        .iter()
        .map(|e| e.network.as_ref().ok().map(|n| n.name.clone()))
        .collect();
    for (i, entry) in out.iter_mut().enumerate() {
        entry.active = names[i]
            .as_ref()
            .is_some_and(|n| !names[..i].iter().any(|m| m.as_ref().is_none_or(|m| m == n)));
    }
    Ok(out)
}

#[cfg(test)]
#[path = "conf_tests.rs"]
mod tests;
