//! Apache for the mod_php tests: the binary, the module, a scratch site
//! that the children (running as `www-data`) can read, and plain HTTP/1.0.

use super::fake_daemon::FakeDaemon;
use super::{extension_path, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch site for Apache reporting to a fake daemon: a copy of the
/// extension, the scripts under `www/`, a php.ini under `ini/`, the agent
/// log under `logs/`. The children run as www-data (Apache refuses to
/// serve as root): they must reach the daemon's socket, read the
/// extension, the scripts and the ini, and write the agent log, whatever
/// the umask and wherever the repository is checked out, so permissions
/// are set explicitly.
pub struct Site {
    /// Removed when the site is dropped.
    _dir: tempfile::TempDir,
    /// ServerRoot: `httpd.conf`, `error.log`, `httpd.pid`.
    pub root: PathBuf,
    pub www: PathBuf,
    pub ini_dir: PathBuf,
    /// The port Apache is told to listen on.
    pub port: u16,
}

impl Site {
    /// Writes the site for app `appname`, `extra_ini` (whole lines) after
    /// the agent's settings.
    pub fn new(
        daemon: &FakeDaemon,
        appname: &str,
        connect_timeout: &str,
        extra_ini: &str,
        scripts: &[(&str, &str)],
    ) -> Site {
        let socket = PathBuf::from(daemon.address());
        make_readable(socket.parent().unwrap(), 0o755);
        make_readable(&socket, 0o777);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let ext = root.join("newrelic.so");
        std::fs::copy(extension_path(), &ext).unwrap();
        let www = root.join("www");
        std::fs::create_dir(&www).unwrap();
        let logs = root.join("logs");
        std::fs::create_dir(&logs).unwrap();
        let ini_dir = root.join("ini");
        std::fs::create_dir(&ini_dir).unwrap();
        std::fs::write(
            ini_dir.join("php.ini"),
            format!(
                "extension={ext}\n\
                 newrelic.license=0123456789012345678901234567890123456789\n\
                 newrelic.appname={appname}\n\
                 newrelic.daemon.address={addr}\n\
                 newrelic.daemon.dont_launch=3\n\
                 newrelic.daemon.app_connect_timeout={connect_timeout}\n\
                 newrelic.special.appinfo_timeout={appinfo_timeout}\n\
                 newrelic.logfile={log}\n\
                 newrelic.loglevel=info\n\
                 {extra_ini}",
                ext = ext.display(),
                addr = daemon.address(),
                appinfo_timeout = super::APPINFO_TIMEOUT,
                log = logs.join("agent.log").display(),
            ),
        )
        .unwrap();
        for entry in [&root, &www, &ini_dir] {
            make_readable(entry, 0o755);
        }
        make_readable(&logs, 0o777);
        make_readable(&ext, 0o755);
        make_readable(&ini_dir.join("php.ini"), 0o644);
        for (name, code) in scripts {
            let file = www.join(name);
            std::fs::write(&file, code).unwrap();
            make_readable(&file, 0o644);
        }
        Site {
            _dir: dir,
            root,
            www,
            ini_dir,
            port: free_port(),
        }
    }

    /// Writes `httpd.conf`: the MPM module `mpm` (`prefork`, `event`) with
    /// its settings `mpm_settings` (whole lines), mod_php, PHP for `.php`.
    pub fn write_conf(&self, mod_php: &Path, mpm: &str, mpm_settings: &str) -> PathBuf {
        let conf = self.root.join("httpd.conf");
        std::fs::write(
            &conf,
            format!(
                "ServerRoot {root}\n\
                 PidFile {root}/httpd.pid\n\
                 ErrorLog {root}/error.log\n\
                 LoadModule mpm_{mpm}_module /usr/lib/apache2/modules/mod_mpm_{mpm}.so\n\
                 LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so\n\
                 LoadModule php_module {mod_php}\n\
                 PHPINIDir {ini}\n\
                 Listen 127.0.0.1:{port}\n\
                 ServerName localhost\n\
                 User www-data\n\
                 Group www-data\n\
                 {mpm_settings}\
                 DocumentRoot {www}\n\
                 <FilesMatch \"\\.php$\">\n  SetHandler application/x-httpd-php\n</FilesMatch>\n\
                 <Directory {www}>\n  Require all granted\n</Directory>\n",
                root = self.root.display(),
                mod_php = mod_php.display(),
                ini = self.ini_dir.display(),
                port = self.port,
                www = self.www.display(),
            ),
        )
        .unwrap();
        conf
    }

    /// Starts `cmd` (Apache, or a tool running it in its own process, as
    /// valgrind does) with `-f conf` and waits at most `limit` until it
    /// listens.
    ///
    /// The port was free when chosen, not reserved: a server of a test
    /// running beside this one can take it first. Apache then exits while
    /// that server answers connects, so Apache is ready once its pid file
    /// holds its pid (written after binding) and the port answers; if the
    /// port was taken, `conf` is moved to another port (`self.port`) and
    /// Apache started again.
    pub fn start(&mut self, cmd: Command, conf: &Path, limit: Duration) -> Server {
        let pidfile = self.root.join("httpd.pid");
        let error_log = self.root.join("error.log");
        let stderr = self.root.join("stderr.log");
        let until = Instant::now() + limit;
        for attempt in 1.. {
            let mut c = Command::new(cmd.get_program());
            c.args(cmd.get_args());
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
            let mut apache = Server(
                // Its own process group: on SIGTERM Apache signals its whole
                // group, which would otherwise include this test process.
                c.process_group(0)
                    .arg("-f")
                    .arg(conf)
                    .stdout(Stdio::null())
                    // Where a failed bind is reported (the error log is
                    // not open yet then).
                    .stderr(std::fs::File::create(&stderr).unwrap())
                    .spawn()
                    .unwrap(),
            );
            let pid = apache.0.id();
            loop {
                let own = std::fs::read_to_string(&pidfile)
                    .ok()
                    .and_then(|p| p.trim().parse::<u32>().ok())
                    == Some(pid);
                if own && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                    return apache;
                }
                let log = || {
                    [&stderr, &error_log]
                        .map(|f| std::fs::read_to_string(f).unwrap_or_default())
                        .join("")
                };
                if let Ok(Some(status)) = apache.0.try_wait() {
                    let log = log();
                    assert!(
                        attempt < 4 && log.contains("Address already in use"),
                        "Apache exited ({status}):\n{log}"
                    );
                    break;
                }
                assert!(Instant::now() < until, "Apache did not start:\n{}", log());
                std::thread::sleep(Duration::from_millis(20));
            }
            // Reaped by try_wait: its pid may be anyone's now, so no stop
            // signal (Server's drop) goes to it.
            std::mem::forget(apache);
            let old = format!("Listen 127.0.0.1:{}\n", self.port);
            self.port = free_port();
            let text = std::fs::read_to_string(conf).unwrap();
            let new = format!("Listen 127.0.0.1:{}\n", self.port);
            std::fs::write(conf, text.replace(&old, &new)).unwrap();
            let _ = std::fs::remove_file(&error_log);
        }
        unreachable!("the loop returns or panics")
    }
}

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
