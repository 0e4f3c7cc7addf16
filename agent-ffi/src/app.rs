//! Applications: `newrelic_create_app` connects one through the daemon
//! (the App query the C SDK sends, `agent_language` "c"), and each
//! transaction start asks the shared client for its current run (cached,
//! re-asked every 20 s as the client decides).

use crate::config::{AppConfig, Settings};
use crate::ffi::{guard, handle, lock, tag, PGuard, PMutex};
use crate::global::{self, AppIdentity};
use seraph_agent_client::host::{hostname, HostFacts};
use seraph_txn::{ConnectInfo, Sampler, TxnConfig};
use seraph_wire::AppInfo;
use std::sync::Arc;
use std::time::Duration;

/// Custom events a transaction may hold (and the daemon is told to keep
/// per harvest): the C SDK's default.
const CUSTOM_EVENTS_MAX: u64 = 30_000;
/// Span events per harvest: the default.
const SPAN_EVENTS_MAX: u64 = 2_000;

/// `newrelic_app_t`.
// The tag must come first: `ffi::handle` reads it through any pointer.
#[repr(C)]
pub struct App {
    tag: u64,
    pub shared: Arc<AppShared>,
}

/// What transactions share with their application (they keep it alive if
/// the application is destroyed first).
pub struct AppShared {
    pub settings: Settings,
    pub cfg: Arc<TxnConfig>,
    info: AppInfo,
    run: PMutex<Option<Run>>,
}

/// The connected run and what is derived from its connect reply.
struct Run {
    run_id: String,
    connect_reply: String,
    connect: Arc<ConnectInfo>,
    sampler: Sampler,
}

/// What a transaction starts with.
pub struct Started {
    pub run_id: String,
    pub connect: Arc<ConnectInfo>,
    pub sampling: (bool, f64),
}

impl AppShared {
    fn identity(&self) -> AppIdentity<'_> {
        AppIdentity {
            license: &self.settings.license,
            appname: &self.settings.app_name,
        }
    }

    /// The current run, refreshed from the client's answer (polling up to
    /// `connect_wait` on the application's first query); `None` when the
    /// application is not connected.
    fn current_run(&self, connect_wait: Duration) -> Option<PGuard<'_, Option<Run>>> {
        let c = global::app(&self.identity(), connect_wait, || self.info.clone())?;
        let mut run = lock(&self.run);
        if run
            .as_ref()
            .is_none_or(|r| r.connect_reply != c.connect_reply)
        {
            let connect = match ConnectInfo::from_connect_reply(&c.connect_reply) {
                Ok(i) => Arc::new(i),
                Err(e) => {
                    tracing::warn!(
                        "unusable connect reply for '{}': {e}",
                        self.settings.app_name
                    );
                    return None;
                }
            };
            let sampler = match run.take() {
                // A refreshed reply of the same run keeps its sampler.
                Some(r) if r.run_id == c.run_id => r.sampler,
                _ => Sampler::new(connect.sampling_target, connect.sampling_target_period)
                    .with_connect_timestamp(c.connect_timestamp.saturating_mul(1_000_000)),
            };
            *run = Some(Run {
                run_id: c.run_id.clone(),
                connect_reply: c.connect_reply.clone(),
                connect,
                sampler,
            });
        }
        Some(run)
    }

    /// Whether the application connects within `connect_wait`.
    pub fn connect(&self, connect_wait: Duration) -> bool {
        self.current_run(connect_wait).is_some()
    }

    /// The current run and a sampling decision for a transaction starting
    /// at `now_us`; `None` when the application is not connected.
    pub fn start(&self, now_us: u64, random: f64) -> Option<Started> {
        let mut run = self.current_run(Duration::ZERO)?;
        let r = run.as_mut()?;
        Some(Started {
            run_id: r.run_id.clone(),
            connect: r.connect.clone(),
            sampling: r.sampler.decide(now_us, random),
        })
    }

    /// Writes a finished transaction to the daemon.
    pub fn send(&self, name: &str, body: &[u8]) -> bool {
        global::send(&self.identity(), name, body)
    }
}

