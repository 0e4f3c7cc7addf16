//! Process and request state: the one [`Agent`] of this PHP process (of
//! this thread, in a thread-safe PHP: each thread has its own agent,
//! transaction and daemon connection; see [`crate::zend::nts`]).
//!
//! Lifecycle rules:
//! * Created lazily on the first RINIT (never in MINIT), so nothing is
//!   opened before php-fpm forks its workers.
//! * Settings are re-resolved only when PHP changed one of our INI entries
//!   (per-directory values, `ini_set`).
//! * A forked child notices the pid change: the daemon connection is
//!   dropped (reopened lazily) and the random generator reseeded.
//! * At most one transaction is open at a time; RSHUTDOWN (or
//!   `newrelic_end_transaction`) finishes it and writes it to the daemon
//!   with a 500 ms deadline; a daemon that is absent or slow never delays
//!   the request beyond the documented deadlines.

use crate::clock::{self, Clock};
use crate::config::AgentSettings;
use crate::daemon::appinfo::{self, HostFacts};
use crate::daemon::client::{DaemonClient, ProcessKind};
use crate::hooks::observer::{self, EngineNames};
use crate::naming;
use crate::zend::{globals, ini};
use seraph_txn::{
    ApplicationLoggingConfig, ClockScale, ConnectInfo, ErrorCollectorConfig, IdSource, RecordSql,
    ResourceUsage, Sampler, Threshold, Transaction, TransactionTracerConfig, TxnConfig, TxnKind,
    WebRequest,
};
use std::sync::Arc;

crate::per_thread! {
    /// The agent state of this PHP thread (the process's, in NTS PHP).
    pub static AGENT: Option<Agent> = None;
}

/// Per-request scratch state outside the transaction model.
#[derive(Debug, Default)]
pub struct RequestState {
    /// CPU (user, system) seconds at transaction start.
    pub rusage_start: (f64, f64),
    /// The last thrown exception: object pointer and handle (no
    /// reference held).
    pub last_exception: Option<(usize, u32)>,
    /// Closure names seen (closures are keyed by index into this).
    pub closures: observer::ClosureNames,
    /// What the instrumented libraries know about their objects.
    pub libs: crate::hooks::context::LibStates,
    /// The request's framework (checked on every hooked call of a
    /// framework's rows, so a field rather than a library state).
    pub framework: crate::hooks::framework::FrameworkState,
    /// `before` results of hooked calls still running.
    pub open_calls: crate::hooks::user::OpenCalls,
    /// Request parameters go to traces and errors (`newrelic.capture_params`,
    /// or `newrelic_capture_params()` during the request).
    pub capture_params: bool,
    /// The instrumentation itself is calling PHP (an `EXPLAIN` on a second
    /// connection): hooked calls run unobserved meanwhile.
    pub quiet: bool,
}

/// A small xorshift generator, reseeded per process and thread.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let mut seed = [0u8; 8];
        // SAFETY: valid buffer; failure leaves zeros, mixed below.
        unsafe { libc::getrandom(seed.as_mut_ptr().cast(), 8, libc::GRND_NONBLOCK) };
        let s = u64::from_ne_bytes(seed)
            ^ clock::mono_ns().rotate_left(17)
            ^ u64::from(std::process::id()).rotate_left(40);
        Rng(s | 1)
    }
}

impl IdSource for Rng {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Everything the agent keeps for this process.
pub struct Agent {
    ini_generation: u64,
    /// Settings of the current request.
    pub settings: Arc<AgentSettings>,
    /// Settings of the open transaction (the request's, or those given to
    /// `newrelic_start_transaction`).
    txn_settings: Arc<AgentSettings>,
    settings_json: String,
    txn_cfg: Arc<TxnConfig>,
    facts: Option<HostFacts>,
    client: DaemonClient,
    /// The hot-path clock.
    pub clock: Clock,
    rng: Rng,
    /// Ids for trace headers and spans.
    pub ids: Rng,
    pid: u32,
    /// Adaptive sampler of the connected run (reset when the run changes).
    sampler: Option<(String, Sampler)>,
    connect: Option<(String, Arc<ConnectInfo>)>,
    /// The transaction configuration with the application's security
    /// policies applied, for the policies JSON and base configuration it
    /// was made from.
    policy_cfg: Option<(String, Arc<TxnConfig>, Arc<TxnConfig>)>,
    run_id: String,
    /// The open transaction, if any.
    pub txn: Option<Transaction>,
    /// Request scratch state.
    pub req: RequestState,
}

fn process_kind() -> ProcessKind {
    ProcessKind {
        is_cli: globals::is_cli(),
    }
}

fn rusage() -> (f64, f64, f64) {
    // SAFETY: plain data out-parameter.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        tv(ru.ru_utime),
        tv(ru.ru_stime),
        ru.ru_maxrss as f64 / 1024.0,
    )
}

