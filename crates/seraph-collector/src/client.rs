//! The collector client: one pooled HTTPS client shared by every clone,
//! a semaphore capping concurrent calls, and the request/response handling
//! of §3.1 and §3.7.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use seraph_wire::AppInfo;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::audit::AuditLog;
use crate::compress;
use crate::connector::Connector;
use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::lasp;
use crate::license::LicenseKey;
use crate::method::Method;
use crate::outcome::{
    classify_status, parse_response_body, CallStats, DiscardReason, Outcome, Response, ReturnValue,
};
use crate::payload::{connect_payload, preconnect_payload};
use crate::proxy::ProxySettings;
use crate::reply::{ConnectReply, PreconnectReply};
use crate::time::parse_retry_after;
use crate::tls::{self, RootsSource};
use crate::utilization::Utilization;

/// Deadlines of one call (§3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Name resolution plus TCP connect (also the proxy CONNECT exchange).
    pub dial: Duration,
    /// The TLS handshake.
    pub tls: Duration,
    /// The whole request, response body included; waiting for a request
    /// slot is capped by the same value.
    pub request: Duration,
}

impl Default for Timeouts {
    /// New Relic's: dial 30 s, TLS 10 s, request 45 s.
    fn default() -> Self {
        Timeouts {
            dial: Duration::from_secs(30),
            tls: Duration::from_secs(10),
            request: Duration::from_secs(45),
        }
    }
}

/// How to reach the collector.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `ssl_ca_bundle`: a PEM file whose certificates replace the system
    /// roots.
    pub ca_bundle: Option<PathBuf>,
    /// `ssl_ca_path`: a directory whose `*.pem` files replace the system
    /// roots (together with `ca_bundle` when both are set).
    pub ca_path: Option<PathBuf>,
    /// `proxy`: `[http|https]://[user:pass@]host[:port]`; no scheme means
    /// `http://`. Unset: `HTTPS_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<String>,
    /// `auditlog`: file that gets two lines per call.
    pub audit_log: Option<PathBuf>,
    /// `User-Agent` for calls whose [`Endpoint`] names none.
    pub user_agent: String,
    /// Deadlines.
    pub timeouts: Timeouts,
    /// Most calls in flight at once (New Relic: 100).
    pub max_concurrent_requests: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            ca_bundle: None,
            ca_path: None,
            proxy: None,
            audit_log: None,
            user_agent: user_agent("php", "", concat!("Seraph/", env!("CARGO_PKG_VERSION"))),
            timeouts: Timeouts::default(),
            max_concurrent_requests: 100,
        }
    }
}

/// The `User-Agent` New Relic's daemon sends:
/// `NewRelic-<Language>-Agent/<agent version> <daemon product>/<version>`
/// (`php` → `PHP`; an unknown agent version reads `unknown`).
pub fn user_agent(agent_language: &str, agent_version: &str, daemon_product: &str) -> String {
    let lang = match agent_language {
        "php" => "PHP",
        "c" | "sdk" => "C",
        "" => "Native",
        other => other,
    };
    let version = if agent_version.is_empty() {
        "unknown"
    } else {
        agent_version
    };
    format!("NewRelic-{lang}-Agent/{version} {daemon_product}")
}

/// Largest response body we read.
const MAX_RESPONSE_BYTES: usize = 64 << 20;

struct Inner {
    http: HyperClient<Connector, Full<Bytes>>,
    slots: Semaphore,
    audit: Option<AuditLog>,
    user_agent: String,
    timeouts: Timeouts,
    roots: RootsSource,
}

/// A protocol-17 collector client. Cheap to clone: clones share the
/// connection pool, the concurrency limit and the audit log.
#[derive(Clone)]
pub struct CollectorClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CollectorClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectorClient")
            .field("roots", &self.inner.roots)
            .field("timeouts", &self.inner.timeouts)
            .finish_non_exhaustive()
    }
}

