//! What real applications report to: the collector stand-in (over TLS, fast
//! harvests) and the real `newrelic-daemon`, one of each per test binary,
//! started on first use, with helpers to read what each application
//! (by name) has harvested so far.
//!
//! The daemon runs as a server process of `services::process`, so it is
//! stopped when the test binary exits and killed if it dies. The stand-in
//! lives on a runtime of its own for the life of the binary.

use crate::services::process::{self, Spawn};
use collector_standin::{RecordedCall, Standin, StandinConfig};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The license every test application uses.
pub const LICENSE: &str = "0123456789012345678901234567890123456789";

/// The stand-in and the daemon.
pub struct Monitor {
    _runtime: tokio::runtime::Runtime,
    /// The collector stand-in.
    pub standin: Standin,
    /// The daemon's address (`newrelic.daemon.address`).
    pub daemon_address: String,
    /// The daemon's log.
    pub daemon_log: PathBuf,
}

/// The test binary's monitor, started on first use (panics with the reason
/// when it cannot start).
pub fn monitor() -> &'static Monitor {
    static M: OnceLock<Result<Monitor, String>> = OnceLock::new();
    match M.get_or_init(start) {
        Ok(m) => m,
        Err(e) => panic!("the collector stand-in and daemon could not start: {e}"),
    }
}

fn start() -> Result<Monitor, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let standin = runtime
        .block_on(Standin::start(StandinConfig::fast()))
        .map_err(|e| format!("collector stand-in: {e}"))?;
    let dir = process::temp_dir("seraph-daemon-")?;
    let ca = dir.join("ca.pem");
    standin
        .write_ca(&ca)
        .map_err(|e| format!("write the stand-in's CA: {e}"))?;
    let cfg = dir.join("newrelic.cfg");
    std::fs::write(&cfg, format!("ssl_ca_bundle = {}\n", ca.display()))
        .map_err(|e| format!("write newrelic.cfg: {e}"))?;
    let sock = dir.join("daemon.sock");
    let log = dir.join("daemon.log");
    let mut cmd = Command::new(crate::binary("newrelic-daemon"));
    cmd.arg("-f")
        .arg("-c")
        .arg(&cfg)
        .arg("--address")
        .arg(&sock)
        .arg("--logfile")
        .arg(&log)
        .args(["--loglevel", "info"]);
    let pid = process::spawn(Spawn {
        name: "newrelic-daemon",
        cmd,
        log: dir.join("daemon.out"),
        stop_signal: libc::SIGTERM,
    })?;
    let deadline = Instant::now() + Duration::from_secs(20);
    // Accepting, not merely bound: the socket file appears at bind(2),
    // a moment before listen(2), and a connect in between is refused.
    while std::os::unix::net::UnixStream::connect(&sock).is_err() {
        if let Some(why) = process::exited(pid) {
            return Err(format!("{why}\n{}", process::tail(&log)));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the daemon did not listen within 20 s\n{}",
                process::tail(&log)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Monitor {
        _runtime: runtime,
        standin,
        daemon_address: sock.display().to_string(),
        daemon_log: log,
    })
}

impl Monitor {
    /// The `newrelic.*` settings that make an application report here as
    /// `app` (the first request waits up to 10 s for the connect).
    pub fn ini(&self, app: &str) -> Vec<(String, String)> {
        [
            ("newrelic.license", LICENSE.to_owned()),
            ("newrelic.appname", app.to_owned()),
            ("newrelic.daemon.address", self.daemon_address.clone()),
            ("newrelic.daemon.dont_launch", "3".to_owned()),
            ("newrelic.daemon.collector_host", self.standin.host()),
            ("newrelic.daemon.app_connect_timeout", "10s".to_owned()),
            // One query's reply may take longer than the agent's 100 ms on
            // a loaded machine; a missed reply would leave the request
            // uninstrumented.
            ("newrelic.special.appinfo_timeout", "5s".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Every call the stand-in recorded for application `app`.
    pub fn calls(&self, app: &str) -> Vec<RecordedCall> {
        self.standin
            .calls()
            .into_iter()
            .filter(|c| c.app_name.as_deref() == Some(app))
            .collect()
    }

    /// The metrics harvested for `app`: (name, scope) → call count, summed
    /// over every `metric_data` post.
    pub fn metrics(&self, app: &str) -> BTreeMap<(String, String), f64> {
        let mut out = BTreeMap::new();
        for c in self.calls(app).iter().filter(|c| c.method == "metric_data") {
            let Some(list) = c.payload.get(3).and_then(Value::as_array) else {
                continue;
            };
            for m in list {
                let name = m[0]["name"].as_str().unwrap_or_default().to_owned();
                let scope = m[0]["scope"].as_str().unwrap_or_default().to_owned();
                *out.entry((name, scope)).or_insert(0.0) += m[1][0].as_f64().unwrap_or(0.0);
            }
        }
        out
    }

    /// The unscoped count of one metric harvested for `app` (0 if none).
    pub fn count(&self, app: &str, name: &str) -> f64 {
        self.metrics(app)
            .get(&(name.to_owned(), String::new()))
            .copied()
            .unwrap_or(0.0)
    }

    /// The events of one `*_event_data` method harvested for `app`.
    pub fn events(&self, app: &str, method: &str) -> Vec<Value> {
        self.calls(app)
            .iter()
            .filter(|c| c.method == method)
            .flat_map(|c| match method {
                "log_event_data" => c.payload[0]["logs"].as_array().cloned().unwrap_or_default(),
                _ => c
                    .payload
                    .get(2)
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The transaction names of `app`'s harvested transaction events.
    pub fn transaction_names(&self, app: &str) -> Vec<String> {
        self.events(app, "analytic_event_data")
            .iter()
            .filter_map(|e| e[0]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until `ready` holds for `app`'s harvest, or fails the test
    /// after `limit` with what did arrive.
    pub fn wait_until(
        &self,
        app: &str,
        limit: Duration,
        what: &str,
        ready: impl Fn(&Monitor) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        while !ready(self) {
            if Instant::now() > deadline {
                let names: Vec<String> = self
                    .metrics(app)
                    .keys()
                    .map(|(n, s)| {
                        if s.is_empty() {
                            n.clone()
                        } else {
                            format!("{n} [{s}]")
                        }
                    })
                    .collect();
                panic!(
                    "{app}: {what} did not arrive within {limit:?}.\nTransactions: {:?}\nMetrics:\n  {}\n{}",
                    self.transaction_names(app),
                    names.join("\n  "),
                    process::tail(&self.daemon_log)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until `app` has harvested a transaction event named `name`.
    pub fn wait_for_transaction(&self, app: &str, name: &str) {
        self.wait_until(
            app,
            Duration::from_secs(30),
            &format!("transaction {name}"),
            |m| m.transaction_names(app).iter().any(|n| n == name),
        );
    }
}
