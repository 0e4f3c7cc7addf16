//! The per-process application cache (§1.7).
//!
//! Keyed by (license, appname, trace observer host, port). Connected apps
//! are re-queried every 20 s with their run id; Unknown ones back off 2 s
//! per consecutive failure up to 10 s; Disconnected / InvalidLicense ones
//! are never queried again in this process. Pure state: the caller passes
//! the clock, which keeps every transition unit-testable.

use seraph_wire::{AppInfo, AppReplyInfo, AppStatus};
use std::time::{Duration, Instant};

/// Re-query interval of a connected app.
pub const REFRESH: Duration = Duration::from_secs(20);
/// Backoff step per consecutive failure.
pub const BACKOFF_STEP: Duration = Duration::from_secs(2);
/// Backoff cap.
pub const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// What identifies an application for this process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppKey {
    /// License key.
    pub license: String,
    /// Full appname string.
    pub appname: String,
    /// Infinite tracing host.
    pub trace_observer_host: String,
    /// Infinite tracing port.
    pub trace_observer_port: u16,
}

/// A connected application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connected {
    /// The run id every Transaction carries.
    pub run_id: String,
    /// The collector's connect reply, verbatim.
    pub connect_reply: String,
    /// JSON `{policy: enabled}`.
    pub security_policies: String,
    /// Harvest period, s.
    pub harvest_frequency: u16,
    /// Sampling target per period.
    pub sampling_target: u16,
    /// When the daemon connected the app, unix seconds.
    pub connect_timestamp: u64,
}

/// State of one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppState {
    /// Never asked.
    Unqueried,
    /// Connected; re-asked after [`REFRESH`].
    Connected {
        /// The reply data.
        app: Connected,
        /// When we last asked.
        queried_at: Instant,
    },
    /// Not connected yet (or the daemon was unreachable).
    Unknown {
        /// Consecutive failures.
        failures: u32,
        /// Not before.
        retry_at: Instant,
    },
    /// Disconnected or bad license: never again in this process.
    Invalid,
}

/// What the caller should do now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Use the cached connection data; no query.
    UseCached,
    /// Send an App query, with the cached run id if any.
    Query {
        /// Run id to send.
        run_id: Option<String>,
    },
    /// Don't query; the app is not usable now.
    Wait,
}

/// Why a reply left the app unusable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not connected yet.
    Unknown,
    /// The daemon said Disconnected or InvalidLicense.
    Invalid(AppStatus),
    /// The reply could not be used (no run id, bad JSON).
    BadReply,
}

/// One application's cache entry.
#[derive(Clone, Debug)]
pub struct AppCache {
    key: AppKey,
    state: AppState,
    /// The App message last sent for it, kept to ask again on a new
    /// connection without the request's help.
    info: Option<AppInfo>,
}

impl AppCache {
    /// A fresh, unqueried entry.
    pub fn new(key: AppKey) -> Self {
        AppCache {
            key,
            state: AppState::Unqueried,
            info: None,
        }
    }

    /// Keeps the App message built for this application.
    pub fn remember(&mut self, info: AppInfo) {
        self.info = Some(info);
    }

    /// The App message last built for this application.
    pub fn info(&self) -> Option<&AppInfo> {
        self.info.as_ref()
    }

    /// The key.
    pub fn key(&self) -> &AppKey {
        &self.key
    }

    /// The state.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The connected app, if any (even when due for a refresh).
    pub fn connected(&self) -> Option<&Connected> {
        match &self.state {
            AppState::Connected { app, .. } => Some(app),
            _ => None,
        }
    }

    /// Decides what to do at `now`.
    pub fn action(&self, now: Instant) -> Action {
        match &self.state {
            AppState::Unqueried => Action::Query { run_id: None },
            AppState::Connected { app, queried_at } => {
                if now.saturating_duration_since(*queried_at) >= REFRESH {
                    Action::Query {
                        run_id: Some(app.run_id.clone()),
                    }
                } else {
                    Action::UseCached
                }
            }
            AppState::Unknown { retry_at, .. } => {
                if now >= *retry_at {
                    Action::Query { run_id: None }
                } else {
                    Action::Wait
                }
            }
            AppState::Invalid => Action::Wait,
        }
    }

    fn fail(&mut self, now: Instant) {
        let failures = match self.state {
            AppState::Unknown { failures, .. } => failures + 1,
            _ => 1,
        };
        let backoff = (BACKOFF_STEP * failures).min(BACKOFF_MAX);
        self.state = AppState::Unknown {
            failures,
            retry_at: now + backoff,
        };
    }

    /// The query could not be made or answered (connect error, timeout,
    /// bad frame). A connected application stays connected: its run is
    /// still good (a daemon restarting or stalled changes nothing at the
    /// collector), so requests stay instrumented and the refresh is tried
    /// again on the next one (a stalled daemon is kept from costing more by
    /// the client's own backoff). Others back off as before.
    pub fn on_failure(&mut self, now: Instant) {
        if matches!(self.state, AppState::Connected { .. }) {
            return;
        }
        self.fail(now);
    }

