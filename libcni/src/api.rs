//! Running networks (Documentation/spec-notes.md §7.3, §7.4, §7.8): ADD, CHECK, DEL, GC
//! and STATUS of a plugin chain, the single-plugin variants, the cached
//! result and config of an attachment, and validation against the
//! plugins' VERSION answers. [`CniConfig`] is the Go `CNIConfig`.
//!
//! One deliberate difference from Go: DEL runs every plugin of the chain
//! even when one fails, and reports every failure (Go stops at the first
//! failing DEL and leaves the rest of the chain's state behind). The cache
//! entry is kept unless all of them succeeded.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use pkg::types::version::greater_or_equal;
use pkg::types::{CniResult, GcAttachment, Version};
use pkg::{Error, Result, validate};

use crate::cache::{DEFAULT_CACHE_DIR, NetworkAttachment, ResultCache};
use crate::conf::{NetworkConfigList, PluginConfig};
use crate::exec::{Args, DefaultExec, Exec, join_path, parse_result};
use crate::runtime::{RuntimeConf, build_plain_request, build_request};
use crate::version::{PluginVersionInfo, probe};

/// Plugin directories, the result cache and how plugins are executed.
#[derive(Clone)]
pub struct CniConfig {
    path: Vec<PathBuf>,
    cache: ResultCache,
    exec: Arc<dyn Exec>,
}

impl std::fmt::Debug for CniConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CniConfig")
            .field("path", &self.path)
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

/// The JSON of a result in the version it carries.
pub fn result_json(result: &CniResult) -> Result<Value> {
    let v = Version::from_exact(&result.cni_version).ok_or_else(|| {
        Error::decode(
            format!("unsupported CNI result version {:?}", result.cni_version),
            "",
        )
    })?;
    result.to_value(v)
}

impl CniConfig {
    /// Plugins are looked up in `path` (also passed to them as
    /// `CNI_PATH`); the cache is under `/var/lib/cni`; no timeout.
    pub fn new(path: Vec<PathBuf>) -> CniConfig {
        CniConfig {
            path,
            cache: ResultCache::new(DEFAULT_CACHE_DIR),
            exec: Arc::new(DefaultExec::default()),
        }
    }

    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> CniConfig {
        self.cache = ResultCache::new(dir);
        self
    }

    /// Run plugins through `exec` instead of [`DefaultExec`].
    pub fn with_exec(mut self, exec: Arc<dyn Exec>) -> CniConfig {
        self.exec = exec;
        self
    }

    /// Kill a plugin (and fail with code 11) when one call takes longer.
    pub fn with_timeout(self, timeout: Duration) -> CniConfig {
        self.with_exec(Arc::new(DefaultExec {
            timeout: Some(timeout),
            quiet: false,
        }))
    }

    pub fn path(&self) -> &[PathBuf] {
        &self.path
    }

    pub fn cache(&self) -> &ResultCache {
        &self.cache
    }

    fn args<'a>(&self, command: &'a str, rt: &'a RuntimeConf) -> Args<'a> {
        Args {
            command,
            container_id: &rt.container_id,
            netns: &rt.netns,
            ifname: &rt.ifname,
            args: rt.args_string(),
            path: join_path(&self.path),
        }
    }

    fn find(&self, plugin: &PluginConfig) -> Result<PathBuf> {
        self.exec.find_in_path(&plugin.plugin_type, &self.path)
    }

    // ---- ADD ----

    fn add_one(
        &self,
        network: &str,
        version: &str,
        plugin: &PluginConfig,
        prev: Option<&CniResult>,
        rt: &RuntimeConf,
    ) -> Result<CniResult> {
        let exe = self.find(plugin)?;
        validate::container_id(&rt.container_id)?;
        validate::network_name(network)?;
        validate::interface_name(&rt.ifname)?;
        let prev = prev.map(result_json).transpose()?;
        let stdin = build_request(network, version, plugin, prev.as_ref(), Some(rt))?;
        let out = self
            .exec
            .exec_plugin(&exe, &stdin, &self.args("ADD", rt).env())?;
        parse_result(&out, version)
    }

