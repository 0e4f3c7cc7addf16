//! What the C SDK tests share: the library installed with its header
//! (`install.sh`), C programs compiled with `cc` against the installed
//! files, the real daemon and the collector stand-in, and readers for what
//! reached the stand-in.

#![allow(dead_code)]

use collector_standin::{RecordedCall, Standin, StandinConfig};
use seraph_e2e::daemon::{Daemon, DaemonOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const LICENSE: &str = "0123456789012345678901234567890123456789";

/// `agent-ffi/`.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The installation prefix, filled once per test process by `install.sh`
/// from the build of the profile the tests (or benchmarks) run with.
pub fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let debug = seraph_e2e::target_dir();
        for lib in ["libnewrelic.so", "libnewrelic.a"] {
            assert!(
                debug.join(lib).exists(),
                "{} is missing: run `cargo build -p seraph-agent-ffi` first",
                debug.join(lib).display()
            );
        }
        // `cargo test` builds the library as an rlib only: the .so/.a must
        // come from a `cargo build` at least as new as the code tested.
        let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let newest_rlib = std::fs::read_dir(debug.join("deps"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                n.starts_with("libnewrelic-") && n.ends_with(".rlib")
            })
            .filter_map(|e| mtime(&e.path()))
            .max();
        if let (Some(rlib), Some(so)) = (newest_rlib, mtime(&debug.join("libnewrelic.so"))) {
            assert!(
                so + Duration::from_secs(2) >= rlib,
                "{} is older than the code under test: run `cargo build -p seraph-agent-ffi` first",
                debug.join("libnewrelic.so").display()
            );
        }
        // One prefix per test process (test binaries may run at once);
        // those of processes gone are removed.
        for e in std::fs::read_dir(&debug).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("agent-ffi-prefix-") {
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let prefix = debug.join(format!("agent-ffi-prefix-{}", std::process::id()));
        let profile = if debug.ends_with("release") {
            "--release"
        } else {
            "--debug"
        };
        let out = Command::new("sh")
            .arg(crate_dir().join("install.sh"))
            .args([profile, "--no-build"])
            .arg(&prefix)
            .env("CARGO_TARGET_DIR", debug.parent().unwrap())
            .output()
            .expect("run install.sh");
        assert!(out.status.success(), "install.sh failed: {}", text(&out));
        prefix
    })
}

/// stdout and stderr of a run, for messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// How a program is linked.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Shared,
    Static,
}

/// Compiles C `sources` (relative to agent-ffi/) into `out` with `cc`
/// against the installed header and library, warnings as errors.
pub fn cc(sources: &[&str], out: &Path, link: Link, extra: &[&str]) {
    let p = prefix();
    let mut cmd = Command::new("cc");
    cmd.args([
        "-std=gnu11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-g",
        "-O1",
        "-pthread",
    ])
    .arg(format!("-I{}", p.join("include").display()));
    for s in sources {
        cmd.arg(crate_dir().join(s));
    }
    cmd.args(extra).arg("-o").arg(out);
    match link {
        Link::Shared => {
            cmd.arg(format!("-L{}", p.join("lib").display()))
                .arg("-lnewrelic")
                .arg(format!("-Wl,-rpath,{}", p.join("lib").display()));
        }
        Link::Static => {
            cmd.arg(p.join("lib/libnewrelic.a")).args([
                "-lpthread",
                "-ldl",
                "-lm",
                "-lrt",
                "-lutil",
                "-lgcc_s",
            ]);
        }
    }
    let o = cmd.output().expect("run cc");
    assert!(o.status.success(), "cc {sources:?} failed: {}", text(&o));
}

