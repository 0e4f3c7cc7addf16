//! [`Transaction`]: the state of one PHP transaction and the API the
//! extension drives it with, one concern per file:
//!
//! * this file: the state, starting, naming, the segment hot path;
//! * `web`: what a web request brings (headers, queue time, response);
//! * `calls`: datastore, external and custom-traced calls, slow SQL;
//! * `user`: custom parameters, custom events, custom metrics;
//! * `errors`: noticed errors and segment errors;
//! * `distributed`: distributed-tracing headers out and in.
//!
//! Building the frame at the end lives in `finish.rs`.

mod calls;
mod distributed;
mod errors;
mod user;
mod web;

pub use calls::{DatastoreCall, ExternalCall, SQL_KEPT_LIMIT, SQL_SCAN_LIMIT};
pub(crate) use distributed::caller_name;
pub use errors::ERROR_MESSAGE_LIMIT;

use crate::attrs::{AttrList, AttrValue};
use crate::config::{TxnConfig, TRACE_SEGMENT_LIMIT};
use crate::connect::ConnectInfo;
use crate::dt::Inbound;
use crate::ids::{guid, IdSource, SeededIds};
use crate::metrics::MetricTable;
use crate::recorder::{flag, Recorder};
use crate::{FuncKey, Ticks};
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

    /// Where the function is defined, for code-level metrics; `None` when
    /// unknown (no `code.*` attributes then).
    fn code_location(&self, _key: FuncKey) -> Option<CodeLocation> {
        None
    }
}

/// Where a function is defined: the `code.*` attributes of code-level
/// metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodeLocation {
    /// `code.function`: the function's name (for a file, its path).
    pub function: String,
    /// `code.namespace`: the class of a method.
    pub namespace: Option<String>,
    /// `code.filepath`.
    pub filepath: Option<String>,
    /// `code.lineno`: the first line of the function (1 for a file).
    pub lineno: i64,
}

impl CodeLocation {
    /// The `code.*` attributes, newest first as New Relic prints them:
    /// none when a value exceeds 255 bytes or when neither a file nor a
    /// class goes with the function name.
    pub(crate) fn attributes(&self) -> Vec<(&'static str, crate::attrs::AttrValue)> {
        use crate::attrs::{AttrValue, VALUE_LIMIT};
        fn fits(s: &Option<String>) -> Option<&str> {
            s.as_deref()
                .filter(|v| !v.is_empty() && v.len() <= VALUE_LIMIT)
        }
        let (namespace, filepath) = (fits(&self.namespace), fits(&self.filepath));
        if self.function.is_empty()
            || self.function.len() > VALUE_LIMIT
            || (namespace.is_none() && filepath.is_none())
        {
            return Vec::new();
        }
        let mut out = vec![("code.lineno", AttrValue::Int(self.lineno))];
        if let Some(n) = namespace {
            out.push(("code.namespace", AttrValue::Str(n.to_owned())));
        }
        if let Some(f) = filepath {
            out.push(("code.filepath", AttrValue::Str(f.to_owned())));
        }
        out.push(("code.function", AttrValue::Str(self.function.clone())));
        out
    }
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

/// Where code-level metrics attributes go.
pub(crate) const CLM_DESTINATIONS: u8 =
    crate::attrs::dest::TRACE_ERROR_EVENT | crate::attrs::dest::SPAN;

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
    /// False once the transaction is ignored or ended early: API calls
    /// then change nothing, as in New Relic's agent.
    pub(crate) recording: bool,
    /// When `newrelic_end_of_transaction` ended it.
    pub(crate) ended_at: Option<Ticks>,
    pub(crate) rum: crate::rum::RumState,
    pub(crate) synthetics: Option<crate::synthetics::Synthetics>,
    /// Functions made custom tracers by the API after PHP had chosen their
    /// observer handlers: their plain `leave` becomes `leave_custom`.
    pub(crate) custom_keys: Vec<(FuncKey, String)>,
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
            recording: true,
            ended_at: None,
            rum: crate::rum::RumState::new(cfg.autorum_enabled),
            synthetics: None,
            custom_keys: Vec::new(),
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

    pub(crate) fn agent_attr(&mut self, key: &str, v: AttrValue, dests: u8) {
        let dests = self.cfg.attributes.apply(key, dests);
        self.agent_attrs.add(key, v, dests, false);
    }

