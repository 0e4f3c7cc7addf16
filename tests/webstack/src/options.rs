//! [`Options`]: what a caller needs from its stack, and starting one.

use crate::bins::{free_port, nginx, php_fpm};
use crate::stack::WebStack;
use crate::{children, config};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The prefix of a stack's directory, `seraph-web-<pid>-<name>-`: the
/// directories of test binaries that were killed are told apart by the pid
/// and removed by the next stack started.
const STACK_DIR: &str = "seraph-web-";

/// nginx and php-fpm stop their workers on `SIGTERM`, from the test or
/// from the kernel when the test binary dies.
const SIGNALS: children::Signals = children::Signals {
    stop: libc::SIGTERM,
    parent_death: libc::SIGTERM,
};

/// Whom php-fpm's workers run as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunAs {
    /// The test's own user (root included, with `-R`).
    Invoker,
    /// `www-data`, as on a Debian host; the test must run as root.
    WwwData,
}

/// How to start a stack; see the setters for the defaults.
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) name: String,
    pub(crate) extension: PathBuf,
    pub(crate) root: Option<PathBuf>,
    pub(crate) scripts: Vec<(String, String)>,
    pub(crate) front_controller: Option<String>,
    pub(crate) workers: usize,
    pub(crate) ini: Vec<(String, String)>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) host_config: bool,
    pub(crate) clear_env: bool,
    pub(crate) run_as: RunAs,
    pub(crate) load: bool,
    pub(crate) fpm: Option<PathBuf>,
    pub(crate) start_timeout: Duration,
    pub(crate) request_timeout: Duration,
}

impl Options {
    /// A stack called `name` (in its directory's name) loading the
    /// extension at `extension`: 2 workers running as the invoker, PHP
    /// without any php.ini (`-n`), a 20 s start and 60 s requests.
    pub fn new(name: &str, extension: impl Into<PathBuf>) -> Options {
        Options {
            name: name.to_owned(),
            extension: extension.into(),
            root: None,
            scripts: Vec::new(),
            front_controller: None,
            workers: 2,
            ini: Vec::new(),
            env: Vec::new(),
            host_config: false,
            clear_env: true,
            run_as: RunAs::Invoker,
            load: false,
            fpm: None,
            start_timeout: Duration::from_secs(20),
            request_timeout: Duration::from_secs(60),
        }
    }

