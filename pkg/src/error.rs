//! The one error type of the suite. Every variant knows its CNI error code;
//! only `skel` turns it into the spec's JSON error object.

use std::io;

use nix::errno::Errno;

/// Well-known CNI error codes (spec §4.2, plus Go's 8 and 999).
pub mod code {
    pub const UNKNOWN: u32 = 0;
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const UNSUPPORTED_FIELD: u32 = 2;
    pub const UNKNOWN_CONTAINER: u32 = 3;
    pub const INVALID_ENV: u32 = 4;
    pub const IO: u32 = 5;
    pub const DECODE: u32 = 6;
    pub const INVALID_CONFIG: u32 = 7;
    pub const INVALID_NETNS: u32 = 8;
    pub const TRY_AGAIN_LATER: u32 = 11;
    pub const NOT_AVAILABLE: u32 = 50;
    pub const NOT_AVAILABLE_DEGRADED: u32 = 51;
    pub const INTERNAL: u32 = 999;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error with an explicit CNI code: the well-known ones from skel and
    /// config validation, or whatever a delegated plugin reported.
    #[error("{}", render(msg, details))]
    Cni {
        code: u32,
        msg: String,
        details: String,
    },

    /// A kernel refusal (netlink or syscall), errno kept so callers can tell
    /// EEXIST from ENODEV.
    #[error("{op}: {}", errno_text(*errno))]
    Kernel { op: String, errno: Errno },

    /// A file or process operation that failed.
    #[error("{op}: {source}")]
    Io {
        op: String,
        #[source]
        source: io::Error,
    },

    /// An error with a short description of what was being attempted.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },

    /// A failure explained in our words: `msg` says what it means (the
    /// kernel lacks a link type, ...); the original error is the `details`
    /// and keeps its code and errno.
    #[error("{msg} ({source})")]
    Explained {
        msg: String,
        #[source]
        source: Box<Error>,
    },

    /// Several independent failures, e.g. the best-effort steps of DEL or GC.
    #[error("{}", join(.0))]
    List(Vec<Error>),

    /// Anything else: code 999.
    #[error("{0}")]
    Internal(String),
}

fn render(msg: &str, details: &str) -> String {
    if details.is_empty() {
        msg.to_string()
    } else {
        format!("{msg}; {details}")
    }
}

fn errno_text(e: Errno) -> String {
    format!("{} ({:?})", e.desc().to_lowercase(), e)
}

fn join(errs: &[Error]) -> String {
    errs.iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        Error::Cni {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    pub fn incompatible_version(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INCOMPATIBLE_VERSION, msg, details)
    }
    pub fn unsupported_field(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::UNSUPPORTED_FIELD, msg, details)
    }
    pub fn invalid_env(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INVALID_ENV, msg, details)
    }
    pub fn decode(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::DECODE, msg, details)
    }
    pub fn invalid_config(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INVALID_CONFIG, msg, details)
    }
    pub fn invalid_netns(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::INVALID_NETNS, msg, details)
    }
    pub fn not_available(msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self::new(code::NOT_AVAILABLE, msg, details)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }
    pub fn kernel(op: impl Into<String>, errno: Errno) -> Self {
        Error::Kernel {
            op: op.into(),
            errno,
        }
    }
    pub fn io(op: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            op: op.into(),
            source,
        }
    }

    /// The CNI error code to report.
    pub fn code(&self) -> u32 {
        match self {
            Error::Cni { code, .. } => *code,
            Error::Context { source, .. } | Error::Explained { source, .. } => source.code(),
            Error::List(errs) => match errs.as_slice() {
                [one] => one.code(),
                _ => code::INTERNAL,
            },
            Error::Kernel { .. } | Error::Io { .. } | Error::Internal(_) => code::INTERNAL,
        }
    }

    /// The `msg` of the spec error object.
    pub fn msg(&self) -> String {
        match self {
            Error::Cni { msg, .. } => msg.clone(),
            Error::Context { context, source } => format!("{context}: {}", source.msg()),
            Error::Explained { msg, .. } => msg.clone(),
            Error::List(errs) if errs.len() == 1 => errs[0].msg(),
            other => other.to_string(),
        }
    }

    /// The `details` of the spec error object (may be empty).
    pub fn details(&self) -> String {
        match self {
            Error::Cni { details, .. } => details.clone(),
            Error::Context { source, .. } => source.details(),
            Error::Explained { source, .. } => source.to_string(),
            Error::List(errs) if errs.len() == 1 => errs[0].details(),
            _ => String::new(),
        }
    }

    /// The kernel errno behind this error, looking through context layers.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            Error::Context { source, .. } | Error::Explained { source, .. } => source.errno(),
            _ => None,
        }
    }

    pub fn is_errno(&self, e: Errno) -> bool {
        self.errno() == Some(e)
    }

    /// Errors that mean "the object is already gone": DEL treats them as success.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.errno(),
            Some(Errno::ENODEV)
                | Some(Errno::ENOENT)
                | Some(Errno::ESRCH)
                | Some(Errno::EADDRNOTAVAIL)
        )
    }

    /// Wrap with a description of what was being done.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Replace the message with what the failure means (`msg`), keeping
    /// this error as the details, its code and its errno.
    pub fn explained(self, msg: impl Into<String>) -> Self {
        Error::Explained {
            msg: msg.into(),
            source: Box::new(self),
        }
    }

    /// Collapse a list of errors from best-effort steps: none → Ok.
    pub fn from_list(mut errs: Vec<Error>) -> Result<()> {
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.remove(0)),
            _ => Err(Error::List(errs)),
        }
    }
}

