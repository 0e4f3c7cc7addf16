//! One agent connection: frames in, App replies out.
//!
//! Each PHP process holds one connection and sends strictly sequential
//! messages, so a connection is one task reading frames in order. App
//! queries go to the registry and wait for its answer; Transactions are
//! handed to the task that owns their run, without a reply. A frame that
//! fails verification ends this connection only, logged once.

use super::registry::{AppQuery, RegistryHandle};
use super::runs::{Origin, Runs};
use super::slots::Slot;
use super::stats::WorkerStats;
use crate::loglimit::{LogLimit, EVERY_MINUTE};
use bytes::BytesMut;
use seraph_wire::frame::{self, FrameDecoder, FrameError, FORMAT_BINARY, LEGACY_REPLY};
use seraph_wire::message::{decode, peek, Body, KIND_TRANSACTION};
use seraph_wire::AppInfo;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// What every connection task needs, shared.
pub struct ConnectionContext {
    /// Where App queries go.
    pub registry: RegistryHandle,
    /// Live runs by run id.
    pub runs: Runs,
    /// Largest accepted frame body.
    pub max_frame: usize,
    /// Self-monitoring counters.
    pub stats: Arc<WorkerStats>,
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Reading or writing the socket failed.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
    /// The byte stream is not a sequence of frames.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A frame's body is not a valid message.
    #[error("invalid message: {0}")]
    Decode(#[from] seraph_wire::DecodeError),
    /// A Transaction without a run id.
    #[error("transaction without an agent run id")]
    MissingRunId,
    /// The run task found one of this connection's Transactions invalid.
    #[error("a transaction from this connection failed verification")]
    Rejected,
    /// The worker is shutting down.
    #[error("worker shutting down")]
    Shutdown,
    /// An App query above [`MAX_APP_FRAME`].
    #[error("App query of {0} bytes (the limit is {MAX_APP_FRAME})")]
    AppTooLarge(usize),
    /// A frame was started but not finished within [`PARTIAL_FRAME_DEADLINE`].
    #[error("frame not completed within {0:?}")]
    Stalled(Duration),
    /// Closed while idle to make room for a new connection.
    #[error("closed while idle to make room for a new connection")]
    Evicted,
}

/// Serves one connection until the peer hangs up, sends something invalid,
/// or the worker shuts down (after reading what the agent had already
/// written).
pub async fn serve<S>(
    mut stream: S,
    ctx: Arc<ConnectionContext>,
    mut shutdown: watch::Receiver<bool>,
    slot: &Slot,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ctx.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    ctx.stats.connections_total.fetch_add(1, Ordering::Relaxed);
    let result = run(&mut stream, &ctx, &mut shutdown, slot).await;
    ctx.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(()) | Err(ConnectionError::Shutdown) | Err(ConnectionError::Evicted) => {}
        Err(ConnectionError::Io(e)) => {
            tracing::debug!(error = %e, "agent connection closed");
        }
        Err(e @ ConnectionError::Stalled(_)) => {
            ctx.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            crate::limited!(BAD_FRAMES, warn, error = %e, "closing a stalled agent connection");
        }
        Err(ConnectionError::Frame(FrameError::LegacyAgent)) => {
            crate::limited!(
                LEGACY_AGENTS,
                warn,
                "an agent older than 5.0 connected; it is not supported, closing"
            );
            let _ = stream.write_all(&LEGACY_REPLY).await;
        }
        Err(e) => {
            ctx.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            crate::limited!(BAD_FRAMES, warn, error = %e, "closing agent connection after a bad frame");
        }
    }
}

