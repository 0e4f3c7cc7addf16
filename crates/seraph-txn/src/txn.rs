//! [`Transaction`]: the state of one PHP transaction and the API the
//! extension drives it with. Building the frame at the end lives in
//! `finish.rs`.

use crate::attrs::{dest, AttrList, AttrValue};
use crate::config::{RecordSql, TxnConfig, TRACE_SEGMENT_LIMIT};
use crate::connect::ConnectInfo;
use crate::dt::{self, metric as dtm, Inbound};
use crate::ids::{guid, IdSource, SeededIds};
use crate::metrics::MetricTable;
use crate::recorder::{flag, DatastoreSeg, ExternalSeg, Recorder, SegKind};
use crate::{json, sql, FuncKey, Ticks};
use seraph_wire::SlowSqlData;
use std::sync::Arc;

/// How the extension's monotonic clock ticks relate to time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockScale {
    /// Nanoseconds per tick (1.0 for `clock_gettime` nanoseconds).
    pub ns_per_tick: f64,
}

impl ClockScale {
    /// Ticks are nanoseconds.
    pub const NANOS: ClockScale = ClockScale { ns_per_tick: 1.0 };
    /// Ticks are microseconds.
    pub const MICROS: ClockScale = ClockScale {
        ns_per_tick: 1000.0,
    };
}

/// Resolves function keys to names (`a`, `Foo::bar`) when the transaction
/// ends, so the hot path only ever stores an integer.
pub trait FuncNames {
    /// The function's name, or `None` if unknown (printed `<unknown>`).
    fn name(&self, key: FuncKey) -> Option<String>;
}

impl<F: Fn(FuncKey) -> Option<String>> FuncNames for F {
    fn name(&self, key: FuncKey) -> Option<String> {
        self(key)
    }
}

/// A web request as the SAPI describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WebRequest {
    /// `REQUEST_METHOD`.
    pub method: String,
    /// `REQUEST_URI` (the query string is stripped here).
    pub uri: String,
    /// `SCRIPT_NAME`: names the transaction (`WebTransaction/Uri/…`).
    pub script_name: String,
    /// Request headers by name (`Accept`, `Host`, `User-Agent`, …; CGI
    /// style `HTTP_ACCEPT` names work too).
    pub headers: Vec<(String, String)>,
}

/// What kind of transaction this is.
#[derive(Clone, Debug, PartialEq)]
pub enum TxnKind {
    /// A web request.
    Web(WebRequest),
    /// A CLI script (background from the start).
    Cli {
        /// The script path as given on the command line.
        script: String,
    },
}

/// A datastore call ended by [`Transaction::leave_datastore`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatastoreCall {
    /// Product: `MySQL`, `SQLite`, `Postgres`, `Redis`, …
    pub product: String,
    /// The query, for SQL products.
    pub sql: Option<String>,
    /// Operation override (otherwise parsed from the SQL, else `other`).
    pub operation: Option<String>,
    /// Collection/table override (otherwise parsed from the SQL).
    pub collection: Option<String>,
    /// Instance host.
    pub host: Option<String>,
    /// Instance port, socket path or id.
    pub port_path_or_id: Option<String>,
    /// Database name.
    pub database_name: Option<String>,
    /// PHP backtrace lines (`" in f called at /file (12)"`); only used if
    /// the call was slow enough ([`Transaction::wants_backtrace`]).
    pub backtrace: Option<Vec<String>>,
    /// The query's explain plan, when one was run
    /// ([`Transaction::wants_explain`]).
    pub explain_plan: Option<crate::ExplainPlan>,
}

impl DatastoreCall {
    /// Sets the instance fields from a normalized instance, moving its
    /// strings (the hot-path form of [`DatastoreCall::with_instance`]).
    pub fn with_owned_instance(mut self, instance: Option<crate::DatastoreInstance>) -> Self {
        if let Some(i) = instance {
            self.host = Some(i.host);
            self.port_path_or_id = Some(i.port_path_or_id);
            self.database_name = Some(i.database_name);
        }
        self
    }

    /// Sets the instance fields (host, port, database) from a normalized
    /// instance.
    pub fn with_instance(mut self, instance: Option<&crate::DatastoreInstance>) -> Self {
        if let Some(i) = instance {
            self.host = Some(i.host.clone());
            self.port_path_or_id = Some(i.port_path_or_id.clone());
            self.database_name = Some(i.database_name.clone());
        }
        self
    }
}

/// An external call ended by [`Transaction::leave_external`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExternalCall {
    /// The URL requested.
    pub url: String,
    /// `curl`, `Guzzle 6`, …
    pub library: String,
    /// HTTP method.
    pub procedure: String,
    /// Response status, when known.
    pub status: Option<u16>,
}

/// Where a transaction name comes from; a higher source replaces a lower
/// one, never the reverse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameSource {
    /// The script or URL (`php/…`, `Uri/…`).
    Default = 1,
    /// A status code name.
    StatusCode = 2,
    /// `newrelic.webtransaction.name.files` (`Action/…`).
    File = 3,
    /// Framework/function naming (`Function/…`).
    Function = 4,
    /// `newrelic_name_transaction()` (`Custom/…`); may be replaced by later
    /// API calls.
    Api = 5,
}

/// An error to record with [`Transaction::notice_error`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NoticedError {
    /// Uncaught exception 100, `newrelic_notice_error` 50, `E_USER_WARNING`
    /// 40, …; only the highest is kept (ties replace).
    pub priority: i32,
    /// Message.
    pub message: String,
    /// Class: exception class, `NoticedError`, or `E_*` name.
    pub class: String,
    /// Stack trace lines.
    pub stack_trace: Vec<String>,
    /// When it happened.
    pub now_unix_us: u64,
}

/// Process resource usage over the transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResourceUsage {
    /// User CPU seconds used during the transaction.
    pub cpu_user_s: f64,
    /// System CPU seconds used during the transaction.
    pub cpu_sys_s: f64,
    /// Resident memory, MB (MiB).
    pub memory_mb: f64,
    /// User function calls executed.
    pub user_call_count: u64,
}

/// Transaction path types, in precedence order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PathType {
    Unknown = 0,
    Uri = 1,
    StatusCode = 2,
    Action = 3,
    Function = 4,
    Custom = 5,
}

/// The recorded error.
#[derive(Clone, Debug)]
pub(crate) struct TxnError {
    pub priority: i32,
    pub message: String,
    pub class: String,
    pub stack_json: String,
    pub span_id: Option<String>,
    pub when_us: u64,
}

