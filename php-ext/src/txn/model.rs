//! See the module docs: the contract's types with a small implementation.

use seraph_wire::{ErrorData, MetricData, TransactionData};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Raw clock ticks (TSC or ns).
pub type Ticks = u64;
/// Identifies a PHP function (the engine's pointer, as an integer).
pub type FuncKey = usize;

/// Converts ticks to time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockScale {
    /// Nanoseconds per tick.
    pub ns_per_tick: f64,
}

/// Resolves function keys to names at the end of a transaction.
pub trait FuncNames {
    /// `Class::method` or `function`.
    fn name(&self, f: FuncKey) -> Option<String>;
}

/// Random ids.
pub trait IdSource {
    /// A random u64.
    fn next_u64(&mut self) -> u64;
    /// A random f64 in [0, 1).
    fn next_f64(&mut self) -> f64;
}

/// A web request.
#[derive(Clone, Debug, Default)]
pub struct WebRequest {
    /// HTTP method.
    pub method: String,
    /// Request URI (query string included; stripped when reported).
    pub uri: String,
    /// SCRIPT_NAME.
    pub script_name: String,
    /// Request headers (lower-case names).
    pub headers: Vec<(String, String)>,
}

/// What kind of transaction.
#[derive(Clone, Debug)]
pub enum TxnKind {
    /// A web request.
    Web(WebRequest),
    /// A CLI script.
    Cli {
        /// The script path as given.
        script: String,
    },
}

/// Settings the transaction needs.
#[derive(Clone, Debug)]
pub struct TxnConfig {
    /// Transaction events on.
    pub txn_events: bool,
    /// Span events on.
    pub span_events: bool,
    /// Custom events on.
    pub custom_events: bool,
    /// Error collection on.
    pub errors: bool,
    /// Error events on.
    pub error_events: bool,
    /// Custom attributes allowed.
    pub custom_parameters: bool,
    /// Max recorded segments (0 = unlimited).
    pub max_segments: u64,
    /// PHP version for the supportability metric.
    pub php_version: String,
    /// Agent version for the supportability metric.
    pub agent_version: String,
    /// Logging metrics flags: labels, metrics, forwarding, local decorating.
    pub logging: [bool; 4],
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            txn_events: true,
            span_events: true,
            custom_events: true,
            errors: true,
            error_events: true,
            custom_parameters: true,
            max_segments: 0,
            php_version: String::new(),
            agent_version: String::new(),
            logging: [false, true, true, false],
        }
    }
}

/// What the collector said at connect.
#[derive(Clone, Debug, Default)]
pub struct ConnectInfo {
    /// Run id.
    pub agent_run_id: String,
    /// apdex_t, seconds.
    pub apdex_t: f64,
    /// Error traces wanted.
    pub collect_errors: bool,
    /// Account id.
    pub account_id: String,
    /// Application id.
    pub primary_application_id: String,
    /// Trusted account key.
    pub trusted_account_key: String,
}

impl ConnectInfo {
    /// Parses the connect reply JSON.
    pub fn from_connect_reply(s: &str) -> Option<ConnectInfo> {
        let v: Value = serde_json::from_str(s).ok()?;
        let st = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        Some(ConnectInfo {
            agent_run_id: st("agent_run_id"),
            apdex_t: v.get("apdex_t").and_then(Value::as_f64).unwrap_or(0.5),
            collect_errors: v
                .get("collect_errors")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            account_id: st("account_id"),
            primary_application_id: st("primary_application_id"),
            trusted_account_key: st("trusted_account_key"),
        })
    }
}

/// Adaptive sampling decision.
#[derive(Debug, Default)]
pub struct Sampler;

impl Sampler {
    /// (sampled, priority): this stand-in samples everything.
    pub fn decide(&mut self, _now_us: u64, rand: f64) -> (bool, f64) {
        (true, 1.0 + (rand * 1e6).trunc() / 1e6)
    }
}

