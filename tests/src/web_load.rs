//! A real web tier for end-to-end tests: php-fpm (Debian's, with the
//! extension loaded, workers running as `www-data`) behind nginx, in a
//! temporary directory, both stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The page every request runs: a little work (a few user functions, a
/// loop), then its worker's pid as the body, with a `Content-Length` so
/// the load generator can keep the connection alive.
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

/// php-fpm and nginx serving [`APP_PHP`] on a loopback port.
pub struct WebStack {
    /// The stack's directory (configs, sockets, logs, the page).
    pub dir: tempfile::TempDir,
    /// nginx's port on 127.0.0.1.
    pub port: u16,
    fpm: Option<Child>,
    nginx: Option<Child>,
}

/// A binary from Debian's packages, or a clear failure.
fn need(path: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(path);
    assert!(
        p.exists(),
        "{path} is missing: install {package} (tests/setup-host.sh does). A skipped check would \
         hide a defect, so this test fails instead."
    );
    p
}

/// A free loopback TCP port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl WebStack {
    /// Starts php-fpm (`workers` static children running as `www-data`)
    /// with the extension and `ini` (`newrelic.*` settings), and nginx in
    /// front of it. `dir` must be reachable by `www-data`.
    pub fn start(extension: &Path, ini: &[(String, String)], workers: usize) -> WebStack {
        let fpm_bin = need("/usr/sbin/php-fpm8.2", "php8.2-fpm");
        let nginx_bin = need("/usr/sbin/nginx", "nginx");
        let dir = tempfile::tempdir().expect("temp dir");
        chmod(dir.path(), 0o755);
        let root = dir.path().join("www");
        std::fs::create_dir(&root).unwrap();
        chmod(&root, 0o755);
        std::fs::write(root.join("app.php"), APP_PHP).unwrap();
        chmod(&root.join("app.php"), 0o644);
        let fpm_sock = dir.path().join("fpm.sock");
        let fpm_conf = dir.path().join("php-fpm.conf");
        std::fs::write(
            &fpm_conf,
            format!(
                "[global]\nerror_log = {log}\ndaemonize = no\n\
                 [app]\nuser = www-data\ngroup = www-data\nlisten = {sock}\nlisten.mode = 0666\n\
                 pm = static\npm.max_children = {workers}\npm.max_requests = 0\n\
                 catch_workers_output = yes\n",
                log = dir.path().join("php-fpm.log").display(),
                sock = fpm_sock.display(),
            ),
        )
        .unwrap();
        let mut fpm = Command::new(fpm_bin);
        fpm.args(["-n", "-F", "-y"])
            .arg(&fpm_conf)
            .arg("-d")
            .arg(format!("extension={}", extension.display()));
        for (k, v) in ini {
            fpm.arg("-d").arg(format!("{k}={v}"));
        }
        let fpm = fpm
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start php-fpm");
        let port = free_port();
        let nginx_conf = dir.path().join("nginx.conf");
        let d = dir.path().display();
        std::fs::write(
            &nginx_conf,
            format!(
                "pid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nworker_processes 1;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n\
                 client_body_temp_path {d}/nginx-body;\n  fastcgi_temp_path {d}/nginx-fastcgi;\n\
                 proxy_temp_path {d}/nginx-proxy;\n  uwsgi_temp_path {d}/nginx-uwsgi;\n\
                 scgi_temp_path {d}/nginx-scgi;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    root {root};\n\
                 location ~ \\.php$ {{\n      include /etc/nginx/fastcgi_params;\n\
                 fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
                 fastcgi_pass unix:{sock};\n    }}\n  }}\n}}\n",
                root = root.display(),
                sock = fpm_sock.display(),
            ),
        )
        .unwrap();
        let nginx = Command::new(nginx_bin)
            .arg("-c")
            .arg(&nginx_conf)
            .arg("-p")
            .arg(dir.path())
            .args(["-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let stack = WebStack {
            dir,
            port,
            fpm: Some(fpm),
            nginx: Some(nginx),
        };
        stack.wait_ready();
        stack
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = self.dir.path().join("fpm.sock").exists()
                && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok();
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "php-fpm/nginx did not start; php-fpm log:\n{}\nnginx log:\n{}",
                self.log("php-fpm.log"),
                self.log("nginx-error.log")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A log file of the stack, for failure messages.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl Drop for WebStack {
    fn drop(&mut self) {
        for child in [self.nginx.take(), self.fpm.take()].into_iter().flatten() {
            let mut child = child;
            if let Ok(pid) = i32::try_from(child.id()) {
                // SIGQUIT: nginx and php-fpm stop their workers and exit.
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGQUIT,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
