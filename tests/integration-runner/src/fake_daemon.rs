//! The default mode: the runner is the daemon
//! (tests/integration/README.md §4.3).
//!
//! It listens on its own Unix socket and speaks the wire protocol with
//! `seraph-wire`. Every App query is answered `Connected` with a connect
//! reply whose `agent_run_id` is the application name the agent sent, so
//! the run id of each test's transactions is the test's name. Every
//! Transaction is merged into that run id's `seraph_harvest::Harvest` —
//! the daemon's own aggregation, not an imitation of it.
//!
//! Connections are tracked by the application they belong to so a test can
//! wait, after its PHP process exited, until everything that process sent
//! has been merged ([`FakeDaemon::settle`]).

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use seraph_harvest::{Harvest, HarvestLimits};
use seraph_wire::{decode, frame, AppReplyInfo, AppStatus, Body, FrameDecoder};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// The connect reply's `encoding_key` (synthetics and CAT headers).
pub const ENCODING_KEY: &str = "d67afc830dab717fd163bfcb0b8b88423e9a1a3b";

/// The ids of the synthetics header tests get as
/// `SYNTHETICS_HEADER_supportability`.
pub const SYNTHETICS_IDS: [&str; 3] = [
    "rrrrrrr-rrrr-1234-rrrr-rrrrrrrrrrrr",
    "jjjjjjj-jjjj-1234-jjjj-jjjjjjjjjjjj",
    "mmmmmmm-mmmm-1234-mmmm-mmmmmmmmmmmm",
];

/// Account and application ids the connect reply carries; exported to
/// tests as `ACCOUNT_supportability`, `APP_supportability` and
/// `ACCOUNT_supportability_trusted`, with a valid synthetics header from
/// the account as `SYNTHETICS_HEADER_supportability`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountIds {
    /// `account_id`.
    pub account: String,
    /// `primary_application_id`.
    pub app: String,
    /// `trusted_account_key`.
    pub trusted: String,
}

impl AccountIds {
    /// The ids from the environment when set there (CI secrets), else
    /// fixed values.
    pub fn from_env() -> Self {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        AccountIds {
            account: var("ACCOUNT_supportability", "10001"),
            app: var("APP_supportability", "20002"),
            trusted: var("ACCOUNT_supportability_trusted", "10001"),
        }
    }

