//! The result cache (Documentation/spec-notes.md §7.5), in Go libcni's format so that a node
//! can mix runtimes: `<root>/results/<network>-<containerID>-<ifname>`,
//! directory mode 0700, file mode 0600, one `cniCacheV1` JSON object per
//! attachment holding the network config bytes (base64), the runtime
//! parameters and the final ADD result.
//!
//! Files are written with Go's encoding (key order, sorted result and
//! capability args, HTML-safe escaping, no trailing newline; see
//! [`crate::gojson`]), so ours are the bytes Go's libcni writes. Unlike Go,
//! the write is atomic (a temporary file renamed into place), so a crash
//! never leaves a truncated entry.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use pkg::types::{CniResult, Version, decode};
use pkg::{Error, Result};

use crate::gojson;
use crate::runtime::RuntimeConf;

/// Go libcni's default cache root.
pub const DEFAULT_CACHE_DIR: &str = "/var/lib/cni";
/// The `kind` of every cache file.
pub const CACHE_KIND: &str = "cniCacheV1";

/// One cache file's content (Go `cachedInfo`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheEntry {
    pub container_id: String,
    /// The network configuration bytes the attachment was made with.
    pub config: Vec<u8>,
    pub ifname: String,
    pub network_name: String,
    pub netns: String,
    pub cni_args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
    /// The final ADD result as JSON, in the version it was returned in.
    pub result: Option<Value>,
}

/// Go's struct decoding of the file: keys match case-insensitively.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawEntry {
    kind: String,
    #[serde(rename = "containerId")]
    container_id: String,
    config: Option<String>,
    #[serde(rename = "ifName")]
    ifname: String,
    #[serde(rename = "networkName")]
    network_name: String,
    netns: String,
    #[serde(rename = "cniArgs")]
    cni_args: Vec<Vec<String>>,
    #[serde(rename = "capabilityArgs")]
    capability_args: Map<String, Value>,
    result: Option<Map<String, Value>>,
}

impl CacheEntry {
    /// The file bytes, as Go's `json.Marshal(&cachedInfo)` writes them.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut m = Map::new();
        m.insert("kind".into(), Value::String(CACHE_KIND.into()));
        m.insert(
            "containerId".into(),
            Value::String(self.container_id.clone()),
        );
        m.insert(
            "config".into(),
            Value::String(gojson::base64_encode(&self.config)),
        );
        m.insert("ifName".into(), Value::String(self.ifname.clone()));
        m.insert(
            "networkName".into(),
            Value::String(self.network_name.clone()),
        );
        if !self.netns.is_empty() {
            m.insert("netns".into(), Value::String(self.netns.clone()));
        }
        if !self.cni_args.is_empty() {
            let pairs = self
                .cni_args
                .iter()
                .map(|(k, v)| {
                    Value::Array(vec![Value::String(k.clone()), Value::String(v.clone())])
                })
                .collect();
            m.insert("cniArgs".into(), Value::Array(pairs));
        }
        if !self.capability_args.is_empty() {
            m.insert(
                "capabilityArgs".into(),
                gojson::sorted(&Value::Object(self.capability_args.clone())),
            );
        }
        match &self.result {
            Some(Value::Object(r)) if r.is_empty() => {}
            Some(r) if !r.is_null() => {
                m.insert("result".into(), gojson::sorted(r));
            }
            _ => {}
        }
        gojson::to_vec(&Value::Object(m))
    }

    /// Parse a cache file; anything but a `cniCacheV1` object is an error.
    pub fn decode(bytes: &[u8]) -> Result<CacheEntry> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::decode("failed to parse cache entry", e.to_string()))?;
        let raw: RawEntry = decode::decode(&value, "cache entry")?;
        if raw.kind != CACHE_KIND {
            return Err(Error::decode(
                format!("cache entry has wrong kind: {:?}", raw.kind),
                "",
            ));
        }
        let config = match &raw.config {
            Some(s) => gojson::base64_decode(s)
                .map_err(|e| e.context("failed to parse cache entry config"))?,
            None => Vec::new(),
        };
        Ok(CacheEntry {
            container_id: raw.container_id,
            config,
            ifname: raw.ifname,
            network_name: raw.network_name,
            netns: raw.netns,
            // Go decodes into [2]string: missing elements are empty,
            // extra ones are dropped.
            cni_args: raw
                .cni_args
                .into_iter()
                .map(|p| {
                    let mut it = p.into_iter();
                    (it.next().unwrap_or_default(), it.next().unwrap_or_default())
                })
                .collect(),
            capability_args: raw.capability_args,
            result: raw.result.map(Value::Object),
        })
    }
}

/// A cached attachment (Go `NetworkAttachment`), as GC needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkAttachment {
    pub container_id: String,
    pub network: String,
    pub ifname: String,
    pub config: Vec<u8>,
    pub netns: String,
    pub cni_args: Vec<(String, String)>,
    pub capability_args: Map<String, Value>,
}

impl NetworkAttachment {
    /// The runtime parameters the attachment was made with.
    pub fn runtime_conf(&self) -> RuntimeConf {
        RuntimeConf {
            container_id: self.container_id.clone(),
            netns: self.netns.clone(),
            ifname: self.ifname.clone(),
            args: self.cni_args.clone(),
            capability_args: self.capability_args.clone(),
        }
    }
}

/// The cache under one root directory.
#[derive(Debug, Clone)]
pub struct ResultCache {
    root: PathBuf,
}