async fn run<S>(
    stream: &mut S,
    ctx: &ConnectionContext,
    shutdown: &mut watch::Receiver<bool>,
    slot: &Slot,
) -> Result<(), ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Allocated when bytes arrive: thousands of agents sit idle between
    // requests, and an idle connection should cost next to nothing.
    let mut buf = BytesMut::new();
    let mut decoder = FrameDecoder::new(ctx.max_frame);
    let mut scratch = Vec::new();
    let mut warned_format = false;
    let mut drain_until = None;
    // When the frame whose first bytes are buffered must be complete.
    let mut partial_deadline: Option<tokio::time::Instant> = None;
    let origin = Arc::new(Origin::default());
    loop {
        if origin.is_rejected() {
            return Err(ConnectionError::Rejected);
        }
        while let Some(frame) = decoder.decode(&mut buf)? {
            partial_deadline = None;
            if frame.format != FORMAT_BINARY {
                if !warned_format {
                    crate::limited!(
                        BAD_FRAMES,
                        warn,
                        format = frame.format,
                        "ignoring frames in a non-binary format"
                    );
                    warned_format = true;
                }
                continue;
            }
            // Transactions are routed on their envelope alone; the run task
            // verifies the body (once) and rejects this connection if it is
            // invalid. Everything else is verified here.
            let envelope = peek(&frame.body)?;
            if envelope.kind == KIND_TRANSACTION {
                let run_id = envelope.agent_run_id.ok_or(ConnectionError::MissingRunId)?;
                ctx.stats
                    .transactions_received
                    .fetch_add(1, Ordering::Relaxed);
                match ctx.runs.get(run_id) {
                    Some(run) => {
                        if run
                            .transaction(frame.body, Arc::clone(&origin))
                            .await
                            .is_err()
                        {
                            ctx.stats
                                .transactions_unknown_run
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    None => {
                        ctx.stats
                            .transactions_unknown_run
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(run_id, "dropping a transaction for an unknown run");
                    }
                }
                continue;
            }
            // Each application keeps its first App for life (up to
            // app_limit of them): a real one is a few KiB.
            if envelope.kind == KIND_APP && frame.body.len() > MAX_APP_FRAME {
                return Err(ConnectionError::AppTooLarge(frame.body.len()));
            }
            let msg = decode(&frame.body, &mut scratch)?;
            match msg.body {
                Body::App(app) => {
                    ctx.stats.app_queries.fetch_add(1, Ordering::Relaxed);
                    let query = AppQuery {
                        info: AppInfo::from_fb(&app),
                        run_id: msg.agent_run_id.map(str::to_owned),
                    };
                    let reply = ctx
                        .registry
                        .query(query)
                        .await
                        .ok_or(ConnectionError::Shutdown)?;
                    let out = frame::encode(&reply.encode());
                    stream.write_all(&out).await?;
                }
                // Handled above from the envelope.
                Body::Transaction(_) => {}
                Body::SpanBatch(_) => {
                    ctx.stats
                        .span_batches_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!("dropping a span batch: Infinite Tracing is not supported");
                }
                Body::AppReply(_) | Body::None => {}
            }
        }
        release_large_buffer(&mut buf);
        if buf.is_empty() {
            partial_deadline = None;
        } else if partial_deadline.is_none() {
            partial_deadline = Some(tokio::time::Instant::now() + PARTIAL_FRAME_DEADLINE);
        }
        if let Some(deadline) = drain_until {
            // Shutting down: take what the agent already wrote, then stop.
            let idle = tokio::time::Instant::now() + DRAIN_IDLE;
            match tokio::time::timeout_at(idle.min(deadline), stream.read_buf(&mut buf)).await {
                Ok(n) => {
                    if n? == 0 {
                        return Ok(());
                    }
                    continue;
                }
                Err(_) => return Err(ConnectionError::Shutdown),
            }
        }
        let stalled = async {
            match partial_deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let idle = buf.is_empty();
        tokio::select! {
            biased;
            n = stream.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
                slot.touch();
            }
            // Only between frames: a frame being read is not idle.
            () = slot.activity().evicted(), if idle => return Err(ConnectionError::Evicted),
            _ = shutdown.changed() => {
                drain_until = Some(tokio::time::Instant::now() + DRAIN_MAX);
            }
            () = origin.rejected() => return Err(ConnectionError::Rejected),
            () = stalled => return Err(ConnectionError::Stalled(PARTIAL_FRAME_DEADLINE)),
        }
    }
}

/// Drops a read buffer that grew for a large frame once it is empty. Its
/// allocation would otherwise stay with the connection for as long as the
/// agent process lives (php-fpm workers live for days), so a few hundred
/// idle workers that each once sent a 4 MiB transaction held 400 MiB.
fn release_large_buffer(buf: &mut BytesMut) {
    if buf.is_empty() && buf.capacity() > KEEP_BUFFER {
        *buf = BytesMut::new();
    }
}

/// Bad, stalled or foreign-format frames (a broken or hostile peer can
/// send thousands a second).
pub static BAD_FRAMES: LogLimit = LogLimit::new(EVERY_MINUTE);
/// Pre-5.0 agents.
static LEGACY_AGENTS: LogLimit = LogLimit::new(EVERY_MINUTE);

/// Largest App query accepted: New Relic's daemon refuses every frame above
/// 2 MiB; Transactions may be larger here (`max_frame_size`), App queries
/// may not, since the registry keeps each application's first App for as
/// long as it knows the application (60 App queries of 4 MiB held 300 MiB).
pub const MAX_APP_FRAME: usize = 2 << 20;

/// Union tag of an App query.
const KIND_APP: u8 = 1;

/// Largest read buffer an idle connection keeps.
const KEEP_BUFFER: usize = 64 << 10;

/// An agent writes each frame whole, within its own 500 ms deadline, and
/// closes the connection when it gives up. A frame still incomplete this
/// long after its first bytes came is a stuck or hostile peer (slowloris),
/// and the connection is closed. Idle time between frames is not limited.
pub const PARTIAL_FRAME_DEADLINE: Duration = Duration::from_secs(10);

/// At shutdown a connection keeps reading until the agent has been quiet
/// this long: transactions already written must reach the final harvest.
const DRAIN_IDLE: Duration = Duration::from_millis(25);

/// Upper bound on that drain, against an agent that never stops writing.
const DRAIN_MAX: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::health::CollectorHealth;
    use crate::worker::journal::Journal;
    use crate::worker::record::RunRecord;
    use crate::worker::registry::{
        self, AppId, BoxFuture, ConnectOutcome, RegistryConfig, RegistryParts, RunInfo, Upstream,
    };
    use crate::worker::runs::{next_task_id, queue_budget, RunSender};
    use seraph_wire::frame::Preamble;
    use std::sync::atomic::AtomicU64;
    use tokio::io::DuplexStream;

    /// Never connects anything; its tasks read nothing.
    struct NoUpstream;

    impl Upstream for NoUpstream {
        fn start(
            &self,
            _id: AppId,
            _info: Arc<AppInfo>,
            _activity: Arc<AtomicU64>,
            _registry: RegistryHandle,
        ) -> RunSender {
            let (tx, rx) = tokio::sync::mpsc::channel(1);
            std::mem::forget(rx);
            RunSender::new(tx, queue_budget(), next_task_id())
        }

        fn connect(
            &self,
            _id: AppId,
            _info: Arc<AppInfo>,
            _run: RunSender,
        ) -> BoxFuture<registry::ConnectOutcome> {
            Box::pin(async {
                ConnectOutcome::Failed {
                    reason: "test".into(),
                    retry_after: None,
                }
            })
        }

        fn probe(&self, _info: Arc<AppInfo>) -> BoxFuture<bool> {
            Box::pin(async { false })
        }

        fn resume(
            &self,
            _record: &RunRecord,
            _info: Arc<AppInfo>,
            _run: Option<RunSender>,
            _activity: Arc<AtomicU64>,
            _registry: RegistryHandle,
        ) -> Option<(RunInfo, RunSender)> {
            None
        }
    }

    /// A connection task on one end of a pipe; the other end is returned.
    fn start() -> (
        DuplexStream,
        Arc<ConnectionContext>,
        tokio::task::JoinHandle<()>,
        watch::Sender<bool>,
    ) {
        let runs = Runs::default();
        let ctx = Arc::new(ConnectionContext {
            registry: registry::spawn(
                RegistryConfig::default(),
                RegistryParts {
                    runs: runs.clone(),
                    upstream: Arc::new(NoUpstream),
                    health: Arc::new(CollectorHealth::default()),
                    journal: Journal::default(),
                    restored: Vec::new(),
                },
            ),
            runs,
            max_frame: frame::MAX_BODY_LEN,
            stats: Arc::new(WorkerStats::default()),
        });
        let (client, server) = tokio::io::duplex(1 << 20);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let slots = crate::worker::slots::ConnectionSlots::new(8, Duration::from_secs(30));
        let crate::worker::slots::Admission::Free(slot) = slots.admit() else {
            panic!("a free slot")
        };
        let ctx2 = Arc::clone(&ctx);
        let task = tokio::spawn(async move { serve(server, ctx2, shutdown_rx, &slot).await });
        (client, ctx, task, shutdown_tx)
    }

    fn app_query() -> Vec<u8> {
        let app = AppInfo {
            license: "0123456789012345678901234567890123456789".into(),
            app_name: "test".into(),
            agent_language: "php".into(),
            ..Default::default()
        };
        frame::encode(&app.encode(None))
    }

    async fn read_frame(client: &mut DuplexStream) -> Vec<u8> {
        let mut head = [0u8; frame::PREAMBLE_LEN];
        client.read_exact(&mut head).await.unwrap();
        let mut body = vec![0u8; Preamble::parse(head).len as usize];
        client.read_exact(&mut body).await.unwrap();
        body
    }

    #[tokio::test(start_paused = true)]
    async fn a_frame_trickling_in_is_cut_off() {
        let (mut client, ctx, task, _shutdown) = start();
        // Slowloris: announce 32 MiB, then one byte a second.
        let preamble = Preamble {
            len: 32 << 20,
            format: FORMAT_BINARY,
        };
        client.write_all(&preamble.to_bytes()).await.unwrap();
        let started = tokio::time::Instant::now();
        while !task.is_finished() {
            assert!(
                started.elapsed() < PARTIAL_FRAME_DEADLINE * 2,
                "still open after {:?}",
                started.elapsed()
            );
            // The write fails once the daemon side has closed.
            let _ = client.write_all(b"x").await;
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(started.elapsed() >= PARTIAL_FRAME_DEADLINE);
        assert_eq!(ctx.stats.bad_frames.load(Ordering::Relaxed), 1);
        let mut rest = Vec::new();
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_connections_between_frames_stay_open() {
        let (mut client, ctx, task, _shutdown) = start();
        client.write_all(&app_query()).await.unwrap();
        read_frame(&mut client).await;
        // A PHP worker may sit idle for hours between requests.
        tokio::time::sleep(Duration::from_secs(6 * 3600)).await;
        assert!(!task.is_finished());
        // A frame sent in pieces, each within the deadline, is fine.
        let query = app_query();
        let (a, b) = query.split_at(query.len() / 2);
        client.write_all(a).await.unwrap();
        tokio::time::sleep(PARTIAL_FRAME_DEADLINE / 2).await;
        client.write_all(b).await.unwrap();
        read_frame(&mut client).await;
        assert!(!task.is_finished());
        assert_eq!(ctx.stats.bad_frames.load(Ordering::Relaxed), 0);
        assert_eq!(ctx.stats.app_queries.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_buffer_grown_for_a_large_frame_is_released_once_empty() {
        let mut buf = BytesMut::with_capacity(4 << 20);
        buf.extend_from_slice(&[1u8; 100]);
        release_large_buffer(&mut buf);
        assert!(
            buf.capacity() >= 4 << 20,
            "not released while it holds bytes"
        );
        let _frame = buf.split_to(100);
        release_large_buffer(&mut buf);
        assert_eq!(buf.capacity(), 0);
        let mut small = BytesMut::with_capacity(KEEP_BUFFER);
        release_large_buffer(&mut small);
        assert_eq!(small.capacity(), KEEP_BUFFER, "small buffers are kept");
    }
}