/// Who named the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameSource {
    /// `newrelic.webtransaction.name.*` settings.
    Settings,
    /// `newrelic_name_transaction`.
    Api,
}

/// A finished datastore call.
#[derive(Clone, Debug, Default)]
pub struct DatastoreCall {
    /// Product (`SQLite`, `MySQL`...).
    pub product: String,
    /// The SQL, if any.
    pub query: Option<String>,
    /// Backtrace frames for slow queries.
    pub backtrace: Vec<String>,
}

/// A finished external call.
#[derive(Clone, Debug, Default)]
pub struct ExternalCall {
    /// Full URL.
    pub url: String,
    /// `curl`.
    pub library: String,
    /// HTTP method.
    pub procedure: String,
    /// Response status, 0 if none.
    pub status: u16,
}

/// An error to record.
#[derive(Clone, Debug, Default)]
pub struct NoticedError {
    /// Higher wins (only one error per transaction is kept).
    pub priority: i32,
    /// Message.
    pub message: String,
    /// Class (`E_WARNING`, exception class...).
    pub class: String,
    /// `" in f called at /path (line)"` frames.
    pub stack_trace: Vec<String>,
    /// When, unix µs.
    pub now_unix_us: u64,
}

/// Resource usage of the request.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResourceUsage {
    /// CPU user time, s.
    pub cpu_user_s: f64,
    /// CPU system time, s.
    pub cpu_sys_s: f64,
    /// Memory, MB.
    pub memory_mb: f64,
    /// User function calls.
    pub user_call_count: u64,
}

#[derive(Clone, Debug)]
enum SegKind {
    Func(FuncKey),
    Custom(String),
    Datastore(DatastoreCall),
    External(ExternalCall),
}

#[derive(Clone, Debug)]
struct Segment {
    kind: SegKind,
    start: Ticks,
    end: Ticks,
    parent: Option<usize>,
    guid: u64,
}

/// One transaction.
pub struct Transaction {
    kind: TxnKind,
    start_unix_us: u64,
    start_ticks: Ticks,
    scale: ClockScale,
    cfg: Arc<TxnConfig>,
    connect: Arc<ConnectInfo>,
    sampled: bool,
    priority: f64,
    guid: u64,
    root_guid: u64,
    stack: Vec<(FuncKey, Ticks, u64)>,
    segs: Vec<Segment>,
    dropped_segments: u64,
    name: Option<(NameSource, String)>,
    background: bool,
    ignored: bool,
    response_code: Option<u16>,
    attrs: Vec<(String, Value)>,
    custom_events: Vec<String>,
    custom_metrics: Vec<(String, f64)>,
    api_counts: Vec<(String, u64)>,
    error: Option<NoticedError>,
    ids: u64,
}

fn fmt5(v: f64) -> Value {
    // 5 decimals, as the agent prints event doubles.
    serde_json::from_str(&format!("{v:.5}")).unwrap_or(Value::Null)
}

fn hex16(v: u64) -> String {
    format!("{v:016x}")
}

