//! `seraph-loadgen`: drives `newrelic-daemon` the way a fleet of PHP
//! workers does — many connections, each sending Transaction frames built
//! from the frames New Relic's agent really sends — and measures ingest.
//!
//! `run` loads an already running daemon. `bench` starts everything itself
//! (collector stand-in over TLS, the release daemon), loads it with 100 and
//! 1 000 connections, checks that the harvest accounts for every
//! transaction, and prints Transactions/s, daemon CPU and peak RSS.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use collector_standin::{Standin, StandinConfig};
use seraph_e2e::agent::{app_info, Address, AgentConn};
use seraph_e2e::daemon::{Daemon, DaemonOptions};
use seraph_e2e::vectors;
use seraph_wire::message::{decode, Body};
use seraph_wire::{frame, TransactionData};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

const LICENSE: &str = "0123456789012345678901234567890123456789";

#[derive(Parser)]
#[command(about = "Load generator and ingest benchmark for newrelic-daemon")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a running daemon.
    Run {
        /// Daemon address: `@abstract`, `/path` or a TCP port.
        #[arg(long, default_value = "@newrelic")]
        address: String,
        /// Collector host the daemon should connect the app to.
        #[arg(long, default_value = "")]
        collector_host: String,
        /// Application name.
        #[arg(long, default_value = "seraph-loadgen")]
        app_name: String,
        /// Concurrent agent connections.
        #[arg(long, default_value_t = 100)]
        connections: usize,
        /// Transactions in total.
        #[arg(long, default_value_t = 1_000_000)]
        transactions: u64,
    },
    /// Start a stand-in and the daemon, load them, report.
    Bench {
        /// Connection counts to measure.
        #[arg(long, value_delimiter = ',', default_value = "100,1000")]
        connections: Vec<usize>,
        /// Transactions per measurement.
        #[arg(long, default_value_t = 2_000_000)]
        transactions: u64,
        /// Rounds per connection count (the median is reported).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Start a stand-in with production harvest periods (60 s) and limits
    /// and the daemon, fill many applications' harvests before their first
    /// harvest, report the daemon's memory.
    Memory {
        /// Applications.
        #[arg(long, default_value_t = 250)]
        apps: usize,
        /// Transactions per application (10 000 fills the transaction
        /// event reservoir of a 60 s harvest).
        #[arg(long, default_value_t = 10_000)]
        per_app: u64,
        /// Connections per application.
        #[arg(long, default_value_t = 2)]
        connections: usize,
    },
}

fn parse_address(s: &str) -> Result<Address> {
    if let Some(name) = s.strip_prefix('@') {
        Ok(Address::Abstract(name.to_owned()))
    } else if s.starts_with('/') {
        Ok(Address::Path(s.into()))
    } else {
        Ok(Address::Tcp(
            s.parse()
                .context("address must be @name, /path or a port")?,
        ))
    }
}

/// The captured Transaction frames, re-encoded for `run_id`, with their
/// transaction counts (each frame is one transaction).
fn frames_for(run_id: &str) -> Vec<Vec<u8>> {
    vectors::transactions()
        .iter()
        .map(|c| {
            let mut scratch = Vec::new();
            let msg = decode(c.body(), &mut scratch).expect("captured frame decodes");
            let Body::Transaction(t) = msg.body else {
                unreachable!("transactions() returns transactions")
            };
            let txn = TransactionData::from_fb(&t);
            frame::encode(&seraph_wire::encode_transaction(run_id, &txn))
        })
        .collect()
}

struct LoadResult {
    sent: u64,
    elapsed: Duration,
}

/// Connects the app, then sends `total` transactions over `connections`
/// connections as fast as the daemon takes them.
async fn load(
    address: &Address,
    collector_host: &str,
    app_name: &str,
    connections: usize,
    total: u64,
) -> Result<(String, LoadResult)> {
    let mut control = AgentConn::connect(address)
        .await
        .context("connect to the daemon")?;
    let app = app_info(LICENSE, app_name, collector_host);
    let run_id = control
        .connect_app(&app, Duration::from_secs(30))
        .await
        .context("application did not connect")?;
    let frames = Arc::new(frames_for(&run_id));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for c in 0..connections {
        let frames = Arc::clone(&frames);
        let next = Arc::clone(&next);
        let address = address.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = raw_stream(&address).await?;
            let mut i = c;
            while next.fetch_add(1, Ordering::Relaxed) < total {
                stream.write_all(&frames[i % frames.len()]).await?;
                i += 1;
            }
            stream.flush().await?;
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed();
    Ok((
        run_id,
        LoadResult {
            sent: total,
            elapsed,
        },
    ))
}

async fn raw_stream(address: &Address) -> Result<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> {
    Ok(match address {
        Address::Abstract(name) => {
            let addr = <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(name.as_bytes())?;
            let s = std::os::unix::net::UnixStream::connect_addr(&addr)?;
            s.set_nonblocking(true)?;
            Box::new(tokio::net::UnixStream::from_std(s)?)
        }
        Address::Path(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
        Address::Tcp(port) => Box::new(tokio::net::TcpStream::connect(("127.0.0.1", *port)).await?),
    })
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("bad /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields[11].parse()?;
    let stime: f64 = fields[12].parse()?;
    Ok((utime + stime) / clock_ticks_per_second())
}

/// `sysconf(_SC_CLK_TCK)`, the unit of /proc/<pid>/stat times.
fn clock_ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |t| t as f64)
}

/// Peak resident set size, MiB.
fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM")?;
    let kib: f64 = line
        .split_whitespace()
        .nth(1)
        .context("bad VmHWM")?
        .parse()?;
    Ok(kib / 1024.0)
}

