//! Apache for the mod_php tests: the binary, the module, a scratch site
//! that the children (running as `www-data`) can read, and plain HTTP/1.0.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Apache's binary and the mod_php module for the CLI's PHP version
/// (`SERAPH_TEST_MOD_PHP` names another one: the version matrix's own
/// builds, tests/php-versions/matrix.sh).
pub fn apache_and_mod_php() -> (PathBuf, PathBuf) {
    let ver = super::php_version();
    let module = std::env::var_os("SERAPH_TEST_MOD_PHP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/usr/lib/apache2/modules/libphp{ver}.so")));
    let apache = PathBuf::from("/usr/sbin/apache2");
    assert!(
        apache.exists() && module.exists(),
        "Apache or mod_php for PHP {ver} ({}) is not installed, so this test cannot run. \
         Install apache2-bin and libapache2-mod-php{ver} (tests/setup-host.sh does). \
         A skipped check would hide a defect, so this test fails instead.",
        module.display()
    );
    (apache, module)
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `GET path` over HTTP/1.0; returns (status line, body).
pub fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to Apache");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: apache.test\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.lines().next().unwrap_or("").to_owned();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// Sets a file's or directory's mode.
pub fn make_readable(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Waits until Apache listens on `port`; fails with its error log after
/// `limit`.
pub fn wait_listening(port: u16, error_log: &Path, limit: Duration) {
    let until = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "Apache did not start:\n{}",
            std::fs::read_to_string(error_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
