//! A bounded HTTP load generator for end-to-end tests: a fixed number of
//! keep-alive connections, each sending one request at a time (at most
//! `rate` per second each when given), recording every request's start,
//! latency, status and the worker pid the page answers with.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

/// One request.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// When it was sent, since the load started.
    pub at: Duration,
    /// How long until the whole response was read.
    pub latency: Duration,
    /// HTTP status; 0 when the exchange failed.
    pub status: u16,
    /// The php-fpm worker that served it (the page's body).
    pub pid: u32,
}

/// Load in progress.
pub struct Load {
    started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts `connections` connections to `127.0.0.1:port` requesting
    /// `path`, each at most `rate` requests a second (`None`: as fast as
    /// answers come).
    pub fn start(port: u16, path: &str, connections: usize, rate: Option<f64>) -> Load {
        let started = Instant::now();
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = watch::channel(false);
        let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
        let tasks = (0..connections)
            .map(|_| {
                let samples = Arc::clone(&samples);
                let stopped = stopped.clone();
                let request = request.clone();
                tokio::spawn(connection(port, request, rate, started, samples, stopped))
            })
            .collect();
        Load {
            started,
            samples,
            stop,
            tasks,
        }
    }

    /// Time since the load started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().unwrap().clone()
    }

    /// Stops (each connection finishes its request in flight) and returns
    /// every sample.
    pub async fn stop(self) -> Vec<Sample> {
        self.stop.send_replace(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let mut all = self.samples.lock().unwrap().clone();
        all.sort_by_key(|s| s.at);
        all
    }
}

async fn connection(
    port: u16,
    request: Vec<u8>,
    rate: Option<f64>,
    started: Instant,
    samples: Arc<Mutex<Vec<Sample>>>,
    stopped: watch::Receiver<bool>,
) {
    let gap = rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let mut next = Instant::now();
    let mut stream: Option<TcpStream> = None;
    let mut buf = Vec::with_capacity(4096);
    while !*stopped.borrow() {
        if let Some(gap) = gap {
            tokio::time::sleep_until(next).await;
            next += gap;
        }
        let sent = Instant::now();
        if stream.is_none() {
            stream = TcpStream::connect(("127.0.0.1", port)).await.ok();
        }
        let result = match &mut stream {
            Some(s) => exchange(s, &request, &mut buf).await,
            None => Err(()),
        };
        let latency = sent.elapsed();
        let (status, pid) = result.unwrap_or_else(|()| {
            stream = None;
            (0, 0)
        });
        samples.lock().unwrap().push(Sample {
            at: sent.saturating_duration_since(started),
            latency,
            status,
            pid,
        });
        if status == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// One request and its response: (status, pid in the body).
async fn exchange(s: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) -> Result<(u16, u32), ()> {
    s.write_all(request).await.map_err(drop)?;
    buf.clear();
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.map_err(drop)?;
        if n == 0 {
            return Err(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or(())?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .ok_or(())?;
    while buf.len() < head_end + len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.map_err(drop)?;
        if n == 0 {
            return Err(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + len]).into_owned();
    Ok((status, body.trim().parse().unwrap_or(0)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Requests answered 200 among `samples`.
pub fn served(samples: &[Sample]) -> usize {
    samples.iter().filter(|s| s.status == 200).count()
}

/// Requests answered 200 that started within `[from, to)`.
pub fn served_between(samples: &[Sample], from: Duration, to: Duration) -> usize {
    samples
        .iter()
        .filter(|s| s.status == 200 && s.at >= from && s.at < to)
        .count()
}
