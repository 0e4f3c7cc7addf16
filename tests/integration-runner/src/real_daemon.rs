//! `--daemon` mode: the real `newrelic-daemon` between the agents and an
//! in-process collector stand-in.
//!
//! The daemon runs in the foreground with `--integration`, so it logs every
//! transaction's own payloads as `NR_INTEGRATION_TEST '<method>' '<json>'`.
//! Each test's application connects separately (the appname is the test's
//! name), and the stand-in hands every connect a new run id; the stand-in's
//! record of connects maps run ids back to test names. The connect reply
//! is overridden so that the daemon's reservoirs have New Relic's runner
//! sizes and the account ids match what tests are told.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use collector_standin::{Standin, StandinConfig};
use serde_json::{json, Value};

use crate::fake_daemon::AccountIds;
use crate::payloads::{Payloads, AUDIT_RUN_ID};

/// Why the daemon mode could not start or be read.
#[derive(Debug, thiserror::Error)]
pub enum RealDaemonError {
    /// The collector stand-in failed to start.
    #[error("collector stand-in: {0}")]
    Standin(#[from] collector_standin::StandinError),
    /// File or process I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The daemon did not start listening.
    #[error("newrelic-daemon did not start: {0}")]
    NotReady(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RealDaemonError {
    let what = what.into();
    move |source| RealDaemonError::Io { what, source }
}

/// The running daemon and stand-in; both stop when dropped.
pub struct RealDaemon {
    child: Option<Child>,
    standin: Standin,
    address: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The connect-reply fields the stand-in is told to send.
pub fn connect_overrides(ids: &AccountIds) -> serde_json::Map<String, Value> {
    let mut m = ids.connect_reply_fields();
    let limits = crate::payloads::runner_limits();
    m.insert(
        "event_harvest_config".into(),
        json!({
            "report_period_ms": 60000,
            "harvest_limits": {
                "analytic_event_data": limits.analytic_events,
                "custom_event_data": limits.custom_events,
                "error_event_data": limits.error_events,
                "log_event_data": 10000
            }
        }),
    );
    m.insert(
        "span_event_harvest_config".into(),
        json!({"report_period_ms": 60000, "harvest_limit": limits.span_events}),
    );
    m
}

impl RealDaemon {
    /// Starts the stand-in, then `daemon -f --integration` on the abstract
    /// socket `@<name>`, and waits until it accepts connections. Must run
    /// inside a tokio runtime.
    pub async fn start(
        daemon: &Path,
        name: &str,
        ids: &AccountIds,
        keep_log: Option<&Path>,
        policies: Option<Value>,
    ) -> Result<RealDaemon, RealDaemonError> {
        let mut config = StandinConfig {
            connect_overrides: connect_overrides(ids),
            ..StandinConfig::default()
        };
        if let Some(p) = policies {
            config.security_policies = p;
        }
        let standin = Standin::start(config).await?;
        let dir = tempfile::tempdir().map_err(io("temp dir"))?;
        let ca = dir.path().join("standin-ca.pem");
        standin.write_ca(&ca).map_err(io("write CA"))?;
        let cfg = dir.path().join("newrelic.cfg");
        std::fs::write(&cfg, format!("ssl_ca_bundle = {}\n", ca.display()))
            .map_err(io("write newrelic.cfg"))?;
        let log = match keep_log {
            Some(d) => d.join("newrelic-daemon.log"),
            None => dir.path().join("newrelic-daemon.log"),
        };
        let _ = std::fs::remove_file(&log);
        let address = format!("@{name}");
        let child = Command::new(daemon)
            .arg("-f")
            .arg("--integration")
            .arg("-c")
            .arg(&cfg)
            .arg("--address")
            .arg(&address)
            .arg("--logfile")
            .arg(&log)
            .arg("--loglevel")
            .arg("info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(io(format!("spawn {}", daemon.display())))?;
        let mut d = RealDaemon {
            child: Some(child),
            standin,
            address,
            log,
            _dir: dir,
        };
        d.wait_ready(name, Duration::from_secs(20))?;
        Ok(d)
    }

    fn wait_ready(&mut self, name: &str, timeout: Duration) -> Result<(), RealDaemonError> {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
            .map_err(io("socket address"))?;
        let start = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect_addr(&addr).is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(RealDaemonError::NotReady(format!(
                    "exited with {status}; log:\n{}",
                    self.log_text()
                )));
            }
            if start.elapsed() > timeout {
                return Err(RealDaemonError::NotReady(format!(
                    "not listening after {timeout:?}; log:\n{}",
                    self.log_text()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The agents' `newrelic.daemon.address`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The agents' `newrelic.daemon.collector_host` (the stand-in).
    pub fn collector_host(&self) -> String {
        self.standin.host()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the daemon log has not grown for `quiet` (at most
    /// `max`): every transaction the finished tests sent has been logged.
    pub fn wait_quiet(&self, quiet: Duration, max: Duration) {
        let start = Instant::now();
        let size = || std::fs::metadata(&self.log).map_or(0, |m| m.len());
        let mut last = size();
        let mut since = Instant::now();
        while start.elapsed() < max {
            std::thread::sleep(Duration::from_millis(25));
            let now = size();
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    /// Every application's payloads so far, by application (test) name.
    pub fn collect(&self) -> HashMap<String, Payloads> {
        let apps: HashMap<String, String> = self
            .standin
            .calls_for("connect")
            .into_iter()
            .filter_map(|c| Some((c.granted_run_id?, c.app_name?)))
            .collect();
        let mut out: HashMap<String, Payloads> = HashMap::new();
        for (run_id, method, json) in attribute(&parse_log(&self.log_text())) {
            let Some(app) = apps.get(&run_id) else {
                continue;
            };
            if let Err(e) = out.entry(app.clone()).or_default().absorb(&method, &json) {
                tracing::warn!(error = %e, app, "unreadable integration payload");
            }
        }
        out
    }
}

impl Drop for RealDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

/// `(method, json)` of every `NR_INTEGRATION_TEST` line, in log order.
/// Both the plain and the sequence-numbered form are understood.
pub fn parse_log(log: &str) -> Vec<(String, String)> {
    const MARK: &str = "NR_INTEGRATION_TEST '";
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find(MARK)? + MARK.len()..];
            let (method, rest) = rest.split_once("' '")?;
            let rest = rest.strip_suffix('\'')?;
            // Optional '<seq>' before the JSON.
            let json = match rest.split_once("' '") {
                Some((seq, json)) if seq.chars().all(|c| c.is_ascii_digit()) => json,
                _ => rest,
            };
            Some((method.to_owned(), json.to_owned()))
        })
        .collect()
}

fn run_id_of(method: &str, v: &Value) -> Option<String> {
    match method {
        "sql_trace_data" | "log_event_data" | "update_loaded_modules" => None,
        _ => v.get(0).and_then(Value::as_str).map(str::to_owned),
    }
}

/// Assigns each payload to a run id and rewrites that id to
/// [`AUDIT_RUN_ID`]. Payloads without one (`sql_trace_data`, log events,
/// packages) belong to the transaction whose `metric_data` came last
/// before them — for SQL, the last one holding the slow query's metric
/// scoped to its transaction, which stays right when parallel tests'
/// lines interleave.
pub fn attribute(lines: &[(String, String)]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    // (run id, metric (name, scope) keys) of metric_data lines seen so far.
    let mut metric_lines: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for (method, json) in lines {
        let Ok(mut v) = serde_json::from_str::<Value>(json) else {
            continue;
        };
        let run_id = match run_id_of(method, &v) {
            Some(r) => {
                if method == "metric_data" {
                    let keys = crate::metrics::table(&v)
                        .into_iter()
                        .map(|(s, n, _)| (n, s))
                        .collect();
                    metric_lines.push((r.clone(), keys));
                }
                if let Some(slot) = v.get_mut(0) {
                    *slot = json!(AUDIT_RUN_ID);
                }
                r
            }
            None => {
                let wanted: Option<(String, String)> = (method == "sql_trace_data")
                    .then(|| {
                        let row = v.pointer("/0/0")?;
                        Some((
                            row.get(4)?.as_str()?.to_owned(),
                            row.get(0)?.as_str()?.to_owned(),
                        ))
                    })
                    .flatten();
                let owner = metric_lines
                    .iter()
                    .rev()
                    .find(|(_, keys)| wanted.as_ref().is_none_or(|w| keys.contains(w)))
                    .or(metric_lines.last());
                match owner {
                    Some((r, _)) => r.clone(),
                    None => continue,
                }
            }
        };
        out.push((run_id, method.clone(), v.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_line_forms() {
        let log = "2026/11/23 12:28:08.123456 (42) Info: NR_INTEGRATION_TEST 'metric_data' '[\"1\",1,2,[]]'\n\
                   2026/11/23 12:28:08.123457 (42) Info: something else\n\
                   2026/11/23 12:28:08.123458 (42) Info: NR_INTEGRATION_TEST 'error_data' '7' '[\"1\",[[0,\"t\",\"Uncaught exception 'E'\"]]]'\n";
        let lines = parse_log(log);
        assert_eq!(
            lines,
            vec![
                ("metric_data".to_owned(), "[\"1\",1,2,[]]".to_owned()),
                (
                    "error_data".to_owned(),
                    "[\"1\",[[0,\"t\",\"Uncaught exception 'E'\"]]]".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn attributes_run_id_less_payloads_to_their_transaction() {
        let m = |run: &str, scope: &str| {
            (
                "metric_data".to_owned(),
                json!([run, 0, 0, [[{"name": "Datastore/statement/SQLite/t/select", "scope": scope}, [1, 0, 0, 0, 0, 0]]]]).to_string(),
            )
        };
        let sql = |scope: &str| {
            (
                "sql_trace_data".to_owned(),
                json!([[[
                    scope,
                    "<unknown>",
                    1,
                    "q",
                    "Datastore/statement/SQLite/t/select",
                    1,
                    1.0,
                    1.0,
                    1.0,
                    {}
                ]]])
                .to_string(),
            )
        };
        let lines = vec![
            m("1", "OtherTransaction/php/a.php"),
            m("2", "OtherTransaction/php/b.php"),
            sql("OtherTransaction/php/a.php"),
            sql("OtherTransaction/php/b.php"),
            (
                "update_loaded_modules".to_owned(),
                "[\"Jars\",[]]".to_owned(),
            ),
        ];
        let got: Vec<(String, String)> = attribute(&lines)
            .into_iter()
            .map(|(r, m, _)| (r, m))
            .collect();
        assert_eq!(
            got,
            vec![
                ("1".into(), "metric_data".into()),
                ("2".into(), "metric_data".into()),
                ("1".into(), "sql_trace_data".into()),
                ("2".into(), "sql_trace_data".into()),
                ("2".into(), "update_loaded_modules".into()),
            ]
        );
        let (_, _, first) = &attribute(&lines)[0];
        assert!(first.starts_with("[\"?? agent run id\""));
    }

    #[test]
    fn overrides_give_runner_reservoirs() {
        let o = connect_overrides(&AccountIds {
            account: "5".into(),
            app: "6".into(),
            trusted: "5".into(),
        });
        assert_eq!(
            o["event_harvest_config"]["harvest_limits"]["analytic_event_data"],
            50
        );
        assert_eq!(o["span_event_harvest_config"]["harvest_limit"], 10000);
        assert_eq!(o["cross_process_id"], "5#6");
        assert!(!o.contains_key("agent_run_id"));
    }
}