    /// Applies the daemon's reply.
    pub fn on_reply(&mut self, reply: &AppReplyInfo, now: Instant) -> Result<&Connected, Refusal> {
        match reply.status {
            AppStatus::Connected => {
                let raw = reply.connect_reply.clone().unwrap_or_default();
                match run_id_of(&raw) {
                    Some(run_id) => {
                        self.state = AppState::Connected {
                            app: Connected {
                                run_id,
                                connect_reply: raw,
                                security_policies: reply
                                    .security_policies
                                    .clone()
                                    .unwrap_or_else(|| "{}".to_owned()),
                                harvest_frequency: reply.harvest_frequency,
                                sampling_target: reply.sampling_target,
                                connect_timestamp: reply.connect_timestamp,
                            },
                            queried_at: now,
                        };
                    }
                    None => {
                        self.fail(now);
                        return Err(Refusal::BadReply);
                    }
                }
            }
            AppStatus::StillValid => match &mut self.state {
                AppState::Connected { queried_at, .. } => *queried_at = now,
                _ => {
                    self.fail(now);
                    return Err(Refusal::BadReply);
                }
            },
            AppStatus::Unknown => {
                self.fail(now);
                return Err(Refusal::Unknown);
            }
            st @ (AppStatus::Disconnected | AppStatus::InvalidLicense) => {
                self.state = AppState::Invalid;
                return Err(Refusal::Invalid(st));
            }
        }
        self.connected().ok_or(Refusal::BadReply)
    }
}

/// `agent_run_id` of a connect reply: a JSON object whose run id is a
/// non-empty string (or number).
pub fn run_id_of(connect_reply: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(connect_reply).ok()?;
    match v.get("agent_run_id")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AppKey {
        AppKey {
            license: "l".into(),
            appname: "a".into(),
            trace_observer_host: String::new(),
            trace_observer_port: 443,
        }
    }

    fn connected(run: &str) -> AppReplyInfo {
        AppReplyInfo {
            status: AppStatus::Connected,
            connect_reply: Some(format!(r#"{{"agent_run_id":"{run}"}}"#)),
            ..Default::default()
        }
    }

    #[test]
    fn connected_is_refreshed_every_20s_with_the_run_id() {
        let t0 = Instant::now();
        let mut c = AppCache::new(key());
        assert_eq!(c.action(t0), Action::Query { run_id: None });
        assert_eq!(c.on_reply(&connected("R1"), t0).unwrap().run_id, "R1");
        assert_eq!(c.action(t0 + Duration::from_secs(19)), Action::UseCached);
        let t20 = t0 + REFRESH;
        assert_eq!(
            c.action(t20),
            Action::Query {
                run_id: Some("R1".into())
            }
        );
        c.on_reply(&AppReplyInfo::status(AppStatus::StillValid), t20)
            .unwrap();
        assert_eq!(c.action(t20 + Duration::from_secs(1)), Action::UseCached);
        assert_eq!(c.on_reply(&connected("R2"), t20).unwrap().run_id, "R2");
    }

    #[test]
    fn unknown_backs_off_2s_per_failure_up_to_10s() {
        let t0 = Instant::now();
        let mut c = AppCache::new(key());
        let unknown = AppReplyInfo::status(AppStatus::Unknown);
        assert_eq!(c.on_reply(&unknown, t0), Err(Refusal::Unknown));
        assert_eq!(c.action(t0 + Duration::from_millis(1999)), Action::Wait);
        assert_eq!(c.action(t0 + BACKOFF_STEP), Action::Query { run_id: None });
        let mut t = t0;
        for n in 2..=7u32 {
            t += Duration::from_secs(30);
            c.on_failure(t);
            let expect = (BACKOFF_STEP * n).min(BACKOFF_MAX);
            assert_eq!(
                c.action(t + expect - Duration::from_millis(1)),
                Action::Wait
            );
            assert_eq!(c.action(t + expect), Action::Query { run_id: None });
        }
    }

    #[test]
    fn a_failed_refresh_keeps_the_app_connected() {
        let t0 = Instant::now();
        let mut c = AppCache::new(key());
        c.on_reply(&connected("R1"), t0).unwrap();
        let t20 = t0 + REFRESH;
        c.on_failure(t20);
        assert_eq!(c.connected().unwrap().run_id, "R1");
        assert_eq!(
            c.action(t20 + Duration::from_millis(1)),
            Action::Query {
                run_id: Some("R1".into())
            },
            "asked again on the next request"
        );
    }

    #[test]
    fn invalid_is_never_requeried() {
        let t0 = Instant::now();
        for st in [AppStatus::Disconnected, AppStatus::InvalidLicense] {
            let mut c = AppCache::new(key());
            assert_eq!(
                c.on_reply(&AppReplyInfo::status(st), t0),
                Err(Refusal::Invalid(st))
            );
            assert_eq!(c.action(t0 + Duration::from_secs(3600)), Action::Wait);
        }
    }

    #[test]
    fn bad_connect_reply_counts_as_a_failure() {
        let t0 = Instant::now();
        let mut c = AppCache::new(key());
        let bad = AppReplyInfo {
            status: AppStatus::Connected,
            connect_reply: Some("not json".into()),
            ..Default::default()
        };
        assert_eq!(c.on_reply(&bad, t0), Err(Refusal::BadReply));
        assert!(matches!(c.state(), AppState::Unknown { failures: 1, .. }));
        assert_eq!(run_id_of(r#"{"agent_run_id":12}"#), Some("12".into()));
        assert_eq!(run_id_of(r#"{"agent_run_id":""}"#), None);
    }
}