fn plugin_list() -> Vec<String> {
    extern "C" fn cb(
        ctx: *mut std::ffi::c_void,
        name: *const libc::c_char,
        version: *const libc::c_char,
    ) {
        // Nothing may unwind through the C iterator.
        let _ = std::panic::catch_unwind(|| {
            // SAFETY: ctx is the Vec below; name/version are C strings from
            // the module registry.
            unsafe {
                let v = &mut *ctx.cast::<Vec<String>>();
                let s = |p: *const libc::c_char| {
                    if p.is_null() {
                        String::new()
                    } else {
                        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
                    }
                };
                v.push(format!("{}({})", s(name), s(version)));
            }
        });
    }
    let mut v: Vec<String> = Vec::new();
    // SAFETY: the callback matches and ctx outlives the call.
    unsafe { crate::zend::ffi::seraph_modules_each(Some(cb), (&mut v as *mut Vec<String>).cast()) };
    v
}

impl Agent {
    fn new() -> Agent {
        Agent {
            ini_generation: 0,
            settings: Arc::new(AgentSettings::resolve(&|_: &str| None).0),
            txn_settings: Arc::new(AgentSettings::resolve(&|_: &str| None).0),
            settings_json: String::new(),
            txn_cfg: Arc::new(TxnConfig::default()),
            facts: None,
            client: DaemonClient::new(),
            clock: Clock::new(),
            rng: Rng::seeded(),
            ids: Rng::seeded(),
            pid: std::process::id(),
            sampler: None,
            connect: None,
            policy_cfg: None,
            run_id: String::new(),
            txn: None,
            req: RequestState::default(),
        }
    }

    fn refresh_settings(&mut self) {
        let generation = ini::generation();
        if generation == self.ini_generation {
            return;
        }
        self.ini_generation = generation;
        let (settings, bad) = AgentSettings::resolve(&ini::PhpIni);
        crate::log::configure(&settings.logfile, &settings.loglevel);
        for b in bad {
            tracing::warn!("{b}");
        }
        self.settings_json = crate::config::settings_json(&ini::PhpIni);
        observer::configure(
            settings.tt_detail,
            &settings.tt_custom,
            &settings.name_functions,
            &settings.name_files,
        );
        let is_cli = globals::is_cli();
        self.txn_cfg = Arc::new(txn_config(&settings, is_cli));
        self.settings = Arc::new(settings);
    }

    /// After a fork (`pcntl_fork` in a CLI script, or any fork the agent did
    /// not see): the child reseeds its id generators, or it would hand out
    /// the very span ids, guids and trace ids its parent (and every sibling)
    /// does; and it drops the transaction it inherited. That transaction is
    /// the parent's, which sends it: a copy from the child would repeat its
    /// guid, trace id and span ids and count everything before the fork
    /// twice. The child records again once it starts its own transaction
    /// (`newrelic_start_transaction`). Called at every transaction
    /// boundary and API call, and right after a wrapped `pcntl_fork`.
    pub fn check_fork(&mut self) {
        let pid = std::process::id();
        if pid == self.pid {
            return;
        }
        let parent = std::mem::replace(&mut self.pid, pid);
        self.rng = Rng::seeded();
        self.ids = Rng::seeded();
        if self.txn.take().is_some() {
            tracing::debug!(
                "forked from {parent}: the open transaction is left to the parent; \
                 this process records again from its own newrelic_start_transaction()"
            );
        }
    }

