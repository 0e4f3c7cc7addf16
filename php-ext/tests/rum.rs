//! Automatic browser monitoring through a real web server: nginx in front
//! of php-fpm with the extension. An HTML page gets the loader script in
//! its `<head>` and the `NREUM.info` footer before `</body>`, each exactly
//! once, even when the page is flushed in pieces; a JSON response and a
//! page that called `newrelic_disable_autorum()` reach the client exactly
//! as the script wrote them.

mod common;
use common::fake_daemon::{FakeDaemon, Mode};
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LOADER: &str = "window.NREUM||(NREUM={});NREUM.loader=1;";

/// The page: its `<head>` and `</body>` go out in different flushes.
const PAGE: &str = r#"<?php
echo "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>shop</title></head>\n";
flush();
echo "<body><p>", str_repeat("item ", 2000), "</p>\n";
flush();
echo "</body></html>\n";
"#;

/// JSON that happens to contain the markers the injection looks for.
const JSON: &str = r#"<?php
header('Content-Type: application/json');
echo json_encode(['html' => '<html><head><title>x</title></head><body></body></html>']);
"#;

/// A page whose script turned injection off; the call's result is shown.
const DISABLED: &str = r#"<?php
$r = newrelic_disable_autorum();
?>
<html><head><title>plain</title></head><body><?php var_export($r); ?></body></html>
"#;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// One HTTP/1.0 GET; returns (head, body).
fn get(port: u16, path: &str) -> (String, String) {
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
            .args(["-d", &format!("newrelic.daemon.address={}", daemon.address())])
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

#[test]
fn nginx_and_php_fpm_pages_get_rum_once_json_and_disabled_pages_nothing() {
    require("nginx", "nginx");
    let d = FakeDaemon::start(Mode::Browser);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("www");
    std::fs::create_dir(&root).unwrap();
    for (name, code) in [
        ("page.php", PAGE),
        ("api.php", JSON),
        ("disabled.php", DISABLED),
    ] {
        std::fs::write(root.join(name), code).unwrap();
    }
    let sock = dir.path().join("fpm.sock");
    let _fpm = start_fpm(dir.path(), &sock, &d);
    wait_until("php-fpm", || sock.exists());
    let port = free_port();
    let _nginx = start_nginx(dir.path(), &root, &sock, port);
    wait_until("nginx", || TcpStream::connect(("127.0.0.1", port)).is_ok());

    // The HTML page: loader right after the charset meta tag, footer right
    // before </body>, once each.
    let (head, page) = get(port, "/page.php");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let loader = format!("<script type=\"text/javascript\">{LOADER}</script>");
    assert_eq!(page.matches(LOADER).count(), 1, "{page}");
    assert!(
        page.contains(&format!("<meta charset=\"utf-8\">{loader}<title>shop</title>")),
        "{page}"
    );
    assert_eq!(page.matches("NREUM.info=").count(), 1, "{page}");
    let footer_at = page.find("NREUM.info=").unwrap();
    let body_end = page.find("</body>").unwrap();
    assert!(footer_at < body_end, "the footer precedes </body>");
    assert!(page[footer_at..body_end].ends_with("}</script>"), "{page}");
    assert!(page.contains("\"licenseKey\":\"b1234567\""), "{page}");
    assert!(page.contains("\"applicationID\":\"2\""), "{page}");
    assert_eq!(page.matches("<script").count(), 2, "{page}");

    // JSON: byte for byte what the script wrote.
    let (head, json) = get(port, "/api.php");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert_eq!(
        json,
        r#"{"html":"<html><head><title>x<\/title><\/head><body><\/body><\/html>"}"#
    );

    // newrelic_disable_autorum() returned true and the page is untouched.
    let (_, plain) = get(port, "/disabled.php");
    assert_eq!(
        plain,
        "<html><head><title>plain</title></head><body>true</body></html>\n"
    );

    // All three were transactions, named after their scripts.
    let until = Instant::now() + Duration::from_secs(10);
    let names = loop {
        let names: Vec<String> = d
            .frames()
            .iter()
            .filter(|f| f.kind() == "Transaction")
            .map(|f| f.txn().name)
            .collect();
        if names.len() >= 3 || Instant::now() > until {
            break names;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut names = names;
    names.sort();
    assert_eq!(
        names,
        [
            "WebTransaction/Uri/api.php",
            "WebTransaction/Uri/disabled.php",
            "WebTransaction/Uri/page.php"
        ]
    );
}