struct BenchRow {
    connections: usize,
    sent: u64,
    harvested: f64,
    rate: f64,
    cpu_cores: f64,
    rss_mib: f64,
}

async fn bench_once(connections: usize, total: u64) -> Result<BenchRow> {
    let standin = Standin::start(StandinConfig::fast()).await?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    standin.write_ca(&ca)?;
    let mut daemon = Daemon::start(DaemonOptions {
        cfg: vec![format!("ssl_ca_bundle = {}", ca.display())],
        loglevel: "info",
        ..Default::default()
    })
    .await;
    let pid = daemon.pid();
    let cpu_before = cpu_seconds(pid)?;
    let (run_id, result) = load(
        &daemon.address,
        &standin.host(),
        "bench",
        connections,
        total,
    )
    .await?;
    let cpu_after = cpu_seconds(pid)?;
    let rss_mib = peak_rss_mib(pid)?;
    // SIGTERM: the final harvest posts whatever is still queued.
    let status =
        tokio::task::spawn_blocking(move || daemon.terminate(Duration::from_secs(120))).await?;
    if !status.success() {
        bail!("daemon exited with {status}");
    }
    let mut harvested = 0.0;
    for call in standin.calls_for("metric_data") {
        if call.run_id.as_deref() != Some(run_id.as_str()) {
            continue;
        }
        for m in call.payload[3].as_array().into_iter().flatten() {
            if m[0]["name"] == "Supportability/TxnData/Size" && m[0].get("scope").is_none() {
                harvested += m[1][0].as_f64().unwrap_or(0.0);
            }
        }
    }
    standin.shutdown().await;
    let secs = result.elapsed.as_secs_f64();
    Ok(BenchRow {
        connections,
        sent: result.sent,
        harvested,
        rate: result.sent as f64 / secs,
        cpu_cores: (cpu_after - cpu_before) / secs,
        rss_mib,
    })
}

async fn bench(connection_counts: &[usize], total: u64, rounds: usize) -> Result<()> {
    println!(
        "| connections | transactions | harvested | Transactions/s (median of {rounds}) | daemon CPU (cores) | daemon peak RSS (MiB) |"
    );
    println!("|---|---|---|---|---|---|");
    for &connections in connection_counts {
        let mut rows = Vec::new();
        for _ in 0..rounds {
            let row = bench_once(connections, total).await?;
            if row.harvested != row.sent as f64 {
                bail!(
                    "{} transactions sent but {} harvested with {} connections",
                    row.sent,
                    row.harvested,
                    connections
                );
            }
            rows.push(row);
        }
        rows.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        let m = &rows[rows.len() / 2];
        println!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.1} |",
            m.connections, m.sent, m.harvested, m.rate, m.cpu_cores, m.rss_mib
        );
    }
    Ok(())
}

/// Fills `apps` applications with `per_app` transactions each, all within
/// their first (60 s) harvest period, and reports the daemon's memory: the
/// worst case an operator has to plan for is every application's harvest
/// full at once. The daemon is then killed, not stopped: its final harvest
/// would hand millions of events to the in-process stand-in.
async fn memory(apps: usize, per_app: u64, connections: usize) -> Result<()> {
    let standin = Standin::start(StandinConfig::default()).await?;
    let dir = tempfile::tempdir()?;
    let ca = dir.path().join("ca.pem");
    standin.write_ca(&ca)?;
    let mut daemon = Daemon::start(DaemonOptions {
        cfg: vec![format!("ssl_ca_bundle = {}", ca.display())],
        loglevel: "info",
        ..Default::default()
    })
    .await;
    let pid = daemon.pid();
    let idle = daemon.rss_kib() as f64 / 1024.0;
    let start = Instant::now();
    // All at once, so every application connects and fills within one
    // harvest period.
    let mut tasks = Vec::with_capacity(apps);
    for i in 0..apps {
        let address = daemon.address.clone();
        let host = standin.host();
        tasks.push(tokio::spawn(async move {
            load(
                &address,
                &host,
                &format!("memory-{i}"),
                connections,
                per_app,
            )
            .await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let elapsed = start.elapsed();
    // Let the run queues drain into the harvests.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let full = daemon.rss_kib() as f64 / 1024.0;
    let peak = peak_rss_mib(pid)?;
    let harvests = standin.calls_for("analytic_event_data").len();
    daemon.signal(nix::sys::signal::Signal::SIGKILL);
    daemon.wait_exit(Duration::from_secs(10));
    println!(
        "| applications | transactions per app | load time (s) | event harvests during load | daemon RSS idle (MiB) | RSS full (MiB) | peak RSS (MiB) | per application (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {apps} | {per_app} | {:.1} | {harvests} | {idle:.1} | {full:.1} | {peak:.1} | {:.2} |",
        elapsed.as_secs_f64(),
        (full - idle) / apps as f64
    );
    if elapsed > Duration::from_secs(55) {
        println!("note: the load took longer than a harvest period; early applications may have been harvested already");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            address,
            collector_host,
            app_name,
            connections,
            transactions,
        } => {
            let address = parse_address(&address)?;
            let (run_id, r) = load(
                &address,
                &collector_host,
                &app_name,
                connections,
                transactions,
            )
            .await?;
            println!(
                "run {run_id}: {} transactions over {connections} connections in {:.2} s: {:.0}/s",
                r.sent,
                r.elapsed.as_secs_f64(),
                r.sent as f64 / r.elapsed.as_secs_f64()
            );
        }
        Command::Bench {
            connections,
            transactions,
            rounds,
        } => bench(&connections, transactions, rounds).await?,
        Command::Memory {
            apps,
            per_app,
            connections,
        } => memory(apps, per_app, connections).await?,
    }
    Ok(())
}
