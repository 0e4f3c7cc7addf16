//! A tiny in-test daemon: listens on a temporary Unix socket, answers App
//! queries with a configurable AppReply and records every frame it gets.

use seraph_wire::{AppReplyInfo, AppStatus};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// The connect reply the vectors' fake daemon sent.
pub const CONNECT_REPLY: &str = r#"{"agent_run_id":"RUN-1","entity_guid":"GUID-1","account_id":"1","primary_application_id":"2","trusted_account_key":"1","collect_traces":true,"collect_errors":true,"collect_analytics_events":true,"collect_custom_events":true,"collect_error_events":true,"collect_span_events":true,"apdex_t":0.5,"sampling_target":10,"event_harvest_config":{"report_period_ms":60000,"harvest_limits":{"analytic_event_data":10000,"custom_event_data":30000,"error_event_data":100,"span_event_data":2000,"log_event_data":10000}}}"#;

/// [`CONNECT_REPLY`] with what browser monitoring needs: a stand-in for
/// the loader script New Relic's collector sends, and the footer's values.
pub fn browser_connect_reply() -> String {
    let mut v: serde_json::Value = serde_json::from_str(CONNECT_REPLY).expect("valid JSON");
    for (k, val) in [
        ("browser_key", "b1234567"),
        ("application_id", "2"),
        (
            "js_agent_loader",
            "window.NREUM||(NREUM={});NREUM.loader=1;",
        ),
        ("js_agent_file", "js-agent.newrelic.com/nr-1.min.js"),
        ("beacon", "bam.nr-data.net"),
        ("error_beacon", "bam.nr-data.net"),
    ] {
        v[k] = serde_json::Value::String(val.to_owned());
    }
    v.to_string()
}

/// How the fake daemon behaves.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Answers App with Connected + [`CONNECT_REPLY`].
    Connected,
    /// Like `Connected`, with [`browser_connect_reply`].
    Browser,
    /// Answers App with the given status only.
    Status(AppStatus),
    /// Accepts and reads but never answers.
    Silent,
    /// Answers the first App, then closes every connection and stops
    /// listening (a daemon that died).
    DieAfterFirstReply,
    /// Like the real daemon: Connected + [`CONNECT_REPLY`] to a query
    /// without a run id, StillValid (no connect reply) to a re-query that
    /// carries one.
    StillValidOnRequery,
}

/// One received frame.
#[derive(Clone, Debug)]
pub struct Received {
    /// Frame body (no preamble).
    pub body: Vec<u8>,
    /// Which accepted connection it came on (0-based).
    pub conn: usize,
}

impl Received {
    /// The message type name.
    pub fn kind(&self) -> &'static str {
        let mut scratch = Vec::new();
        match seraph_wire::decode(&self.body, &mut scratch) {
            Ok(m) => m.body.kind(),
            Err(_) => "invalid",
        }
    }

    /// The agent run id attached.
    pub fn run_id(&self) -> Option<String> {
        let mut scratch = Vec::new();
        seraph_wire::decode(&self.body, &mut scratch)
            .ok()
            .and_then(|m| m.agent_run_id.map(str::to_owned))
    }

    /// Decoded App (panics if not an App).
    pub fn app(&self) -> seraph_wire::AppInfo {
        let mut scratch = Vec::new();
        match seraph_wire::decode(&self.body, &mut scratch)
            .expect("decodes")
            .body
        {
            seraph_wire::Body::App(a) => seraph_wire::AppInfo::from_fb(&a),
            other => panic!("expected App, got {}", other.kind()),
        }
    }

    /// Decoded Transaction (panics if not a Transaction).
    pub fn txn(&self) -> seraph_wire::TransactionData {
        let mut scratch = Vec::new();
        match seraph_wire::decode(&self.body, &mut scratch)
            .expect("decodes")
            .body
        {
            seraph_wire::Body::Transaction(t) => seraph_wire::TransactionData::from_fb(&t),
            other => panic!("expected Transaction, got {}", other.kind()),
        }
    }
}

/// A running fake daemon. Dropping it stops accepting.
pub struct FakeDaemon {
    /// Socket path.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
    frames: Arc<Mutex<Vec<Received>>>,
    state: Arc<Mutex<Accepting>>,
}

/// The listener and its connection counts, under one lock: accepting a
/// connection and counting it happen together, so [`FakeDaemon::wait_idle`]
/// never sees a connection that is neither queued nor counted.
struct Accepting {
    /// `None` once a `DieAfterFirstReply` daemon stopped listening.
    listener: Option<UnixListener>,
    accepted: usize,
    /// Connections whose frames have all been recorded.
    finished: usize,
}