/// A collector stand-in (1 s harvests) and a daemon reporting to it.
pub struct Env {
    pub standin: Standin,
    pub daemon: Daemon,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(StandinConfig::fast()).await
    }

    pub async fn start_with(config: StandinConfig) -> Env {
        Env::start_as(config, None).await
    }

    /// With the daemon run as `user` (`runuser`).
    pub async fn start_as(config: StandinConfig, user: Option<&str>) -> Env {
        let standin = Standin::start(config).await.expect("start stand-in");
        let daemon = Daemon::start(DaemonOptions {
            ca_pem: standin.ca_pem().map(str::to_owned),
            loglevel: "info",
            user: user.map(str::to_owned),
            ..Default::default()
        })
        .await;
        Env {
            standin,
            daemon,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A path in the test's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A command running `program` reporting as `app` to this daemon.
    pub fn command(&self, program: &Path, app: &str) -> Command {
        let mut c = Command::new(program);
        self.configure(&mut c, app);
        c
    }

    /// The example's environment on `c`.
    pub fn configure(&self, c: &mut Command, app: &str) {
        c.env("NEW_RELIC_LICENSE_KEY", LICENSE)
            .env("NEW_RELIC_APP_NAME", app)
            .env("NEW_RELIC_DAEMON_SOCKET", self.daemon.address.to_flag())
            .env("NEW_RELIC_HOST", self.standin.host())
            .env("NEW_RELIC_LOG", self.path(&format!("{app}.log")));
    }

    /// Runs `c`, which must succeed.
    pub fn run_ok(&self, c: &mut Command, app: &str) -> Output {
        let o = c.output().expect("run program");
        assert!(
            o.status.success(),
            "{:?} failed: {}\n--- agent log\n{}",
            c.get_program(),
            text(&o),
            std::fs::read_to_string(self.path(&format!("{app}.log"))).unwrap_or_default()
        );
        o
    }

    /// The calls of `app` once `done` holds for them (polled until
    /// `timeout`); panics with a summary otherwise.
    pub async fn harvest(
        &self,
        app: &str,
        timeout: Duration,
        done: impl Fn(&Harvest) -> bool,
    ) -> Harvest {
        let start = Instant::now();
        loop {
            let h = Harvest {
                calls: seraph_e2e::harvest::of_app(&self.standin.calls(), app),
            };
            if done(&h) {
                return h;
            }
            if start.elapsed() > timeout {
                panic!(
                    "harvest of '{app}' incomplete after {timeout:?}: methods {:?}; metrics {:?}\n--- daemon log\n{}",
                    h.calls.iter().map(|c| c.method.as_str()).collect::<Vec<_>>(),
                    h.metrics().keys().collect::<Vec<_>>(),
                    self.daemon.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// What one application's harvests brought.
pub struct Harvest {
    pub calls: Vec<RecordedCall>,
}

impl Harvest {
    /// (name, scope) → `[count, total, exclusive, min, max, sumsq]`.
    pub fn metrics(&self) -> seraph_e2e::harvest::Table {
        seraph_e2e::harvest::metrics(&self.calls)
    }

    /// The call count of an unscoped metric (0 when absent).
    pub fn count(&self, name: &str) -> f64 {
        self.scoped_count(name, "")
    }

    /// The call count of a metric in `scope` (0 when absent).
    pub fn scoped_count(&self, name: &str, scope: &str) -> f64 {
        self.metrics()
            .get(&(name.to_owned(), scope.to_owned()))
            .map_or(0.0, |v| v[0])
    }

    /// Every event of `method` (analytic, custom, error, span events).
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.calls
            .iter()
            .filter(|c| c.method == method && c.response_status == 200)
            .flat_map(|c| {
                c.payload
                    .as_array()
                    .and_then(|a| a.last())
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// Error traces (`[time, txn name, message, class, params]`).
    pub fn errors(&self) -> Vec<Value> {
        self.calls
            .iter()
            .filter(|c| c.method == "error_data")
            .flat_map(|c| c.payload[1].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Transaction traces, decoded.
    pub fn traces(&self) -> Vec<Value> {
        self.calls
            .iter()
            .filter(|c| c.method == "transaction_sample_data")
            .filter_map(|c| c.expanded.as_ref())
            .flat_map(|e| e[1].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// Slow queries, decoded.
    pub fn slow_sqls(&self) -> Vec<Value> {
        self.calls
            .iter()
            .filter(|c| c.method == "sql_trace_data")
            .filter_map(|c| c.expanded.as_ref())
            .flat_map(|e| e[0].as_array().cloned().unwrap_or_default())
            .collect()
    }

    /// The connect payload the daemon sent for the application.
    pub fn connect(&self) -> Option<Value> {
        self.calls
            .iter()
            .find(|c| c.method == "connect")
            .map(|c| c.payload[0].clone())
    }
}

/// A fresh application name (each test reports as its own application).
pub fn app_name(test: &str) -> String {
    format!("c-sdk-{test}-{}", std::process::id())
}

/// Whether `trace` (a decoded transaction trace) names a segment `name`.
pub fn trace_has(trace: &Value, name: &str) -> bool {
    trace.to_string().contains(&format!("\"{name}\""))
}
