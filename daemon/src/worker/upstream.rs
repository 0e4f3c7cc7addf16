//! The registry's view of the collector: connect an application, and on
//! success start the task that owns its run.

use super::registry::{AppKey, BoxFuture, ConnectOutcome, RegistryHandle, RunInfo, Upstream};
use super::run::{self, RunSettings};
use super::spool::SpoolHandle;
use super::stats::WorkerStats;
use seraph_collector::utilization::Utilization;
use seraph_collector::{CollectorClient, ConnectRequest, Connected, LicenseKey, Outcome};
use seraph_config::DaemonConfig;
use seraph_harvest::{EventKind, HarvestLimits, MetricRules, SystemCertificates};
use seraph_wire::AppInfo;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Connects applications through a [`CollectorClient`].
pub struct CollectorUpstream {
    /// The shared client.
    pub client: CollectorClient,
    /// Daemon settings (periods, app timeout).
    pub config: Arc<DaemonConfig>,
    /// Utilization, once gathered (connects wait for it, as New Relic's
    /// daemon does).
    pub utilization: watch::Receiver<Option<Arc<Utilization>>>,
    /// This host's name, for Apps that name none.
    pub hostname: String,
    /// Self-monitoring counters, handed to runs.
    pub stats: Arc<WorkerStats>,
    /// Whether the client trusts the system roots.
    pub certificates: SystemCertificates,
    /// The disk spool, if configured.
    pub spool: Option<SpoolHandle>,
}

/// Longest wait for utilization before connecting without it.
const UTILIZATION_WAIT: Duration = Duration::from_secs(5);

impl Upstream for CollectorUpstream {
    fn connect(
        &self,
        key: AppKey,
        info: Arc<AppInfo>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> BoxFuture<ConnectOutcome> {
        let client = self.client.clone();
        let config = Arc::clone(&self.config);
        let mut utilization = self.utilization.clone();
        let hostname = self.hostname.clone();
        let stats = Arc::clone(&self.stats);
        let certificates = self.certificates;
        let spool = self.spool.clone();
        Box::pin(async move {
            let util =
                tokio::time::timeout(UTILIZATION_WAIT, utilization.wait_for(Option::is_some))
                    .await
                    .ok()
                    .and_then(|r| r.ok().and_then(|u| u.clone()));
            let user_agent = seraph_collector::user_agent(
                &info.agent_language,
                &info.agent_version,
                concat!("Seraph/", env!("CARGO_PKG_VERSION")),
            );
            let attempt = client
                .connect_application(ConnectRequest {
                    app: &info,
                    utilization: util.as_deref(),
                    daemon_pid: std::process::id(),
                    daemon_hostname: &hostname,
                    user_agent: Some(&user_agent),
                })
                .await;
            match attempt.outcome {
                Outcome::Success(connected) => {
                    let run_info = RunInfo {
                        run_id: connected.reply.agent_run_id.as_str().into(),
                        connect_reply: connected.reply.raw.clone(),
                        security_policies: connected.security_policies.clone(),
                        connect_timestamp: SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs()),
                        harvest_frequency: connected.reply.harvest_frequency(),
                        sampling_target: connected.reply.sampling_target,
                    };
                    let defaults = RunDefaults {
                        client,
                        config: &config,
                        certificates,
                        spool,
                    };
                    let settings = defaults.run_settings(key, &info, connected, &user_agent);
                    let tx = run::spawn(settings, activity, registry, stats);
                    ConnectOutcome::Connected(run_info, tx)
                }
                Outcome::Disconnect => ConnectOutcome::Disconnected,
                Outcome::LicenseInvalid => ConnectOutcome::InvalidLicense,
                // New Relic's daemon never reconnects after a 409 on connect
                // (a quirk); retrying later is what the collector asked for.
                other => {
                    let status = attempt.calls.last().map_or(0, |c| c.status);
                    ConnectOutcome::Failed {
                        reason: describe_failure(&other, status),
                        retry_after: match other {
                            Outcome::MergeBack { retry_after } => retry_after,
                            _ => None,
                        },
                    }
                }
            }
        })
    }
}

/// A failed connect as an operator needs to read it: the collector
/// answered (and with what), or could not be reached at all.
fn describe_failure<T>(outcome: &Outcome<T>, status: u16) -> String {
    match outcome {
        Outcome::MergeBack { .. } => format!(
            "collector answered {status} ({})",
            seraph_collector::status_message(status)
        ),
        Outcome::Discard(
            reason @ (seraph_collector::DiscardReason::Transport(_)
            | seraph_collector::DiscardReason::Timeout(_)),
        ) => format!("collector unreachable: {reason}"),
        other => other.describe(),
    }
}

/// What every run of this worker shares.
struct RunDefaults<'a> {
    client: CollectorClient,
    config: &'a DaemonConfig,
    certificates: SystemCertificates,
    spool: Option<SpoolHandle>,
}

impl RunDefaults<'_> {
    /// A new run's settings from its connect reply.
    fn run_settings(
        self,
        key: AppKey,
        info: &AppInfo,
        connected: Connected,
        user_agent: &str,
    ) -> RunSettings {
        let RunDefaults {
            client,
            config,
            certificates,
            spool,
        } = self;
        let reply = &connected.reply;
        let eh = &reply.event_harvest;
        let limits = HarvestLimits {
            analytic_events: eh.analytic.limit,
            custom_events: eh.custom.limit,
            error_events: eh.error.limit,
            span_events: eh.span.limit,
            log_events: eh.log.limit,
            ..HarvestLimits::default()
        };
        let rules = match MetricRules::from_json(&reply.metric_name_rules) {
            Ok(rules) => rules,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring invalid metric_name_rules");
                MetricRules::empty()
            }
        };
        let override_period = config.harvest_cycle;
        let event_periods = EventKind::ALL.map(|kind| {
            override_period.unwrap_or(match kind {
                EventKind::Transaction => eh.analytic.report_period,
                EventKind::Custom => eh.custom.report_period,
                EventKind::Error => eh.error.report_period,
                EventKind::Span => eh.span.report_period,
                EventKind::Log => eh.log.report_period,
            })
        });
        let license = LicenseKey::new(info.license.clone());
        let endpoint = connected.endpoint(&license).with_user_agent(user_agent);
        RunSettings {
            key: key.clone(),
            run_id: reply.agent_run_id.as_str().into(),
            endpoint,
            client,
            limits,
            rules: Arc::new(rules),
            default_period: override_period.unwrap_or(reply.data_report_period),
            event_periods,
            report_period: eh.report_period,
            app_timeout: config.app_timeout,
            distributed_tracing: distributed_tracing_enabled(&info.settings),
            agent_language: info.agent_language.clone(),
            certificates,
            integration: config.integration,
            spool_app: key.spool_id(),
            spool,
        }
    }
}

/// `settings["newrelic.distributed_tracing_enabled"] == true` (§4.1).
fn distributed_tracing_enabled(settings: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(settings)
        .ok()
        .and_then(|v| v.get("newrelic.distributed_tracing_enabled").cloned())
        .is_some_and(|v| v == serde_json::Value::Bool(true))
}
