//! Executables a test writes: shell scripts standing in for a program or
//! wrapping one, and wrappers of the firewall tools that log each run.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::tempdir;

/// Write `text` to `path` as an executable (mode 0755).
pub fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// iptables and nft wrappers that log each run, for exec counts: put
/// [`ExecLog::path`] in a plugin's `PATH`. The iptables tools are links to
/// one logging script named as the host's own multi-call binary
/// (`xtables-nft-multi`, `xtables-legacy-multi`), so that a plugin tells
/// iptables-nft from iptables-legacy through them as it does on the host.
pub struct ExecLog {
    dir: tempfile::TempDir,
    iptables_nft: bool,
}

/// Where `tool` is installed.
fn installed(tool: &str) -> PathBuf {
    ["/usr/sbin", "/sbin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(tool))
}

impl ExecLog {
    pub fn new() -> ExecLog {
        let dir = tempdir();
        let log = dir.path().join("log");
        let iptables = installed("iptables");
        let multi = std::fs::canonicalize(&iptables).unwrap_or(iptables);
        let multi_name = multi
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "iptables".into());
        let iptables_nft = multi_name.contains("nft");
        let logger = dir.path().join(&multi_name);
        let sbin = installed("iptables");
        let sbin = sbin.parent().unwrap_or(Path::new("/usr/sbin"));
        write_executable(
            &logger,
            &format!(
                "#!/bin/sh\ntool=$(basename \"$0\")\necho $tool >> {log}\nexec {sbin}/$tool \"$@\"\n",
                log = log.display(),
                sbin = sbin.display()
            ),
        );
        for tool in [
            "iptables",
            "ip6tables",
            "iptables-restore",
            "ip6tables-restore",
        ] {
            std::os::unix::fs::symlink(&logger, dir.path().join(tool))
                .unwrap_or_else(|e| panic!("link {tool}: {e}"));
        }
        let nft = format!(
            "#!/bin/sh\necho nft >> {log}\nexec {real} \"$@\"\n",
            log = log.display(),
            real = installed("nft").display()
        );
        write_executable(&dir.path().join("nft"), &nft);
        ExecLog { dir, iptables_nft }
    }

    /// Whether the host's iptables is iptables-nft, whose rules the
    /// plugins reach over netlink without running it.
    pub fn iptables_nft(&self) -> bool {
        self.iptables_nft
    }

    /// A `PATH` that finds the wrappers first.
    pub fn path(&self) -> String {
        format!(
            "{}:/usr/sbin:/usr/bin:/sbin:/bin",
            self.dir.path().display()
        )
    }

    /// The tools run since the last call, in order; clears the log.
    pub fn take(&self) -> Vec<String> {
        let log = self.dir.path().join("log");
        let runs = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        runs.lines().map(String::from).collect()
    }
}

impl Default for ExecLog {
    fn default() -> ExecLog {
        ExecLog::new()
    }
}
