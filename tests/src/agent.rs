//! A minimal PHP-agent stand-in: one connection, App queries and
//! Transaction frames, exactly as New Relic's agent frames them.

use bytes::BytesMut;
use seraph_wire::frame::{self, FrameDecoder};
use seraph_wire::message::{decode, Body};
use seraph_wire::{AppInfo, AppReplyInfo, TransactionData};
use std::io;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;

/// Where a daemon listens, as a test sees it.
#[derive(Debug, Clone)]
pub enum Address {
    /// Linux abstract socket name (without the leading `@`).
    Abstract(String),
    /// Unix socket path.
    Path(std::path::PathBuf),
    /// TCP port on 127.0.0.1.
    Tcp(u16),
}

impl Address {
    /// The address as `--address`/`newrelic.daemon.address` spell it.
    pub fn to_flag(&self) -> String {
        match self {
            Address::Abstract(name) => format!("@{name}"),
            Address::Path(p) => p.display().to_string(),
            Address::Tcp(port) => port.to_string(),
        }
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One agent connection.
pub struct AgentConn {
    stream: Box<dyn Io>,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl AgentConn {
    /// Connects to `addr`.
    pub async fn connect(addr: &Address) -> io::Result<AgentConn> {
        let stream: Box<dyn Io> = match addr {
            Address::Abstract(name) => {
                let std_addr =
                    <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
                        name.as_bytes(),
                    )?;
                let std_stream = std::os::unix::net::UnixStream::connect_addr(&std_addr)?;
                std_stream.set_nonblocking(true)?;
                Box::new(UnixStream::from_std(std_stream)?)
            }
            Address::Path(p) => Box::new(UnixStream::connect(Path::new(p)).await?),
            Address::Tcp(port) => {
                Box::new(tokio::net::TcpStream::connect(("127.0.0.1", *port)).await?)
            }
        };
        Ok(AgentConn {
            stream,
            buf: BytesMut::new(),
            decoder: FrameDecoder::default(),
        })
    }

    /// Sends an App query and waits (up to 5 s) for the reply.
    pub async fn app_query(
        &mut self,
        app: &AppInfo,
        run_id: Option<&str>,
    ) -> io::Result<AppReplyInfo> {
        self.send_body(&app.encode(run_id)).await?;
        let body = tokio::time::timeout(Duration::from_secs(5), self.read_frame())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no AppReply within 5 s"))??;
        let mut scratch = Vec::new();
        let msg = decode(&body, &mut scratch)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        match msg.body {
            Body::AppReply(r) => Ok(AppReplyInfo::from_fb(&r)),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected AppReply, got {}", other.kind()),
            )),
        }
    }

    /// Queries until the app is connected (or `timeout` passes), returning
    /// the run id, as an agent with `app_connect_timeout` would.
    pub async fn connect_app(&mut self, app: &AppInfo, timeout: Duration) -> io::Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let reply = self.app_query(app, None).await?;
            if let Some(raw) = reply.connect_reply.as_deref() {
                let v: serde_json::Value = serde_json::from_str(raw)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if let Some(id) = v.get("agent_run_id").and_then(|v| v.as_str()) {
                    return Ok(id.to_owned());
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("app not connected in time (last status {:?})", reply.status),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a Transaction for `run_id`.
    pub async fn send_transaction(
        &mut self,
        run_id: &str,
        txn: &TransactionData,
    ) -> io::Result<()> {
        self.send_body(&seraph_wire::encode_transaction(run_id, txn))
            .await
    }

    /// Sends a message body with its preamble.
    pub async fn send_body(&mut self, body: &[u8]) -> io::Result<()> {
        self.stream.write_all(&frame::encode(body)).await
    }

    /// Sends raw bytes, framed or not.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// True once the daemon has closed the connection (reads EOF or an
    /// error within `wait`).
    pub async fn is_closed_by_peer(&mut self, wait: Duration) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(wait, self.stream.read(&mut byte)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    async fn read_frame(&mut self) -> io::Result<bytes::Bytes> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
            {
                return Ok(frame.body);
            }
            if self.stream.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "daemon closed the connection",
                ));
            }
        }
    }
}

/// An App query like New Relic's agent sends for `app_name`.
pub fn app_info(license: &str, app_name: &str, collector_host: &str) -> AppInfo {
    AppInfo {
        license: license.into(),
        app_name: app_name.into(),
        agent_language: "php".into(),
        agent_version: "12.9.0.0".into(),
        redirect_collector: collector_host.into(),
        environment: r#"[["Dispatcher","8.2.36+cli"]]"#.into(),
        settings: r#"{"newrelic.distributed_tracing_enabled":true}"#.into(),
        supported_security_policies: r#"{"record_sql":{"enabled":true,"supported":true},"allow_raw_exception_messages":{"enabled":true,"supported":true},"custom_events":{"enabled":true,"supported":true},"custom_parameters":{"enabled":true,"supported":true}}"#.into(),
        host: "seraph-test-host".into(),
        trace_observer_port: 443,
        span_queue_size: 100_000,
        span_events_max_samples_stored: 2000,
        metadata: "{}".into(),
        log_events_max_samples_stored: 10_000,
        custom_events_max_samples_stored: 30_000,
        ..Default::default()
    }
}
