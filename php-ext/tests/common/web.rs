//! nginx in front of php-fpm with the extension, serving a few scripts
//! from a temporary directory, for tests that need a real web server.

use super::fake_daemon::FakeDaemon;
use super::{extension_path, php_fpm, require, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A running nginx + php-fpm pair; both stop when it is dropped.
pub struct WebStack {
    /// nginx's port on 127.0.0.1.
    pub port: u16,
    // Field order is drop order: nginx, then php-fpm, then the directory.
    _nginx: Server,
    _fpm: Server,
    _dir: tempfile::TempDir,
}

impl WebStack {
    /// Serves `scripts` (file name, PHP code) through php-fpm (one worker,
    /// app name `shop`) reporting to `daemon`.
    pub fn start(daemon: &FakeDaemon, scripts: &[(&str, &str)]) -> WebStack {
        require("nginx", "nginx");
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("www");
        std::fs::create_dir(&root).expect("web root");
        for (name, code) in scripts {
            std::fs::write(root.join(name), code).expect("write a script");
        }
        let sock = dir.path().join("fpm.sock");
        let fpm = start_fpm(dir.path(), &sock, daemon);
        wait_until("php-fpm", || sock.exists());
        let port = free_port();
        let nginx = start_nginx(dir.path(), &root, &sock, port);
        wait_until("nginx", || TcpStream::connect(("127.0.0.1", port)).is_ok());
        WebStack {
            port,
            _nginx: nginx,
            _fpm: fpm,
            _dir: dir,
        }
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// One HTTP/1.0 GET to nginx on `port`; returns (head, body).
pub fn get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: shop.test\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read the response");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete response");
    (head.to_owned(), body.to_owned())
}

/// php-fpm with the extension, listening on `sock`.
fn start_fpm(dir: &Path, sock: &Path, daemon: &FakeDaemon) -> Server {
    let conf = dir.join("fpm.conf");
    std::fs::write(
        &conf,
        format!(
            "[global]\nerror_log = {}\ndaemonize = no\n[www]\nuser = root\ngroup = root\n\
             listen = {}\nlisten.mode = 0666\npm = static\npm.max_children = 1\n",
            dir.join("fpm.log").display(),
            sock.display()
        ),
    )
    .unwrap();
    Server(
        Command::new(php_fpm())
            .args(["-n", "-R", "-F", "-y"])
            .arg(&conf)
            .arg("-d")
            .arg(format!("extension={}", extension_path().display()))
            .args([
                "-d",
                &format!("newrelic.daemon.address={}", daemon.address()),
            ])
            .args(["-d", "newrelic.daemon.dont_launch=3"])
            .args([
                "-d",
                "newrelic.license=0123456789012345678901234567890123456789",
            ])
            .args(["-d", "newrelic.appname=shop"])
            .args(["-d", "newrelic.daemon.app_connect_timeout=5s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start php-fpm"),
    )
}

/// nginx in the foreground, serving `root` on `port` through `sock`.
fn start_nginx(dir: &Path, root: &Path, sock: &Path, port: u16) -> Server {
    let conf = dir.join("nginx.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
             worker_processes 1;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
             fastcgi_temp_path {d}/fastcgi;\n  proxy_temp_path {d}/proxy;\n\
             uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n    listen 127.0.0.1:{port};\n    root {};\n\
             location ~ \\.php$ {{\n      include /etc/nginx/fastcgi_params;\n\
             fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
             fastcgi_pass unix:{};\n    }}\n  }}\n}}\n",
            root.display(),
            sock.display()
        ),
    )
    .unwrap();
    Server(
        Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx"),
    )
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !ready() {
        assert!(Instant::now() < until, "{what} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}