/// How long the helpers wait for what a PHP process sent: generous, for a
/// loaded 2-core machine; they return as soon as it is there.
const WAIT: Duration = Duration::from_secs(30);

/// Whether a connection waits on the listening socket `fd` (within `ms`).
fn pending(fd: RawFd, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; `fd` is a listener the caller keeps open.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

impl FakeDaemon {
    /// Starts one in `mode`.
    pub fn start(mode: Mode) -> FakeDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("daemon.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let fd = listener.as_raw_fd();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(Mutex::new(Accepting {
            listener: Some(listener),
            accepted: 0,
            finished: 0,
        }));
        let (f2, s2, p2) = (frames.clone(), state.clone(), path.clone());
        thread::spawn(move || loop {
            // Only this thread drops the listener, and it stops then: `fd`
            // stays open while it is polled.
            pending(fd, 100);
            let mut st = s2.lock().unwrap();
            let Some(listener) = st.listener.as_ref() else {
                break;
            };
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(_) => break,
            };
            let id = st.accepted;
            st.accepted += 1;
            drop(st);
            stream.set_nonblocking(false).expect("blocking stream");
            let (f3, s3, mode3) = (f2.clone(), s2.clone(), mode.clone());
            let die = matches!(mode, Mode::DieAfterFirstReply);
            let h = thread::spawn(move || {
                serve(stream, id, mode3, f3);
                s3.lock().unwrap().finished += 1;
            });
            if die {
                let _ = h.join();
                let _ = std::fs::remove_file(&p2);
                s2.lock().unwrap().listener = None;
                break;
            }
        });
        FakeDaemon {
            path,
            _dir: dir,
            frames,
            state,
        }
    }

    /// The address INI value.
    pub fn address(&self) -> String {
        self.path.to_str().unwrap().to_owned()
    }

    /// Frames received so far.
    pub fn frames(&self) -> Vec<Received> {
        self.frames.lock().unwrap().clone()
    }

    /// Waits (bounded) until at least `n` frames arrived.
    pub fn wait_frames(&self, n: usize) -> Vec<Received> {
        let until = Instant::now() + WAIT;
        loop {
            let f = self.frames();
            if f.len() >= n || Instant::now() > until {
                return f;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every frame sent on connections that are closed, once no
    /// connection is queued or being read. After the PHP processes of a
    /// test exited, this is all they will ever send: a test asserting that
    /// something was *not* sent waits for this, not for a while.
    pub fn wait_idle(&self) -> Vec<Received> {
        let until = Instant::now() + WAIT;
        loop {
            {
                let st = self.state.lock().unwrap();
                let queued = st
                    .listener
                    .as_ref()
                    .is_some_and(|l| pending(l.as_raw_fd(), 0));
                if !queued && st.accepted == st.finished {
                    return self.frames();
                }
                assert!(
                    Instant::now() < until,
                    "connections still open after {WAIT:?}: {} accepted, {} finished, queued: {queued}",
                    st.accepted,
                    st.finished
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().accepted
    }
}

fn serve(mut s: UnixStream, conn: usize, mode: Mode, frames: Arc<Mutex<Vec<Received>>>) {
    loop {
        let mut head = [0u8; 8];
        if s.read_exact(&mut head).is_err() {
            return;
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let mut body = vec![0u8; len];
        if s.read_exact(&mut body).is_err() {
            return;
        }
        let rec = Received { body, conn };
        let is_app = rec.kind() == "App";
        let requery = rec.run_id().is_some();
        frames.lock().unwrap().push(rec);
        if !is_app {
            continue;
        }
        let reply = match &mode {
            Mode::StillValidOnRequery if requery => AppReplyInfo::status(AppStatus::StillValid),
            Mode::Connected
            | Mode::Browser
            | Mode::DieAfterFirstReply
            | Mode::StillValidOnRequery => {
                let connect = if matches!(mode, Mode::Browser) {
                    browser_connect_reply()
                } else {
                    CONNECT_REPLY.to_owned()
                };
                AppReplyInfo {
                    status: AppStatus::Connected,
                    connect_reply: Some(connect),
                    security_policies: Some("{}".to_owned()),
                    connect_timestamp: 1_795_424_121,
                    harvest_frequency: 60,
                    sampling_target: 10,
                }
            }
            Mode::Status(st) => AppReplyInfo::status(*st),
            Mode::Silent => continue,
        };
        let frame = seraph_wire::frame::encode(&reply.encode());
        if s.write_all(&frame).is_err() {
            return;
        }
        if matches!(mode, Mode::DieAfterFirstReply) {
            return;
        }
    }
}