    /// The license key of the open transaction (the obfuscation key of the
    /// browser footer).
    pub fn txn_license(&self) -> &str {
        &self.txn_settings.license
    }

    /// The application name(s) of the open transaction.
    pub fn txn_appname(&self) -> String {
        self.txn_settings.appname.clone()
    }

    /// Whether an application is connected in this process.
    pub fn has_connected_app(&self) -> bool {
        self.connect.is_some()
    }

    /// The transaction configuration for an application with these
    /// security policies (cached: the policies rarely change).
    fn config_with_policies(&mut self, policies: &str) -> Arc<TxnConfig> {
        let parsed = seraph_txn::SecurityPolicies::from_json(policies);
        if parsed.is_empty() {
            return self.txn_cfg.clone();
        }
        if let Some((p, base, cfg)) = &self.policy_cfg {
            if p == policies && Arc::ptr_eq(base, &self.txn_cfg) {
                return cfg.clone();
            }
        }
        let mut cfg = (*self.txn_cfg).clone();
        parsed.apply(&mut cfg);
        let cfg = Arc::new(cfg);
        self.policy_cfg = Some((policies.to_owned(), self.txn_cfg.clone(), cfg.clone()));
        cfg
    }

    /// The connected application's entity guid.
    pub fn entity_guid(&self) -> Option<String> {
        self.connect
            .as_ref()
            .and_then(|(_, c)| c.entity_guid.clone())
    }

    /// RINIT, first half: resets the request state and refreshes the
    /// settings. Returns whether a transaction should be started (the
    /// caller then gathers the [`RequestFacts`] and calls
    /// [`Agent::start_transaction`]).
    pub fn begin_request(&mut self) -> bool {
        self.txn = None;
        self.req = RequestState::default();
        self.refresh_settings();
        if !self.settings.enabled {
            return false;
        }
        self.check_fork();
        self.clock.refine();
        !self.settings.license.is_empty()
    }

    /// Starts a transaction (RINIT or `newrelic_start_transaction`).
    /// `appname`/`license` override the settings for the API case; `request`
    /// was read from PHP before the agent state was borrowed.
    pub fn start_transaction(
        &mut self,
        override_app: Option<(String, Option<String>)>,
        request: &RequestFacts,
    ) -> bool {
        self.check_fork();
        let mut settings = (*self.settings).clone();
        if let Some((app, lic)) = override_app {
            // Empty values mean the INI settings' (New Relic's agent does
            // the same).
            if !app.is_empty() {
                settings.appname = app;
            }
            if let Some(l) = lic.filter(|l| !l.is_empty()) {
                settings.license = l;
            }
        }
        if settings.license.is_empty() {
            tracing::debug!("no license key: transaction not started");
            return false;
        }
        observer::transaction_started();
        if self.facts.is_none() {
            let dispatcher = format!("{}+{}", globals::php_version(), globals::sapi_name());
            self.facts = Some(HostFacts::gather(plugin_list(), dispatcher));
        }
        let facts = self.facts.clone().unwrap_or_default();
        let settings_json = self.settings_json.clone();
        let Some(app) = self.client.app(&settings, process_kind(), || {
            appinfo::build(&settings, settings_json, &facts)
        }) else {
            return false;
        };
        let connect = match &self.connect {
            Some((raw, info)) if *raw == app.connect_reply => info.clone(),
            _ => match ConnectInfo::from_connect_reply(&app.connect_reply) {
                Ok(info) => {
                    let info = Arc::new(info);
                    self.connect = Some((app.connect_reply.clone(), info.clone()));
                    info
                }
                Err(e) => {
                    tracing::warn!("unusable connect reply: {e}");
                    return false;
                }
            },
        };
        if self
            .sampler
            .as_ref()
            .is_none_or(|(run, _)| *run != app.run_id)
        {
            let sampler = Sampler::new(connect.sampling_target, connect.sampling_target_period)
                .with_connect_timestamp(app.connect_timestamp.saturating_mul(1_000_000));
            self.sampler = Some((app.run_id.clone(), sampler));
        }
        self.run_id = app.run_id;
        let kind = request.kind(settings.name_remove_trailing_path);
        let now_us = clock::unix_us();
        let rand = self.rng.next_f64();
        let decision = match self.sampler.as_mut() {
            Some((_, s)) => s.decide(now_us, rand),
            None => (false, rand),
        };
        let scale = ClockScale {
            ns_per_tick: self.clock.ns_per_tick(),
        };
        let start_ticks = self.clock.now();
        let (u, s, _) = rusage();
        self.req.rusage_start = (u, s);
        self.txn_settings = Arc::new(settings);
        let cli = matches!(kind, TxnKind::Cli { .. });
        let cfg = self.config_with_policies(&app.security_policies);
        self.req.capture_params = self.settings.capture_params;
        let mut txn = Transaction::start(
            kind,
            now_us,
            start_ticks,
            scale,
            cfg,
            connect,
            decision,
            &mut self.rng,
        );
        if let Some(s) = &request.synthetics {
            txn.accept_synthetics_header(s);
        }
        if let Some(path) = &request.script_path {
            // The main script as its own "function" (New Relic reports it
            // for command-line transactions).
            txn.set_code_location(&seraph_txn::CodeLocation {
                function: path.clone(),
                namespace: None,
                filepath: Some(path.clone()),
                lineno: 1,
            });
        }
        if cli {
            // New Relic's agent reads the trace headers from $_SERVER for
            // every transaction; a CLI process has them only in its
            // environment (a web transaction took them from its request).
            txn.accept_inbound_headers(&request.dt_headers);
        }
        self.txn = Some(txn);
        true
    }

