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
/// [`ExecLog::path`] in a plugin's `PATH`.
pub struct ExecLog {
    dir: tempfile::TempDir,
}

impl ExecLog {
    pub fn new() -> ExecLog {
        let dir = tempdir();
        for tool in [
            "iptables",
            "ip6tables",
            "iptables-restore",
            "ip6tables-restore",
            "nft",
        ] {
            let real = ["/usr/sbin", "/sbin", "/usr/bin"]
                .iter()
                .map(|d| Path::new(d).join(tool))
                .find(|p| p.exists())
                .unwrap_or_else(|| PathBuf::from(tool));
            let script = format!(
                "#!/bin/sh\necho {tool} >> {log}\nexec {real} \"$@\"\n",
                log = dir.path().join("log").display(),
                real = real.display()
            );
            write_executable(&dir.path().join(tool), &script);
        }
        ExecLog { dir }
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