    /// Serves `root` (default: a `www` directory in the stack's own).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Options {
        self.root = Some(root.into());
        self
    }

    /// Writes a script into the document root before starting.
    pub fn script(mut self, name: &str, code: &str) -> Options {
        self.scripts.push((name.to_owned(), code.to_owned()));
        self
    }

    /// Requests that match no file go to `path` (`/index.php`); without
    /// one they get a 404.
    pub fn front_controller(mut self, path: &str) -> Options {
        self.front_controller = Some(path.to_owned());
        self
    }

    /// php-fpm's number of (static) workers.
    pub fn workers(mut self, n: usize) -> Options {
        self.workers = n;
        self
    }

    /// An INI setting (`-d name=value`).
    pub fn ini(mut self, name: &str, value: &str) -> Options {
        self.ini.push((name.to_owned(), value.to_owned()));
        self
    }

    /// INI settings (`-d name=value` each).
    pub fn inis<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        settings: impl IntoIterator<Item = (K, V)>,
    ) -> Options {
        for (k, v) in settings {
            self.ini
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// An environment variable for PHP (`env[…]` in the pool).
    pub fn env(mut self, name: &str, value: &str) -> Options {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Environment variables for PHP (`env[…]` in the pool).
    pub fn envs<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Options {
        for (k, v) in vars {
            self.env
                .push((k.as_ref().to_owned(), v.as_ref().to_owned()));
        }
        self
    }

    /// PHP reads the host's php.ini and module configuration (so
    /// `mysqli`, `mbstring`, OPcache and friends load as on a real host),
    /// and workers keep the test's environment (`clear_env = no`).
    pub fn host_config(mut self) -> Options {
        self.host_config = true;
        self.clear_env = false;
        self
    }

    /// Whom the workers run as.
    pub fn run_as(mut self, who: RunAs) -> Options {
        self.run_as = who;
        self
    }

    /// Settings for a load generator: kept-alive connections (up to a
    /// million requests each), 1024 connections, no access log.
    pub fn for_load(mut self) -> Options {
        self.load = true;
        self
    }

    /// The php-fpm binary (default: [`php_fpm`]).
    pub fn fpm_binary(mut self, path: impl Into<PathBuf>) -> Options {
        self.fpm = Some(path.into());
        self
    }

    /// How long nginx and php-fpm get to come up.
    pub fn start_timeout(mut self, t: Duration) -> Options {
        self.start_timeout = t;
        self
    }

    /// How long [`WebStack::request`] waits for a response.
    pub fn request_timeout(mut self, t: Duration) -> Options {
        self.request_timeout = t;
        self
    }

    /// Starts php-fpm, then nginx, and waits until both accept
    /// connections; fails with their logs' tails otherwise (nothing is
    /// left running then).
    pub fn start(&self) -> Result<WebStack, String> {
        if !self.extension.exists() {
            return Err(format!(
                "{} is missing: run `cargo build -p newrelic-php` first",
                self.extension.display()
            ));
        }
        let nginx_bin = nginx()?;
        let fpm_bin = match &self.fpm {
            Some(p) => p.clone(),
            None => php_fpm()?,
        };
        children::sweep_stale(STACK_DIR);
        let dir = tempfile::Builder::new()
            .prefix(&format!("{STACK_DIR}{}-{}-", std::process::id(), self.name))
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?
            .keep();
        children::remove_at_exit(dir.clone());
        let mut stack = WebStack {
            port: 0,
            dir,
            root: PathBuf::new(),
            pids: Vec::new(),
            request_timeout: self.request_timeout,
        };
        // On failure the stack is dropped: what started is stopped.
        stack.root = self.prepare(&stack.dir)?;
        let sock = stack.dir.join("fpm.sock");
        let fpm = self.spawn_fpm(&fpm_bin, &stack.dir, &sock)?;
        stack.pids.push(fpm);
        let deadline = Instant::now() + self.start_timeout;
        // A free port is not a reserved one: a server of a test running
        // beside this one can take it before nginx binds. That server
        // would answer the probe while nginx, failing to bind, retries
        // and gives up. So nginx is ready once it wrote its pid file
        // (it does after binding) and the port answers, and an nginx that
        // found its port taken is replaced on another.
        let pidfile = stack.dir.join("nginx.pid");
        for attempt in 1.. {
            stack.port = free_port()?;
            let conf = config::nginx(self, &stack.dir, &stack.root, &sock, stack.port);
            let nginx = spawn_nginx(&nginx_bin, &stack.dir, &conf)?;
            stack.pids.insert(0, nginx);
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], stack.port));
            let started = stack.wait(deadline, "nginx", nginx, "nginx-error.log", || {
                read_pid(&pidfile) == Some(nginx)
                    && std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                        .is_ok()
            });
            match started {
                Err(e) if attempt < 4 && e.contains("Address already in use") => {
                    stack.pids.remove(0);
                    children::stop(&[nginx]);
                    let _ = std::fs::remove_file(stack.dir.join("nginx-error.log"));
                }
                r => {
                    r?;
                    break;
                }
            }
        }
        // php-fpm binds the socket file before it listens, so the file
        // existing is not enough: wait until a connection is accepted.
        stack.wait(deadline, "php-fpm", fpm, "fpm.out", || {
            std::os::unix::net::UnixStream::connect(&sock).is_ok()
        })?;
        Ok(stack)
    }

    /// Creates the directory's layout and the document root (with the
    /// scripts), readable by the workers' user; returns the root.
    fn prepare(&self, dir: &Path) -> Result<PathBuf, String> {
        let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
        chmod(dir, 0o755)?;
        for t in config::NGINX_TEMP_DIRS {
            std::fs::create_dir_all(dir.join("tmp").join(t))
                .map_err(|e| io("create nginx's temporary directories", e))?;
        }
        let root = match &self.root {
            Some(r) => r.clone(),
            None => {
                let r = dir.join("www");
                std::fs::create_dir(&r).map_err(|e| io("create the document root", e))?;
                chmod(&r, 0o755)?;
                r
            }
        };
        for (name, code) in &self.scripts {
            let file = root.join(name);
            std::fs::write(&file, code).map_err(|e| io(&format!("write {name}"), e))?;
            chmod(&file, 0o644)?;
        }
        Ok(root)
    }

    fn spawn_fpm(&self, bin: &Path, dir: &Path, sock: &Path) -> Result<u32, String> {
        let conf = dir.join("fpm.conf");
        std::fs::write(&conf, config::fpm(self, dir, sock))
            .map_err(|e| format!("write fpm.conf: {e}"))?;
        let mut cmd = Command::new(bin);
        if !self.host_config {
            cmd.arg("-n");
        }
        cmd.arg("-F").arg("-y").arg(&conf);
        if self.run_as == RunAs::Invoker && config::is_root() {
            cmd.arg("-R");
        }
        cmd.arg("-d")
            .arg(format!("extension={}", self.extension.display()));
        for (k, v) in &self.ini {
            cmd.arg("-d").arg(format!("{k}={v}"));
        }
        log_to(&mut cmd, &dir.join("fpm.out"))?;
        children::spawn("php-fpm", cmd, SIGNALS)
    }
}

fn spawn_nginx(bin: &Path, dir: &Path, conf: &str) -> Result<u32, String> {
    let file = dir.join("nginx.conf");
    std::fs::write(&file, conf).map_err(|e| format!("write nginx.conf: {e}"))?;
    let mut cmd = Command::new(bin);
    // -e: the error log before the configuration is read (the default,
    // under /var/log, is not writable for every user).
    cmd.arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(&file)
        .arg("-e")
        .arg(dir.join("nginx-error.log"));
    log_to(&mut cmd, &dir.join("nginx.out"))?;
    children::spawn("nginx", cmd, SIGNALS)
}

/// The pid in a pid file, once it is written whole.
fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn log_to(cmd: &mut Command, file: &Path) -> Result<(), String> {
    let out = std::fs::File::create(file).map_err(|e| format!("create {}: {e}", file.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("duplicate a log file: {e}"))?;
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    Ok(())
}

fn chmod(p: &Path, mode: u32) -> Result<(), String> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}