    /// Finishes the open transaction and sends it (RSHUTDOWN or
    /// `newrelic_end_transaction`). `params` are the request parameters
    /// read before the agent was borrowed (see [`request_params`]).
    pub fn end_transaction_with(&mut self, params: &[(String, String)]) {
        if let Some(t) = self.txn.as_mut().filter(|t| !t.is_ignored()) {
            for (k, v) in params {
                t.add_request_parameter(k, v, self.req.capture_params);
            }
        }
        self.end_transaction();
    }

    /// Whether the request parameters are worth reading at the end of the
    /// transaction: captured by default, or an attribute rule may include
    /// some.
    pub fn wants_request_params(&self) -> bool {
        let Some(t) = self.txn.as_ref() else {
            return false;
        };
        !t.is_ignored()
            && !self.txn_settings.high_security
            && self.txn_settings.security_policies_token.is_empty()
            && (self.req.capture_params
                || self
                    .txn_settings
                    .attributes
                    .may_include_prefix("request.parameters."))
    }

    /// Finishes the open transaction and sends it, without request
    /// parameters.
    pub fn end_transaction(&mut self) {
        self.check_fork();
        let Some(mut txn) = self.txn.take() else {
            return;
        };
        let framework = self.req.framework.outcome;
        if let Some(outcome) = framework {
            txn.set_framework(outcome);
        }
        if !globals::is_cli() {
            let code = globals::response_code();
            if code > 0 {
                txn.set_response_code(code as u16);
            }
            if let Some(ct) = globals::response_mimetype() {
                txn.add_response_header("Content-Type", &ct);
            }
        }
        let end_ticks = self.clock.now();
        let (u, s, rss_mb) = rusage();
        let usage = ResourceUsage {
            cpu_user_s: (u - self.req.rusage_start.0).max(0.0),
            cpu_sys_s: (s - self.req.rusage_start.1).max(0.0),
            memory_mb: rss_mb,
            user_call_count: txn.user_calls(),
        };
        let Some(data) = txn.finish(
            end_ticks,
            clock::unix_us(),
            usage,
            &EngineNames(&self.req.closures),
            std::process::id() as i32,
        ) else {
            tracing::debug!("transaction ignored");
            return;
        };
        let body = seraph_wire::encode_transaction(&self.run_id, &data);
        match self.client.send(&self.txn_settings, process_kind(), &body) {
            Ok(()) => tracing::debug!("sent transaction '{}' ({} bytes)", data.name, body.len()),
            Err(e) => self.client.report_not_sent(&data.name, &e),
        }
    }
}

