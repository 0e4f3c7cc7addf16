//! The servers' binaries, and a port for nginx.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A free TCP port on 127.0.0.1 (bound and released: another process could
/// take it before nginx does; start-up then tries another port).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

const MISSING: &str = "(tests/setup-host.sh installs it). A skipped check would hide a \
                       defect, so this test fails instead.";

/// nginx: Debian's, else the one on PATH.
pub(crate) fn nginx() -> Result<PathBuf, String> {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    if sbin.exists() {
        return Ok(sbin);
    }
    on_path("nginx").ok_or_else(|| format!("nginx is not installed: install nginx {MISSING}"))
}

/// The php-fpm binary for the CLI's PHP version: `SERAPH_TEST_PHP_FPM`
/// (the version matrix's own build), else `php-fpm<ver>` or `php-fpm` on
/// PATH, else in /usr/sbin (Debian's location).
pub fn php_fpm() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("SERAPH_TEST_PHP_FPM") {
        return Ok(PathBuf::from(p));
    }
    let out = Command::new("php")
        .args([
            "-n",
            "-r",
            "echo PHP_MAJOR_VERSION, '.', PHP_MINOR_VERSION;",
        ])
        .output()
        .map_err(|e| format!("cannot run php: {e}"))?;
    let ver = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    for name in [format!("php-fpm{ver}"), "php-fpm".to_owned()] {
        if let Some(p) = on_path(&name) {
            return Ok(p);
        }
        let sbin = Path::new("/usr/sbin").join(&name);
        if sbin.exists() {
            return Ok(sbin);
        }
    }
    Err(format!(
        "php-fpm for PHP {ver} is not installed: install php{ver}-fpm {MISSING}"
    ))
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