/// What [`CollectorClient::connect_application`] needs.
#[derive(Debug, Clone, Copy)]
pub struct ConnectRequest<'a> {
    /// The agent's App message.
    pub app: &'a AppInfo,
    /// Gathered utilization (`None` leaves it out of the payload).
    pub utilization: Option<&'a Utilization>,
    /// This process's pid.
    pub daemon_pid: u32,
    /// This host's name, for Apps that name none.
    pub daemon_hostname: &'a str,
    /// `User-Agent` for this application's calls (see [`user_agent`]).
    pub user_agent: Option<&'a str>,
}

/// A connected run.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The host every call of this run goes to (preconnect's
    /// `redirect_host`).
    pub collector_host: String,
    /// The parsed connect reply (log limit rule already applied).
    pub reply: ConnectReply,
    /// What preconnect said.
    pub preconnect: PreconnectReply,
    /// `{policy: enabled}` JSON for the AppReply.
    pub security_policies: String,
    /// The `User-Agent` the connect used, kept for the run's calls.
    pub user_agent: Option<String>,
}

impl Connected {
    /// The endpoint for this run's harvest calls (run id, headers, payload
    /// limit and `User-Agent` of this run).
    pub fn endpoint(&self, license: &LicenseKey) -> Endpoint {
        let ep = Endpoint::for_run(self.collector_host.clone(), license.clone(), &self.reply);
        match &self.user_agent {
            Some(ua) => ep.with_user_agent(ua.clone()),
            None => ep,
        }
    }
}

/// The result of a preconnect + connect.
#[derive(Debug)]
pub struct ConnectAttempt {
    /// How it ended. `Discard` covers transport errors, other statuses,
    /// unusable replies and security policy mismatches.
    pub outcome: Outcome<Connected>,
    /// One entry per call made (one or two).
    pub calls: Vec<CallStats>,
}