impl ResultCache {
    pub fn new(root: impl Into<PathBuf>) -> ResultCache {
        ResultCache { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn results_dir(&self) -> PathBuf {
        self.root.join("results")
    }

    /// `<root>/results/<network>-<containerID>-<ifname>`; all three must
    /// be non-empty.
    pub fn file_path(&self, network: &str, rt: &RuntimeConf) -> Result<PathBuf> {
        if network.is_empty() || rt.container_id.is_empty() || rt.ifname.is_empty() {
            return Err(Error::invalid_config(
                format!(
                    "cache file path requires network name ({network:?}), container ID ({:?}), and interface name ({:?})",
                    rt.container_id, rt.ifname
                ),
                "",
            ));
        }
        // The name is joined unescaped, as Go does; a part with a `/`
        // would leave the results directory.
        for part in [network, &rt.container_id, &rt.ifname] {
            if part.contains('/') {
                return Err(Error::invalid_config(
                    format!("cache file path: {part:?} is not a valid file name part"),
                    "",
                ));
            }
        }
        Ok(self
            .results_dir()
            .join(format!("{network}-{}-{}", rt.container_id, rt.ifname)))
    }

    /// Record a successful ADD: `config` is the network's bytes, `result`
    /// the final result JSON.
    pub fn write(
        &self,
        network: &str,
        rt: &RuntimeConf,
        config: &[u8],
        result: &Value,
    ) -> Result<PathBuf> {
        let path = self.file_path(network, rt)?;
        let entry = CacheEntry {
            container_id: rt.container_id.clone(),
            config: config.to_vec(),
            ifname: rt.ifname.clone(),
            network_name: network.to_string(),
            netns: rt.netns.clone(),
            cni_args: rt.args.clone(),
            capability_args: rt.capability_args.clone(),
            result: Some(result.clone()),
        };
        let bytes = entry.encode()?;
        let dir = self.results_dir();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("create cache dir {}", dir.display()), e))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(&bytes)?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(format!("write cache file {}", path.display()), e));
        }
        Ok(path)
    }

    /// Forget an attachment; a missing entry is fine.
    pub fn remove(&self, network: &str, rt: &RuntimeConf) -> Result<()> {
        let path = self.file_path(network, rt)?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(
                format!("remove cache file {}", path.display()),
                e,
            )),
            _ => Ok(()),
        }
    }

    /// The cached entry, `None` when there is no readable file.
    pub fn entry(&self, network: &str, rt: &RuntimeConf) -> Result<Option<CacheEntry>> {
        let path = self.file_path(network, rt)?;
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        CacheEntry::decode(&bytes)
            .map(Some)
            .map_err(|e| e.context(format!("cache file {}", path.display())))
    }

    /// The cached ADD result converted to `version` (Go `getCachedResult`).
    /// No readable file → `None`. A file that is not `cniCacheV1` is read
    /// as a bare result (older libraries wrote those). A result that does
    /// not parse or convert is an error.
    pub fn result(
        &self,
        network: &str,
        version: &str,
        rt: &RuntimeConf,
    ) -> Result<Option<CniResult>> {
        let path = self.file_path(network, rt)?;
        let Ok(bytes) = std::fs::read(&path) else {
            return Ok(None);
        };
        let ctx = |e: Error| e.context(format!("cache file {}", path.display()));
        let result_json = match CacheEntry::decode(&bytes) {
            Ok(entry) => match entry.result {
                Some(r) => r,
                None => return Ok(None),
            },
            Err(_) => serde_json::from_slice(&bytes).map_err(|e| {
                ctx(Error::decode(
                    "failed to parse cached result",
                    e.to_string(),
                ))
            })?,
        };
        // A stored result without cniVersion is 0.1.0, as in Go.
        let cached = CniResult::from_value(&result_json, "0.1.0").map_err(ctx)?;
        let target = Version::from_exact(version).ok_or_else(|| {
            Error::incompatible_version(
                format!("failed to convert cached result to config version {version:?}"),
                "unknown version",
            )
        })?;
        cached.convert(target).map(Some).map_err(|e| {
            e.context(format!(
                "failed to convert cached result to config version {version:?}"
            ))
        })
    }

    /// The cached config bytes and a copy of `rt` with the cached CNI args
    /// (when any) and capability args (Go `getCachedConfig`).
    pub fn config(
        &self,
        network: &str,
        rt: &RuntimeConf,
    ) -> Result<Option<(Vec<u8>, RuntimeConf)>> {
        let Some(entry) = self.entry(network, rt)? else {
            return Ok(None);
        };
        let mut out = rt.clone();
        if !entry.cni_args.is_empty() {
            out.args = entry.cni_args;
        }
        out.capability_args = entry.capability_args;
        Ok(Some((entry.config, out)))
    }

    /// Every cached attachment, in file name order, optionally only those
    /// of one container (Go `GetCachedAttachments`). Unreadable files,
    /// other kinds and entries without ifname or network are skipped; a
    /// missing directory has none.
    pub fn attachments(&self, container_id: &str) -> Result<Vec<NetworkAttachment>> {
        let dir = self.results_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("read cache dir {}", dir.display()), e)),
        };
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            // Our own temporary files while a write is in flight.
            if name.starts_with('.') {
                continue;
            }
            if !container_id.is_empty() {
                // `-<id>-` after the first character and before the end.
                let part = format!("-{container_id}-");
                match name.find(&part) {
                    Some(pos) if pos > 0 && pos + part.len() < name.len() => {}
                    _ => continue,
                }
            }
            let Ok(bytes) = std::fs::read(dir.join(&name)) else {
                continue;
            };
            let Ok(e) = CacheEntry::decode(&bytes) else {
                continue;
            };
            if (!container_id.is_empty() && e.container_id != container_id)
                || e.ifname.is_empty()
                || e.network_name.is_empty()
            {
                continue;
            }
            out.push(NetworkAttachment {
                container_id: e.container_id,
                network: e.network_name,
                ifname: e.ifname,
                config: e.config,
                netns: e.netns,
                cni_args: e.cni_args,
                capability_args: e.capability_args,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