    /// The environment variables tests read.
    pub fn env_vars(&self) -> [(&'static str, String); 4] {
        [
            ("ACCOUNT_supportability", self.account.clone()),
            ("APP_supportability", self.app.clone()),
            ("ACCOUNT_supportability_trusted", self.trusted.clone()),
            ("SYNTHETICS_HEADER_supportability", self.synthetics_header()),
        ]
    }

    /// An `X-NewRelic-Synthetics` value from this (trusted) account:
    /// version 1, the account, then [`SYNTHETICS_IDS`] (resource, job,
    /// monitor), obfuscated with [`ENCODING_KEY`].
    pub fn synthetics_header(&self) -> String {
        let account: Value = self
            .account
            .parse::<u64>()
            .map_or_else(|_| json!(self.account), |n| json!(n));
        let [resource, job, monitor] = SYNTHETICS_IDS;
        let plain = json!([1, account, resource, job, monitor]).to_string();
        seraph_txn::synthetics::encode_header(&plain, ENCODING_KEY).unwrap_or_default()
    }

    /// The fields of a connect reply that name the account and
    /// application (everything but `agent_run_id`), as New Relic's
    /// collector sends them, plus the settings an agent needs (§9).
    pub fn connect_reply_fields(&self) -> Map<String, Value> {
        let account_num: Value = self
            .account
            .parse::<u64>()
            .map_or_else(|_| json!(self.account), |n| json!(n));
        let v = json!({
            "account_id": self.account,
            "primary_application_id": self.app,
            "application_id": self.app,
            "trusted_account_key": self.trusted,
            "trusted_account_ids": [account_num],
            "encoding_key": ENCODING_KEY,
            "cross_process_id": format!("{}#{}", self.account, self.app),
            "entity_guid": "MTAwMDF8QVBNfEFQUExJQ0FUSU9OfDIwMDAy",
            "apdex_t": 0.5,
            "sampling_target": 10,
            "sampling_target_period_in_seconds": 60,
            "data_report_period": 60,
            "collect_traces": true,
            "collect_errors": true,
            "collect_analytics_events": true,
            "collect_custom_events": true,
            "collect_error_events": true,
            "collect_span_events": true,
            "browser_key": "8a8d3f58d9",
            // A stand-in for the browser agent loader (New Relic's
            // collector sends the real script): pages with a <head> get it.
            "js_agent_loader": "window.NREUM||(NREUM={});NREUM.init={seraph:1};",
            "js_agent_file": "js-agent.newrelic.com/nr-1234.min.js",
            "beacon": "bam.nr-data.net",
            "error_beacon": "bam.nr-data.net",
            "url_rules": [],
            "metric_name_rules": [],
            "transaction_name_rules": [],
            "transaction_segment_terms": [],
            "request_headers_map": {},
            "max_payload_size_in_bytes": 1_000_000,
            "product_level": 40,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// What New Relic's runner gets from a real connect (with
/// `-max_custom_events` 30000); the harvest itself uses
/// [`crate::payloads::runner_limits`].
fn event_harvest_config() -> Value {
    json!({
        "report_period_ms": 60000,
        "harvest_limits": {
            "analytic_event_data": 10000,
            "custom_event_data": 30000,
            "error_event_data": 100,
            "span_event_data": 2000,
            "log_event_data": 10000
        }
    })
}

#[derive(Default)]
struct Conns {
    /// Open connections per application (run id).
    by_app: HashMap<String, usize>,
    /// Open connections that have not named their application yet.
    untagged: usize,
}

struct Shared {
    harvests: Mutex<HashMap<String, Harvest>>,
    conns: Mutex<Conns>,
    changed: Condvar,
    reply: Map<String, Value>,
    limits: HarvestLimits,
    /// The account's security policies (`--security-policies`), as a
    /// preconnect reply gives them.
    policies: Option<Value>,
}

impl Shared {
    fn harvests(&self) -> MutexGuard<'_, HashMap<String, Harvest>> {
        self.harvests.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn conns(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connect_reply(&self, app_name: &str) -> String {
        let mut r = Map::new();
        r.insert("agent_run_id".into(), json!(app_name));
        for (k, v) in &self.reply {
            r.insert(k.clone(), v.clone());
        }
        Value::Object(r).to_string()
    }
}

/// The runner's daemon.
pub struct FakeDaemon {
    shared: Arc<Shared>,
    address: String,
    task: tokio::task::JoinHandle<()>,
}

impl FakeDaemon {
    /// Listens on the abstract socket `@<name>`; must run inside a tokio
    /// runtime.
    pub fn start(
        name: &str,
        ids: &AccountIds,
        limits: HarvestLimits,
        policies: Option<Value>,
    ) -> std::io::Result<FakeDaemon> {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        let std_listener = std::os::unix::net::UnixListener::bind_addr(&addr)?;
        std_listener.set_nonblocking(true)?;
        let listener = UnixListener::from_std(std_listener)?;
        let mut reply = ids.connect_reply_fields();
        reply.insert("event_harvest_config".into(), event_harvest_config());
        reply.insert(
            "span_event_harvest_config".into(),
            json!({"report_period_ms": 60000, "harvest_limit": 2000}),
        );
        let shared = Arc::new(Shared {
            harvests: Mutex::new(HashMap::new()),
            conns: Mutex::new(Conns::default()),
            changed: Condvar::new(),
            reply,
            limits,
            policies,
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FakeDaemon {
            shared,
            address: format!("@{name}"),
            task,
        })
    }

    /// The address agents are pointed at (`newrelic.daemon.address`).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Takes (removes) the harvest of `run_id`.
    pub fn take(&self, run_id: &str) -> Option<Harvest> {
        self.shared.harvests().remove(run_id)
    }

    /// True if anything was received for `run_id`.
    pub fn has_harvest(&self, run_id: &str) -> bool {
        self.shared.harvests().contains_key(run_id)
    }

    /// Forgets `run_id`'s harvest (before a retry).
    pub fn clear(&self, run_id: &str) {
        self.shared.harvests().remove(run_id);
    }

    /// Blocks until no connection of `app` (and none still unnamed) is
    /// open, or `timeout` passes; returns whether it settled. Called after
    /// the test's processes exited, so every frame they wrote is in the
    /// socket buffers and is merged before its connection is seen closed.
    pub fn settle(&self, app: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut conns = self.shared.conns();
        loop {
            let busy = conns.untagged > 0 || conns.by_app.get(app).is_some_and(|n| *n > 0);
            if !busy {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            conns = self
                .shared
                .changed
                .wait_timeout(conns, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                shared.conns().untagged += 1;
                tokio::spawn(connection(stream, shared.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// The application a connection belongs to, kept in the shared counts.
struct Tag<'a> {
    shared: &'a Shared,
    app: Option<String>,
}

impl Tag<'_> {
    fn set(&mut self, app: &str) {
        if self.app.as_deref() == Some(app) {
            return;
        }
        let mut c = self.shared.conns();
        match self.app.take() {
            Some(old) => {
                if let Some(n) = c.by_app.get_mut(&old) {
                    *n = n.saturating_sub(1);
                }
            }
            None => c.untagged = c.untagged.saturating_sub(1),
        }
        *c.by_app.entry(app.to_owned()).or_default() += 1;
        self.app = Some(app.to_owned());
        drop(c);
        self.shared.changed.notify_all();
    }
}

impl Drop for Tag<'_> {
    fn drop(&mut self) {
        let mut c = self.shared.conns();
        match &self.app {
            Some(app) => {
                if let Some(n) = c.by_app.get_mut(app) {
                    *n = n.saturating_sub(1);
                }
            }
            None => c.untagged = c.untagged.saturating_sub(1),
        }
        drop(c);
        self.shared.changed.notify_all();
    }
}

async fn connection(mut stream: UnixStream, shared: Arc<Shared>) {
    let mut tag = Tag {
        shared: &shared,
        app: None,
    };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let mut decoder = FrameDecoder::default();
    loop {
        loop {
            let frame = match decoder.decode(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "bad frame; closing the connection");
                    return;
                }
            };
            let reply = handle(&shared, &mut tag, &frame.body);
            if let Some(reply) = reply {
                if let Err(e) = stream.write_all(&frame::encode(&reply)).await {
                    tracing::debug!(error = %e, "cannot write AppReply");
                    return;
                }
            }
        }
        match stream.read_buf(&mut buf).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "agent connection read failed");
                return;
            }
        }
    }
}

/// The policies an App reply carries, as the daemon works them out: with a
/// token and account policies, every policy the agent supports, enabled
/// when both the account and the agent enable it; otherwise none.
fn enabled_policies(account: Option<&Value>, token: &str, supported: &str) -> String {
    let (Some(Value::Object(account)), false) = (account, token.is_empty()) else {
        return "{}".to_owned();
    };
    let agent: Value = serde_json::from_str(supported).unwrap_or(Value::Null);
    let mut out = Map::new();
    for (name, p) in account {
        let a = &agent[name.as_str()];
        if a["supported"].as_bool() != Some(true) {
            continue;
        }
        let on = p["enabled"].as_bool().unwrap_or(false) && a["enabled"].as_bool().unwrap_or(false);
        out.insert(name.clone(), Value::Bool(on));
    }
    Value::Object(out).to_string()
}

/// Handles one frame body; returns the reply body to send, if any.
fn handle(shared: &Shared, tag: &mut Tag<'_>, body: &[u8]) -> Option<Vec<u8>> {
    let mut scratch = Vec::new();
    let msg = match decode(body, &mut scratch) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "undecodable message ignored");
            return None;
        }
    };
    match msg.body {
        Body::App(app) => {
            let name = app.app_name().unwrap_or_default();
            tag.set(name);
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let reply = AppReplyInfo {
                status: AppStatus::Connected,
                connect_reply: Some(shared.connect_reply(name)),
                security_policies: Some(enabled_policies(
                    shared.policies.as_ref(),
                    app.security_policy_token().unwrap_or_default(),
                    app.supported_security_policies().unwrap_or_default(),
                )),
                connect_timestamp: now,
                harvest_frequency: 60,
                sampling_target: 10,
            };
            Some(reply.encode())
        }
        Body::Transaction(txn) => {
            let Some(run_id) = msg.agent_run_id else {
                tracing::warn!("transaction without a run id dropped");
                return None;
            };
            tag.set(run_id);
            let mut harvests = shared.harvests();
            harvests
                .entry(run_id.to_owned())
                .or_insert_with(|| Harvest::new(shared.limits, SystemTime::now()))
                .add_transaction(txn, body.len());
            None
        }
        // Span batches (Infinite Tracing) are dropped, as New Relic's runner does.
        Body::SpanBatch(_) | Body::AppReply(_) | Body::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seraph_wire::{AppInfo, TransactionData};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_connected_with_the_app_name_as_run_id_and_merges_transactions() {
        let name = format!("seraph-runner-test-{}", std::process::id());
        let ids = AccountIds {
            account: "1".into(),
            app: "2".into(),
            trusted: "1".into(),
        };
        let d = Arc::new(
            FakeDaemon::start(&name, &ids, crate::payloads::runner_limits(), None).unwrap(),
        );
        assert_eq!(d.address(), format!("@{name}"));

        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let std_stream = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
        std_stream.set_nonblocking(true).unwrap();
        let mut s = UnixStream::from_std(std_stream).unwrap();

        let app = AppInfo {
            app_name: "tests/x/test_a.php".into(),
            ..Default::default()
        };
        s.write_all(&frame::encode(&app.encode(None)))
            .await
            .unwrap();
        let mut buf = BytesMut::new();
        let mut dec = FrameDecoder::default();
        let body = loop {
            if let Some(f) = dec.decode(&mut buf).unwrap() {
                break f.body;
            }
            assert!(s.read_buf(&mut buf).await.unwrap() > 0);
        };
        let mut scratch = Vec::new();
        let Body::AppReply(r) = decode(&body, &mut scratch).unwrap().body else {
            panic!("not an AppReply")
        };
        let r = AppReplyInfo::from_fb(&r);
        assert_eq!(r.status, AppStatus::Connected);
        let reply: Value = serde_json::from_str(r.connect_reply.as_deref().unwrap()).unwrap();
        assert_eq!(reply["agent_run_id"], "tests/x/test_a.php");
        assert_eq!(reply["account_id"], "1");
        assert_eq!(reply["cross_process_id"], "1#2");

        let txn = TransactionData {
            name: "OtherTransaction/php/test_a.php".into(),
            txn_event: Some("[{},{},{}]".into()),
            ..Default::default()
        };
        s.write_all(&frame::encode(&seraph_wire::encode_transaction(
            "tests/x/test_a.php",
            &txn,
        )))
        .await
        .unwrap();
        drop(s);
        let settled = tokio::task::spawn_blocking({
            let d = d.clone();
            move || d.settle("tests/x/test_a.php", Duration::from_secs(10))
        })
        .await
        .unwrap();
        assert!(settled);
        let h = d.take("tests/x/test_a.php").expect("harvest");
        assert_eq!(h.transactions(), 1);
        assert_eq!(
            h.events(seraph_harvest::EventKind::Transaction).capacity(),
            50
        );
        assert!(!d.has_harvest("tests/x/test_a.php"));
    }
}