/// What starting a transaction reads from PHP (`$_SERVER`, the SAPI
/// globals). Gathered before the agent state is borrowed: creating
/// `$_SERVER` allocates and can bail out (memory limit), and nothing that
/// can bail out may run while the state is borrowed (see
/// [`crate::zend::nts`]).
#[derive(Clone, Debug, Default)]
pub struct RequestFacts {
    /// A command-line SAPI.
    pub cli: bool,
    /// CLI: the script as given (else the translated path, else `-`).
    pub script: String,
    /// Web: `REQUEST_METHOD`.
    pub method: String,
    /// Web: `$_SERVER['REQUEST_URI']`, else the SAPI's.
    pub uri: String,
    /// Web: `SCRIPT_FILENAME`, `SCRIPT_NAME`, `DOCUMENT_ROOT`.
    pub script_vars: [Option<String>; 3],
    /// Web: the request headers the agent uses.
    pub headers: Vec<(String, String)>,
    /// CLI: inbound trace headers from the environment.
    pub dt_headers: Vec<(String, String)>,
    /// Web: the `X-NewRelic-Synthetics` request header.
    pub synthetics: Option<String>,
    /// CLI: the main script's full path, for code-level metrics (only
    /// read with `code_level_metrics.enabled`).
    pub script_path: Option<String>,
}

impl RequestFacts {
    /// Reads them from PHP. Call with no agent borrow held.
    pub fn gather() -> RequestFacts {
        if globals::is_cli() {
            let script = globals::cli_script()
                .or_else(|| globals::request_info().path_translated)
                .unwrap_or_else(|| "-".to_owned());
            let clm = AGENT
                .with(|a| a.as_ref().is_some_and(|a| a.settings.code_level_metrics))
                .unwrap_or(false);
            let script_path = clm
                .then(|| std::fs::canonicalize(&script).ok())
                .flatten()
                .map(|p| p.to_string_lossy().into_owned());
            return RequestFacts {
                cli: true,
                script,
                script_path,
                dt_headers: DT_HEADERS
                    .iter()
                    .filter_map(|(var, name)| Some(((*name).to_owned(), globals::server_var(var)?)))
                    .collect(),
                ..RequestFacts::default()
            };
        }
        let ri = globals::request_info();
        RequestFacts {
            cli: false,
            method: ri.method.unwrap_or_default(),
            uri: globals::server_var("REQUEST_URI")
                .or(ri.request_uri)
                .unwrap_or_default(),
            script_vars: [
                globals::server_var("SCRIPT_FILENAME"),
                globals::server_var("SCRIPT_NAME"),
                globals::server_var("DOCUMENT_ROOT"),
            ],
            headers: request_headers(),
            synthetics: globals::server_var("HTTP_X_NEWRELIC_SYNTHETICS"),
            ..RequestFacts::default()
        }
    }

    fn kind(&self, trailing: bool) -> TxnKind {
        if self.cli {
            return TxnKind::Cli {
                script: naming::cli_initial_path(&self.script, trailing),
            };
        }
        let [filename, name, root] = &self.script_vars;
        TxnKind::Web(WebRequest {
            method: self.method.clone(),
            uri: self.uri.clone(),
            script_name: naming::web_initial_path(
                filename.as_deref(),
                name.as_deref(),
                root.as_deref(),
                trailing,
            )
            .unwrap_or_default(),
            headers: self.headers.clone(),
        })
    }
}

/// The inbound distributed-tracing headers: `$_SERVER` name, header name.
const DT_HEADERS: [(&str, &str); 3] = [
    ("HTTP_NEWRELIC", "newrelic"),
    ("HTTP_TRACEPARENT", "traceparent"),
    ("HTTP_TRACESTATE", "tracestate"),
];