impl CollectorClient {
    /// Builds the client: loads the trust roots, resolves the proxy, opens
    /// the audit log. Any failure is a configuration error.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        let (roots, source) =
            tls::load_roots(config.ca_bundle.as_deref(), config.ca_path.as_deref())?;
        let tls = tls::client_config(roots)?;
        let proxy = ProxySettings::resolve(config.proxy.as_deref(), |k| std::env::var(k).ok())?;
        if let Some(p) = proxy.describe() {
            tracing::info!(proxy = p, "collector calls go through a proxy");
        }
        let audit = match &config.audit_log {
            Some(path) => Some(
                AuditLog::open(path).map_err(|source| ClientError::AuditLog {
                    path: path.clone(),
                    source,
                })?,
            ),
            None => None,
        };
        let connector = Connector::new(tls, proxy, config.timeouts.dial, config.timeouts.tls);
        let http = HyperClient::builder(TokioExecutor::new())
            .http1_title_case_headers(true)
            .pool_idle_timeout(Duration::from_secs(90))
            // Without a timer the pool never reaps idle connections.
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(CollectorClient {
            inner: Arc::new(Inner {
                http,
                slots: Semaphore::new(config.max_concurrent_requests.max(1)),
                audit,
                user_agent: config.user_agent,
                timeouts: config.timeouts,
                roots: source,
            }),
        })
    }

    /// Whether the trust roots are the system's (for
    /// `Supportability/PHP/SystemCertificates/{Available,Unavailable}`).
    pub fn uses_system_certificates(&self) -> bool {
        self.inner.roots == RootsSource::System
    }

    /// Sends one call: `payload` is the uncompressed JSON.
    pub async fn invoke(&self, endpoint: &Endpoint, method: Method, payload: &[u8]) -> Response {
        let clean_url = endpoint.url(method, true);
        if let Some(audit) = &self.inner.audit {
            audit.request(method.as_str(), &clean_url, &audit_payload(method, payload));
        }
        tracing::debug!(
            command = %method,
            url = %clean_url,
            max_payload_size_in_bytes = endpoint.max_payload_size,
            payload = %String::from_utf8_lossy(payload),
            "collector request"
        );
        let mut stats = CallStats {
            method,
            status: 0,
            request_bytes: payload.len(),
            compressed_bytes: 0,
            response_bytes: 0,
            sent: false,
        };
        let outcome = self.perform(endpoint, method, payload, &mut stats).await;
        let shown = match &outcome {
            Outcome::Success(rv) => rv.raw(),
            _ => "",
        };
        if let Some(audit) = &self.inner.audit {
            audit.response(method.as_str(), &clean_url, stats.status, shown);
        }
        tracing::debug!(
            command = %method,
            url = %clean_url,
            status = stats.status,
            response = shown,
            outcome = %outcome.describe(),
            "collector response"
        );
        Response { outcome, stats }
    }

    async fn perform(
        &self,
        endpoint: &Endpoint,
        method: Method,
        payload: &[u8],
        stats: &mut CallStats,
    ) -> Outcome {
        let body = {
            let payload = payload.to_vec();
            crate::cpu::cpu_bound(move || compress::deflate(&payload)).await
        };
        stats.compressed_bytes = body.len();
        if body.len() > endpoint.max_payload_size {
            return Outcome::Discard(DiscardReason::PayloadTooLarge {
                compressed: body.len(),
                max: endpoint.max_payload_size,
            });
        }
        let request = match self.build_request(endpoint, method, body) {
            Ok(r) => r,
            Err(reason) => return Outcome::Discard(reason),
        };
        let deadline = self.inner.timeouts.request;
        let Ok(Ok(_permit)) = tokio::time::timeout(deadline, self.inner.slots.acquire()).await
        else {
            return Outcome::Discard(DiscardReason::Timeout("waiting for a request slot"));
        };
        stats.sent = true;
        let exchange = async {
            let resp = self
                .inner
                .http
                .request(request)
                .await
                .map_err(|e| describe_error(&e))?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the response: {}", describe_error(&*e)))?
                .to_bytes();
            Ok::<_, String>((parts, bytes))
        };
        let (parts, bytes) = match tokio::time::timeout(deadline, exchange).await {
            Err(_) => return Outcome::Discard(DiscardReason::Timeout("waiting for the collector")),
            Ok(Err(msg)) => return Outcome::Discard(DiscardReason::Transport(msg)),
            Ok(Ok(r)) => r,
        };
        stats.status = parts.status.as_u16();
        stats.response_bytes = bytes.len();
        let retry_after = parts
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        classify_status(stats.status, retry_after).and_then(|()| {
            if stats.status != 200 {
                return Outcome::Success(ReturnValue::null());
            }
            match parse_response_body(&bytes) {
                Ok(rv) => Outcome::Success(rv),
                Err(reason) => Outcome::Discard(reason),
            }
        })
    }

    fn build_request(
        &self,
        endpoint: &Endpoint,
        method: Method,
        body: Vec<u8>,
    ) -> Result<http::Request<Full<Bytes>>, DiscardReason> {
        let url = endpoint.url(method, false);
        let ua = endpoint
            .user_agent
            .as_deref()
            .unwrap_or(&self.inner.user_agent);
        let mut builder = http::Request::post(url)
            .header(http::header::ACCEPT_ENCODING, "identity, deflate")
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .header(http::header::USER_AGENT, ua)
            .header(http::header::CONTENT_ENCODING, "deflate");
        if method.is_harvest() {
            for (name, value) in &endpoint.request_headers {
                match (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_str(value),
                ) {
                    (Ok(n), Ok(v)) => builder = builder.header(n, v),
                    _ => {
                        tracing::warn!(header = %name, "unusable request_headers_map entry skipped")
                    }
                }
            }
        }
        builder.body(Full::new(Bytes::from(body))).map_err(|e| {
            // The URL holds the license key: say what is wrong without it.
            tracing::debug!(error = %e, host = %endpoint.host, "cannot build a collector request");
            DiscardReason::Transport(format!("invalid collector host {:?}", endpoint.host))
        })
    }

    /// Preconnect (§3.2): which host to use, and the account's security
    /// policies. The endpoint has no run id.
    pub async fn preconnect(
        &self,
        endpoint: &Endpoint,
        security_policies_token: &str,
        high_security: bool,
    ) -> Response<PreconnectReply> {
        let payload = preconnect_payload(security_policies_token, high_security).to_string();
        let r = self
            .invoke(endpoint, Method::Preconnect, payload.as_bytes())
            .await;
        Response {
            outcome: r
                .outcome
                .and_then(|rv| match PreconnectReply::parse(rv.raw()) {
                    Ok(p) => Outcome::Success(p),
                    Err(e) => Outcome::Discard(DiscardReason::InvalidReply(e.to_string())),
                }),
            stats: r.stats,
        }
    }

    /// Connect (§3.3) with a ready payload (see [`connect_payload`]); the
    /// endpoint is preconnect's `redirect_host`, no run id.
    pub async fn connect(&self, endpoint: &Endpoint, payload: &Value) -> Response<ConnectReply> {
        let payload = payload.to_string();
        let r = self
            .invoke(endpoint, Method::Connect, payload.as_bytes())
            .await;
        Response {
            outcome: r
                .outcome
                .and_then(|rv| match ConnectReply::parse(rv.raw()) {
                    Ok(reply) => Outcome::Success(reply),
                    Err(e) => Outcome::Discard(DiscardReason::InvalidReply(e.to_string())),
                }),
            stats: r.stats,
        }
    }

    /// The whole connect sequence for one application, as New Relic's
    /// daemon runs it: preconnect to the license's region (or the App's
    /// `redirect_collector`), LASP when the App has a token, connect to the
    /// redirect host, log the collector's messages, apply the log-limit
    /// rule.
    pub async fn connect_application(&self, req: ConnectRequest<'_>) -> ConnectAttempt {
        let app = req.app;
        let license = LicenseKey::new(app.license.clone());
        let with_ua = |ep: Endpoint| match req.user_agent {
            Some(ua) => ep.with_user_agent(ua),
            None => ep,
        };
        let mut calls = Vec::with_capacity(2);
        let pre_host = license.preconnect_host(&app.redirect_collector);
        let pre = self
            .preconnect(
                &with_ua(Endpoint::new(pre_host, license.clone())),
                &app.security_policy_token,
                app.high_security,
            )
            .await;
        calls.push(pre.stats);
        let preconnect = match pre.outcome.into_result() {
            Ok(p) => p,
            Err(failure) => {
                return ConnectAttempt {
                    outcome: failure,
                    calls,
                }
            }
        };
        if preconnect.redirect_host.is_empty() {
            return ConnectAttempt {
                outcome: Outcome::Discard(DiscardReason::InvalidReply(
                    "preconnect reply has no redirect_host".to_owned(),
                )),
                calls,
            };
        }
        let security_policies = if app.security_policy_token.is_empty() {
            None
        } else {
            let agent = lasp::parse_agent_policies(&app.supported_security_policies);
            match lasp::check(&agent, &preconnect.security_policies) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(app = %app.app_name, error = %e, "security policies refused");
                    return ConnectAttempt {
                        outcome: Outcome::Discard(DiscardReason::SecurityPolicies(e.to_string())),
                        calls,
                    };
                }
            }
        };
        let payload = connect_payload(
            app,
            req.utilization,
            req.daemon_pid,
            req.daemon_hostname,
            security_policies.as_ref(),
        );
        let host = preconnect.redirect_host.clone();
        let conn = self
            .connect(&with_ua(Endpoint::new(host.clone(), license)), &payload)
            .await;
        calls.push(conn.stats);
        let outcome = conn.outcome.map(|mut reply| {
            reply.log_messages();
            reply.apply_agent_log_limit(app.log_events_max_samples_stored);
            let security_policies = preconnect.enabled_policies_json();
            Connected {
                collector_host: host,
                reply,
                preconnect,
                security_policies,
                user_agent: req.user_agent.map(str::to_owned),
            }
        });
        ConnectAttempt { outcome, calls }
    }
}