/// Distributed tracing state.
#[derive(Clone, Debug)]
pub(crate) struct DtState {
    pub trace_id: String,
    pub sampled: bool,
    pub priority: f64,
    pub inbound: Option<Inbound>,
    pub created: bool,
}

/// Bytes of an error message kept (New Relic's limit on an event
/// attribute value such as `error.message`). Every segment an exception
/// leaves carries its message: 40 exceptions with 100 KB messages through
/// 50 frames grew a process by 197 MB and made a frame the daemon could not
/// take in 500 ms (the transaction was lost).
pub const ERROR_MESSAGE_LIMIT: usize = 4095;

pub(crate) const HIGH_SECURITY_MESSAGE: &str = "Message removed by New Relic high_security setting";
pub(crate) const RAW_MESSAGE_DISALLOWED: &str = "Message removed by New Relic security settings";
/// Slow SQL entries kept per transaction.
const MAX_SLOW_SQLS: usize = 10;

/// Bytes of a query the agent looks at (parsing, obfuscation). An
/// unterminated literal at the cut is masked whole by the obfuscator.
pub const SQL_SCAN_LIMIT: usize = 64 * 1024;

/// Bytes of (raw or obfuscated) SQL kept per datastore segment and slow
/// query: New Relic's limit on an event attribute value (`db.statement`),
/// 4095. Whole queries were kept: 2 500 queries of 100 KB grew a process
/// by 197 MB of agent memory (PHP's `memory_limit` does not cover it) and
/// made frames too large for the daemon.
pub const SQL_KEPT_LIMIT: usize = 4095;

/// One transaction. See the crate docs for the call sequence.
pub struct Transaction {
    pub(crate) cfg: Arc<TxnConfig>,
    pub(crate) connect: Arc<ConnectInfo>,
    pub(crate) us_per_tick: f64,
    pub(crate) start_ticks: Ticks,
    pub(crate) start_unix_us: u64,
    pub(crate) rec: Recorder,
    pub(crate) rng: SeededIds,
    pub(crate) guid: String,
    pub(crate) web: bool,
    pub(crate) request_uri: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) path_type: PathType,
    pub(crate) background: bool,
    pub(crate) frozen_name: Option<String>,
    pub(crate) ignored: bool,
    pub(crate) ignore_apdex: bool,
    pub(crate) user_attrs: AttrList,
    pub(crate) agent_attrs: AttrList,
    pub(crate) attr_allowed: u8,
    pub(crate) metrics: MetricTable,
    pub(crate) error: Option<TxnError>,
    pub(crate) custom_events: Vec<String>,
    pub(crate) slow_sqls: Vec<SlowSqlData>,
    pub(crate) datastore_products: Vec<String>,
    pub(crate) dt: DtState,
    pub(crate) response_code: Option<u16>,
    pub(crate) response_content_type: Option<String>,
    pub(crate) response_content_length: Option<i64>,
    pub(crate) queue_start_us: Option<u64>,
    pub(crate) extra_allocated: u64,
    pub(crate) cpu_sample: Option<(f64, u32)>,
    /// A buffer for metric names only looked up (rollups), reused so a
    /// datastore call allocates no name it does not keep.
    pub(crate) scratch: String,
    /// Framework, log and package data (`library.rs`).
    pub(crate) lib: crate::library::LibraryData,
}

/// The parts joined, allocated once: metric names are built for every
/// datastore and external call, and `format!` costs several times more.
fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

/// `buf` becomes the parts joined (its allocation reused).
fn concat_into(buf: &mut String, parts: &[&str]) {
    buf.clear();
    for p in parts {
        buf.push_str(p);
    }
}

/// `REQUEST_URI` without `?query`, `#fragment` or `;params`.
fn strip_query(uri: &str) -> &str {
    uri.find(['?', '#', ';']).map_or(uri, |i| &uri[..i])
}

/// Header name in a canonical form: lower case, dashes, no `http_` prefix.
fn canonical_header(name: &str) -> String {
    let lower = name.to_ascii_lowercase().replace('_', "-");
    match lower.strip_prefix("http-") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// The longest prefix of `s` that C's `strtod` would read as a decimal
/// number (leading blanks skipped, trailing text ignored).
fn strtod_prefix(s: &str) -> Option<f64> {
    let s = s.trim_start();
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > start
    };
    let mut any = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        any |= digits(&mut i);
    }
    if !any {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) {
            i = j;
        }
    }
    s[..i].parse().ok()
}

/// Parses `X-Request-Start` as New Relic's agent does: an optional `t=`,
/// then a Unix time in microseconds, milliseconds or seconds (fractions
/// allowed, trailing text such as Apache's ` D=…` ignored), told apart by
/// which reading falls between 2000-01-01 and 2050-01-01.
fn parse_queue_start(v: &str) -> Option<u64> {
    let v = v.strip_prefix("t=").unwrap_or(v);
    let x = strtod_prefix(v)?;
    if !x.is_finite() || x <= 0.0 {
        return None;
    }
    const EARLIEST_US: u64 = 946_684_800 * 1_000_000;
    const LATEST_US: u64 = 2_524_629_600 * 1_000_000;
    [1.0, 1e3, 1e6]
        .into_iter()
        .map(|us_per_unit| (x * us_per_unit) as u64)
        .find(|us| *us > EARLIEST_US && *us < LATEST_US)
}

