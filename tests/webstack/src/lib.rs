//! nginx in front of php-fpm with the extension loaded, in a temporary
//! directory: the one web server harness of the tests (php-ext's tests and
//! seraph-e2e's applications and fault drills).
//!
//! [`Options`] says what each caller needs (workers, INI settings, the
//! document root or a few scripts, the user workers run as, settings for
//! load); [`Options::start`] returns a [`WebStack`] once nginx accepts
//! connections and php-fpm accepts them on its socket. Dropping the stack
//! stops both (their workers with them) and removes the directory; a stack
//! that is never dropped (kept in a `static`) is stopped at exit, and one
//! whose test binary is killed stops with it, its directory removed by the
//! next stack started (see `children`).
//!
//! ```no_run
//! let web = seraph_webstack::Options::new("shop", "target/debug/libnewrelic_php.so")
//!     .script("index.php", "<?php echo 'hi';")
//!     .ini("newrelic.appname", "shop")
//!     .start()
//!     .unwrap();
//! assert_eq!(web.get("/index.php"), (200, "hi".to_owned()));
//! ```

mod children;
mod config;
mod http;

pub use http::Response;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
        children::sweep_stale();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}{}-", children::dir_prefix(), self.name))
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
        stack.port = free_port()?;
        let conf = config::nginx(self, &stack.dir, &stack.root, &sock, stack.port);
        let nginx = spawn_nginx(&nginx_bin, &stack.dir, &conf)?;
        stack.pids.insert(0, nginx);
        let deadline = Instant::now() + self.start_timeout;
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], stack.port));
        stack.wait(deadline, "nginx", nginx, "nginx-error.log", || {
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })?;
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
        children::spawn("php-fpm", cmd)
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
    children::spawn("nginx", cmd)
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

/// A free TCP port on 127.0.0.1 (bound and released: another process could
/// take it before nginx does, which start-up reports as a failure).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

const MISSING: &str = "(tests/setup-host.sh installs it). A skipped check would hide a \
                       defect, so this test fails instead.";

/// nginx: Debian's, else the one on PATH.
fn nginx() -> Result<PathBuf, String> {
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

/// A running nginx + php-fpm pair; both stop when it is dropped.
#[derive(Debug)]
pub struct WebStack {
    /// nginx's port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    root: PathBuf,
    /// nginx first (it stops taking requests first), then php-fpm.
    pids: Vec<u32>,
    request_timeout: Duration,
}

impl WebStack {
    /// The stack's directory: configuration, socket, logs (`nginx-*.log`,
    /// `fpm-error.log`, `fpm.out`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The document root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// php-fpm's master process (its workers are its children).
    pub fn fpm_pid(&self) -> u32 {
        *self.pids.last().expect("php-fpm started")
    }

    /// nginx's master process (its worker is its child).
    pub fn nginx_pid(&self) -> u32 {
        *self.pids.first().expect("nginx started")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A GET request; (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self.request("GET", path, &[], "");
        (r.status, r.body)
    }

    /// A POST of a form body; (status, body).
    pub fn post(&self, path: &str, form: &str) -> (u16, String) {
        let r = self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form,
        );
        (r.status, r.body)
    }

    /// One request (`Host: 127.0.0.1:<port>` unless `headers` has one);
    /// panics with the servers' logs when it fails or times out.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        http::request(self.port, self.request_timeout, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()))
    }

    /// The tails of nginx's and php-fpm's logs, for failure messages.
    pub fn logs(&self) -> String {
        ["nginx-error.log", "nginx.out", "fpm-error.log", "fpm.out"]
            .iter()
            .map(|f| tail(&self.dir.join(f)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `ready` until `deadline`, failing early when `pid` exits.
    fn wait(
        &self,
        deadline: Instant,
        what: &str,
        pid: u32,
        log: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        while !ready() {
            if let Some(how) = children::exited(pid) {
                return Err(format!("{what}: {how}\n{}", self.logs()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what} did not accept connections in time\n{}",
                    tail(&self.dir.join(log))
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for WebStack {
    fn drop(&mut self) {
        children::stop(&self.pids);
        let _ = std::fs::remove_dir_all(&self.dir);
        children::removed(&self.dir);
    }
}

/// The last 30 lines of a log file, named.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(30);
    format!(
        "--- {} (tail) ---\n{}",
        path.display(),
        lines[from..].join("\n")
    )
}