/// The App query, as the C SDK fills it.
fn app_info(s: &Settings) -> AppInfo {
    let facts = HostFacts::gather(Vec::new(), String::new());
    AppInfo {
        license: s.license.clone(),
        app_name: s.app_name.clone(),
        agent_language: "c".to_owned(),
        agent_version: crate::SDK_VERSION.to_owned(),
        high_security: false,
        redirect_collector: s.collector.clone(),
        environment: "{}".to_owned(),
        host: hostname(),
        metadata: facts.metadata,
        docker_id: facts.docker_id,
        span_events_max_samples_stored: SPAN_EVENTS_MAX,
        custom_events_max_samples_stored: CUSTOM_EVENTS_MAX,
        ..AppInfo::default()
    }
}

/// `newrelic_create_app()`.
///
/// # Safety
/// `config` is NULL or points to a readable `newrelic_app_config_t`.
#[no_mangle]
pub unsafe extern "C" fn newrelic_create_app(
    config: *const AppConfig,
    timeout_ms: u16,
) -> *mut App {
    const API: &str = "newrelic_create_app";
    guard(API, std::ptr::null_mut(), || {
        if config.is_null() {
            tracing::error!("{API}: the config is NULL");
            return std::ptr::null_mut();
        }
        // SAFETY: the caller passes a readable config; it is copied at once.
        let c = unsafe { std::ptr::read_unaligned(config) };
        let settings = match Settings::from_c(&c) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{API}: {e}");
                return std::ptr::null_mut();
            }
        };
        if !settings.log_filename.is_empty() && !crate::log::configured() {
            if let Err(e) = crate::log::configure(&settings.log_filename, settings.log_level) {
                tracing::error!("{API}: {e}");
            }
        }
        if !global::ensure_init() {
            tracing::error!("{API}: cannot reach the daemon; application not created");
            return std::ptr::null_mut();
        }
        // Into its Arc first: its mutex must not move once used.
        let shared = Arc::new(AppShared {
            cfg: Arc::new(settings.txn.clone()),
            info: app_info(&settings),
            settings,
            run: PMutex::new(None),
        });
        let wait = Duration::from_millis(u64::from(timeout_ms));
        if !shared.connect(wait) {
            tracing::error!(
                "{API}: application '{}' did not connect within {timeout_ms} ms",
                shared.settings.app_name
            );
            return std::ptr::null_mut();
        }
        tracing::info!("application '{}' connected", shared.settings.app_name);
        Box::into_raw(Box::new(App {
            tag: tag::APP,
            shared,
        }))
    })
}

/// `newrelic_destroy_app()`.
///
/// # Safety
/// `app` is NULL or points to NULL or to a pointer returned by
/// `newrelic_create_app` and not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn newrelic_destroy_app(app: *mut *mut App) -> bool {
    const API: &str = "newrelic_destroy_app";
    guard(API, false, || {
        // SAFETY: the caller passes NULL or a valid pointer to a pointer.
        if app.is_null() || unsafe { (*app).is_null() } {
            return false;
        }
        // SAFETY: checked non-NULL; the tag check refuses other handles.
        let p = unsafe { *app };
        // SAFETY: as above.
        if unsafe { handle(API, p, tag::APP) }.is_none() {
            return false;
        }
        // SAFETY: made by Box::into_raw in newrelic_create_app; freed once
        // (the tag is cleared first to catch a second destroy).
        let mut b = unsafe { Box::from_raw(p) };
        b.tag = tag::FREED;
        drop(b);
        // SAFETY: valid pointer to the caller's pointer.
        unsafe { *app = std::ptr::null_mut() };
        tracing::info!("application destroyed");
        true
    })
}

impl App {
    /// The handle behind a C pointer (logged refusal when unusable).
    ///
    /// # Safety
    /// `p` is NULL or a live pointer from `newrelic_create_app`.
    pub unsafe fn from_ptr<'a>(api: &str, p: *const App) -> Option<&'a App> {
        // SAFETY: forwarded from the caller.
        unsafe { handle(api, p, tag::APP) }
    }
}