/// The request headers New Relic's agent uses, from `$_SERVER`, named as
/// headers: the attributes' (`Host`, `Accept`, `User-Agent`,
/// `Content-Type`, `Content-Length`, `Referer`), `X-Request-Start` for the
/// queue time (also read from a variable of that very name, which nginx's
/// `fastcgi_param X-Request-Start …` produces), and the inbound trace
/// headers.
fn request_headers() -> Vec<(String, String)> {
    const VARS: [(&str, &str); 7] = [
        ("HTTP_HOST", "host"),
        ("HTTP_ACCEPT", "accept"),
        ("HTTP_USER_AGENT", "user-agent"),
        ("CONTENT_TYPE", "content-type"),
        ("CONTENT_LENGTH", "content-length"),
        ("HTTP_REFERER", "referer"),
        ("HTTP_X_REQUEST_START", "x-request-start"),
    ];
    let mut out: Vec<(String, String)> = VARS
        .iter()
        .chain(DT_HEADERS.iter())
        .filter_map(|(var, name)| Some(((*name).to_owned(), globals::server_var(var)?)))
        .collect();
    if !out.iter().any(|(n, _)| n == "x-request-start") {
        if let Some(v) = globals::server_var("X-Request-Start") {
            out.push(("x-request-start".to_owned(), v));
        }
    }
    out
}

/// Releases an agent borrow a bailout skipped the end of (see
/// [`crate::zend::nts`]); only at request boundaries.
fn recover_after_bailout(phase: &str) {
    crate::zend::clear_stale_bailout();
    // SAFETY: RINIT and RSHUTDOWN are called by PHP at the top level: no
    // agent code is running, so no borrow can be live.
    if unsafe { AGENT.recover() } {
        tracing::error!("{phase}: a bailout skipped the release of the agent state; released");
    }
}

/// RINIT entry.
pub fn rinit() {
    recover_after_bailout("RINIT");
    crate::hooks::observer::request_started();
    let start = AGENT
        .with(|slot| slot.get_or_insert_with(Agent::new).begin_request())
        .unwrap_or(false);
    if !start {
        return;
    }
    crate::hooks::observer::reset_api_custom_tracers();
    let facts = RequestFacts::gather();
    let _ = AGENT.with(|slot| {
        if let Some(a) = slot.as_mut() {
            a.start_transaction(None, &facts);
        }
    });
    after_start();
}

/// What follows a transaction start outside the agent borrow (it calls
/// into PHP): the output handler of automatic browser monitoring, when
/// the transaction wants it.
pub fn after_start() {
    let autorum = AGENT
        .with(|a| {
            a.as_ref()
                .and_then(|a| a.txn.as_ref())
                .is_some_and(Transaction::autorum_enabled)
        })
        .unwrap_or(false);
    if autorum {
        crate::browser::install_output_handler();
    }
}

/// The request parameters (`$_REQUEST`) as New Relic turns them into
/// text, when the transaction wants them; read with no agent borrow held.
pub fn request_params() -> Vec<(String, String)> {
    let wanted = AGENT
        .with(|a| a.as_ref().is_some_and(Agent::wants_request_params))
        .unwrap_or(false);
    if wanted {
        crate::params::read_request_params()
    } else {
        Vec::new()
    }
}

/// Ends the open transaction with its request parameters (RSHUTDOWN,
/// `newrelic_end_transaction`, `newrelic_set_appname`). Not while the
/// agent is borrowed.
pub fn end_current_transaction(ignore: bool) {
    let params = if ignore { Vec::new() } else { request_params() };
    let _ = AGENT.with(|slot| {
        if let Some(a) = slot.as_mut() {
            if ignore {
                if let Some(t) = a.txn.as_mut() {
                    t.ignore();
                }
            }
            a.end_transaction_with(&params);
        }
    });
}

/// RSHUTDOWN entry.
pub fn rshutdown() {
    recover_after_bailout("RSHUTDOWN");
    end_current_transaction(false);
    crate::hooks::observer::request_ended();
    let _ = AGENT.with(|slot| {
        if let Some(a) = slot.as_mut() {
            a.req = RequestState::default();
        }
    });
    crate::api::release_request_state();
}

