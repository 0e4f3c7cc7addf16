//! `collector-standin`: runs the stand-in collector until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use collector_standin::{Standin, StandinConfig, TlsMode};

/// A stand-in for New Relic's collector (protocol 17).
#[derive(Debug, Parser)]
#[command(name = "collector-standin", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Serve plain HTTP instead of HTTPS.
    #[arg(long)]
    plain_http: bool,
    /// Write the generated CA certificate (PEM) here.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Serve this certificate chain (PEM) instead of generating one.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// `data_report_period` of the connect reply, seconds.
    #[arg(long, default_value_t = 60)]
    data_report_period: u64,
    /// `event_harvest_config.report_period_ms` (default: data report period).
    #[arg(long)]
    report_period_ms: Option<u64>,
    /// `redirect_host` of the preconnect reply (default: the listen address).
    #[arg(long)]
    redirect_host: Option<String>,
    /// A license key answered 401 (repeatable).
    #[arg(long = "license-401")]
    licenses_401: Vec<String>,
    /// A license key answered 410 (repeatable).
    #[arg(long = "license-410")]
    licenses_410: Vec<String>,
    /// JSON file rewritten with every recorded call after each call.
    #[arg(long)]
    state_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let tls = if args.plain_http {
        TlsMode::Plain
    } else if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        TlsMode::Pem {
            cert_pem: std::fs::read_to_string(cert)
                .with_context(|| format!("reading {}", cert.display()))?,
            key_pem: std::fs::read_to_string(key)
                .with_context(|| format!("reading {}", key.display()))?,
            ca_pem: None,
        }
    } else {
        TlsMode::Generate
    };
    let period = args.data_report_period.max(1);
    let report_period_ms = args.report_period_ms.unwrap_or(period * 1000);
    let config = StandinConfig {
        listen: args.listen,
        tls,
        redirect_host: args.redirect_host,
        data_report_period: period,
        report_period_ms,
        span_event_harvest_config: Some(
            serde_json::json!({"report_period_ms": report_period_ms, "harvest_limit": 2000}),
        ),
        licenses_401: args.licenses_401,
        licenses_410: args.licenses_410,
        state_file: args.state_file,
        ..StandinConfig::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let standin = Standin::start(config).await?;
        if let Some(path) = &args.ca_out {
            standin
                .write_ca(path)
                .with_context(|| format!("writing the CA to {}", path.display()))?;
        }
        println!("collector stand-in listening on {}", standin.base_url());
        if let Some(path) = &args.ca_out {
            println!("CA certificate: {}", path.display());
        }
        println!(
            "recorded calls: {0}/__standin/calls  summary: {0}/__standin/summary",
            standin.base_url()
        );
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        standin.shutdown().await;
        Ok(())
    })
}