impl Transaction {
    /// Starts a transaction.
    ///
    /// `sampling` is the [`crate::Sampler`]'s decision; `ids` provides the
    /// transaction guid and seeds the transaction's own generator for span
    /// ids, so the whole transaction is reproducible from it.
    // The argument list is the interface agreed with the extension.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        kind: TxnKind,
        start_unix_us: u64,
        start_ticks: Ticks,
        scale: ClockScale,
        cfg: Arc<TxnConfig>,
        connect: Arc<ConnectInfo>,
        sampling: (bool, f64),
        ids: &mut impl IdSource,
    ) -> Self {
        let ns_per_tick = if scale.ns_per_tick.is_finite() && scale.ns_per_tick > 0.0 {
            scale.ns_per_tick
        } else {
            1.0
        };
        let web = matches!(kind, TxnKind::Web(_));
        let max_segments = if web {
            cfg.transaction_tracer.max_segments_web
        } else {
            cfg.transaction_tracer.max_segments_cli
        };
        let mut heap_cap = TRACE_SEGMENT_LIMIT.max(cfg.span_limit());
        if max_segments > 1 {
            heap_cap = heap_cap.min(max_segments - 1);
        }
        let min_keep = (cfg.expensive_node_min_ns as f64 / ns_per_tick).ceil() as Ticks;
        let rec = Recorder::new(start_ticks, min_keep, heap_cap, cfg.max_stack_depth.max(1));
        let txn_guid = guid(ids);
        let rng = SeededIds::new(ids.next_u64());
        let attr_allowed = cfg.attributes.allowed();
        let priority = if sampling.1.is_finite() {
            sampling.1
        } else {
            0.0
        };
        let mut txn = Transaction {
            us_per_tick: ns_per_tick / 1000.0,
            start_ticks,
            start_unix_us,
            rec,
            rng,
            dt: DtState {
                trace_id: txn_guid.clone(),
                sampled: sampling.0,
                priority,
                inbound: None,
                created: false,
            },
            guid: txn_guid,
            web,
            request_uri: None,
            path: None,
            path_type: PathType::Unknown,
            background: !web,
            frozen_name: None,
            ignored: false,
            ignore_apdex: false,
            user_attrs: AttrList::default(),
            agent_attrs: AttrList::default(),
            attr_allowed,
            metrics: MetricTable::default(),
            error: None,
            custom_events: Vec::new(),
            slow_sqls: Vec::new(),
            datastore_products: Vec::new(),
            response_code: None,
            response_content_type: None,
            response_content_length: None,
            queue_start_us: None,
            extra_allocated: 0,
            cpu_sample: None,
            scratch: String::new(),
            lib: Default::default(),
            cfg,
            connect,
        };
        match kind {
            TxnKind::Web(req) => txn.begin_web(req),
            TxnKind::Cli { script } => {
                txn.set_path(&script, PathType::Uri, true);
            }
        }
        txn
    }

    fn begin_web(&mut self, req: WebRequest) {
        self.set_path(&req.script_name, PathType::Uri, true);
        let get = |names: &[&str]| {
            req.headers
                .iter()
                .find(|(k, _)| names.contains(&canonical_header(k).as_str()))
                .map(|(_, v)| v.clone())
        };
        let accept = get(&["accept"]);
        let content_type = get(&["content-type"]);
        let content_length = get(&["content-length"]);
        let host = get(&["host"]);
        let referer = get(&["referer"]);
        let user_agent = get(&["user-agent"]);
        // New Relic's PHP agent reads X-Request-Start only (not
        // X-Queue-Start).
        let queue = get(&["x-request-start"]);
        self.queue_start_us = queue.as_deref().and_then(parse_queue_start);
        let d = dest::TRACE_ERROR_EVENT;
        self.agent_str("request.headers.accept", accept.as_deref(), d);
        self.agent_str("request.headers.contentType", content_type.as_deref(), d);
        if let Some(n) = content_length
            .as_deref()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|n| *n != 0)
        {
            self.agent_attr("request.headers.contentLength", AttrValue::Int(n), d);
        }
        self.agent_str("request.headers.host", host.as_deref(), d);
        if let Some(r) = referer.as_deref() {
            self.agent_str("request.headers.referer", Some(strip_query(r)), dest::ERROR);
        }
        self.agent_str(
            "request.headers.userAgent",
            user_agent.as_deref(),
            dest::TXN_TRACE | dest::ERROR,
        );
        self.agent_str(
            "request.headers.User-Agent",
            user_agent.as_deref(),
            dest::TXN_TRACE | dest::ERROR,
        );
        self.agent_str("request.method", Some(&req.method), d);
        let uri = strip_query(&req.uri).to_owned();
        self.agent_str("request.uri", Some(&uri), d);
        if !uri.is_empty() {
            self.request_uri = Some(uri);
        }
        let dt: Vec<(String, String)> = ["newrelic", "traceparent", "tracestate"]
            .into_iter()
            .filter_map(|n| get(&[n]).map(|v| (n.to_owned(), v)))
            .collect();
        self.accept_inbound_headers(&dt);
    }

    /// Joins the trace of the request's inbound distributed-tracing headers
    /// (`newrelic`, `traceparent`, `tracestate`), as New Relic's agent does
    /// when a transaction starts: only with distributed tracing on and a
    /// `newrelic` or `traceparent` header present, transport `HTTP`. Web
    /// transactions do this from their [`WebRequest`] headers; the
    /// extension calls it for CLI transactions, whose `$_SERVER` may carry
    /// them too. Returns whether a payload was accepted.
    pub fn accept_inbound_headers(&mut self, headers: &[(String, String)]) -> bool {
        let has = |n: &str| {
            headers
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(n) && !v.is_empty())
        };
        if !self.cfg.distributed_tracing_enabled || !(has("newrelic") || has("traceparent")) {
            return false;
        }
        self.accept_dt_headers(headers, "HTTP", self.start_unix_us)
    }

    pub(crate) fn agent_attr(&mut self, key: &str, v: AttrValue, dests: u8) {
        self.agent_attrs
            .add(key, v, dests & self.attr_allowed, false);
    }

    fn agent_str(&mut self, key: &str, v: Option<&str>, dests: u8) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            self.agent_attr(key, AttrValue::Str(v.to_owned()), dests);
        }
    }

    pub(crate) fn set_path(&mut self, path: &str, ptype: PathType, ok_to_overwrite: bool) -> bool {
        if path.is_empty() || self.frozen_name.is_some() || ptype < self.path_type {
            return false;
        }
        if !ok_to_overwrite && ptype == self.path_type {
            return false;
        }
        self.path_type = ptype;
        self.path = Some(path.to_owned());
        true
    }

    /// Converts a tick difference to microseconds.
    #[inline]
    pub(crate) fn us(&self, ticks: Ticks) -> u64 {
        (ticks as f64 * self.us_per_tick) as u64
    }

    /// Microseconds from the transaction start to `t`.
    pub(crate) fn rel_us(&self, t: Ticks) -> u64 {
        self.us(t.saturating_sub(self.start_ticks))
    }

    /// A closed segment's duration in microseconds, from its start and stop
    /// expressed relative to the transaction start (as the agent keeps
    /// them).
    pub(crate) fn node_dur_us(&self, i: u32) -> u64 {
        let n = &self.rec.nodes[i as usize];
        self.rel_us(n.stop).saturating_sub(self.rel_us(n.start))
    }

    // --- segments --------------------------------------------------------

    /// A PHP function `func` starts. Hot path: no allocation in the common
    /// case.
    #[inline]
    pub fn enter(&mut self, func: FuncKey, now: Ticks) {
        self.rec.calls += 1;
        self.rec.enter(func, now);
    }

    /// An instrumented internal call (a datastore or external call the
    /// extension wraps) starts; it ends with `leave_datastore`,
    /// `leave_external` or `leave_custom`. Unlike [`Transaction::enter`] it
    /// is not a user function call.
    pub fn enter_internal(&mut self, now: Ticks) {
        self.rec.enter(0, now);
    }

    /// PHP switched execution context (fibers, PHP 8.1): see the
    /// recorder. `from` and `to` identify the contexts (their addresses).
    pub fn switch_context(&mut self, from: usize, to: usize) {
        self.rec.switch_context(from, to);
    }

    /// PHP freed an execution context (a fiber object went away).
    pub fn context_destroyed(&mut self, ctx: usize) {
        self.rec.context_destroyed(ctx);
    }

    /// User function calls so far (`Supportability/execute/user/call_count`).
    pub fn user_calls(&self) -> u64 {
        self.rec.calls
    }

    /// The innermost function returns. Hot path.
    #[inline]
    pub fn leave(&mut self, now: Ticks) {
        self.rec.leave(now);
    }

    /// Whether a datastore call that started at `start` and ends at `now`
    /// will use a backtrace, so the extension can skip building one.
    pub fn wants_backtrace(&self, start: Ticks, now: Ticks) -> bool {
        self.backtrace_worthy(self.us(now.saturating_sub(start)))
    }

    /// Whether the innermost open call, ending at `now`, will use a
    /// backtrace if it ends as a datastore call.
    pub fn current_wants_backtrace(&self, now: Ticks) -> bool {
        self.wants_backtrace(self.rec.current_start(), now)
    }

    /// Whether a datastore call that started at `start` and ends at `now`
    /// gets an explain plan (`explain_enabled`, slow SQL collected, at least
    /// `explain_threshold`), so the extension runs the `EXPLAIN` only then.
    pub fn wants_explain(&self, start: Ticks, now: Ticks) -> bool {
        let dur_us = self.us(now.saturating_sub(start));
        self.cfg.transaction_tracer.explain_enabled
            && self.slow_sql_enabled()
            && dur_us >= self.cfg.transaction_tracer.explain_threshold_ns / 1000
    }

    fn backtrace_worthy(&self, dur_us: u64) -> bool {
        let tt = &self.cfg.transaction_tracer;
        let ss = tt.stack_trace_threshold_ns / 1000;
        (ss > 0 && dur_us >= ss)
            || (self.slow_sql_enabled() && dur_us >= tt.explain_threshold_ns / 1000)
    }

    fn slow_sql_enabled(&self) -> bool {
        let tt = &self.cfg.transaction_tracer;
        tt.slow_sql && self.connect.collect_traces && self.cfg.sql_recording() != RecordSql::Off
    }

    /// The innermost call ends as a datastore call: it is always kept, gets
    /// the datastore metrics, and may become a slow SQL entry.
    pub fn leave_datastore(&mut self, now: Ticks, mut ds: DatastoreCall) {
        if let Some(q) = ds.sql.as_mut() {
            let keep = crate::attrs::truncate_utf8(q, SQL_SCAN_LIMIT).len();
            q.truncate(keep);
        }
        let popped = self.rec.pop(now);
        let dur_us = popped.map_or(0, |i| self.node_dur_us(i));
        // The call's strings are moved, not copied: this runs for every
        // datastore call.
        let product = if ds.product.is_empty() {
            "Unknown".to_owned()
        } else {
            std::mem::take(&mut ds.product)
        };
        let (parsed_op, parsed_table) = match (&ds.sql, &ds.operation, &ds.collection) {
            (Some(q), None, _) | (Some(q), _, None) => {
                let (op, t) = sql::parse(q);
                (Some(op.to_owned()), t)
            }
            _ => (None, None),
        };
        let collection = ds.collection.take().or(parsed_table);
        let operation = ds
            .operation
            .take()
            .or(parsed_op.filter(|op| op != "other"))
            .unwrap_or_else(|| "other".to_owned());

        self.metrics.add("Datastore/all", false, true, dur_us);
        let mut name = std::mem::take(&mut self.scratch);
        concat_into(&mut name, &["Datastore/", &product, "/all"]);
        self.metrics.add(&name, false, true, dur_us);
        if !self.datastore_products.contains(&product) {
            self.datastore_products.push(product.clone());
        }
        let operation_metric = concat(&["Datastore/operation/", &product, "/", &operation]);
        let scoped = match &collection {
            Some(c) => {
                self.metrics.add(&operation_metric, false, false, dur_us);
                concat(&["Datastore/statement/", &product, "/", c, "/", &operation])
            }
            None => operation_metric,
        };
        self.metrics.add(&scoped, true, false, dur_us);

        let mut seg = DatastoreSeg {
            product: product.clone(),
            ..DatastoreSeg::default()
        };
        let instance = self.cfg.instance_reporting_enabled && ds.host.is_some();
        if instance {
            let host = ds.host.take().unwrap_or_default();
            let port = ds
                .port_path_or_id
                .take()
                .unwrap_or_else(|| "unknown".into());
            concat_into(
                &mut name,
                &["Datastore/instance/", &product, "/", &host, "/", &port],
            );
            self.metrics.add(&name, false, false, dur_us);
            if self.cfg.database_name_reporting_enabled {
                seg.database_name =
                    Some(ds.database_name.take().unwrap_or_else(|| "unknown".into()));
            }
            seg.host = Some(host);
            seg.port_path_or_id = Some(port);
        }
        self.scratch = name;
        if self.backtrace_worthy(dur_us) {
            seg.backtrace = ds.backtrace.as_deref().map(json::string_array);
        }
        seg.explain_plan = ds.explain_plan.as_ref().map(crate::ExplainPlan::to_json);
        if let Some(q) = &ds.sql {
            let kept = |s: &str| crate::attrs::truncate_utf8(s, SQL_KEPT_LIMIT).to_owned();
            match self.cfg.sql_recording() {
                RecordSql::Raw => seg.sql = Some(kept(q)),
                RecordSql::Obfuscated => seg.sql_obfuscated = Some(kept(&sql::obfuscate(q))),
                RecordSql::Off => {}
            }
        }
        let explain_us = self.cfg.transaction_tracer.explain_threshold_ns / 1000;
        if ds.sql.is_some() && self.slow_sql_enabled() && dur_us >= explain_us && dur_us > 0 {
            if let (Some(bt), Some(query)) = (
                &seg.backtrace,
                seg.sql_obfuscated.as_ref().or(seg.sql.as_ref()),
            ) {
                let mut params = String::with_capacity(bt.len() + 64);
                let mut p = json::Obj::begin(&mut params);
                if let Some(plan) = &seg.explain_plan {
                    p.raw("explain_plan", plan);
                }
                p.raw("backtrace", bt);
                if instance {
                    p.str("host", seg.host.as_deref().unwrap_or_default());
                    p.str(
                        "port_path_or_id",
                        seg.port_path_or_id.as_deref().unwrap_or_default(),
                    );
                    if let Some(db) = &seg.database_name {
                        p.str("database_name", db);
                    }
                }
                p.end();
                let entry = SlowSqlData {
                    id: sql::query_id(&sql::obfuscate(query)),
                    count: 1,
                    total_micros: dur_us,
                    min_micros: dur_us,
                    max_micros: dur_us,
                    metric: scoped.clone(),
                    query: query.clone(),
                    params,
                };
                self.add_slow_sql(entry);
            }
        }

        if let Some(i) = popped {
            self.rec.drop_children(i);
            let extra = self.rec.extra_mut(i);
            extra.name = Some(scoped);
            extra.kind = SegKind::Datastore(Box::new(seg));
            self.rec.mark(i, flag::INSTRUMENTED);
            self.rec.settle(i);
        }
    }

    fn add_slow_sql(&mut self, s: SlowSqlData) {
        if s.id == 0 {
            return;
        }
        if let Some(e) = self.slow_sqls.iter_mut().find(|e| e.id == s.id) {
            e.count += s.count;
            e.total_micros += s.total_micros;
            e.min_micros = e.min_micros.min(s.min_micros);
            if s.max_micros > e.max_micros {
                e.max_micros = s.max_micros;
                e.metric = s.metric;
                e.query = s.query;
                e.params = s.params;
            }
            return;
        }
        if self.slow_sqls.len() < MAX_SLOW_SQLS {
            self.slow_sqls.push(s);
            return;
        }
        if let Some(min) = self.slow_sqls.iter_mut().min_by_key(|e| e.max_micros) {
            if s.max_micros >= min.max_micros {
                *min = s;
            }
        }
    }

    /// The innermost call ends as an external (HTTP) call.
    pub fn leave_external(&mut self, now: Ticks, ext: ExternalCall) {
        self.leave_external_as(now, ext, None);
    }

    /// [`Transaction::leave_external`] with the span id the call's trace
    /// headers already carry ([`Transaction::reserve_span_id`]).
    pub(crate) fn leave_external_as(
        &mut self,
        now: Ticks,
        ext: ExternalCall,
        span_id: Option<String>,
    ) {
        let popped = self.rec.pop(now);
        let dur_us = popped.map_or(0, |i| self.node_dur_us(i));
        let host = url_host(&ext.url).unwrap_or("<unknown>").to_owned();
        let name = concat(&["External/", &host, "/all"]);
        self.metrics.add("External/all", false, true, dur_us);
        self.metrics.add(&name, true, false, dur_us);
        if let Some(i) = popped {
            self.rec.drop_children(i);
            let extra = self.rec.extra_mut(i);
            extra.name = Some(name);
            extra.kind = SegKind::External(Box::new(ExternalSeg {
                uri: clean_url(&ext.url).to_owned(),
                library: ext.library,
                procedure: ext.procedure,
                status: ext.status,
            }));
            if span_id.is_some() {
                extra.span_id = span_id;
            }
            self.rec.mark(i, flag::INSTRUMENTED);
            self.rec.settle(i);
        }
    }

    /// The innermost call ends as a custom-traced function
    /// (`newrelic.transaction_tracer.custom`, `newrelic_add_custom_tracer`):
    /// always kept, with a scoped `Custom/<name>` metric.
    pub fn leave_custom(&mut self, now: Ticks, name: &str) {
        let metric = if name.starts_with("Custom/") {
            name.to_owned()
        } else {
            format!("Custom/{name}")
        };
        let Some(i) = self.rec.pop(now) else {
            self.metrics.add(&metric, true, false, 0);
            return;
        };
        let n = self.rec.nodes[i as usize];
        let mut kids: Vec<(Ticks, Ticks)> = self
            .rec
            .children(i)
            .map(|c| {
                (
                    self.rec.nodes[c as usize].start,
                    self.rec.nodes[c as usize].stop,
                )
            })
            .collect();
        let excl = crate::recorder::exclusive(n.start, n.stop, &mut kids);
        let dur = self.node_dur_us(i);
        self.metrics
            .add_ex(&metric, true, false, dur, self.us(excl).min(dur));
        self.rec.extra_mut(i).name = Some(metric);
        self.rec.mark(i, flag::INSTRUMENTED);
        self.rec.settle(i);
    }

    /// Segments the extension allocated on its own (such as the curl_exec
    /// wrapper's), counted in `Supportability/execute/allocated_segment_count`.
    pub fn add_allocated_segments(&mut self, n: u64) {
        self.extra_allocated += n;
    }

    pub(crate) fn should_create_span_events(&self) -> bool {
        self.dt.sampled
            && self.cfg.distributed_tracing_enabled
            && self.cfg.span_events_enabled
            && self.connect.collect_span_events
            && self.connect.event_limits.span_events > 0
    }

    /// The segment's span guid, assigned on first use (None when span
    /// events are off for this transaction).
    pub(crate) fn ensure_span_id(&mut self, seg: u32, f: u16) -> Option<String> {
        if !self.should_create_span_events() {
            return None;
        }
        self.rec.mark(seg, f);
        if let Some(id) = self.rec.extra(seg).and_then(|e| e.span_id.clone()) {
            return Some(id);
        }
        let id = guid(&mut self.rng);
        self.rec.extra_mut(seg).span_id = Some(id.clone());
        Some(id)
    }

    /// The guid of the innermost segment, for linking metadata and logs
    /// (empty when span events are off). The segment is kept.
    pub fn current_span_id(&mut self) -> String {
        let cur = self.rec.current();
        self.ensure_span_id(cur, flag::LOG).unwrap_or_default()
    }

    /// The trace id (`newrelic_get_trace_metadata`).
    pub fn trace_id(&self) -> &str {
        &self.dt.trace_id
    }

    /// The transaction guid.
    pub fn guid(&self) -> &str {
        &self.guid
    }

    /// Whether the transaction is sampled.
    pub fn is_sampled(&self) -> bool {
        self.dt.sampled
    }

    /// The sampling priority.
    pub fn priority(&self) -> f64 {
        self.dt.priority
    }

    /// Whether this is a web transaction (not a background job).
    pub fn is_web(&self) -> bool {
        !self.background
    }

    /// Whether the transaction started as a web request (even if it was
    /// later marked a background job).
    pub fn is_web_request(&self) -> bool {
        self.web
    }

    // --- naming and status ------------------------------------------------

    /// Names the transaction. Lower-precedence sources never replace higher
    /// ones; only [`NameSource::Api`] and [`NameSource::Default`] may replace
    /// a name of their own kind. Returns whether the name was taken.
    pub fn set_name(&mut self, source: NameSource, name: &str) -> bool {
        let (ptype, overwrite) = match source {
            NameSource::Default => (PathType::Uri, true),
            NameSource::StatusCode => (PathType::StatusCode, true),
            NameSource::File => (PathType::Action, false),
            NameSource::Function => (PathType::Function, false),
            NameSource::Api => (PathType::Custom, true),
        };
        self.set_path(name, ptype, overwrite)
    }

    /// Freezes the name now (as reporting the browser timing header does)
    /// and returns it, or `None` if naming rules say to ignore the
    /// transaction.
    pub fn freeze_name(&mut self) -> Option<String> {
        if let Some(n) = &self.frozen_name {
            return Some(n.clone());
        }
        let name = crate::finish::compute_name(self)?;
        self.frozen_name = Some(name.clone());
        Some(name)
    }

    /// `newrelic_background_job()`: marks the transaction as a background
    /// job (or a web transaction). Refused once the name is frozen.
    pub fn set_background(&mut self, on: bool) {
        if self.frozen_name.is_some() {
            self.metrics
                .count("Supportability/background_status_change_prevented");
            return;
        }
        self.background = on;
    }

    /// `newrelic_ignore_transaction()`: nothing will be sent.
    pub fn ignore(&mut self) {
        self.ignored = true;
    }

    /// Whether the transaction is ignored.
    pub fn is_ignored(&self) -> bool {
        self.ignored
    }

    /// `newrelic_ignore_apdex()`.
    pub fn ignore_apdex(&mut self) {
        self.ignore_apdex = true;
    }

    /// The HTTP response status (applied at the end for web transactions).
    pub fn set_response_code(&mut self, code: u16) {
        if code != 0 {
            self.response_code = Some(code);
        }
    }

    /// A response header; `Content-Type` (parameters stripped) and
    /// `Content-Length` become attributes of web transactions.
    pub fn add_response_header(&mut self, name: &str, value: &str) {
        match canonical_header(name).as_str() {
            "content-type" => {
                let v = value.split(';').next().unwrap_or_default().trim();
                if !v.is_empty() {
                    self.response_content_type = Some(v.to_owned());
                }
            }
            "content-length" => {
                self.response_content_length = value.trim().parse().ok().filter(|n: &i64| *n != 0);
            }
            _ => {}
        }
    }

    /// The CPU sampler's wall time and CPU count (for
    /// `CPU/User/Utilization`); defaults to the transaction duration and one
    /// CPU.
    pub fn set_cpu_sampling(&mut self, elapsed_s: f64, num_cpus: u32) {
        if elapsed_s.is_finite() && elapsed_s > 0.0 {
            self.cpu_sample = Some((elapsed_s, num_cpus.max(1)));
        }
    }

    // --- attributes, events, metrics ---------------------------------------

    /// `newrelic_add_custom_parameter()`. Refused under high security or
    /// when custom parameters are disabled, and for invalid keys/values.
    pub fn add_custom_parameter(&mut self, key: &str, value: AttrValue) -> bool {
        if self.cfg.high_security || !self.cfg.custom_parameters_enabled {
            return false;
        }
        if self.should_create_span_events() {
            let cur = self.rec.current();
            let span_dest = dest::SPAN & self.attr_allowed;
            if span_dest != 0 {
                let added =
                    self.rec
                        .extra_mut(cur)
                        .user_attrs
                        .add(key, value.clone(), span_dest, true);
                if added {
                    self.rec.mark(cur, flag::ATTR);
                }
            }
        }
        self.user_attrs
            .add(key, value, dest::USER_DEFAULT & self.attr_allowed, true)
    }

    /// `newrelic_record_custom_event()`. The event type must match
    /// `^[a-zA-Z0-9:_ ]+$` and be at most 255 bytes.
    pub fn record_custom_event(
        &mut self,
        event_type: &str,
        attrs: Vec<(String, AttrValue)>,
        now_unix_us: u64,
    ) -> bool {
        if self.cfg.high_security
            || !self.cfg.custom_events_enabled
            || !self.connect.collect_custom_events
            || self.connect.event_limits.custom_events == 0
        {
            return false;
        }
        let valid_type = !event_type.is_empty()
            && event_type.len() <= crate::attrs::KEY_LIMIT
            && event_type
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b':' || c == b'_' || c == b' ');
        if !valid_type {
            return false;
        }
        if self.custom_events.len() as u64 >= self.connect.event_limits.custom_events {
            return false;
        }
        let mut list = AttrList::default();
        for (k, v) in attrs {
            list.add(&k, v, dest::TXN_EVENT, true);
        }
        let mut out = String::with_capacity(128);
        out.push('[');
        let mut intr = json::Obj::begin(&mut out);
        intr.str("type", event_type)
            .f64("timestamp", now_unix_us as f64 / 1_000_000.0);
        intr.end();
        out.push(',');
        list.write_obj(&mut out, dest::TXN_EVENT);
        out.push_str(",{}]");
        self.custom_events.push(out);
        true
    }

    /// `newrelic_custom_metric()`: `value_ms` milliseconds, sent as
    /// seconds. NaN and infinities are refused.
    pub fn add_custom_metric(&mut self, name: &str, value_ms: f64) -> bool {
        if name.is_empty() || !value_ms.is_finite() {
            return false;
        }
        let us = (1000.0 * value_ms).max(0.0) as u64;
        self.metrics.add(name, false, false, us);
        true
    }

    /// Counts an API call: `Supportability/api/<name>`.
    pub fn count_api(&mut self, name: &str) {
        self.metrics.count(&format!("Supportability/api/{name}"));
    }

    /// Counts a forced, valueless metric, such as
    /// `Supportability/InstrumentedFunction/<fn>`.
    pub fn count_metric(&mut self, name: &str) {
        self.metrics.count(name);
    }

    /// Adds a metric observation in seconds.
    pub fn add_metric(&mut self, name: &str, value_s: f64, scoped: bool, forced: bool) {
        if name.is_empty() || !value_s.is_finite() {
            return;
        }
        self.metrics.add(
            name,
            scoped,
            forced,
            (value_s * 1_000_000.0).max(0.0) as u64,
        );
    }

    // --- errors ----------------------------------------------------------------

    /// Whether `newrelic.error_collector.ignore_errors` masks this PHP error
    /// level (for the extension's error hook).
    pub fn ignores_php_error(&self, level: i64) -> bool {
        self.cfg.error_collector.ignore_errors & level != 0
    }

    fn error_message(&self, message: &str) -> String {
        if self.cfg.high_security {
            HIGH_SECURITY_MESSAGE.to_owned()
        } else if !self.cfg.error_collector.allow_raw_exception_messages {
            RAW_MESSAGE_DISALLOWED.to_owned()
        } else {
            crate::attrs::truncate_utf8(message, ERROR_MESSAGE_LIMIT).to_owned()
        }
    }

    /// Whether `error_collector.ignore_exceptions` covers an exception,
    /// given the names its class is an instance of (its class, parents and
    /// interfaces, as `instanceof` sees them; case-insensitive).
    pub fn ignores_exception<S: AsRef<str>>(&self, classes: &[S]) -> bool {
        self.cfg.error_collector.ignore_exceptions.iter().any(|c| {
            classes
                .iter()
                .any(|k| c.trim_start_matches('\\').eq_ignore_ascii_case(k.as_ref()))
        })
    }

    fn error_collection_on(&self) -> bool {
        self.cfg.error_collector.enabled && self.connect.collect_errors
    }

    /// Whether an error of this priority would be recorded now, so a caller
    /// can skip building its stack trace.
    pub fn would_record_error(&self, priority: i32) -> bool {
        self.error_collection_on() && self.error.as_ref().is_none_or(|e| priority >= e.priority)
    }

    /// Records an error on the transaction (the highest priority wins; an
    /// equal priority replaces) and on the innermost segment. Returns
    /// whether it was recorded. `error_collector.ignore_exceptions` is not
    /// applied here: New Relic applies it to uncaught exceptions only (not to
    /// PHP errors or `newrelic_notice_error`), so the caller asks
    /// [`Transaction::ignores_exception`] first where it applies.
    pub fn notice_error(&mut self, err: NoticedError) -> bool {
        if !self.error_collection_on() || err.message.is_empty() || err.class.is_empty() {
            return false;
        }
        if self
            .error
            .as_ref()
            .is_some_and(|e| err.priority < e.priority)
        {
            return false;
        }
        let message = self.error_message(&err.message);
        let mut span_id = None;
        if self.should_create_span_events() {
            let cur = self.rec.current();
            span_id = self.ensure_span_id(cur, flag::LOG);
            self.rec.mark(cur, flag::ATTR);
            self.rec.extra_mut(cur).error = Some((err.class.clone(), message.clone()));
        }
        self.error = Some(TxnError {
            priority: err.priority,
            message,
            class: err.class,
            stack_json: json::string_array(&err.stack_trace),
            span_id,
            when_us: err.now_unix_us,
        });
        true
    }

    /// An exception is leaving the innermost function: its span gets the
    /// error attributes (and the segment is kept however short it is, as
    /// New Relic keeps every segment carrying an error). The caller skips
    /// exceptions [`Transaction::ignores_exception`] names. Call before
    /// `leave`.
    pub fn set_current_segment_error(&mut self, class: &str, message: &str) {
        if !self.error_collection_on() || class.is_empty() || !self.should_create_span_events() {
            return;
        }
        let message = self.error_message(message);
        let cur = self.rec.current();
        self.rec.mark(cur, flag::ATTR);
        self.rec.extra_mut(cur).error = Some((class.to_owned(), message));
    }

    // --- distributed tracing -------------------------------------------------

    /// Outbound DT headers (`newrelic`, `traceparent`, `tracestate`) for a
    /// call made from the innermost segment. `ids` supplies a span id when
    /// span events are off.
    pub fn create_dt_headers(
        &mut self,
        now_unix_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        if !self.cfg.distributed_tracing_enabled {
            return Vec::new();
        }
        let cur = self.rec.current();
        let span_id = self.ensure_span_id(cur, flag::DT);
        self.dt_headers_for_span(span_id, now_unix_us, ids)
    }

    /// The outbound headers naming `span_id` as the caller (none when span
    /// events are off for this transaction).
    pub(crate) fn dt_headers_for_span(
        &mut self,
        span_id: Option<String>,
        now_unix_us: u64,
        ids: &mut impl IdSource,
    ) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(3);
        let now_ms = now_unix_us / 1000;
        let account = self.connect.account_id.clone();
        let app = self.connect.primary_application_id.clone();
        let tk = self.connect.trusted_account_key.clone();
        if !self.cfg.dt_exclude_newrelic_header {
            if self.cfg.span_events_enabled || self.cfg.analytics_events_enabled {
                let payload = dt::PayloadOut {
                    account: account.as_deref(),
                    app: app.as_deref(),
                    span_id: span_id.as_deref(),
                    trace_id: &self.dt.trace_id,
                    txn_id: &self.guid,
                    priority: self.dt.priority,
                    sampled: self.dt.sampled,
                    timestamp_ms: now_ms,
                    trusted_key: tk.as_deref(),
                };
                out.push(("newrelic".to_owned(), dt::newrelic_header(&payload)));
                self.metrics.count(dtm::CREATE_SUCCESS);
            } else {
                self.metrics.count(dtm::CREATE_EXCEPTION);
            }
        }
        let tp_span = span_id.clone().unwrap_or_else(|| guid(ids));
        out.push((
            "traceparent".to_owned(),
            dt::traceparent(&self.dt.trace_id, &tp_span, self.dt.sampled),
        ));
        self.metrics.count(dtm::W3C_CREATE_SUCCESS);
        if let (Some(tk), Some(ac), Some(ap)) = (&tk, &account, &app) {
            let span = if self.cfg.span_events_enabled {
                span_id.as_deref().unwrap_or_default()
            } else {
                ""
            };
            let txn = if self.cfg.analytics_events_enabled {
                self.guid.as_str()
            } else {
                ""
            };
            out.push((
                "tracestate".to_owned(),
                dt::tracestate(&dt::TraceStateOut {
                    trusted_key: tk,
                    account: ac,
                    app: ap,
                    span_id: span,
                    txn_id: txn,
                    sampled: self.dt.sampled,
                    priority: self.dt.priority,
                    timestamp_ms: now_ms,
                }),
            ));
        }
        self.dt.created = true;
        out
    }

    /// Accepts inbound DT headers (W3C `traceparent`/`tracestate`, else the
    /// base64 `newrelic` header). Refused after headers were created, or
    /// when a payload was already accepted. `transport` is `HTTP`, `Kafka`,
    /// … (empty: `HTTP` for web, `Unknown` for background).
    pub fn accept_dt_headers(
        &mut self,
        headers: &[(String, String)],
        transport: &str,
        _now_unix_us: u64,
    ) -> bool {
        if !self.cfg.distributed_tracing_enabled {
            self.metrics.count(dtm::ACCEPT_EXCEPTION);
            return false;
        }
        if self.dt.inbound.is_some() {
            self.metrics.count(dtm::ACCEPT_MULTIPLE);
            return false;
        }
        if self.dt.created {
            self.metrics.count(dtm::ACCEPT_CREATE_BEFORE_ACCEPT);
            return false;
        }
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
        };
        let transport = if transport.is_empty() {
            if self.background {
                "Unknown"
            } else {
                "HTTP"
            }
        } else {
            dt::normalize_transport(transport)
        };
        let inbound = if let Some(tp) = get("traceparent") {
            let Some(tp) = dt::parse_traceparent(tp) else {
                self.metrics.count(dtm::W3C_TRACEPARENT_PARSE_EXCEPTION);
                return false;
            };
            let ts = dt::parse_tracestate(
                get("tracestate"),
                self.connect.trusted_account_key.as_deref(),
            );
            let mut inbound = Inbound {
                guid: Some(tp.parent_id),
                transport: transport.to_owned(),
                tracing_vendors: ts.tracing_vendors,
                ..Inbound::default()
            };
            match ts.nr {
                Ok(nr) => {
                    inbound.trusted_parent_id = nr.span_id;
                    inbound.account = Some(nr.account);
                    inbound.app = Some(nr.app);
                    inbound.txn_id = nr.txn_id;
                    inbound.timestamp_us = nr.timestamp_ms.saturating_mul(1000);
                    inbound.parent_type = Some(
                        match nr.parent_type {
                            1 => "Browser",
                            2 => "Mobile",
                            _ => "App",
                        }
                        .to_owned(),
                    );
                    // The agent reads a missing sampled flag as false.
                    self.dt.sampled = nr.sampled.unwrap_or(false);
                    if let Some(p) = nr.priority.filter(|p| *p > 0.0) {
                        self.dt.priority = p;
                    }
                }
                Err(m) => self.metrics.count(m),
            }
            self.dt.trace_id = tp.trace_id;
            self.metrics.count(dtm::W3C_ACCEPT_SUCCESS);
            inbound
        } else {
            let payload = match dt::parse_newrelic_header(get("newrelic").unwrap_or_default()) {
                Ok(p) => p,
                Err(m) => {
                    self.metrics.count(m);
                    return false;
                }
            };
            if payload.trusted_key.is_none()
                || payload.trusted_key != self.connect.trusted_account_key
            {
                self.metrics.count(dtm::ACCEPT_UNTRUSTED_ACCOUNT);
                return false;
            }
            if let Some(p) = payload.priority {
                self.dt.priority = p;
            }
            if let Some(s) = payload.sampled {
                self.dt.sampled = s;
            }
            if let Some(tr) = payload.trace_id {
                self.dt.trace_id = tr;
            }
            Inbound {
                parent_type: payload.parent_type,
                account: payload.account,
                app: payload.app,
                guid: payload.guid,
                txn_id: payload.txn_id,
                transport: transport.to_owned(),
                timestamp_us: payload.timestamp_ms.saturating_mul(1000),
                tracing_vendors: None,
                trusted_parent_id: None,
            }
        };
        self.metrics.count(dtm::ACCEPT_SUCCESS);
        // The agent truncates the transport delay to whole seconds and then
        // records that number as microseconds.
        let delay_s = self.start_unix_us.saturating_sub(inbound.timestamp_us) / 1_000_000;
        let caller = caller_name(Some(&inbound));
        let suffix = if self.background {
            "allOther"
        } else {
            "allWeb"
        };
        self.metrics.add(
            &format!("TransportDuration/{caller}/all"),
            false,
            true,
            delay_s,
        );
        self.metrics.add(
            &format!("TransportDuration/{caller}/{suffix}"),
            false,
            true,
            delay_s,
        );
        self.dt.inbound = Some(inbound);
        true
    }
}