    /// ADD the attachment: every plugin in order, each given the previous
    /// one's result as `prevResult`; stop at the first failure (no DEL is
    /// run: the caller must DEL). On success the final result is cached
    /// and returned in the version the last plugin printed.
    pub fn add_network_list(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<CniResult> {
        let mut result: Option<CniResult> = None;
        for plugin in &list.plugins {
            let r = self
                .add_one(&list.name, &list.cni_version, plugin, result.as_ref(), rt)
                .map_err(|e| e.context(format!("plugin {} failed (add)", plugin.description())))?;
            result = Some(r);
        }
        let Some(result) = result else {
            return Err(Error::invalid_config(
                format!("network {:?} has no plugins", list.name),
                "",
            ));
        };
        self.cache
            .write(&list.name, rt, &list.bytes, &result_json(&result)?)
            .map_err(|e| {
                e.context(format!(
                    "failed to set network {:?} cached result",
                    list.name
                ))
            })?;
        Ok(result)
    }

    /// ADD with a single plugin object as the whole network (deprecated
    /// format); its own `name` and `cniVersion` are used and its bytes are
    /// cached.
    pub fn add_network(&self, plugin: &PluginConfig, rt: &RuntimeConf) -> Result<CniResult> {
        let result = self.add_one(&plugin.name, &plugin.cni_version, plugin, None, rt)?;
        self.cache
            .write(&plugin.name, rt, &plugin.bytes, &result_json(&result)?)
            .map_err(|e| {
                e.context(format!(
                    "failed to set network {:?} cached result",
                    plugin.name
                ))
            })?;
        Ok(result)
    }

    // ---- CHECK ----

    fn check_one(
        &self,
        network: &str,
        version: &str,
        plugin: &PluginConfig,
        prev: Option<&Value>,
        rt: &RuntimeConf,
    ) -> Result<()> {
        let exe = self.find(plugin)?;
        let stdin = build_request(network, version, plugin, prev, Some(rt))?;
        self.exec
            .exec_plugin(&exe, &stdin, &self.args("CHECK", rt).env())
            .map(drop)
    }

    fn check_gate(version: &str) -> Result<()> {
        if greater_or_equal(version, "0.4.0")? {
            Ok(())
        } else {
            Err(Error::incompatible_version(
                format!("configuration version {version:?} does not support the CHECK command"),
                "",
            ))
        }
    }

    fn cached_prev(&self, network: &str, version: &str, rt: &RuntimeConf) -> Result<Option<Value>> {
        self.cache
            .result(network, version, rt)
            .and_then(|r| r.as_ref().map(result_json).transpose())
            .map_err(|e| e.context(format!("failed to get network {network:?} cached result")))
    }

    /// CHECK the attachment: refused below 0.4.0 (even with
    /// `disableCheck`), nothing to do with `disableCheck`, otherwise every
    /// plugin in order with the cached result as `prevResult`; the first
    /// failure is returned.
    pub fn check_network_list(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<()> {
        Self::check_gate(&list.cni_version)?;
        if list.disable_check {
            return Ok(());
        }
        let prev = self.cached_prev(&list.name, &list.cni_version, rt)?;
        for plugin in &list.plugins {
            self.check_one(&list.name, &list.cni_version, plugin, prev.as_ref(), rt)
                .map_err(|e| {
                    e.context(format!("plugin {} failed (check)", plugin.description()))
                })?;
        }
        Ok(())
    }

    /// CHECK of a single plugin object (`disableCheck` does not apply).
    pub fn check_network(&self, plugin: &PluginConfig, rt: &RuntimeConf) -> Result<()> {
        Self::check_gate(&plugin.cni_version)?;
        let prev = self.cached_prev(&plugin.name, &plugin.cni_version, rt)?;
        self.check_one(&plugin.name, &plugin.cni_version, plugin, prev.as_ref(), rt)
    }

    // ---- DEL ----

    fn del_one(
        &self,
        network: &str,
        version: &str,
        plugin: &PluginConfig,
        prev: Option<&Value>,
        rt: &RuntimeConf,
    ) -> Result<()> {
        let exe = self.find(plugin)?;
        let stdin = build_request(network, version, plugin, prev, Some(rt))?;
        self.exec
            .exec_plugin(&exe, &stdin, &self.args("DEL", rt).env())
            .map(drop)
    }

    /// DEL the attachment: every plugin in reverse order, each with the
    /// cached result (lists ≥ 0.4.0) as `prevResult`. A cache entry that
    /// cannot be used is removed and DEL goes on without `prevResult`.
    /// Every plugin runs even when an earlier one fails; all failures are
    /// returned together and the cache entry is kept. When all succeed the
    /// cache entry is removed.
    pub fn del_network_list(&self, list: &NetworkConfigList, rt: &RuntimeConf) -> Result<()> {
        let mut prev = None;
        if greater_or_equal(&list.cni_version, "0.4.0")? {
            match self.cached_prev(&list.name, &list.cni_version, rt) {
                Ok(p) => prev = p,
                Err(_) => {
                    let _ = self.cache.remove(&list.name, rt);
                }
            }
        }
        let mut errs = Vec::new();
        for plugin in list.plugins.iter().rev() {
            if let Err(e) = self.del_one(&list.name, &list.cni_version, plugin, prev.as_ref(), rt) {
                errs.push(e.context(format!("plugin {} failed (delete)", plugin.description())));
            }
        }
        if errs.is_empty() {
            let _ = self.cache.remove(&list.name, rt);
        }
        Error::from_list(errs)
    }

    /// DEL of a single plugin object; a cached result that cannot be used
    /// is an error here, as in Go.
    pub fn del_network(&self, plugin: &PluginConfig, rt: &RuntimeConf) -> Result<()> {
        let mut prev = None;
        if greater_or_equal(&plugin.cni_version, "0.4.0")? {
            prev = self.cached_prev(&plugin.name, &plugin.cni_version, rt)?;
        }
        self.del_one(&plugin.name, &plugin.cni_version, plugin, prev.as_ref(), rt)?;
        let _ = self.cache.remove(&plugin.name, rt);
        Ok(())
    }

    // ---- GC, STATUS ----

    /// GC the network: unless `disableGC`, DEL every cached attachment of
    /// this network that is not in `valid` (all of them when `valid` is
    /// `None`) with the parameters it was added with, then (lists ≥ 1.1.0)
    /// send GC to every plugin with the valid set under
    /// `cni.dev/valid-attachments` and the legacy `cni.dev/attachments`.
    /// Keeps going past failures and returns them all.
    pub fn gc_network_list(
        &self,
        list: &NetworkConfigList,
        valid: Option<&[GcAttachment]>,
    ) -> Result<()> {
        if list.disable_gc {
            return Ok(());
        }
        let mut errs = Vec::new();
        // Go returns success when the cache cannot be listed; we report it
        // and still send GC to the plugins.
        match self.cache.attachments("") {
            Ok(cached) => {
                for a in cached.iter().filter(|a| a.network == list.name) {
                    let is_valid = valid.is_some_and(|v| {
                        v.iter()
                            .any(|g| g.container_id == a.container_id && g.ifname == a.ifname)
                    });
                    if is_valid {
                        continue;
                    }
                    if let Err(e) = self.del_network_list(list, &a.runtime_conf()) {
                        errs.push(e.context(format!(
                            "failed to delete stale attachment {} {}",
                            a.container_id, a.ifname
                        )));
                    }
                }
            }
            Err(e) => errs.push(e.context("failed to list cached attachments")),
        }
        if greater_or_equal(&list.cni_version, "1.1.0").unwrap_or(false) {
            let mut extra = Vec::new();
            if let Some(v) = valid {
                let set: Vec<Value> = v
                    .iter()
                    .map(|g| json!({"containerID": g.container_id, "ifname": g.ifname}))
                    .collect();
                extra.push(("cni.dev/valid-attachments", Value::Array(set.clone())));
                extra.push(("cni.dev/attachments", Value::Array(set)));
            }
            let none = RuntimeConf::default();
            for plugin in &list.plugins {
                let run = || -> Result<()> {
                    let exe = self.find(plugin)?;
                    let stdin = build_plain_request(&list.name, &list.cni_version, plugin, &extra)?;
                    self.exec
                        .exec_plugin(&exe, &stdin, &self.args("GC", &none).env())
                        .map(drop)
                };
                if let Err(e) = run() {
                    errs.push(e.context(format!("failed to GC plugin {}", plugin.plugin_type)));
                }
            }
        }
        Error::from_list(errs)
    }

    /// STATUS of the network: nothing to ask below 1.1.0; otherwise every
    /// plugin in order, returning the first failure (its code, e.g. 50 or
    /// 51, kept).
    pub fn status_network_list(&self, list: &NetworkConfigList) -> Result<()> {
        if !greater_or_equal(&list.cni_version, "1.1.0").unwrap_or(false) {
            return Ok(());
        }
        let none = RuntimeConf::default();
        for plugin in &list.plugins {
            let run = || -> Result<()> {
                let exe = self.find(plugin)?;
                let stdin = build_plain_request(&list.name, &list.cni_version, plugin, &[])?;
                self.exec
                    .exec_plugin(&exe, &stdin, &self.args("STATUS", &none).env())
                    .map(drop)
            };
            run().map_err(|e| {
                e.context(format!("plugin {} failed (status)", plugin.description()))
            })?;
        }
        Ok(())
    }

    // ---- the cache ----

    /// The cached result of an attachment, converted to the list's version.
    pub fn network_list_cached_result(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<Option<CniResult>> {
        self.cache.result(&list.name, &list.cni_version, rt)
    }

    /// The cached result of a single-plugin network.
    pub fn network_cached_result(
        &self,
        plugin: &PluginConfig,
        rt: &RuntimeConf,
    ) -> Result<Option<CniResult>> {
        self.cache.result(&plugin.name, &plugin.cni_version, rt)
    }

    /// The config bytes an attachment was made with and `rt` updated with
    /// its cached CNI and capability args.
    pub fn network_list_cached_config(
        &self,
        list: &NetworkConfigList,
        rt: &RuntimeConf,
    ) -> Result<Option<(Vec<u8>, RuntimeConf)>> {
        self.cache.config(&list.name, rt)
    }

    /// Every cached attachment (of one container when `container_id` is
    /// not empty).
    pub fn cached_attachments(&self, container_id: &str) -> Result<Vec<NetworkAttachment>> {
        self.cache.attachments(container_id)
    }

    // ---- validation ----

    /// Ask a plugin which versions it supports.
    pub fn version_info(&self, plugin_type: &str) -> Result<PluginVersionInfo> {
        let exe = self.exec.find_in_path(plugin_type, &self.path)?;
        probe(self.exec.as_ref(), &exe)
    }

    fn validate_plugin(&self, plugin_type: &str, version: &str) -> Result<()> {
        let version = if version.is_empty() { "0.1.0" } else { version };
        let info = self.version_info(plugin_type)?;
        if info.supports(version) {
            return Ok(());
        }
        Err(Error::incompatible_version(
            format!("plugin {plugin_type} does not support config version {version:?}"),
            format!("it supports {:?}", info.supported_versions),
        ))
    }

    /// Check that every plugin exists and lists the network's exact
    /// version; returns the capabilities the plugins enable (each once).
    /// All failures are reported together.
    pub fn validate_network_list(&self, list: &NetworkConfigList) -> Result<Vec<String>> {
        let mut errs = Vec::new();
        let mut caps: Vec<String> = Vec::new();
        for plugin in &list.plugins {
            if let Err(e) = self.validate_plugin(&plugin.plugin_type, &list.cni_version) {
                errs.push(e);
            }
            for c in &plugin.capabilities {
                if !caps.contains(c) {
                    caps.push(c.clone());
                }
            }
        }
        Error::from_list(errs)?;
        Ok(caps)
    }

    /// [`Self::validate_network_list`] for a single plugin object.
    pub fn validate_network(&self, plugin: &PluginConfig) -> Result<Vec<String>> {
        self.validate_plugin(&plugin.plugin_type, &plugin.cni_version)?;
        Ok(plugin.capabilities.clone())
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