/// The audit form of a payload: compressed trace and SQL blobs expanded.
fn audit_payload(method: Method, payload: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if matches!(method, Method::TransactionSampleData | Method::SqlTraceData) {
        if let Some(expanded) = serde_json::from_slice(payload)
            .ok()
            .and_then(|v| compress::expand_blobs(method, &v))
        {
            return std::borrow::Cow::Owned(expanded.to_string().into_bytes());
        }
    }
    std::borrow::Cow::Borrowed(payload)
}

/// An error and its causes on one line (hyper's own messages are terse:
/// "client error (Connect)").
fn describe_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents() {
        assert_eq!(
            user_agent("php", "12.9.0.0", "NewRelic-GoDaemon/12.9.0.0"),
            "NewRelic-PHP-Agent/12.9.0.0 NewRelic-GoDaemon/12.9.0.0"
        );
        assert_eq!(
            user_agent("", "", "Seraph/1"),
            "NewRelic-Native-Agent/unknown Seraph/1"
        );
        assert_eq!(user_agent("ruby", "1", "D/1"), "NewRelic-ruby-Agent/1 D/1");
    }

    #[test]
    fn audit_payload_expands_only_blob_methods() {
        let blob = compress::encode_blob(&serde_json::json!({"k": 1}));
        let p = serde_json::json!([[["n", "u", 1, "q", "m", 1, 1.0, 1.0, 1.0, blob]]]).to_string();
        let a = audit_payload(Method::SqlTraceData, p.as_bytes());
        assert!(String::from_utf8_lossy(&a).contains(r#"{"k":1}"#));
        assert_eq!(
            &*audit_payload(Method::MetricData, p.as_bytes()),
            p.as_bytes()
        );
        assert_eq!(
            &*audit_payload(Method::SqlTraceData, b"not json"),
            b"not json"
        );
    }

    #[test]
    fn bad_trust_configuration_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = ClientConfig {
            ca_bundle: Some(dir.path().join("nope.pem")),
            ..Default::default()
        };
        assert!(matches!(
            CollectorClient::new(missing),
            Err(ClientError::CaBundleRead { .. })
        ));
        let empty_file = dir.path().join("empty.pem");
        std::fs::write(&empty_file, "no certificates here\n").unwrap();
        let empty = ClientConfig {
            ca_bundle: Some(empty_file),
            ..Default::default()
        };
        assert!(matches!(
            CollectorClient::new(empty),
            Err(ClientError::CaBundleEmpty { .. })
        ));
        let empty_dir = ClientConfig {
            ca_path: Some(dir.path().to_owned()),
            ..Default::default()
        };
        assert!(matches!(
            CollectorClient::new(empty_dir),
            Err(ClientError::CaPathEmpty { .. })
        ));
        let no_dir = ClientConfig {
            ca_path: Some(dir.path().join("missing")),
            ..Default::default()
        };
        assert!(matches!(
            CollectorClient::new(no_dir),
            Err(ClientError::CaPathRead { .. })
        ));
        let bad_proxy = ClientConfig {
            proxy: Some("socks4://127.0.0.1:1080".into()),
            ..Default::default()
        };
        assert!(matches!(
            CollectorClient::new(bad_proxy),
            Err(ClientError::UnsupportedProxyScheme(_))
        ));
        let bad_audit = ClientConfig {
            audit_log: Some(dir.path().join("no/such/dir/audit.log")),
            ..Default::default()
        };
        let err = CollectorClient::new(bad_audit).unwrap_err();
        assert!(matches!(err, ClientError::AuditLog { .. }));
        assert!(err.to_string().contains("audit.log"), "{err}");
    }
}