impl Transaction {
    /// Starts a transaction.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        kind: TxnKind,
        start_unix_us: u64,
        start_ticks: Ticks,
        scale: ClockScale,
        cfg: Arc<TxnConfig>,
        connect: Arc<ConnectInfo>,
        (sampled, priority): (bool, f64),
        ids: &mut impl IdSource,
    ) -> Transaction {
        Transaction {
            kind,
            start_unix_us,
            start_ticks,
            scale,
            cfg,
            connect,
            sampled,
            priority,
            guid: ids.next_u64(),
            root_guid: ids.next_u64(),
            stack: Vec::with_capacity(64),
            segs: Vec::new(),
            dropped_segments: 0,
            name: None,
            background: false,
            ignored: false,
            response_code: None,
            attrs: Vec::new(),
            custom_events: Vec::new(),
            custom_metrics: Vec::new(),
            api_counts: Vec::new(),
            error: None,
            ids: ids.next_u64() | 1,
        }
    }

    fn next_id(&mut self) -> u64 {
        // xorshift: span guids need not be cryptographic.
        let mut x = self.ids;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.ids = x;
        x
    }

    /// A function starts.
    #[inline]
    pub fn enter(&mut self, func: FuncKey, now: Ticks) {
        self.stack.push((func, now, 0));
    }

    fn pop(&mut self, now: Ticks, kind: impl FnOnce(FuncKey) -> SegKind) {
        let Some((func, start, _)) = self.stack.pop() else {
            return;
        };
        if self.cfg.max_segments != 0 && self.segs.len() as u64 >= self.cfg.max_segments {
            self.dropped_segments += 1;
            return;
        }
        let guid = self.next_id();
        self.segs.push(Segment {
            kind: kind(func),
            start,
            end: now,
            parent: None,
            guid,
        });
        let _ = self.stack.len();
    }

    /// A function ends.
    #[inline]
    pub fn leave(&mut self, now: Ticks) {
        self.pop(now, SegKind::Func);
    }

    /// A datastore call ends.
    pub fn leave_datastore(&mut self, now: Ticks, call: DatastoreCall) {
        self.pop(now, |_| SegKind::Datastore(call));
    }

    /// An external call ends.
    pub fn leave_external(&mut self, now: Ticks, call: ExternalCall) {
        self.pop(now, |_| SegKind::External(call));
    }

    /// A custom-named segment ends.
    pub fn leave_custom(&mut self, now: Ticks, name: &str) {
        self.pop(now, |_| SegKind::Custom(name.to_owned()));
    }

    /// Names the transaction; a higher source wins.
    pub fn set_name(&mut self, source: NameSource, name: &str) {
        if self.name.as_ref().is_none_or(|(s, _)| source >= *s) {
            self.name = Some((source, name.to_owned()));
        }
    }

    /// Marks a web transaction as background.
    pub fn set_background(&mut self, background: bool) {
        self.background = background;
    }

    /// Drops the transaction.
    pub fn ignore(&mut self) {
        self.ignored = true;
    }

    /// HTTP status.
    pub fn set_response_code(&mut self, code: u16) {
        self.response_code = Some(code);
    }

    /// A user attribute.
    pub fn add_custom_parameter(&mut self, key: &str, value: Value) -> bool {
        if !self.cfg.custom_parameters || self.attrs.len() >= 64 {
            return false;
        }
        self.attrs.retain(|(k, _)| k != key);
        self.attrs.push((key.to_owned(), value));
        true
    }

    /// A custom event.
    pub fn record_custom_event(
        &mut self,
        event_type: &str,
        attrs: Vec<(String, Value)>,
        now_unix_us: u64,
    ) {
        if !self.cfg.custom_events {
            return;
        }
        let mut a = Map::new();
        for (k, v) in attrs.into_iter().rev() {
            a.insert(k, v);
        }
        let ev = json!([{"type": event_type, "timestamp": now_unix_us / 1000}, a, {}]);
        self.custom_events.push(crate::json::to_string_slashes(&ev));
    }

    /// A custom metric (value in ms).
    pub fn add_custom_metric(&mut self, name: &str, value_ms: f64) {
        self.custom_metrics
            .push((name.to_owned(), value_ms / 1000.0));
    }

    /// Counts an API call.
    pub fn count_api(&mut self, name: &str) {
        match self.api_counts.iter_mut().find(|(n, _)| n == name) {
            Some((_, c)) => *c += 1,
            None => self.api_counts.push((name.to_owned(), 1)),
        }
    }

    /// Records an error; the highest priority wins.
    pub fn notice_error(&mut self, e: NoticedError) {
        if self
            .error
            .as_ref()
            .is_none_or(|cur| e.priority >= cur.priority)
        {
            self.error = Some(e);
        }
    }

    /// Whether the transaction is ignored.
    pub fn is_ignored(&self) -> bool {
        self.ignored
    }

    fn final_name(&self) -> (String, bool) {
        let web = matches!(self.kind, TxnKind::Web(_)) && !self.background;
        let prefix = if web {
            "WebTransaction"
        } else {
            "OtherTransaction"
        };
        let name = match (&self.name, &self.kind) {
            (Some((_, n)), _) => format!("{prefix}/Custom/{n}"),
            (None, TxnKind::Web(w)) => format!(
                "{prefix}/{}/{}",
                if web { "Uri" } else { "php" },
                w.script_name.trim_start_matches('/')
            ),
            (None, TxnKind::Cli { script }) => format!("{prefix}/php/{script}"),
        };
        (name, web)
    }

    /// Finishes the transaction; `None` when ignored.
    pub fn finish(
        mut self,
        end_ticks: Ticks,
        end_unix_us: u64,
        usage: ResourceUsage,
        names: &dyn FuncNames,
        pid: i32,
    ) -> Option<TransactionData> {
        if self.ignored {
            return None;
        }
        while !self.stack.is_empty() {
            self.leave(end_ticks);
        }
        let secs = |t: Ticks| t as f64 * self.scale.ns_per_tick / 1e9;
        let dur = secs(end_ticks.saturating_sub(self.start_ticks))
            .max((end_unix_us.saturating_sub(self.start_unix_us)) as f64 / 1e6 * 0.0);
        let (name, web) = self.final_name();
        let mut metrics = Vec::new();
        let timed = |n: &str, v: f64| MetricData {
            name: n.to_owned(),
            count: 1.0,
            total: v,
            exclusive: v,
            min: v,
            max: v,
            sum_squares: v * v,
            scoped: false,
            forced: true,
        };
        let value = |n: &str, v: f64| MetricData {
            exclusive: 0.0,
            ..timed(n, v)
        };
        let count = |n: &str, c: f64| MetricData {
            count: c,
            ..value(n, 0.0)
        };
        let suffix = name
            .split_once('/')
            .map(|x| x.1)
            .unwrap_or_default()
            .to_owned();
        let has_error = self.error.is_some() && self.cfg.errors;
        if web {
            let uri_suffix = suffix.clone();
            metrics.push(timed("WebTransaction", dur));
            metrics.push(timed(&format!("WebTransaction/{uri_suffix}"), dur));
            metrics.push(timed("WebTransactionTotalTime", dur));
            metrics.push(timed(&format!("WebTransactionTotalTime/{uri_suffix}"), dur));
            metrics.push(timed("HttpDispatcher", dur));
            metrics.push(timed(
                "DurationByCaller/Unknown/Unknown/Unknown/Unknown/all",
                dur,
            ));
            metrics.push(timed(
                "DurationByCaller/Unknown/Unknown/Unknown/Unknown/allWeb",
                dur,
            ));
            let apdex_t = self.connect.apdex_t;
            let (s, t, f) = if has_error {
                (0.0, 0.0, 1.0)
            } else if dur <= apdex_t {
                (1.0, 0.0, 0.0)
            } else if dur <= 4.0 * apdex_t {
                (0.0, 1.0, 0.0)
            } else {
                (0.0, 0.0, 1.0)
            };
            for n in ["Apdex".to_owned(), format!("Apdex/{uri_suffix}")] {
                metrics.push(MetricData {
                    name: n,
                    count: s,
                    total: t,
                    exclusive: f,
                    min: apdex_t,
                    max: apdex_t,
                    sum_squares: 0.0,
                    scoped: false,
                    forced: true,
                });
            }
        } else {
            metrics.push(timed("OtherTransaction/all", dur));
            metrics.push(timed(&name, dur));
            metrics.push(timed("OtherTransactionTotalTime", dur));
            metrics.push(timed(&format!("OtherTransactionTotalTime/{suffix}"), dur));
            metrics.push(timed(
                "DurationByCaller/Unknown/Unknown/Unknown/Unknown/all",
                dur,
            ));
            metrics.push(timed(
                "DurationByCaller/Unknown/Unknown/Unknown/Unknown/allOther",
                dur,
            ));
        }
        if has_error {
            let all = if web { "allWeb" } else { "allOther" };
            metrics.push(count("Errors/all", 1.0));
            metrics.push(count(&format!("Errors/{all}"), 1.0));
            metrics.push(count(&format!("Errors/{name}"), 1.0));
            metrics.push(count(
                "ErrorsByCaller/Unknown/Unknown/Unknown/Unknown/all",
                1.0,
            ));
            metrics.push(count(
                &format!("ErrorsByCaller/Unknown/Unknown/Unknown/Unknown/{all}"),
                1.0,
            ));
        }
        metrics.push(value("CPU/User Time", usage.cpu_user_s));
        metrics.push(value(
            "CPU/User/Utilization",
            if dur > 0.0 {
                usage.cpu_user_s / dur
            } else {
                0.0
            },
        ));
        metrics.push(value("Memory/Physical", usage.memory_mb));
        metrics.push(count(
            &format!("Supportability/PHP/Version/{}", self.cfg.php_version),
            1.0,
        ));
        metrics.push(count(
            &format!("Supportability/PHP/AgentVersion/{}", self.cfg.agent_version),
            1.0,
        ));
        let nseg = (self.segs.len() + 1) as f64;
        metrics.push(timed(
            "Supportability/execute/allocated_segment_count",
            nseg / 1e6,
        ));
        metrics.push(count("Supportability/execute/user/call_count", 1.0));
        if let Some(m) = metrics.last_mut() {
            m.total = usage.user_call_count as f64;
            m.min = m.total;
            m.max = m.total;
        }
        for (api, n) in &self.api_counts {
            metrics.push(count(&format!("Supportability/api/{api}"), *n as f64));
        }
        for (n, v) in &self.custom_metrics {
            let mut m = timed(n, *v);
            m.forced = false;
            metrics.push(m);
        }
        let [labels, lm, fwd, dec] = self.cfg.logging;
        let onoff = |b: bool| if b { "enabled" } else { "disabled" };
        metrics.push(count(
            &format!("Supportability/Logging/Labels/PHP/{}", onoff(labels)),
            1.0,
        ));
        metrics.push(count(
            &format!("Supportability/Logging/Metrics/PHP/{}", onoff(lm)),
            1.0,
        ));
        metrics.push(count(
            &format!("Supportability/Logging/Forwarding/PHP/{}", onoff(fwd)),
            1.0,
        ));
        metrics.push(count(
            &format!("Supportability/Logging/LocalDecorating/PHP/{}", onoff(dec)),
            1.0,
        ));

        let guid = hex16(self.guid);
        let ts = self.start_unix_us as f64 / 1e6;
        let prio = fmt5(self.priority);
        let mut user = Map::new();
        for (k, v) in self.attrs.iter().rev() {
            user.insert(k.clone(), v.clone());
        }
        let mut agent = Map::new();
        let err_agent = self
            .error
            .as_ref()
            .filter(|_| has_error)
            .map(|e| (e.class.clone(), e.message.clone()));
        if let Some((class, msg)) = &err_agent {
            agent.insert("errorType".into(), json!(class));
            agent.insert("errorMessage".into(), json!(msg));
        }
        let txn_event = self.cfg.txn_events.then(|| {
            crate::json::to_string_slashes(&json!([{
                "type": "Transaction", "name": name, "timestamp": fmt5(ts),
                "duration": fmt5(dur), "totalTime": fmt5(dur), "guid": guid,
                "sampled": self.sampled, "priority": prio, "traceId": guid, "error": has_error,
            }, user, agent]))
        });
        let mut span_events = Vec::new();
        if self.cfg.span_events && self.sampled {
            let mut agent = Map::new();
            if let Some((class, msg)) = &err_agent {
                agent.insert("error.message".into(), json!(msg));
                agent.insert("error.class".into(), json!(class));
            }
            span_events.push(crate::json::to_string_slashes(&json!([{
                "category": "generic", "type": "Span", "guid": hex16(self.root_guid), "traceId": guid,
                "transactionId": guid, "name": name, "timestamp": self.start_unix_us / 1000,
                "duration": fmt5(dur), "priority": prio, "sampled": self.sampled,
                "nr.entryPoint": true, "transaction.name": name,
            }, user, agent])));
            for s in self.segs.iter().take(2000) {
                let (sname, category) = match &s.kind {
                    SegKind::Func(f) => (
                        format!(
                            "Custom/{}",
                            names.name(*f).unwrap_or_else(|| "<unknown>".into())
                        ),
                        "generic",
                    ),
                    SegKind::Custom(n) => (n.clone(), "generic"),
                    SegKind::Datastore(d) => (
                        format!("Datastore/statement/{}/other", d.product),
                        "datastore",
                    ),
                    SegKind::External(e) => (format!("External/{}/all", e.url), "http"),
                };
                let start_ms = (self.start_unix_us as f64 / 1e3
                    + secs(s.start.saturating_sub(self.start_ticks)) * 1e3)
                    as u64;
                let _ = s.parent;
                span_events.push(crate::json::to_string_slashes(&json!([{
                    "category": category, "type": "Span", "guid": hex16(s.guid), "traceId": guid,
                    "transactionId": guid, "name": sname, "timestamp": start_ms,
                    "duration": fmt5(secs(s.end.saturating_sub(s.start))), "priority": prio,
                    "sampled": self.sampled, "parentId": hex16(self.root_guid),
                }, {}, {}])));
            }
        }
        let mut errors = Vec::new();
        let mut error_events = Vec::new();
        if let (Some(e), true) = (&self.error, has_error) {
            if self.connect.collect_errors {
                let data = json!([e.now_unix_us / 1000, name, e.message, e.class, {
                    "stack_trace": e.stack_trace, "agentAttributes": {}, "intrinsics": {
                        "totalTime": fmt5(dur), "guid": guid, "sampled": self.sampled,
                        "priority": prio, "traceId": guid,
                    }}, guid]);
                errors.push(ErrorData {
                    priority: e.priority,
                    data: crate::json::to_string_slashes(&data),
                });
            }
            if self.cfg.error_events {
                error_events.push(crate::json::to_string_slashes(&json!([{
                    "type": "TransactionError", "timestamp": fmt5(e.now_unix_us as f64 / 1e6),
                    "error.class": e.class, "error.message": e.message, "transactionName": name,
                    "duration": fmt5(dur), "nr.transactionGuid": guid, "guid": guid,
                    "sampled": self.sampled, "priority": prio, "traceId": guid,
                }, {}, {}])));
            }
        }
        let uri = match &self.kind {
            TxnKind::Web(w) => w.uri.split('?').next().unwrap_or_default().to_owned(),
            TxnKind::Cli { .. } => "<unknown>".to_owned(),
        };
        let _ = self.dropped_segments;
        Some(TransactionData {
            name,
            uri,
            pid,
            txn_event,
            metrics,
            errors,
            custom_events: self.custom_events,
            error_events,
            sampling_priority: self.priority,
            span_events,
            log_forwarding_labels: Some("[]".to_owned()),
            ..Default::default()
        })
    }
}

impl Transaction {
    /// Outbound distributed-tracing headers (W3C `traceparent` and
    /// `tracestate`, New Relic `newrelic`), for the segment about to start.
    pub fn create_dt_headers(
        &mut self,
        now_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        let span = hex16(ids.next_u64());
        let trace = format!("{:0>32}", hex16(self.guid));
        let sampled = if self.sampled { "01" } else { "00" };
        let c = &self.connect;
        let tracestate = format!(
            "{}@nr=0-0-{}-{}-{span}-{}-{}-{:.6}-{}",
            c.trusted_account_key,
            c.account_id,
            c.primary_application_id,
            hex16(self.guid),
            u8::from(self.sampled),
            self.priority,
            now_us / 1000
        );
        vec![
            (
                "traceparent".to_owned(),
                format!("00-{trace}-{span}-{sampled}"),
            ),
            ("tracestate".to_owned(), tracestate),
        ]
    }
}
