//! One agent connection: frames in, App replies out.
//!
//! Each PHP process holds one connection and sends strictly sequential
//! messages, so a connection is one task reading frames in order. App
//! queries go to the registry and wait for its answer; Transactions are
//! handed to the task that owns their run, without a reply. A frame that
//! fails verification ends this connection only, logged once.

use super::registry::{AppQuery, RegistryHandle};
use super::runs::{Origin, RunMsg, Runs};
use super::stats::WorkerStats;
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
}

/// Serves one connection until the peer hangs up, sends something invalid,
/// or the worker shuts down (after reading what the agent had already
/// written).
pub async fn serve<S>(
    mut stream: S,
    ctx: Arc<ConnectionContext>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ctx.stats.connections_open.fetch_add(1, Ordering::Relaxed);
    ctx.stats.connections_total.fetch_add(1, Ordering::Relaxed);
    let result = run(&mut stream, &ctx, &mut shutdown).await;
    ctx.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    match result {
        Ok(()) | Err(ConnectionError::Shutdown) => {}
        Err(ConnectionError::Io(e)) => {
            tracing::debug!(error = %e, "agent connection closed");
        }
        Err(ConnectionError::Frame(FrameError::LegacyAgent)) => {
            tracing::warn!("an agent older than 5.0 connected; it is not supported, closing");
            let _ = stream.write_all(&LEGACY_REPLY).await;
        }
        Err(e) => {
            ctx.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "closing agent connection after a bad frame");
        }
    }
}

async fn run<S>(
    stream: &mut S,
    ctx: &ConnectionContext,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), ConnectionError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut decoder = FrameDecoder::new(ctx.max_frame);
    let mut scratch = Vec::new();
    let mut warned_format = false;
    let mut drain_until = None;
    let origin = Arc::new(Origin::default());
    loop {
        if origin.is_rejected() {
            return Err(ConnectionError::Rejected);
        }
        while let Some(frame) = decoder.decode(&mut buf)? {
            if frame.format != FORMAT_BINARY {
                if !warned_format {
                    tracing::warn!(
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
                        let msg = RunMsg::Transaction(frame.body, Arc::clone(&origin));
                        if run.send(msg).await.is_err() {
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
        tokio::select! {
            n = stream.read_buf(&mut buf) => {
                if n? == 0 {
                    return Ok(());
                }
            }
            _ = shutdown.changed() => {
                drain_until = Some(tokio::time::Instant::now() + DRAIN_MAX);
            }
            () = origin.rejected() => return Err(ConnectionError::Rejected),
        }
    }
}

/// At shutdown a connection keeps reading until the agent has been quiet
/// this long: transactions already written must reach the final harvest.
const DRAIN_IDLE: Duration = Duration::from_millis(25);

/// Upper bound on that drain, against an agent that never stops writing.
const DRAIN_MAX: Duration = Duration::from_secs(2);