/// Nanoseconds, saturating: `as u64` wrapped a huge INI time value around
/// to an arbitrary small one (a trace threshold of `18446744073709552` ms,
/// "never", became 0.384 ms, "always").
fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The transaction model's settings for this request.
fn txn_config(s: &AgentSettings, is_cli: bool) -> TxnConfig {
    let _ = is_cli;
    let defaults = TxnConfig::default();
    TxnConfig {
        appname: s.appname.clone(),
        analytics_events_enabled: s.txn_events_enabled,
        custom_events_enabled: s.custom_events_enabled,
        span_events_enabled: s.span_events_enabled,
        span_events_max_samples_stored: s.span_events_max as usize,
        distributed_tracing_enabled: s.dt_enabled,
        dt_exclude_newrelic_header: s.dt_exclude_newrelic_header,
        transaction_tracer: TransactionTracerConfig {
            enabled: s.tt_enabled,
            threshold: match s.tt_threshold {
                crate::config::TraceThreshold::ApdexF => Threshold::ApdexF,
                crate::config::TraceThreshold::Fixed(d) => Threshold::Duration(nanos(d)),
            },
            detail: s.tt_detail,
            max_segments_cli: s.tt_max_segments_cli as usize,
            max_segments_web: s.tt_max_segments_web as usize,
            record_sql: match s.tt_record_sql {
                crate::config::RecordSql::Off => RecordSql::Off,
                crate::config::RecordSql::Raw => RecordSql::Raw,
                crate::config::RecordSql::Obfuscated => RecordSql::Obfuscated,
            },
            slow_sql: s.tt_slow_sql,
            explain_threshold_ns: nanos(s.tt_explain_threshold),
            explain_enabled: s.tt_explain_enabled,
            stack_trace_threshold_ns: nanos(s.tt_stack_trace_threshold),
        },
        error_collector: ErrorCollectorConfig {
            enabled: s.errors_enabled,
            ignore_errors: s.errors_ignore_errors,
            ignore_exceptions: s.errors_ignore_exceptions.clone(),
            capture_events: s.error_events_enabled,
            allow_raw_exception_messages: s.allow_raw_exception_messages,
            record_database_errors: s.errors_record_database,
        },
        instance_reporting_enabled: s.instance_reporting,
        database_name_reporting_enabled: s.database_name_reporting,
        message_segment_parameters_enabled: s.message_segment_parameters,
        custom_parameters_enabled: s.custom_parameters_enabled,
        high_security: s.high_security,
        lasp: !s.security_policies_token.is_empty(),
        capture_params: s.capture_params,
        autorum_enabled: s.autorum,
        synthetics_enabled: s.synthetics_enabled,
        code_level_metrics_enabled: s.code_level_metrics,
        attributes: s.attributes.clone(),
        application_logging: ApplicationLoggingConfig {
            enabled: s.logging_enabled,
            forwarding_enabled: s.logging_forwarding,
            labels_enabled: s.logging_labels,
            metrics_enabled: s.logging_metrics,
            local_decorating_enabled: s.logging_local_decorating,
            forwarding_max_samples_stored: s.log_events_max.min(u64::from(u32::MAX)) as u32,
            forwarding_log_level: s.frameworks.log_level,
            context_data_enabled: s.frameworks.log_context_data,
            context_data_include: s.frameworks.log_context_include.clone(),
            context_data_exclude: s.frameworks.log_context_exclude.clone(),
            forwarding_labels: seraph_txn::logs::forwarding_labels(
                &s.labels,
                &s.frameworks.log_labels_exclude,
            ),
        },
        expensive_node_min_ns: nanos(s.expensive_node_min),
        php_version: globals::php_version().to_owned(),
        agent_version: crate::AGENT_VERSION.to_owned(),
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_time_settings_saturate_instead_of_wrapping() {
        let ini = |name: &str| {
            matches!(
                name,
                "newrelic.transaction_tracer.threshold"
                    | "newrelic.transaction_tracer.explain_threshold"
                    | "newrelic.transaction_tracer.stack_trace_threshold"
            )
            .then(|| "18446744073709552".to_owned())
        };
        let (settings, bad) = AgentSettings::resolve(&ini);
        assert!(bad.is_empty(), "{bad:?}");
        let cfg = txn_config(&settings, true);
        assert_eq!(
            cfg.transaction_tracer.threshold,
            Threshold::Duration(u64::MAX)
        );
        assert_eq!(cfg.transaction_tracer.explain_threshold_ns, u64::MAX);
        assert_eq!(cfg.transaction_tracer.stack_trace_threshold_ns, u64::MAX);
    }
}