    pub(crate) fn agent_str(&mut self, key: &str, v: Option<&str>, dests: u8) {
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

    /// [`Transaction::enter`] for the call PHP runs in frame `frame` (its
    /// `zend_execute_data` address, even and nonzero): its end is matched
    /// by frame, so calls that end unseen (the extension stopped observing
    /// their function meanwhile) cannot mis-pair the others.
    #[inline]
    pub fn enter_frame(&mut self, func: FuncKey, frame: usize, now: Ticks) {
        self.rec.calls += 1;
        self.rec.enter_frame(func, frame, now);
    }

    /// The call of PHP frame `frame` returns. Returns whether it was short
    /// (under a quarter of `expensive_node_min`, nothing attached), which
    /// the extension counts to stop observing functions that only make
    /// short calls.
    #[inline]
    pub fn leave_frame(&mut self, frame: usize, now: Ticks) -> bool {
        if !self.custom_keys.is_empty() && self.leave_frame_if_custom(frame, now) {
            return false;
        }
        self.rec.leave_frame(frame, now)
    }

    #[cold]
    #[inline(never)]
    fn leave_frame_if_custom(&mut self, frame: usize, now: Ticks) -> bool {
        if !self.rec.align(frame, now) {
            return true;
        }
        self.leave_if_custom(now)
    }

    /// Makes the call of PHP frame `frame` the current one before its end is
    /// recorded by another method (a custom tracer's, or an exception's):
    /// calls above it ended unseen and are dropped. False when no open call
    /// has that frame: the end is to be ignored.
    pub fn align_frame(&mut self, frame: usize, now: Ticks) -> bool {
        self.rec.align(frame, now)
    }

    /// The extension stopped observing `func`: its open calls will end
    /// unseen.
    pub fn demoted(&mut self, func: FuncKey) {
        self.rec.mark_orphans(func);
    }

    /// Installs the extension's check of whether a PHP frame still runs
    /// (see [`Transaction::demoted`]).
    pub fn set_frame_liveness(&mut self, live: fn(usize) -> bool) {
        self.rec.set_liveness(live);
    }

    /// Whether `newrelic_add_custom_tracer` marked this function (see
    /// [`Transaction::add_custom_key`]).
    pub fn is_custom_key(&self, key: FuncKey) -> bool {
        self.custom_keys.iter().any(|(k, _)| *k == key)
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

    /// The innermost function returns. Hot path: one length test beyond
    /// the recorder's pop while no late custom tracer exists.
    #[inline]
    pub fn leave(&mut self, now: Ticks) {
        if !self.custom_keys.is_empty() && self.leave_if_custom(now) {
            return;
        }
        self.rec.leave(now);
    }

    #[cold]
    #[inline(never)]
    fn leave_if_custom(&mut self, now: Ticks) -> bool {
        let Some(f) = self.rec.current_func() else {
            return false;
        };
        let Some(name) = self
            .custom_keys
            .iter()
            .find(|(k, _)| *k == f)
            .map(|(_, n)| n.clone())
        else {
            return false;
        };
        self.leave_custom(now, &name);
        true
    }

    /// `newrelic_add_custom_tracer` for a function whose calls already
    /// reach [`Transaction::enter`]/[`Transaction::leave`] (PHP chose its
    /// handlers before the call): from now on its calls end as custom
    /// traced ones, `Custom/<name>`.
    pub fn add_custom_key(&mut self, key: FuncKey, name: &str) {
        if key != 0 && !self.custom_keys.iter().any(|(k, _)| *k == key) {
            self.custom_keys.push((key, name.to_owned()));
        }
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

    /// The naming path so far (`/index.php`, a custom name…).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
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
        self.recording = false;
    }

    /// Whether API calls still change the transaction (not ignored, not
    /// ended by `newrelic_end_of_transaction`).
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Code-level metrics of the transaction itself (the main script: its
    /// path as function, line 1): agent attributes of its events, traces,
    /// errors and root span, with `code_level_metrics.enabled`.
    pub fn set_code_location(&mut self, loc: &CodeLocation) {
        if !self.cfg.code_level_metrics_enabled {
            return;
        }
        for (k, v) in loc.attributes().into_iter().rev() {
            self.agent_attr(k, v, CLM_DESTINATIONS);
        }
    }

    /// `newrelic_end_of_transaction()`: the transaction ends now as far as
    /// timing goes (its name is frozen, open segments end here, nothing
    /// later is recorded); it is still sent when the request ends.
    pub fn end_of_transaction(&mut self, now: Ticks) {
        if !self.recording {
            return;
        }
        self.recording = false;
        self.rec.stop(now);
        self.ended_at = Some(now);
        let _ = self.freeze_name();
    }

    /// Moves the transaction's start on the wall clock (the C SDK's
    /// `newrelic_set_transaction_timing`); its ticks are unchanged.
    pub fn set_start_unix_us(&mut self, start_unix_us: u64) {
        self.start_unix_us = start_unix_us;
    }

    /// Whether the transaction is ignored.
    pub fn is_ignored(&self) -> bool {
        self.ignored
    }

    /// `newrelic_ignore_apdex()`.
    pub fn ignore_apdex(&mut self) {
        self.ignore_apdex = true;
    }

    /// The CPU sampler's wall time and CPU count (for
    /// `CPU/User/Utilization`); defaults to the transaction duration and one
    /// CPU.
    pub fn set_cpu_sampling(&mut self, elapsed_s: f64, num_cpus: u32) {
        if elapsed_s.is_finite() && elapsed_s > 0.0 {
            self.cpu_sample = Some((elapsed_s, num_cpus.max(1)));
        }
    }
}