/// `<type>/<account>/<app>/<transport>` of the caller, or all `Unknown`.
pub(crate) fn caller_name(inbound: Option<&Inbound>) -> String {
    match inbound {
        Some(i) => format!(
            "{}/{}/{}/{}",
            i.parent_type.as_deref().unwrap_or("Unknown"),
            i.account.as_deref().unwrap_or("Unknown"),
            i.app.as_deref().unwrap_or("Unknown"),
            i.transport
        ),
        None => "Unknown/Unknown/Unknown/Unknown".to_owned(),
    }
}

/// The host of a URL, without port or credentials.
pub(crate) fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// A URL without query string or fragment (and without credentials).
pub(crate) fn clean_url(url: &str) -> &str {
    let end = url.find(['?', '#', ';']).unwrap_or(url.len());
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(strip_query("/shop/item?id=3"), "/shop/item");
        assert_eq!(strip_query("/a;b#c"), "/a");
        assert_eq!(canonical_header("HTTP_USER_AGENT"), "user-agent");
        assert_eq!(canonical_header("Content-Type"), "content-type");
        assert_eq!(
            url_host("http://127.0.0.1:18088/echo?x=1"),
            Some("127.0.0.1")
        );
        assert_eq!(url_host("https://u:p@example.com/x"), Some("example.com"));
        assert_eq!(url_host("http://[::1]:80/"), Some("::1"));
        assert_eq!(url_host("example.com"), Some("example.com"));
        assert_eq!(url_host(""), None);
        assert_eq!(
            clean_url("http://127.0.0.1:18088/echo?x=1"),
            "http://127.0.0.1:18088/echo"
        );
        assert_eq!(
            parse_queue_start("t=1700000000.5"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(
            parse_queue_start("1700000000500"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(
            parse_queue_start("t=1700000000500000"),
            Some(1_700_000_000_500_000)
        );
        assert_eq!(parse_queue_start("bogus"), None);
        assert_eq!(
            parse_queue_start("t=1368811467146000 D=123"),
            Some(1_368_811_467_146_000),
            "Apache's format"
        );
        assert_eq!(
            parse_queue_start("t= 1368811467.146"),
            Some(1_368_811_467_146_000)
        );
        assert_eq!(parse_queue_start("4102444800"), None, "2100 in seconds");
        assert_eq!(parse_queue_start("946684800"), None, "not after 2000-01-01");
        assert_eq!(parse_queue_start("t=-1368811467"), None);
        assert_eq!(parse_queue_start("t="), None);
        assert_eq!(strtod_prefix(" 1.5e3x"), Some(1500.0));
        assert_eq!(strtod_prefix("1e"), Some(1.0));
        assert_eq!(strtod_prefix("."), None);
        assert_eq!(caller_name(None), "Unknown/Unknown/Unknown/Unknown");
    }
}
