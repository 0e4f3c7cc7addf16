//! WordPress front page overhead (a benchmark, not a test): what the
//! extension costs a real application, Debian 12's `wordpress` package
//! (6.1, theme twentytwentythree) on MariaDB, served by nginx + php-fpm.
//!
//! ```sh
//! cargo build --release -p newrelic-php
//! cargo bench -p seraph-e2e --bench wordpress [-- ROUNDS [SECONDS]]
//! NEWRELIC_SO=/path/to/newrelic.so cargo bench -p seraph-e2e --bench wordpress
//! PHP_CGI=$prefix/bin/php-cgi SERAPH_SO=$target/release/libnewrelic_php.so \
//!   PHP_INI=$php_src/php.ini-production \
//!   cargo bench -p seraph-e2e --bench wordpress -- instructions
//! ```
//!
//! Debian's PHP 8.2 is measured unless `PHP_CGI` names another PHP (with
//! `SERAPH_SO` built against it; see `wordpress/php.rs`); another PHP is
//! measured under callgrind only. Every configuration must first render
//! the front page with the sample post natively.
//!
//! In one run, for PHP without an extension, with the release extension
//! and, if `NEWRELIC_SO` names another agent's `newrelic.so`, with that
//! one (each agent talking to a stand-in daemon in this file, like
//! `php-ext/benches/fake_daemon.py`, so transactions really end and are
//! sent; it counts their span events):
//!
//! 1. instructions per warm request (valgrind's callgrind): `php-cgi -T 11`
//!    minus `php-cgi -T 1` on the front page, divided by 10, so start-up
//!    and the cold first request cancel;
//!    Seraph is measured twice: with the default `expensive_node_min`
//!    (2 ms) and with it multiplied by callgrind's slowdown, the wall time
//!    of a warm request with Seraph under callgrind over its native wall
//!    time (`php-cgi -T 11` minus `-T 1`, / 10, median of 5 native runs),
//!    since a call short natively looks long under callgrind and is not
//!    demoted there;
//! 2. the extension's end of the transaction (`end_transaction`: finishing,
//!    encoding and sending) per request, from callgrind's inclusive cost;
//! 3. under load (`wrk`, 4 connections, `SECONDS` each, default 10, over
//!    `ROUNDS` interleaved rounds, default 3): requests per second and the
//!    php-fpm workers' CPU time (user + system, from `/proc`) per request.
//!
//! The callgrind figures also have the engine's floor (`wordpress/floor.rs`):
//! `floor-decline` and `floor-empty`, PHP with `php-ext/benches/floor.c`,
//! an fcall observer that gives no function handlers, and one whose
//! handlers do nothing; they are not run under load.
//!
//! `-- instructions` stops after the callgrind figures; with
//! `BENCH_PROFILE_DIR=<dir>` the callgrind profiles (`callgrind.<config>`,
//! 11 requests) are kept there for `callgrind_annotate`.
//!
//! Every figure is printed with its ratio to PHP without an extension, and
//! the CPU model, since only ratios from the same run compare.

#[path = "wordpress/floor.rs"]
mod floor;
#[path = "wordpress/php.rs"]
mod php;

use seraph_e2e::apps;
use seraph_e2e::services::{self, process};
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The PHP measured (`wordpress/php.rs`), chosen once from the environment.
static PHP: OnceLock<php::Php> = OnceLock::new();

fn php() -> &'static php::Php {
    PHP.get_or_init(|| php::Php::from_env(&root()))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown CPU".into())
}

fn median_usize(v: &mut [usize]) -> f64 {
    median(&mut v.iter().map(|&n| n as f64).collect::<Vec<_>>())
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A stand-in daemon like `php-ext/benches/fake_daemon.py` (answers every
/// App query with the vectors' Connected reply), which also decodes the
/// transactions it receives and keeps their span event counts, so the
/// benchmark can say how many segments a front page keeps.
struct Daemon {
    spans: Arc<Mutex<Vec<usize>>>,
}

impl Daemon {
    fn start(sock: &Path, reply: Vec<u8>) -> Daemon {
        let listener = UnixListener::bind(sock).expect("bind the daemon socket");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let (spans2, reply) = (spans.clone(), Arc::new(reply));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (spans, reply) = (spans2.clone(), reply.clone());
                std::thread::spawn(move || answer(conn, &reply, &spans));
            }
        });
        Daemon { spans }
    }

    /// Span event counts of the transactions received since the last call.
    fn take_spans(&self) -> Vec<usize> {
        std::mem::take(&mut *self.spans.lock().expect("spans lock"))
    }
}

