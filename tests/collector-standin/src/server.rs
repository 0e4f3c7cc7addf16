//! The HTTP(S) server: answers protocol-17 calls, records them, applies
//! injected faults, and serves `/__standin/*` for humans and scripts.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::config::{StandinConfig, TlsMode};
use crate::fault::{self, Fault, FaultAction};
use crate::record::{decode_body, expand, parse_query, RecordedCall};
use crate::{pki, summary, StandinError};

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 20;

#[derive(Default)]
struct State {
    calls: Vec<RecordedCall>,
    faults: Vec<Fault>,
    /// run id → application name.
    runs: HashMap<String, String>,
    runs_started: u64,
    /// Sequence number of the last recorded call (survives `clear`).
    last_seq: u64,
    /// license → status answered to every call.
    license_status: HashMap<String, u16>,
    /// run id → status answered to every call carrying it.
    run_status: HashMap<String, u16>,
    /// Bodies above this many (compressed) bytes are answered 413.
    max_body: Option<usize>,
    /// method → calls being handled now.
    active: HashMap<String, usize>,
    /// method → most calls handled at once.
    peak: HashMap<String, usize>,
}

/// Counts a call as active for its method while alive.
struct Active<'a> {
    shared: &'a Shared,
    method: String,
}

impl<'a> Active<'a> {
    fn new(shared: &'a Shared, method: &str) -> Self {
        let mut st = shared.state();
        let n = st.active.entry(method.to_owned()).or_default();
        *n += 1;
        let n = *n;
        let peak = st.peak.entry(method.to_owned()).or_default();
        *peak = (*peak).max(n);
        Active {
            shared,
            method: method.to_owned(),
        }
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.shared.state().active.get_mut(&self.method) {
            *n = n.saturating_sub(1);
        }
    }
}

struct Shared {
    config: StandinConfig,
    redirect_host: String,
    state: Mutex<State>,
    /// Bumped after every recorded call.
    changed: watch::Sender<u64>,
    /// TCP connections accepted so far.
    connections: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the recorder down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// `wait_for` gave up.
#[derive(Debug, Clone, thiserror::Error)]
#[error("waited {waited:?} for {wanted} {method} call(s), got {got}")]
pub struct WaitTimeout {
    /// The method waited for.
    pub method: String,
    /// How many were wanted.
    pub wanted: usize,
    /// How many arrived.
    pub got: usize,
    /// How long we waited.
    pub waited: Duration,
}

/// A running stand-in. Dropping it stops the server.
pub struct Standin {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: bool,
    ca_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    /// True while the stand-in is "down": nothing listens on its port.
    down: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Standin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Standin")
            .field("addr", &self.addr)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Standin {
    /// Binds and starts serving.
    pub async fn start(config: StandinConfig) -> Result<Standin, StandinError> {
        let (acceptor, ca_pem) = match &config.tls {
            TlsMode::Plain => (None, None),
            TlsMode::Generate => {
                let p = pki::generate(&["127.0.0.1", "localhost", "::1"])?;
                let sc = pki::server_config(&p.cert_pem, &p.key_pem)?;
                (Some(TlsAcceptor::from(sc)), Some(p.ca_pem))
            }
            TlsMode::Pem {
                cert_pem,
                key_pem,
                ca_pem,
            } => {
                let sc = pki::server_config(cert_pem, key_pem)?;
                (Some(TlsAcceptor::from(sc)), ca_pem.clone())
            }
        };
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StandinError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(StandinError::Io)?;
        let redirect_host = config
            .redirect_host
            .clone()
            .unwrap_or_else(|| addr.to_string());
        let mut state = State::default();
        for l in &config.licenses_401 {
            state.license_status.insert(l.clone(), 401);
        }
        for l in &config.licenses_410 {
            state.license_status.insert(l.clone(), 410);
        }
        let shared = Arc::new(Shared {
            config,
            redirect_host,
            state: Mutex::new(state),
            changed: watch::channel(0).0,
            connections: AtomicU64::new(0),
        });
        let (stop_tx, stop_rx) = oneshot::channel();
        let (down_tx, down_rx) = watch::channel(false);
        let task = tokio::spawn(serve(
            listener,
            addr,
            acceptor.clone(),
            shared.clone(),
            stop_rx,
            down_rx,
        ));
        tracing::info!(%addr, tls = acceptor.is_some(), "collector stand-in listening");
        Ok(Standin {
            shared,
            addr,
            tls: acceptor.is_some(),
            ca_pem,
            stop: Some(stop_tx),
            down: down_tx,
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` to configure as the collector host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `https://host:port` (or `http://` in plain mode).
    pub fn base_url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Whether it speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The CA certificate clients must trust (PEM), when known.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Writes the CA certificate to `path`.
    pub fn write_ca(&self, path: &Path) -> std::io::Result<()> {
        let pem = self.ca_pem.as_deref().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no CA (plain HTTP or PEM mode without CA)",
            )
        })?;
        std::fs::write(path, pem)
    }

    /// Every recorded call, in arrival order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.shared.state().calls.clone()
    }

