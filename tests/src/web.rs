//! A web stack for real applications: nginx in front of php-fpm with the
//! extension, in a temporary directory, as server processes of
//! `services::process` (stopped when the test binary exits). PHP runs with
//! Debian's own `php.ini` and module configuration (so `mysqli`, `mbstring`,
//! OPcache and friends are loaded as on a real host) plus the extension
//! and the settings the test gives.
//!
//! Requests go through [`WebServer::get`] / [`WebServer::post`], a minimal
//! HTTP/1.1 client (`Connection: close`), and come back as status and
//! body.

use crate::services::process::{self, Spawn};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A running nginx + php-fpm pair.
#[derive(Debug)]
pub struct WebServer {
    /// The port nginx listens on (127.0.0.1).
    pub port: u16,
    /// The server's temporary directory (logs, sockets, configuration).
    pub dir: PathBuf,
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

/// The built extension (`target/<profile>/libnewrelic_php.so`).
pub fn extension() -> PathBuf {
    crate::target_dir().join("libnewrelic_php.so")
}

/// Debian's php-fpm binary for PHP 8.2 (the only PHP of Debian 12).
fn php_fpm() -> Result<PathBuf, String> {
    process::require_binary("/usr/sbin/php-fpm8.2", "php8.2-fpm")
}

impl WebServer {
    /// Starts nginx and php-fpm for `site`; fails with the logs' tails if
    /// either does not come up.
    pub fn start(site: &Site) -> Result<WebServer, String> {
        let nginx = process::require_binary("/usr/sbin/nginx", "nginx")?;
        let fpm = php_fpm()?;
        let so = extension();
        if !so.exists() {
            return Err(format!(
                "{} is missing: run `cargo build -p newrelic-php` first",
                so.display()
            ));
        }
        let dir = process::temp_dir(&format!("seraph-web-{}-", site.name))?;
        let root = nix::unistd::geteuid().is_root();
        let sock = dir.join("fpm.sock");
        let mut pool = format!(
            "[global]\nerror_log = {log}\ndaemonize = no\n\n[www]\nlisten = {sock}\n\
             pm = static\npm.max_children = 2\nclear_env = no\ncatch_workers_output = yes\n",
            log = dir.join("fpm-error.log").display(),
            sock = sock.display(),
        );
        if root {
            pool.push_str("user = root\ngroup = root\n");
        }
        for (k, v) in &site.env {
            pool.push_str(&format!("env[{k}] = \"{v}\"\n"));
        }
        let pool_file = dir.join("fpm.conf");
        std::fs::write(&pool_file, pool).map_err(|e| format!("write fpm.conf: {e}"))?;
        let mut cmd = Command::new(fpm);
        cmd.arg("-F").arg("-y").arg(&pool_file);
        if root {
            cmd.arg("-R");
        }
        cmd.arg("-d").arg(format!("extension={}", so.display()));
        for (k, v) in &site.ini {
            cmd.arg("-d").arg(format!("{k}={v}"));
        }
        let fpm_pid = process::spawn(Spawn {
            name: "php-fpm",
            cmd,
            log: dir.join("fpm.out"),
            stop_signal: libc::SIGQUIT,
        })?;

        let port = process::free_port()?;
        let front = match &site.front_controller {
            Some(f) => format!("try_files $uri $uri/ {f}?$query_string;"),
            None => "try_files $uri $uri/ =404;".to_owned(),
        };
        for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            std::fs::create_dir_all(dir.join("tmp").join(t))
                .map_err(|e| format!("create nginx temp dirs: {e}"))?;
        }
        let conf = format!(
            "{user}daemon off;\nmaster_process on;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
             error_log {dir}/nginx-error.log;\nevents {{ worker_connections 64; }}\n\
             http {{\n  include /etc/nginx/mime.types;\n  access_log {dir}/nginx-access.log;\n\
               client_body_temp_path {dir}/tmp/body;\n  proxy_temp_path {dir}/tmp/proxy;\n\
               fastcgi_temp_path {dir}/tmp/fastcgi;\n  uwsgi_temp_path {dir}/tmp/uwsgi;\n\
               scgi_temp_path {dir}/tmp/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    server_name localhost;\n\
                 root {root};\n    index index.php;\n\
                 location / {{ {front} }}\n\
                 location ~ [^/]\\.php(/|$) {{\n\
                   fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n\
                   if (!-f $document_root$fastcgi_script_name) {{ return 404; }}\n\
                   include /etc/nginx/fastcgi_params;\n\
                   fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
                   fastcgi_param PATH_INFO $fastcgi_path_info;\n\
                   fastcgi_pass unix:{sock};\n    }}\n  }}\n}}\n",
            user = if root { "user root;\n" } else { "" },
            dir = dir.display(),
            root = site.root.display(),
            sock = sock.display(),
        );
        let conf_file = dir.join("nginx.conf");
        std::fs::write(&conf_file, conf).map_err(|e| format!("write nginx.conf: {e}"))?;
        let mut cmd = Command::new(nginx);
        cmd.arg("-c")
            .arg(&conf_file)
            .arg("-e")
            .arg(dir.join("nginx-error.log"));
        let nginx_pid = process::spawn(Spawn {
            name: "nginx",
            cmd,
            log: dir.join("nginx.out"),
            stop_signal: libc::SIGQUIT,
        })?;
        process::wait_for_port(
            "nginx",
            nginx_pid,
            port,
            &dir.join("nginx-error.log"),
            Duration::from_secs(20),
        )?;
        // php-fpm binds the socket file before it listens, so the file
        // existing is not enough: wait until a connection is accepted.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            if let Some(why) = process::exited(fpm_pid) {
                return Err(format!("{why}\n{}", process::tail(&dir.join("fpm.out"))));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!(
                    "php-fpm did not listen within 20 s\n{}",
                    process::tail(&dir.join("fpm.out"))
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(WebServer { port, dir })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A GET request; (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path, &[], "")
    }

    /// A POST of a form body; (status, body).
    pub fn post(&self, path: &str, form: &str) -> (u16, String) {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form,
        )
    }

    /// One request; panics when the server does not answer in 60 s.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to nginx: {e}\n{}", self.logs()));
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len(),
            port = self.port
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).expect("send the request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap_or_else(|e| {
            panic!("read the response to {method} {path}: {e}\n{}", self.logs())
        });
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status line in the response to {path}: {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        let body = if text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(&body)
        } else {
            body
        };
        (status, body)
    }

    /// The tails of nginx's and php-fpm's logs, for failure messages.
    pub fn logs(&self) -> String {
        ["nginx-error.log", "fpm-error.log", "fpm.out"]
            .iter()
            .map(|f| process::tail(&self.dir.join(f)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Decodes a chunked body (enough for test assertions).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
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
