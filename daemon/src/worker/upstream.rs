//! The registry's view of the collector: start an application's task,
//! connect it, probe the collector, carry on a run from a record.

use super::health::CollectorHealth;
use super::record::RunRecord;
use super::registry::{
    AppId, AppKey, BoxFuture, ConnectOutcome, RegistryHandle, RunInfo, Upstream,
};
use super::run::{self, RunSettings};
use super::runs::{RunMsg, RunSender};
use super::spool::SpoolHandle;
use super::stats::WorkerStats;
use seraph_collector::utilization::Utilization;
use seraph_collector::{
    CollectorClient, ConnectReply, ConnectRequest, Connected, Endpoint, LicenseKey, Outcome,
    PreconnectReply,
};
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
    /// Noted on every successful call.
    pub health: Arc<CollectorHealth>,
}

/// Longest wait for utilization before connecting without it.
const UTILIZATION_WAIT: Duration = Duration::from_secs(5);

/// Period of a task that is not connected: it posts nothing, the timer
/// only checks for expiry.
const STANDBY_PERIOD: Duration = Duration::from_secs(60);

impl Upstream for CollectorUpstream {
    fn start(
        &self,
        id: AppId,
        info: Arc<AppInfo>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> RunSender {
        let settings = RunSettings {
            app: id,
            run_id: "".into(),
            endpoint: None,
            client: self.client.clone(),
            limits: HarvestLimits::default(),
            rules: Arc::new(MetricRules::empty()),
            default_period: STANDBY_PERIOD,
            event_periods: [STANDBY_PERIOD; 5],
            report_period: STANDBY_PERIOD,
            app_timeout: self.config.app_timeout,
            distributed_tracing: distributed_tracing_enabled(&info.settings),
            agent_language: info.agent_language.clone(),
            certificates: self.certificates,
            integration: self.config.integration,
            spool: self.spool.clone(),
            health: Arc::clone(&self.health),
        };
        run::spawn(settings, activity, registry, Arc::clone(&self.stats))
    }

    fn connect(&self, id: AppId, info: Arc<AppInfo>, run: RunSender) -> BoxFuture<ConnectOutcome> {
        let defaults = self.defaults();
        let client = self.client.clone();
        let mut utilization = self.utilization.clone();
        let hostname = self.hostname.clone();
        Box::pin(async move {
            let util =
                tokio::time::timeout(UTILIZATION_WAIT, utilization.wait_for(Option::is_some))
                    .await
                    .ok()
                    .and_then(|r| r.ok().and_then(|u| u.clone()));
            let user_agent = user_agent(&info);
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
                    defaults.health.answered();
                    let connect_timestamp = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let run_info = run_info(&connected, connect_timestamp);
                    let key = AppKey::of(&info);
                    let record = RunRecord::new(
                        &key,
                        &info,
                        &run_info,
                        &connected.collector_host,
                        Some(&user_agent),
                    );
                    let license = LicenseKey::new(info.license.clone());
                    let settings = defaults.run_settings(id, &info, &connected, Some(&license));
                    if run
                        .send(RunMsg::Connected(Box::new(settings)))
                        .await
                        .is_err()
                    {
                        return ConnectOutcome::Failed {
                            reason: "the application's task has ended".to_owned(),
                            retry_after: None,
                        };
                    }
                    ConnectOutcome::Connected(run_info, Box::new(record))
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

    fn probe(&self, info: Arc<AppInfo>) -> BoxFuture<bool> {
        let client = self.client.clone();
        let health = Arc::clone(&self.health);
        Box::pin(async move {
            let license = LicenseKey::new(info.license.clone());
            let host = license.preconnect_host(&info.redirect_collector);
            let endpoint = Endpoint::new(host, license).with_user_agent(user_agent(&info));
            let answered = client
                .preconnect(&endpoint, &info.security_policy_token, info.high_security)
                .await
                .outcome
                .is_success();
            if answered {
                health.answered();
            }
            answered
        })
    }

    fn resume(
        &self,
        record: &RunRecord,
        info: Arc<AppInfo>,
        run: Option<RunSender>,
        activity: Arc<AtomicU64>,
        registry: RegistryHandle,
    ) -> Option<(RunInfo, RunSender)> {
        let mut reply = match ConnectReply::parse(&record.connect_reply) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::warn!(error = %e, "ignoring a run record with an unusable connect reply");
                return None;
            }
        };
        reply.apply_agent_log_limit(info.log_events_max_samples_stored);
        let connected = Connected {
            collector_host: record.collector_host.clone(),
            reply,
            preconnect: PreconnectReply {
                redirect_host: record.collector_host.clone(),
                security_policies: Default::default(),
            },
            security_policies: record.security_policies.clone(),
            user_agent: record.user_agent.clone(),
        };
        let run_info = run_info(&connected, record.connect_timestamp);
        let license = (!info.license.is_empty()).then(|| LicenseKey::new(info.license.clone()));
        let settings = self.defaults().run_settings(
            record.app.as_str().into(),
            &info,
            &connected,
            license.as_ref(),
        );
        let tx = match run {
            Some(tx) => {
                let to = tx.clone();
                tokio::spawn(async move { to.send(RunMsg::Connected(Box::new(settings))).await });
                tx
            }
            None => run::spawn(settings, activity, registry, Arc::clone(&self.stats)),
        };
        Some((run_info, tx))
    }
}

impl CollectorUpstream {
    fn defaults(&self) -> RunDefaults {
        RunDefaults {
            client: self.client.clone(),
            config: Arc::clone(&self.config),
            certificates: self.certificates,
            spool: self.spool.clone(),
            health: Arc::clone(&self.health),
        }
    }
}

/// The `User-Agent` of an application's calls.
fn user_agent(info: &AppInfo) -> String {
    seraph_collector::user_agent(
        &info.agent_language,
        &info.agent_version,
        concat!("Seraph/", env!("CARGO_PKG_VERSION")),
    )
}

/// What agents are told about a connected run.
fn run_info(connected: &Connected, connect_timestamp: u64) -> RunInfo {
    RunInfo {
        run_id: connected.reply.agent_run_id.as_str().into(),
        connect_reply: connected.reply.raw.clone(),
        security_policies: connected.security_policies.clone(),
        connect_timestamp,
        harvest_frequency: connected.reply.harvest_frequency(),
        sampling_target: connected.reply.sampling_target,
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
struct RunDefaults {
    client: CollectorClient,
    config: Arc<DaemonConfig>,
    certificates: SystemCertificates,
    spool: Option<SpoolHandle>,
    health: Arc<CollectorHealth>,
}

impl RunDefaults {
    /// A run's settings from its connect reply; without a license the run
    /// cannot post (a record restored from disk, until an agent asks).
    fn run_settings(
        self,
        app: AppId,
        info: &AppInfo,
        connected: &Connected,
        license: Option<&LicenseKey>,
    ) -> RunSettings {
        let RunDefaults {
            client,
            config,
            certificates,
            spool,
            health,
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
        RunSettings {
            app,
            run_id: reply.agent_run_id.as_str().into(),
            endpoint: license.map(|l| connected.endpoint(l)),
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
            spool,
            health,
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
