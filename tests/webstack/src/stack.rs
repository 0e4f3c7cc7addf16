//! [`WebStack`]: a running pair, its requests, logs and stop.

use crate::children::{self, tail};
use crate::{http, Response};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A running nginx + php-fpm pair; both stop when it is dropped.
#[derive(Debug)]
pub struct WebStack {
    /// nginx's port on 127.0.0.1.
    pub port: u16,
    pub(crate) dir: PathBuf,
    pub(crate) root: PathBuf,
    /// nginx first (it stops taking requests first), then php-fpm.
    pub(crate) pids: Vec<u32>,
    pub(crate) request_timeout: Duration,
}

impl WebStack {
    /// The stack's directory: configuration, socket, logs (`nginx-*.log`,
    /// `fpm-error.log`, `fpm.out`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The document root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// php-fpm's master process (its workers are its children).
    pub fn fpm_pid(&self) -> u32 {
        *self.pids.last().expect("php-fpm started")
    }

    /// nginx's master process (its worker is its child).
    pub fn nginx_pid(&self) -> u32 {
        *self.pids.first().expect("nginx started")
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A GET request; (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self.request("GET", path, &[], "");
        (r.status, r.body)
    }

    /// A POST of a form body; (status, body).
    pub fn post(&self, path: &str, form: &str) -> (u16, String) {
        let r = self.request(
            "POST",
            path,
            &[("Content-Type", "application/x-www-form-urlencoded")],
            form,
        );
        (r.status, r.body)
    }

    /// One request (`Host: 127.0.0.1:<port>` unless `headers` has one);
    /// panics with the servers' logs when it fails or times out.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        http::request(self.port, self.request_timeout, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{e}\n{}", self.logs()))
    }

    /// The tails of nginx's and php-fpm's logs, for failure messages.
    pub fn logs(&self) -> String {
        ["nginx-error.log", "nginx.out", "fpm-error.log", "fpm.out"]
            .iter()
            .map(|f| tail(&self.dir.join(f)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Polls `ready` until `deadline`, failing early when `pid` exits.
    pub(crate) fn wait(
        &self,
        deadline: Instant,
        what: &str,
        pid: u32,
        log: &str,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        while !ready() {
            if let Some(how) = children::exited(pid) {
                // `how` names the server: `php-fpm exited (…)`.
                return Err(format!("{how}\n{}", self.logs()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{what} did not accept connections in time\n{}",
                    tail(&self.dir.join(log))
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for WebStack {
    fn drop(&mut self) {
        children::stop(&self.pids);
        let _ = std::fs::remove_dir_all(&self.dir);
        children::removed(&self.dir);
    }
}
