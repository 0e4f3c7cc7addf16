//! The web tier of the end-to-end tests, on the shared harness
//! (`seraph_webstack`): real applications behind nginx and php-fpm with
//! Debian's own PHP configuration ([`Site`]), the page the fault drills put
//! under load ([`load_stack`]), and PHP's command line with the extension
//! ([`php_cli`]).

pub use seraph_webstack::{Response, RunAs, WebStack};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's php-fpm for PHP 8.2 (the only PHP of Debian 12), whose
/// configuration (`/etc/php/8.2/fpm`) the applications run with.
const DEBIAN_FPM: &str = "/usr/sbin/php-fpm8.2";

/// The built extension (`target/<profile>/libnewrelic_php.so`).
pub fn extension() -> PathBuf {
    crate::target_dir().join("libnewrelic_php.so")
}

/// How to serve an application.
#[derive(Debug, Clone)]
pub struct Site {
    /// A short name for logs and directories.
    pub name: String,
    /// The document root.
    pub root: PathBuf,
    /// The front controller requests that match no file go to
    /// (`/index.php`), or `None` to serve files only.
    pub front_controller: Option<String>,
    /// INI settings for PHP (`-d name=value`).
    pub ini: Vec<(String, String)>,
    /// Environment variables for PHP (`env[…]` in the pool).
    pub env: Vec<(String, String)>,
}

impl Site {
    /// Starts nginx and php-fpm (2 workers, running as the test's user)
    /// for the application, PHP reading Debian's `php.ini` and module
    /// configuration (so `mysqli`, `mbstring`, OPcache and friends are
    /// loaded as on a real host) plus the extension and [`Site::ini`].
    /// Fails with the logs' tails if either does not come up.
    pub fn start(&self) -> Result<WebStack, String> {
        let mut o = seraph_webstack::Options::new(&self.name, extension())
            .root(&self.root)
            .workers(2)
            .host_config()
            .fpm_binary(DEBIAN_FPM)
            .inis(self.ini.iter().map(|(k, v)| (k, v)))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(f) = &self.front_controller {
            o = o.front_controller(f);
        }
        o.start()
    }
}

/// The page every request of the fault drills runs: a little work (a few
/// user functions, a loop), then its worker's pid as the body, with a
/// `Content-Length` so the load generator can keep the connection alive.
pub const APP_PHP: &str = r#"<?php
function item(int $i): string { return str_repeat(chr(97 + $i % 26), 8); }
function page(): string {
    $parts = [];
    for ($i = 0; $i < 200; $i++) { $parts[] = item($i); }
    return md5(implode(',', $parts));
}
page();
$body = (string) getmypid();
header('Content-Type: text/plain');
header('Content-Length: ' . strlen($body));
echo $body;
"#;

/// nginx and php-fpm serving [`APP_PHP`] at `/app.php` under load:
/// `workers` static workers running as `www-data` (the test runs as root),
/// the extension at `extension` with `ini` and no php.ini, connections kept
/// alive. Panics with the logs when it does not start.
pub fn load_stack(extension: &Path, ini: &[(String, String)], workers: usize) -> WebStack {
    seraph_webstack::Options::new("load", extension)
        .script("app.php", APP_PHP)
        .workers(workers)
        .run_as(RunAs::WwwData)
        .for_load()
        .fpm_binary(DEBIAN_FPM)
        .inis(ini.iter().map(|(k, v)| (k, v)))
        .start()
        .unwrap_or_else(|e| panic!("start php-fpm and nginx: {e}"))
}

/// Runs a PHP command-line script with Debian's configuration, the
/// extension, `ini` and the environment `env`, in `cwd`; returns whether it
/// succeeded and its output (stdout and stderr).
pub fn php_cli(
    cwd: &Path,
    ini: &[(String, String)],
    env: &[(String, String)],
    args: &[&str],
) -> (bool, String) {
    let mut cmd = Command::new("php");
    cmd.current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .arg("-d")
        .arg(format!("extension={}", extension().display()));
    for (k, v) in ini {
        cmd.arg("-d").arg(format!("{k}={v}"));
    }
    let out = cmd.args(args).output().expect("run php");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