/// `.context("...")` on results, keeping the typed source.
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T, E: Into<Error>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }
    fn with_context<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|e| e.into().context(f()))
    }
}

impl From<Errno> for Error {
    fn from(errno: Errno) -> Self {
        Error::Kernel {
            op: "system call failed".into(),
            errno,
        }
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io {
            op: "i/o error".into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_messages() {
        let cases: Vec<(Error, u32, &str, &str)> = vec![
            (
                Error::invalid_config("bad subnet", "10.0.0.1/24"),
                7,
                "bad subnet",
                "10.0.0.1/24",
            ),
            (
                Error::kernel("add link veth0", Errno::EEXIST).context("setting up veth"),
                999,
                "setting up veth: add link veth0: file exists (EEXIST)",
                "",
            ),
            (
                Error::decode("bad json", "x").context("loading config"),
                6,
                "loading config: bad json",
                "x",
            ),
            (
                Error::List(vec![Error::new(11, "later", "")]),
                11,
                "later",
                "",
            ),
            (
                Error::List(vec![Error::internal("a"), Error::internal("b")]),
                999,
                "a; b",
                "",
            ),
        ];
        for (err, c, msg, details) in cases {
            assert_eq!(err.code(), c, "{err}");
            assert_eq!(err.msg(), msg);
            assert_eq!(err.details(), details);
        }
    }

    #[test]
    fn errno_survives_context() {
        let e = Error::kernel("del link", Errno::ENODEV)
            .context("a")
            .context("b");
        assert!(e.is_errno(Errno::ENODEV));
        assert!(e.is_not_found());
        let e: Error = io::Error::from_raw_os_error(libc::EEXIST).into();
        assert!(e.is_errno(Errno::EEXIST));
    }

    #[test]
    fn explained_keeps_code_errno_and_the_original_as_details() {
        let e = Error::kernel("add link eth0", Errno::EOPNOTSUPP)
            .explained("the kernel has no dummy support (module dummy)")
            .context("failed to create dummy eth0");
        assert_eq!(e.code(), 999);
        assert!(e.is_errno(Errno::EOPNOTSUPP));
        assert_eq!(
            e.msg(),
            "failed to create dummy eth0: the kernel has no dummy support (module dummy)"
        );
        assert!(
            e.details().starts_with("add link eth0: "),
            "{}",
            e.details()
        );
        let e = Error::invalid_config("bad", "why").explained("worse");
        assert_eq!(
            (e.code(), e.msg(), e.details()),
            (7, "worse".into(), "bad; why".into())
        );
    }

    #[test]
    fn display_joins_details() {
        let e = Error::invalid_env("invalid characters in containerID", "a%b");
        assert_eq!(e.to_string(), "invalid characters in containerID; a%b");
        assert_eq!(Error::from_list(vec![]).ok(), Some(()));
    }
}
