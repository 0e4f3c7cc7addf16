//! Errors and warnings at the crate boundary. Every error names where the
//! bad input came from (file and line, or the flag), the key and the value,
//! so the daemon can print it and exit 1 without more context.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of the configuration file.
    File {
        /// The file as given to `-c`.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
    },
    /// A command-line flag (`--port`, `--define`...).
    Flag(&'static str),
    /// A built-in default.
    Default,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{}:{line}", path.display()),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The command line could not be parsed (the daemon prints the message
/// and the usage, and exits 1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// One of the single-letter flags of the pre-5.0 daemon.
    #[error("legacy flag {flag} is not supported ({hint})")]
    Legacy {
        /// The flag as typed.
        flag: String,
        /// What to use instead.
        hint: &'static str,
    },
    /// Anything else clap rejected (unknown flag, missing value, bad bool).
    #[error("{0}")]
    Invalid(String),
}

/// The configuration is unusable (the daemon prints it and exits 1).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The `-c` file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    ReadFile {
        /// The file as given to `-c`.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file (or a `--define` value) is not `key = value` text.
    #[error("{origin}: syntax error: {message}")]
    Syntax {
        /// Where.
        origin: Origin,
        /// What was wrong.
        message: String,
    },
    /// A known key with a value of the wrong shape or out of range.
    #[error("{origin}: invalid value {value:?} for {key}: {reason}")]
    InvalidValue {
        /// Where.
        origin: Origin,
        /// The configuration key (or flag name).
        key: String,
        /// The value as given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
}

/// Something worth logging that does not stop the daemon (unknown key,
/// both `--port` and `--address`, ignored `--pprof`). Collected while
/// parsing, because the log is opened only after the configuration is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
