//! Which PHP the WordPress benchmark runs: Debian's PHP 8.2 (`php-cgi`,
//! `php-config` on the `PATH`, the release extension in `target/release`)
//! unless `PHP_CGI` names another `php-cgi`, such as one built from source
//! by `tests/php-versions/matrix.sh`:
//!
//! - `PHP_CGI`: the `php-cgi` to run; the `php-config` next to it builds
//!   the floor's `floor.so` against that PHP's headers;
//! - `SERAPH_SO`: the extension built against that PHP (`PHP_CONFIG=...
//!   cargo build --release -p newrelic-php`); required with `PHP_CGI`,
//!   since an extension loads only into the PHP it was built for;
//! - `PHP_INI`: a `php.ini` given with `-c` (say the version's
//!   `php.ini-production`, which is what Debian's `php.ini` is); a
//!   source-built PHP has none, and PHP's built-in defaults differ from
//!   Debian's (errors shown, deprecations reported, assertions compiled).
//!
//! The extensions themselves (mysqli, OPcache) come from the PHP's own
//! scan directory, as Debian's do from `conf.d`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Php {
    /// The `php-cgi` binary.
    pub cgi: PathBuf,
    /// Its `php-config`.
    pub config: PathBuf,
    /// Arguments given to every `php-cgi` run before the `-d` settings.
    pub args: Vec<OsString>,
    /// The release extension built for this PHP.
    pub extension: PathBuf,
    /// Whether this is Debian's PHP (php-fpm8.2 serves it under load).
    pub debian: bool,
}

impl Php {
    pub fn from_env(root: &Path) -> Php {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let args = match var("PHP_INI") {
            Some(ini) => vec!["-c".into(), ini],
            None => Vec::new(),
        };
        let Some(cgi) = var("PHP_CGI").map(PathBuf::from) else {
            return Php {
                cgi: "php-cgi".into(),
                config: "php-config".into(),
                args,
                extension: var("SERAPH_SO").map_or_else(
                    || root.join("target/release/libnewrelic_php.so"),
                    PathBuf::from,
                ),
                debian: true,
            };
        };
        let extension = var("SERAPH_SO").map(PathBuf::from).unwrap_or_else(|| {
            panic!("PHP_CGI is set: SERAPH_SO must name the extension built against that PHP")
        });
        Php {
            config: cgi.with_file_name("php-config"),
            cgi,
            args,
            extension,
            debian: false,
        }
    }

    /// `php-cgi -v`'s first line, such as "PHP 8.4.16 (cgi-fcgi) ...".
    pub fn version(&self) -> String {
        let o = Command::new(&self.cgi)
            .args(&self.args)
            .arg("-v")
            .output()
            .unwrap_or_else(|e| panic!("run {} -v: {e}", self.cgi.display()));
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .next()
            .unwrap_or("unknown PHP")
            .to_owned()
    }
}