    /// Recorded calls of one method.
    pub fn calls_for(&self, method: &str) -> Vec<RecordedCall> {
        self.shared
            .state()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` calls of `method` have been recorded and
    /// returns them; gives up after `timeout`.
    pub async fn wait_for(
        &self,
        method: &str,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedCall>, WaitTimeout> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.calls_for(method);
            if got.len() >= n {
                return Ok(got);
            }
            let changed = tokio::time::timeout_at(deadline, rx.changed()).await;
            if !matches!(changed, Ok(Ok(()))) {
                return Err(WaitTimeout {
                    method: method.to_owned(),
                    wanted: n,
                    got: self.calls_for(method).len(),
                    waited: timeout,
                });
            }
        }
    }

    /// TCP connections accepted so far (shows whether clients reuse
    /// connections).
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Forgets every recorded call (faults and runs stay).
    pub fn clear(&self) {
        self.shared.state().calls.clear();
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.state().faults.clear();
    }

    /// Takes the stand-in off the network (`true`: its port is closed, so
    /// connecting is refused, and open connections are cut) or back on
    /// (`false`: it listens on the same port again). Recorded calls, runs
    /// and faults are kept.
    pub fn set_down(&self, down: bool) {
        self.down.send_replace(down);
    }

    /// Queues a fault.
    pub fn inject(&self, fault: Fault) {
        self.shared.state().faults.push(fault);
    }

    /// Makes every call with `license` answer `status` (401, 410, ...);
    /// `None` lifts it.
    pub fn set_license_status(&self, license: &str, status: Option<u16>) {
        let mut st = self.shared.state();
        match status {
            Some(s) => st.license_status.insert(license.to_owned(), s),
            None => st.license_status.remove(license),
        };
    }

    /// Makes every call carrying run id `run_id` answer `status` (409 to
    /// ask for a reconnect, 410, ...); `None` lifts it.
    pub fn set_run_status(&self, run_id: &str, status: Option<u16>) {
        let mut st = self.shared.state();
        match status {
            Some(s) => st.run_status.insert(run_id.to_owned(), s),
            None => st.run_status.remove(run_id),
        };
    }

    /// Answers 413 to every call whose (compressed) body is larger than
    /// `bytes`, as the real collector does above its payload limit; `None`
    /// lifts it. Injected faults come first.
    pub fn set_max_body(&self, bytes: Option<usize>) {
        self.shared.state().max_body = bytes;
    }

    /// Calls of `method` being handled right now (still waiting on an
    /// injected delay, for instance).
    pub fn active_calls(&self, method: &str) -> usize {
        self.shared.state().active.get(method).copied().unwrap_or(0)
    }

    /// The most calls of `method` ever handled at once.
    pub fn peak_concurrency(&self, method: &str) -> usize {
        self.shared.state().peak.get(method).copied().unwrap_or(0)
    }

    /// The human-readable summary `/__standin/summary` serves.
    pub fn summary(&self) -> String {
        summary::render(&self.calls())
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Standin {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    mut down: watch::Receiver<bool>,
) {
    let mut listener = Some(listener);
    let mut conns = JoinSet::new();
    loop {
        let Some(l) = &listener else {
            // Down: nothing listens until it is brought back up.
            tokio::select! {
                _ = &mut stop => break,
                up = async { down.wait_for(|d| !*d).await.is_ok() } => {
                    if !up {
                        break;
                    }
                    listener = rebind(addr).await;
                }
            }
            continue;
        };
        tokio::select! {
            _ = &mut stop => break,
            _ = async { down.wait_for(|d| *d).await.is_ok() } => {
                listener = None;
                conns.abort_all();
                tracing::info!(%addr, "collector stand-in is down (connections refused)");
            }
            accepted = l.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    conns.spawn(connection(stream, acceptor.clone(), shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    conns.abort_all();
}

/// Listens on `addr` again after being down (the port may take a moment
/// to be free).
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..200 {
        match TcpListener::bind(addr).await {
            Ok(l) => {
                tracing::info!(%addr, "collector stand-in is up again");
                return Some(l);
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    tracing::error!(%addr, "cannot listen again");
    None
}

async fn connection(
    stream: tokio::net::TcpStream,
    acceptor: Option<TlsAcceptor>,
    shared: Arc<Shared>,
) {
    let svc = service_fn(move |req| handle(shared.clone(), req));
    let http = hyper::server::conn::http1::Builder::new();
    let result = match acceptor {
        Some(acceptor) => {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => return,
            };
            http.serve_connection(TokioIo::new(tls), svc).await
        }
        None => http.serve_connection(TokioIo::new(stream), svc).await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended");
    }
}

/// Returned by the service to make hyper close the connection without an
/// answer.
#[derive(Debug)]
struct HangUp;

impl std::fmt::Display for HangUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fault: connection dropped")
    }
}

impl std::error::Error for HangUp {}

fn reply(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    resp
}

fn json_reply(status: u16, v: &Value) -> Response<Full<Bytes>> {
    reply(status, "application/json", v.to_string())
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, HangUp> {
    let path = req.uri().path().to_owned();
    if req.method() == http::Method::GET {
        return Ok(match path.as_str() {
            "/__standin/calls" => {
                let calls = shared.state().calls.clone();
                json_reply(200, &serde_json::to_value(calls).unwrap_or(Value::Null))
            }
            "/__standin/summary" => {
                let calls = shared.state().calls.clone();
                reply(200, "text/plain; charset=utf-8", summary::render(&calls))
            }
            "/__standin/health" => reply(200, "text/plain", "ok\n"),
            _ => reply(404, "text/plain", "not found\n"),
        });
    }
    handle_invoke(&shared, req).await
}

async fn handle_invoke(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, HangUp> {
    let (parts, body) = req.into_parts();
    let raw_query = parts.uri.query().unwrap_or_default().to_owned();
    let query = parse_query(&raw_query);
    let method = query.get("method").cloned().unwrap_or_default();
    let license = query.get("license_key").cloned().unwrap_or_default();
    let run_id = query.get("run_id").cloned();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(HangUp),
    };
    let _active = Active::new(shared, &method);
    let encoding = parts
        .headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let (payload, payload_error) = match decode_body(encoding, &body) {
        Ok(v) => (v, None),
        Err(e) => (Value::Null, Some(e)),
    };
    let expanded = expand(&method, &payload);

    let mut call = RecordedCall {
        seq: 0,
        method: method.clone(),
        query,
        path: parts.uri.path().to_owned(),
        raw_query,
        license: license.clone(),
        run_id: run_id.clone(),
        headers,
        body_bytes: body.len(),
        payload,
        payload_error,
        expanded,
        app_name: None,
        granted_run_id: None,
        response_status: 0,
        received_at_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    };

    // Decide the answer under the lock, act on it after.
    let (action, license_status) = {
        let mut st = shared.state();
        let items = fault::payload_items(&call.payload);
        let action = fault::take(&mut st.faults, &method, items).or_else(|| {
            st.max_body
                .filter(|&max| body.len() > max)
                .map(|_| FaultAction::Status {
                    status: 413,
                    retry_after: None,
                })
        });
        let status = st
            .license_status
            .get(&license)
            .copied()
            .or_else(|| run_id.as_ref().and_then(|r| st.run_status.get(r).copied()));
        (action, status)
    };
    if let Some(FaultAction::Delay(d)) = &action {
        tokio::time::sleep(*d).await;
    }
    let response = match action {
        Some(FaultAction::Drop) => None,
        Some(FaultAction::Status {
            status,
            retry_after,
        }) => {
            let mut r = reply(status, "application/json", "");
            if let Some(v) = retry_after.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            Some(r)
        }
        Some(FaultAction::Exception {
            error_type,
            message,
        }) => Some(json_reply(
            200,
            &json!({"exception": {"message": message, "error_type": error_type}}),
        )),
        Some(FaultAction::Delay(_)) | None => Some(match license_status {
            Some(status) => reply(status, "application/json", ""),
            None => normal_answer(shared, &mut call),
        }),
    };
    call.response_status = response.as_ref().map_or(0, |r| r.status().as_u16());
    record(shared, call);
    response.ok_or(HangUp)
}

/// The protocol-17 answer for a well-behaved collector.
fn normal_answer(shared: &Shared, call: &mut RecordedCall) -> Response<Full<Bytes>> {
    if call.path != "/agent_listener/invoke_raw_method" {
        return reply(404, "text/plain", "unknown path\n");
    }
    if call.payload_error.is_some() {
        return reply(415, "text/plain", "undecodable body\n");
    }
    match call.method.as_str() {
        "preconnect" => json_reply(
            200,
            &json!({"return_value": {
                "redirect_host": shared.redirect_host,
                "security_policies": shared.config.security_policies,
            }}),
        ),
        "connect" => {
            let app = call.payload[0]["app_name"][0]
                .as_str()
                .or_else(|| call.payload[0]["identifier"].as_str())
                .unwrap_or_default()
                .to_owned();
            let run = {
                let mut st = shared.state();
                st.runs_started += 1;
                let run = st.runs_started;
                st.runs.insert(run.to_string(), app.clone());
                run
            };
            call.app_name = Some(app);
            call.granted_run_id = Some(run.to_string());
            let r = shared.config.connect_reply(run, &run.to_string());
            json_reply(200, &json!({ "return_value": r }))
        }
        "" => reply(400, "text/plain", "missing method\n"),
        _ => json_reply(200, &json!({"return_value": null})),
    }
}

fn record(shared: &Shared, mut call: RecordedCall) {
    let snapshot = {
        let mut st = shared.state();
        if call.app_name.is_none() {
            call.app_name = call.run_id.as_ref().and_then(|r| st.runs.get(r).cloned());
        }
        st.last_seq += 1;
        call.seq = st.last_seq;
        st.calls.push(call);
        shared.config.state_file.as_ref().map(|_| st.calls.clone())
    };
    if let (Some(path), Some(calls)) = (&shared.config.state_file, snapshot) {
        write_state(path, &calls);
    }
    shared.changed.send_modify(|n| *n += 1);
}

/// Rewrites the state file atomically (temp file + rename).
fn write_state(path: &Path, calls: &[RecordedCall]) {
    let tmp = path.with_extension("tmp");
    let result = serde_json::to_vec_pretty(calls)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&tmp, bytes))
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), error = %e, "cannot write the state file");
    }
}