fn answer(mut c: UnixStream, reply: &[u8], spans: &Mutex<Vec<usize>>) {
    let mut scratch = Vec::new();
    loop {
        let mut head = [0u8; 8];
        if c.read_exact(&mut head).is_err() {
            return;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let mut body = vec![0u8; len];
        if c.read_exact(&mut body).is_err() {
            return;
        }
        match seraph_wire::decode(&body, &mut scratch).map(|m| m.body) {
            Ok(seraph_wire::Body::App(_)) if c.write_all(reply).is_err() => return,
            Ok(seraph_wire::Body::Transaction(t)) => {
                let t = seraph_wire::TransactionData::from_fb(&t);
                spans.lock().expect("spans lock").push(t.span_events.len());
            }
            _ => {}
        }
    }
}

/// One way of running PHP: a name, the `-d` settings that load (or do
/// not load) an agent, and environment variables for PHP.
struct Config {
    name: String,
    ini: Vec<String>,
    env: Vec<(String, String)>,
    /// Whether this is Seraph (its end of transaction is measured).
    seraph: bool,
}

/// Installs WordPress into a temporary directory (as `apps::wordpress`
/// does, without the test plugin, whose sleeps would hide CPU costs);
/// returns the document root and the database environment.
fn install() -> (PathBuf, Vec<(String, String)>) {
    apps::require("/usr/share/wordpress/wp-settings.php", "wordpress");
    let db = services::mariadb();
    db.sql("CREATE DATABASE IF NOT EXISTS wordpress")
        .unwrap_or_else(|e| panic!("create the WordPress database: {e}"));
    let dir = process::temp_dir("seraph-bench-wordpress-").unwrap_or_else(|e| panic!("{e}"));
    let docroot = dir.join("wordpress");
    apps::copy_tree("/usr/share/wordpress".as_ref(), &docroot);
    let files = apps::files("wordpress");
    for f in ["wp-config.php", "install.php"] {
        std::fs::copy(files.join(f), docroot.join(f)).expect("copy the set-up files");
    }
    let plugin = docroot.join("wp-content/plugins/seraph-test-plugin");
    apps::copy_tree(&files.join("seraph-test-plugin"), &plugin);
    let env: Vec<(String, String)> = vec![
        ("WORDPRESS_DB_NAME".into(), "wordpress".into()),
        ("WORDPRESS_DB_USER".into(), db.user.clone()),
        ("WORDPRESS_DB_PASSWORD".into(), db.password.clone()),
        (
            "WORDPRESS_DB_HOST".into(),
            format!("{}:{}", db.host, db.port),
        ),
    ];
    let out = apps::run(
        "WordPress install",
        Command::new("php")
            .arg("install.php")
            .current_dir(&docroot)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    );
    assert!(out.contains("installed"), "WordPress install: {out}");
    // The install activates the test plugin; without its files WordPress
    // skips it, so the front page is WordPress's own.
    std::fs::remove_dir_all(&plugin).expect("remove the test plugin");
    (docroot, env)
}

/// `php-cgi -T runs` on the front page under `cfg`, run through
/// `wrapper` (valgrind's command line) when it is not empty.
fn front_page_cgi(
    docroot: &Path,
    env: &[(String, String)],
    cfg: &Config,
    runs: u32,
    wrapper: &[String],
) -> Command {
    let mut cmd = match wrapper.split_first() {
        Some((prog, args)) => {
            let mut c = Command::new(prog);
            c.args(args).arg(&php().cgi);
            c
        }
        None => Command::new(&php().cgi),
    };
    cmd.args(&php().args)
        .arg("-T")
        .arg(runs.to_string())
        .args(cfg.ini.iter().flat_map(|s| ["-d", s.as_str()]))
        .arg("-d")
        .arg("cgi.force_redirect=0")
        .arg(docroot.join("index.php"))
        .current_dir(docroot)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .envs(cfg.env.iter().map(|(k, v)| (k, v)))
        .envs([
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_URI", "/"),
            ("SCRIPT_NAME", "/index.php"),
            ("HTTP_HOST", "localhost"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
        ])
        .env("SCRIPT_FILENAME", docroot.join("index.php"))
        .stdout(Stdio::null());
    cmd
}

/// The sample post's title, which WordPress's install puts on the front
/// page: a page without it is an error page, not the one measured.
const SAMPLE_POST: &str = "Hello world!";

/// Runs the front page once natively under `cfg` and checks that it shows
/// the sample post, so that a PHP on which WordPress fails is not measured.
fn check_renders(docroot: &Path, env: &[(String, String)], cfg: &Config) {
    let o = front_page_cgi(docroot, env, cfg, 1, &[])
        .stdout(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", php().cgi.display()));
    let page = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && page.contains(SAMPLE_POST),
        "{}: the front page does not show {SAMPLE_POST:?} ({}):\n{}\n{}",
        cfg.name,
        o.status,
        page.chars().take(2000).collect::<String>(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Instructions callgrind counted for `php-cgi -T runs` on the front page,
/// and the wall time the run took; with `out`, callgrind's profile is
/// written there.
fn instructions(
    docroot: &Path,
    env: &[(String, String)],
    cfg: &Config,
    runs: u32,
    out: Option<&Path>,
) -> (u64, f64) {
    let wrapper = [
        "valgrind".to_owned(),
        "--tool=callgrind".to_owned(),
        format!(
            "--callgrind-out-file={}",
            out.map_or("/dev/null".into(), |p| p.display().to_string())
        ),
    ];
    let t0 = Instant::now();
    let o = front_page_cgi(docroot, env, cfg, runs, &wrapper)
        .output()
        .expect("run valgrind (apt-get install valgrind)");
    let wall = t0.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&o.stderr);
    let n = err
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no instruction count from callgrind: {err}"));
    (n, wall)
}

/// Native wall seconds of one warm request under `cfg`: the medians of
/// `php-cgi -T 11` and `-T 1` over 5 runs each, their difference / 10.
fn native_warm_s(docroot: &Path, env: &[(String, String)], cfg: &Config) -> f64 {
    let walls = |runs: u32| {
        let mut v: Vec<f64> = (0..5)
            .map(|_| {
                let t0 = Instant::now();
                let st = front_page_cgi(docroot, env, cfg, runs, &[])
                    .stderr(Stdio::null())
                    .status()
                    .unwrap_or_else(|e| panic!("run {}: {e}", php().cgi.display()));
                assert!(st.success(), "php-cgi failed natively: {st}");
                t0.elapsed().as_secs_f64()
            })
            .collect();
        median(&mut v)
    };
    let one = walls(1);
    (walls(11) - one) / 10.0
}

/// Inclusive instructions of the functions whose name contains `needle`,
/// from a callgrind profile (the largest such entry).
fn inclusive(profile: &Path, needle: &str) -> u64 {
    let o = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(profile)
        .output()
        .expect("run callgrind_annotate");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| {
            l.split_whitespace()
                .next()
                .and_then(|n| n.replace(',', "").parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0)
}

/// A running php-fpm + nginx pair for one configuration.
struct Server {
    port: u16,
    fpm_pid: u32,
}

fn serve(docroot: &Path, env: &[(String, String)], cfg: &Config) -> Server {
    let nginx =
        process::require_binary("/usr/sbin/nginx", "nginx").unwrap_or_else(|e| panic!("{e}"));
    let fpm = process::require_binary("/usr/sbin/php-fpm8.2", "php8.2-fpm")
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = process::temp_dir(&format!("seraph-bench-web-{}-", cfg.name))
        .unwrap_or_else(|e| panic!("{e}"));
    let is_root = nix::unistd::geteuid().is_root();
    let sock = dir.join("fpm.sock");
    let mut pool = format!(
        "[global]\nerror_log = {log}\ndaemonize = no\n\n[www]\nlisten = {sock}\n\
         pm = static\npm.max_children = 2\nclear_env = no\n",
        log = dir.join("fpm-error.log").display(),
        sock = sock.display(),
    );
    if is_root {
        pool.push_str("user = root\ngroup = root\n");
    }
    for (k, v) in env {
        pool.push_str(&format!("env[{k}] = \"{v}\"\n"));
    }
    let pool_file = dir.join("fpm.conf");
    std::fs::write(&pool_file, pool).expect("write fpm.conf");
    let mut cmd = Command::new(fpm);
    cmd.arg("-F").arg("-y").arg(&pool_file);
    if is_root {
        cmd.arg("-R");
    }
    cmd.args(cfg.ini.iter().flat_map(|s| ["-d", s.as_str()]));
    cmd.envs(cfg.env.iter().map(|(k, v)| (k, v)));
    let fpm_pid = process::spawn(process::Spawn {
        name: "php-fpm",
        cmd,
        log: dir.join("fpm.out"),
        stop_signal: libc::SIGQUIT,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let port = process::free_port().unwrap_or_else(|e| panic!("{e}"));
    for t in ["body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        std::fs::create_dir_all(dir.join("tmp").join(t)).expect("nginx temp dirs");
    }
    let conf = format!(
        "{user}daemon off;\nmaster_process on;\nworker_processes 1;\npid {dir}/nginx.pid;\n\
         error_log {dir}/nginx-error.log;\nevents {{ worker_connections 256; }}\n\
         http {{\n  include /etc/nginx/mime.types;\n  access_log off;\n\
           client_body_temp_path {dir}/tmp/body;\n  proxy_temp_path {dir}/tmp/proxy;\n\
           fastcgi_temp_path {dir}/tmp/fastcgi;\n  uwsgi_temp_path {dir}/tmp/uwsgi;\n\
           scgi_temp_path {dir}/tmp/scgi;\n\
           server {{\n    listen 127.0.0.1:{port};\n    server_name localhost;\n\
             root {root};\n    index index.php;\n\
             location / {{ try_files $uri $uri/ /index.php?$query_string; }}\n\
             location ~ [^/]\\.php(/|$) {{\n\
               include /etc/nginx/fastcgi_params;\n\
               fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;\n\
               fastcgi_pass unix:{sock};\n    }}\n  }}\n}}\n",
        user = if is_root { "user root;\n" } else { "" },
        dir = dir.display(),
        root = docroot.display(),
        sock = sock.display(),
    );
    let conf_file = dir.join("nginx.conf");
    std::fs::write(&conf_file, conf).expect("write nginx.conf");
    let mut cmd = Command::new(nginx);
    cmd.arg("-c")
        .arg(&conf_file)
        .arg("-e")
        .arg(dir.join("nginx-error.log"));
    let nginx_pid = process::spawn(process::Spawn {
        name: "nginx",
        cmd,
        log: dir.join("nginx.out"),
        stop_signal: libc::SIGQUIT,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    process::wait_for_port(
        "nginx",
        nginx_pid,
        port,
        &dir.join("nginx-error.log"),
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        assert!(
            Instant::now() < deadline,
            "php-fpm ({}) did not listen: {}",
            cfg.name,
            process::tail(&dir.join("fpm.out"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = front_page_status(port);
    assert_eq!(
        status,
        200,
        "{}: the front page answered {status}: {}",
        cfg.name,
        process::tail(&dir.join("fpm.out"))
    );
    Server { port, fpm_pid }
}

/// The status of one `GET /`.
fn front_page_status(port: u16) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(
        s,
        "GET / HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// CPU seconds (user + system) of php-fpm's workers, the children of
/// `master`.
fn workers_cpu_s(master: u32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut ticks = 0u64;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the command (which may hold spaces) in parentheses.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[1] is ppid (field 4), f[11] and f[12] utime and stime (14, 15).
        if f.len() > 12 && f[1].parse::<u32>().ok() == Some(master) {
            ticks += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
        }
    }
    ticks as f64 / hz
}

/// One wrk run: (requests per second, workers' CPU ms per request).
fn load(server: &Server, secs: u32) -> (f64, f64) {
    let cpu0 = workers_cpu_s(server.fpm_pid);
    let o = Command::new("wrk")
        .args(["-t1", "-c4", &format!("-d{secs}s")])
        .arg(format!("http://127.0.0.1:{}/", server.port))
        .output()
        .expect("run wrk (apt-get install wrk)");
    let cpu = workers_cpu_s(server.fpm_pid) - cpu0;
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!text.contains("Non-2xx"), "errors under load: {text}");
    let requests: f64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count from wrk: {text}"));
    let rps: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec from wrk: {text}"));
    (rps, cpu * 1000.0 / requests.max(1.0))
}

/// Measures one configuration under callgrind and prints its line (ratio
/// to `per_request[0]`, PHP without an extension, when there is one):
/// instructions and wall seconds per warm request.
fn measure(
    docroot: &Path,
    env: &[(String, String)],
    cfg: &Config,
    tmp: &Path,
    daemon: &Daemon,
    per_request: &[f64],
) -> (f64, f64) {
    let (one, wall_one) = instructions(docroot, env, cfg, 1, None);
    let profile = tmp.join(format!("callgrind.{}", cfg.name));
    let (eleven, wall_eleven) = instructions(docroot, env, cfg, 11, Some(&profile));
    let per = eleven.saturating_sub(one) as f64 / 10.0;
    let mut spans = daemon.take_spans();
    println!(
        "  {:<12} {:>14.0} instructions  ratio {:.3}{}",
        cfg.name,
        per,
        per / per_request.first().copied().unwrap_or(per),
        if spans.is_empty() {
            String::new()
        } else {
            format!(
                "  ({:.0} span events per request)",
                median_usize(&mut spans)
            )
        }
    );
    if let Some(keep) = std::env::var_os("BENCH_PROFILE_DIR") {
        let _ = std::fs::copy(
            &profile,
            Path::new(&keep).join(format!("callgrind.{}", cfg.name)),
        );
    }
    if cfg.seraph {
        let end = inclusive(&profile, "end_transaction") as f64 / 11.0;
        println!(
            "  {:<12} end of transaction (end_transaction, inclusive): {:.0} instructions per request, \
             {:.2} % of a request with the extension",
            "",
            end,
            100.0 * end / per
        );
    }
    (per, (wall_eleven - wall_one) / 10.0)
}

fn main() {
    let nums: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = nums.first().copied().unwrap_or(3).max(1);
    let secs = nums.get(1).copied().unwrap_or(10).max(1);
    let instructions_only = std::env::args().any(|a| a == "instructions");
    let so = php().extension.clone();
    assert!(
        so.exists(),
        "{} is missing: cargo build --release -p newrelic-php",
        so.display()
    );
    let (docroot, env) = install();

    let tmp = tempfile::tempdir().expect("temp dir");
    let sock = tmp.path().join("daemon.sock");
    let reply = std::fs::read(root().join("tests/vectors/00-app/AppReply-from-fake-daemon.bin"))
        .expect("read the vectors' AppReply");
    let daemon = Daemon::start(&sock, reply);
    let floors = floor::configs(&root(), &php().config, tmp.path());
    let agent = |so: &Path| -> Vec<String> {
        vec![
            format!("extension={}", so.display()),
            format!("newrelic.daemon.address={}", sock.display()),
            "newrelic.daemon.dont_launch=3".into(),
            "newrelic.license=0123456789012345678901234567890123456789".into(),
            "newrelic.appname=bench-wordpress".into(),
            "newrelic.daemon.app_connect_timeout=5s".into(),
        ]
    };
    let mut configs = vec![
        Config {
            name: "none".into(),
            ini: Vec::new(),
            env: Vec::new(),
            seraph: false,
        },
        Config {
            name: "seraph".into(),
            ini: agent(&so),
            env: Vec::new(),
            seraph: true,
        },
    ];
    if let Some(other) = std::env::var_os("NEWRELIC_SO").filter(|s| !s.is_empty()) {
        configs.push(Config {
            name: "NEWRELIC_SO".into(),
            ini: agent(Path::new(&other)),
            env: Vec::new(),
            seraph: false,
        });
    }

    println!("CPU: {}", cpu_model());
    println!("PHP: {} ({})", php().version(), php().cgi.display());
    for cfg in configs.iter().chain(&floors) {
        check_renders(&docroot, &env, cfg);
    }
    // The checks' transactions are not the measured runs'.
    std::thread::sleep(Duration::from_millis(200));
    let _ = daemon.take_spans();
    println!("WordPress front page, instructions per warm request (callgrind, php-cgi -T 11 minus -T 1, / 10):");
    let mut per_request = Vec::new();
    let mut warm_wall = Vec::new();
    for (i, cfg) in configs.iter().enumerate() {
        let (per, wall) = measure(&docroot, &env, cfg, tmp.path(), &daemon, &per_request);
        per_request.push(per);
        warm_wall.push(wall);
        if i == 0 {
            // The floor, right after PHP without an extension.
            for f in &floors {
                measure(&docroot, &env, f, tmp.path(), &daemon, &per_request);
            }
        }
    }

    // Under callgrind PHP runs tens of times slower, so calls that are
    // short natively look long there: they become segments and their
    // functions are not demoted, and the default-setting ratio above
    // overstates the native cost. Scaling `expensive_node_min` by the
    // slowdown (callgrind's wall time per warm request over the native
    // one, both with the extension, same machine and moment) keeps the
    // same calls short as natively.
    let seraph = configs
        .iter()
        .position(|c| c.seraph)
        .expect("Seraph config");
    let native = native_warm_s(&docroot, &env, &configs[seraph]);
    let slowdown = (warm_wall[seraph] / native).round().max(1.0);
    let node_min_us = 2000.0 * slowdown;
    println!(
        "  callgrind slowdown {slowdown:.0}x (warm request with Seraph: {:.1} ms under callgrind, \
         {:.1} ms native; wall times, php-cgi -T 11 minus -T 1, / 10)",
        warm_wall[seraph] * 1000.0,
        native * 1000.0
    );
    let scaled = Config {
        name: "seraph-scaled".into(),
        ini: configs[seraph]
            .ini
            .iter()
            .cloned()
            .chain([format!(
                "newrelic.special.expensive_node_min={node_min_us:.0}us"
            )])
            .collect(),
        env: Vec::new(),
        seraph: true,
    };
    println!(
        "  {:<12} Seraph with expensive_node_min = 2 ms x {slowdown:.0} = {:.0} ms:",
        "seraph-scaled",
        node_min_us / 1000.0
    );
    // The native runs' transactions are not the scaled run's.
    let _ = daemon.take_spans();
    measure(&docroot, &env, &scaled, tmp.path(), &daemon, &per_request);

    if instructions_only {
        return;
    }
    if !php().debian {
        println!("Under load: not run, php-fpm8.2 serves Debian's PHP only (PHP_CGI is set)");
        return;
    }
    let servers: Vec<Server> = configs.iter().map(|c| serve(&docroot, &env, c)).collect();
    // Warm-up: OPcache, WordPress's object cache, the agent's connect.
    for s in &servers {
        let _ = load(s, 2);
    }
    let _ = daemon.take_spans();
    let mut spans: Vec<Vec<usize>> = vec![Vec::new(); configs.len()];
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for _ in 0..rounds {
        for (i, s) in servers.iter().enumerate() {
            // What arrives before the run is the previous run's tail.
            let _ = daemon.take_spans();
            let (r, c) = load(s, secs);
            rps[i].push(r);
            cpu[i].push(c);
            spans[i].extend(daemon.take_spans());
        }
    }
    println!(
        "Under load (wrk -t1 -c4, {secs} s, median of {rounds} interleaved rounds; php-fpm pm=static, 2 workers):"
    );
    let (base_rps, base_cpu) = (median(&mut rps[0].clone()), median(&mut cpu[0].clone()));
    for (i, cfg) in configs.iter().enumerate() {
        let (r, c) = (median(&mut rps[i]), median(&mut cpu[i]));
        println!(
            "  {:<12} {:>8.1} requests/s (ratio {:.3}, loss {:>5.1} %)   {:>7.2} ms CPU per request (ratio {:.3})",
            cfg.name,
            r,
            r / base_rps,
            100.0 * (1.0 - r / base_rps),
            c,
            c / base_cpu
        );
        if cfg.seraph {
            // Only sampled transactions have span events (10 a minute by
            // default, with the stand-in's connect reply).
            let mut sampled: Vec<usize> = spans[i].iter().copied().filter(|&n| n > 0).collect();
            println!(
                "  {:<12} {} transactions received, {} with span events (median {:.0}, max {})",
                "",
                spans[i].len(),
                sampled.len(),
                median_usize(&mut sampled),
                sampled.iter().max().copied().unwrap_or(0)
            );
        }
    }
}
